"""LayerNorm over a chosen dim (`dim: 1`: ConvNeXt's LayerNorm2d over the channels of an
image): it loads torchvision's LayerNorm2d state_dict by name with strict=True and gives its
outputs; its permuted result layout is known, so a `view` torch would refuse is refused."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.convnext import LayerNorm2d

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

SPEC = """\
name: ln2d
model:
  inputs: {x: [N, 6, H, W]}
  layers:
    norm: {op: LayerNorm, dim: 1, eps: 1.0e-6}
    flat: {op: flatten, start_dim: 1}
"""


@pytest.mark.parametrize("size", [(1, 1), (3, 5)])
def test_layernorm_over_channels_is_torchvisions_layernorm2d(size):
    torch.manual_seed(0)
    ref = LayerNorm2d(6, eps=1e-6)
    torch.nn.init.normal_(ref.weight)
    torch.nn.init.normal_(ref.bias)
    model = compile_text(SPEC).build()
    model.norm.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 6, *size)
    assert torch.allclose(model(x), ref(x).flatten(1), atol=1e-6)


def test_a_view_of_its_permuted_result_is_refused_as_torch_refuses_it():
    with pytest.raises(SpecError, match="non-contiguously"):
        compile_text(SPEC.replace("{op: flatten, start_dim: 1}", "{op: view, size: [N, -1]}"))
    normed = torch.nn.functional.layer_norm(torch.randn(2, 6, 3, 5).movedim(1, -1), (6,))
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        normed.movedim(-1, 1).view(2, -1)
