"""specs/zoo/densenet121.yaml and deeplabv3_resnet50.yaml against torchvision's own modules.

Each spec takes a symbolic `[N, 3, H, W]`; torchvision's state_dict (weights=None, seeded,
BatchNorm statistics randomised) loads into the emitted module by name with strict=True, the
parameter counts agree with the compiler's, and eval outputs agree within 1e-5 at two
resolutions (neither a multiple of the network's stride). Larger resolutions are a soak.
"""

from __future__ import annotations

import pytest
import torch
from test_zoo import ZOO, _randomised

from graphspec.compiler.pipeline import compile_file


def _reference(name: str) -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    if name == "deeplabv3_resnet50":
        model = torchvision.models.segmentation.deeplabv3_resnet50(
            weights=None, weights_backbone=None, aux_loss=False
        )
    else:
        model = torchvision.models.densenet121(weights=None)
    return _randomised(model)


def _output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    y = model(x)
    return y["out"] if isinstance(y, dict) else y  # torchvision's segmentation returns a dict


def _loaded(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    reference = _reference(name)
    compiled = compile_file(str(ZOO / f"{name}.yaml"))
    assert [str(d) for d in compiled.graph.inputs[0].out.shape] == ["N", "3", "H", "W"]
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    count = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in model.parameters()) == count == compiled.graph.total_params
    return reference, model


def _agree(reference, model, shape) -> None:
    x = torch.randn(*shape)
    with torch.no_grad():
        want, got = _output(reference, x), _output(model, x)
    assert want.abs().mean() > 1e-3  # a real signal, not BatchNorm's zeros
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("name", "out"), [("densenet121", (1000,)), ("deeplabv3_resnet50", (21, 33, 41))]
)
def test_state_dict_loads_strict_and_outputs_agree_at_two_resolutions(name, out):
    reference, model = _loaded(name)
    for shape in ((2, 3, 33, 41), (1, 3, 50, 37)):
        _agree(reference, model, shape)
    with torch.no_grad():
        y = _output(model, torch.randn(2, 3, 33, 41))
    assert tuple(y.shape) == (2, *out)  # DeepLabV3's logits come back at the image's size


@pytest.mark.soak
@pytest.mark.parametrize("name", ["densenet121", "deeplabv3_resnet50"])
def test_outputs_agree_at_full_resolution(name):
    reference, model = _loaded(name)
    for shape in ((2, 3, 224, 224), (1, 3, 161, 97)):
        _agree(reference, model, shape)
