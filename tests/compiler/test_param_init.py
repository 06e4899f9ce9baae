"""`init: {fn: full, value: V}` starts a param at a constant (ConvNeXt's layer scale: 1e-6),
and the module loads a PyTorch module's state_dict holding such a param by name."""

from __future__ import annotations

import torch
from torch import nn

from graphspec.compiler.pipeline import compile_text

SPEC = """\
name: layer_scale
model:
  inputs: {x: [N, 4, H, W]}
  params:
    layer_scale: {shape: [4, 1, 1], init: {fn: full, value: 1.0e-6}}
    gain: {init: {fn: full, value: 2}}
  layers:
    conv: {op: Conv2d, out_channels: 4, kernel_size: 1}
    y: {op: expr, expr: "gain * layer_scale * conv + x"}
"""


class LayerScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer_scale = nn.Parameter(torch.ones(4, 1, 1) * 1e-6)
        self.gain = nn.Parameter(torch.tensor(2.0))
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gain * self.layer_scale * self.conv(x) + x


def test_full_init_starts_every_element_at_the_value():
    model = compile_text(SPEC).build()
    assert torch.equal(model.layer_scale.detach(), torch.full((4, 1, 1), 1e-6))
    assert model.gain.shape == () and model.gain.item() == 2.0


def test_a_module_with_a_constant_initialised_param_loads_by_name():
    torch.manual_seed(0)
    ref = LayerScale()
    model = compile_text(SPEC).build()
    model.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 4, 5, 3)
    assert torch.allclose(model(x), ref(x), atol=1e-6)
