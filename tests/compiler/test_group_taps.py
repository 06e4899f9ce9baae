"""A group child's output read by number (`features.4`): a backbone feeding two heads.

The reference is torchvision's MobileNetV2 backbone (`features`, 19 children) whose 5th and
17th children feed two heads, written in PyTorch with `features[:5]`, `features[5:17]` slices.
The spec is specs/zoo/mobilenet_v2.yaml's blocks and `features` group with the two heads
reading `features.4` and `features.16`; it loads the reference's state_dict by name with
strict=True and gives the same three outputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import yaml

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

ZOO = Path(__file__).resolve().parents[2] / "specs" / "zoo"


def _two_heads_spec() -> str:
    data = yaml.safe_load((ZOO / "mobilenet_v2.yaml").read_text())
    data["name"] = "two_heads"
    layers = data["model"]["layers"]
    data["model"]["layers"] = {
        "features": layers["features"],
        "head_a": {"op": "Conv2d", "out_channels": 8, "kernel_size": 1, "in": "features.4"},
        "head_b": {"op": "Conv2d", "out_channels": 5, "kernel_size": 1, "in": "features.16"},
    }
    data["model"]["outputs"] = ["head_a", "head_b", "features"]
    return yaml.safe_dump(data, sort_keys=False)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        import torchvision

        self.features = torchvision.models.mobilenet_v2(weights=None).features
        self.head_a = nn.Conv2d(32, 8, 1)
        self.head_b = nn.Conv2d(160, 5, 1)

    def forward(self, x):
        low = self.features[:5](x)
        high = self.features[5:17](low)
        return self.head_a(low), self.head_b(high), self.features[17:](high)


def _randomised(model: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return model.eval()


def test_a_backbone_whose_5th_and_17th_children_feed_two_heads_loads_strict():
    torch.manual_seed(0)
    reference = _randomised(TwoHeads())
    compiled = compile_text(_two_heads_spec())
    shapes = [str(t) for t in compiled.graph.output_types().values()]
    assert shapes[:2] == ["(N, 8, (H + 7)//8, (W + 7)//8)", "(N, 5, (H + 31)//32, (W + 31)//32)"]
    assert "features_4 = self.features[0:5](x)" in compiled.source
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    assert compiled.graph.total_params == sum(p.numel() for p in reference.parameters())
    for side in (64, 40):
        x = torch.randn(2, 3, side, side)
        with torch.no_grad():
            want, got = reference(x), model(x)
        for w, g in zip(want, got, strict=True):
            assert w.abs().mean() > 1e-3
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)


SMALL = """
name: taps
model:
  inputs: {x: [N, 4]}
  layers:
    trunk:
      group: [{op: Linear, out_features: 6}, Tanh, {op: Linear, out_features: 3}]
    side: {op: Linear, out_features: 2, in: trunk.1}
  outputs: [trunk, side]
"""


def test_a_tapped_group_trains_through_both_outputs():
    model = compile_text(SMALL).build()
    main, side = model(torch.randn(5, 4))
    (main.sum() + side.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_a_child_the_group_does_not_have_is_refused():
    with pytest.raises(SpecError) as err:
        compile_text(SMALL.replace("trunk.1", "trunk.3"))
    (problem,) = err.value.problems
    assert problem.code == "E-REF"
    assert "group 'trunk' has 3 children (0 to 2), no child 3" in problem.message


def test_a_child_the_next_child_overwrites_is_refused():
    spec = SMALL.replace("Tanh", "{op: ReLU, inplace: true}").replace("trunk.1", "trunk.0")
    with pytest.raises(SpecError) as err:
        compile_text(spec)
    assert "overwritten by the next child, ReLU with inplace: true" in str(err.value)
    compile_text(spec.replace("inplace: true", "inplace: false"))  # the control: accepted


def test_an_in_place_write_into_a_tap_is_refused():
    spec = SMALL.replace(
        "side: {op: Linear, out_features: 2, in: trunk.1}",
        "side: {op: ReLU, inplace: true, in: trunk.0}",
    )
    with pytest.raises(SpecError) as err:
        compile_text(spec)
    assert err.value.problems[0].code == "E-INPLACE"
