"""specs/zoo/convnext_tiny.yaml and efficientnet_b0.yaml against torchvision's own models.

Each spec is validated with a symbolic `[N, 3, H, W]` input and builds a module that loads
torchvision's model (weights=None, seeded, its norms' statistics, affine parameters and
ConvNeXt's layer scales randomised so every block shows in the output) by name with
strict=True, with the same parameter count, and gives the same eval outputs within 1e-5 at a
small resolution; a second resolution runs behind the soak marker (it costs more).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphspec.compiler.pipeline import compile_file

ZOO = Path(__file__).resolve().parents[2] / "specs" / "zoo"
MODELS = [("convnext_tiny", 32), ("efficientnet_b0", 32)]
"""(spec and torchvision factory, the default run's side): the smallest image both reduce to
1x1 (ConvNeXt's stem and three downsamplings divide by 32, EfficientNet's strides too)."""


def _randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Norm affine parameters and layer scales away from their init (a branch scaled by 1e-6
    would agree with anything), and BatchNorm's statistics those of a real batch: with made-up
    ones EfficientNet's blocks shrink the input's part of the signal below 1e-7 by the head."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d | torch.nn.LayerNorm):
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0  # the next batch's statistics replace the running ones
        if hasattr(m, "layer_scale"):
            m.layer_scale.data.copy_(torch.rand(m.layer_scale.shape, generator=g) * 0.5)
    with torch.no_grad():
        model.train()(torch.randn(8, 3, 64, 64, generator=g))
    return model.eval()


def _pair(name: str):
    import torchvision

    torch.manual_seed(0)
    reference = _randomised(getattr(torchvision.models, name)(weights=None))
    compiled = compile_file(str(ZOO / f"{name}.yaml"))
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    return compiled, reference, model


def _agree(reference, model, side: int) -> None:
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(side))
    with torch.no_grad():
        want, got = reference(x), model(x)
    assert want.shape == (2, 1000)
    assert (want[0] - want[1]).abs().max() > 1e-2  # outputs that depend on the input
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("name", "side"), MODELS)
def test_torchvision_state_dict_loads_strict_and_outputs_agree(name, side):
    compiled, reference, model = _pair(name)
    assert [str(d) for d in compiled.graph.inputs[0].out.shape] == ["N", "3", "H", "W"]
    count = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in model.parameters()) == count == compiled.graph.total_params
    _agree(reference, model, side)
    # the negative control: with one block's residual branch changed, the outputs differ
    first = model.features[1][0]
    with torch.no_grad():
        (first.layer_scale if hasattr(first, "layer_scale") else first.block[-1][1].weight).mul_(2)
    with pytest.raises(AssertionError):
        _agree(reference, model, side)


@pytest.mark.soak
@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_outputs_agree_at_two_more_resolutions(name):
    _, reference, model = _pair(name)
    for side in (64, 96):
        _agree(reference, model, side)
