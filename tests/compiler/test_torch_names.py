"""The names and module trees PyTorch models have, said in a spec and loaded by name.

Each case is a small PyTorch module written as its library writes it (Hugging Face's BERT
keys `encoder.layer.0.attention.self.query`, a dashed `block1-0`, an nn.ModuleList of parallel
branches `convs.0` ..., copies in an nn.ModuleDict named `encoder_layer_0` ..., a resize to
another tensor's size), and the spec that says the same: the spec validates, its state_dict
keys are the module's, the module's state_dict loads with strict=True, and the outputs agree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own spelling
from torch import nn

from graphspec.compiler.pipeline import compile_document
from graphspec.language.load import load_text


def _compiled(text: str):
    return compile_document(load_text(text, "spec.yaml"))


def _same(spec: str, reference: nn.Module, *inputs: torch.Tensor) -> nn.Module:
    """The spec's module, loaded from the reference's state_dict, computing what it computes."""
    compiled = _compiled(spec)
    model = compiled.build().eval()
    reference.eval()
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), reference(*inputs), atol=1e-6, rtol=1e-6)
    return model


# -- reserved and dashed names --------------------------------------------------------------


class _SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, input):  # noqa: A002 - Hugging Face's and torchvision's argument name
        scores = self.query(input) @ self.key(input).transpose(-1, -2)
        return scores.softmax(-1) @ self.value(input)


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.self = _SelfAttention()

    def forward(self, input):  # noqa: A002
        return self.self(input)


class _Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = _Attention()

    def forward(self, x):
        return x + self.attention(x)


class _Bert(nn.Module):
    """BertModel's key layout: encoder.layer.N.attention.self.query, plus a dashed trunk."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([_Layer(), _Layer()])
        self.trunk = nn.Module()
        self.trunk.add_module("block1-0", nn.Linear(8, 4))

    def forward(self, input):  # noqa: A002
        for layer in self.encoder.layer:
            input = layer(input)  # noqa: A001
        return self.trunk.get_submodule("block1-0")(input)


BERT = """\
name: bert_keys
blocks:
  SelfAttention:
    inputs: {input: [N, L, 8]}
    layers:
      query: {op: Linear, out_features: 8, in: input}
      key: {op: Linear, out_features: 8, in: input}
      value: {op: Linear, out_features: 8, in: input}
      kt: {op: transpose, dim0: -1, dim1: -2, in: key}
      scores: {op: matmul, in: [query, kt]}
      attn: {op: softmax, dim: -1}
      out: {op: matmul, in: [attn, value]}
  Attention:
    inputs: {input: [N, L, 8]}
    layers: {self: {block: SelfAttention, in: {input: input}}}
  Layer:
    inputs: {x: [N, L, 8]}
    layers:
      attention: {block: Attention, in: {input: x}}
      add: {op: add, in: [x, attention]}
  Encoder:
    inputs: {x: [N, L, 8]}
    layers: {layer: {block: Layer, repeat: 2}}
  Trunk:
    inputs: {x: [N, L, 8]}
    layers: {block1-0: {op: Linear, out_features: 4}}
model:
  inputs: {input: [N, L, 8]}
  layers:
    encoder: {block: Encoder, in: {x: input}}
    trunk: {block: Trunk}
"""


def test_hugging_face_keys_with_self_layer_input_and_a_dash_load_by_name():
    torch.manual_seed(0)
    model = _same(BERT, _Bert(), torch.randn(2, 5, 8))
    assert "encoder.layer.1.attention.self.query.weight" in model.state_dict()
    assert "trunk.block1-0.weight" in model.state_dict()


def test_a_reserved_name_gets_its_own_local_and_keeps_its_key():
    """Negative control on the renaming: the emitted forward's locals are not the user's names
    where Python cannot hold them, and the attribute is registered under the user's name."""
    source = _compiled(BERT).source
    assert "def forward(self, input_):" in source
    assert "self.self = SelfAttention()" in source
    assert 'self.add_module("block1-0", nn.Linear(8, 4))' in source
    assert 'self.get_submodule("block1-0")' in source
    assert "for layer in self.layer:" in source  # the loop's own name, apart from the node's


# -- numbered parallel children ---------------------------------------------------------------


class _Branches(nn.Module):
    """ASPP's shape: an nn.ModuleList of branches over one input, concatenated."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()),
                nn.Conv2d(3, 4, 3, padding=2, dilation=2),
                nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(3, 4, 1)),
            ]
        )
        self.project = nn.Conv2d(12, 2, 1)

    def forward(self, x):
        outs = [conv(x) for conv in self.convs]
        outs[2] = F.interpolate(outs[2], size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.project(torch.cat(outs, dim=1))


BRANCHES = """\
name: branches
blocks:
  Convs:
    inputs: {x: [N, C, H, W]}
    layers:
      0: {in: x, group: [{op: Conv2d, out_channels: 4, kernel_size: 1}, ReLU]}
      1: {in: x, op: Conv2d, out_channels: 4, kernel_size: 3, padding: 2, dilation: 2}
      2:
        in: x
        group:
          - {op: AdaptiveAvgPool2d, output_size: 1}
          - {op: Conv2d, out_channels: 4, kernel_size: 1}
      up: {op: interpolate, mode: bilinear, align_corners: false, in: [2, x]}
    outputs: [0, 1, up]
model:
  inputs: {x: [N, 3, H, W]}
  layers:
    convs: {block: Convs}
    cat: {op: cat, dim: 1, in: [convs.0, convs.1, convs.up]}
    project: {op: Conv2d, out_channels: 2, kernel_size: 1}
"""


def test_numbered_parallel_children_load_as_a_module_list():
    torch.manual_seed(0)
    reference = _Branches()
    for size in ((7, 5), (1, 1), (16, 9)):  # the resize-to-like at several sizes, 1 included
        _same(BRANCHES, reference, torch.randn(2, 3, *size))
    assert "convs.2.1.weight" in reference.state_dict()


def test_a_plain_number_names_a_node_in_layers_in_and_outputs():
    typed = _compiled(BRANCHES).graph
    convs = typed.nodes["convs"]
    assert list(convs.outs) == ["0", "1", "up"]
    assert [str(d) for d in typed.nodes["cat"].out.shape] == ["N", "12", "H", "W"]


# -- copies named from a pattern ----------------------------------------------------------------


class _Tanh(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return torch.tanh(self.fc(x))


class _Encoder(nn.Module):
    """ViT's `encoder.layers.encoder_layer_N` and DenseNet's `denselayerN` (from 1)."""

    def __init__(self, first: int):
        super().__init__()
        self.layers = nn.ModuleDict({f"encoder_layer_{i + first}": _Tanh() for i in range(3)})

    def forward(self, x):
        for layer in self.layers.values():
            x = layer(x)
        return x


NAMED = """\
name: named
blocks:
  Layer:
    inputs: {x: [N, 6]}
    layers: {fc: {op: Linear, out_features: 6}, act: tanh}
model:
  inputs: {x: [N, 6]}
  layers:
    layers: {block: Layer, repeat: 3, names: "encoder_layer_{FIRST}"}
"""


def test_copies_named_from_a_pattern_load_by_name():
    torch.manual_seed(0)
    for first, pattern in ((0, "{i}"), (1, "{i+1}")):
        spec = NAMED.replace("{FIRST}", pattern)
        model = _same(spec, _Encoder(first), torch.randn(4, 6))
        assert f"layers.encoder_layer_{first}.fc.weight" in model.state_dict()


def test_a_named_copy_pattern_without_i_is_refused():
    from graphspec.core.errors import SpecError

    try:
        _compiled(NAMED.replace("{FIRST}", "x"))
    except SpecError as err:
        assert any("names" in p.message or "pattern" in p.message for p in err.problems), err
    else:
        raise AssertionError("a pattern without {i} names every copy the same")


# -- resize to a symbolic size ------------------------------------------------------------------


def test_a_symbolic_upsample_size_says_how_to_resize_at_run_time():
    """nn.Upsample's size is fixed when it is built, so `size: [H, W]` is refused there, with
    the two forms that say it: interpolate's own symbolic size, or a second input."""
    from graphspec.core.errors import SpecError

    spec = """\
name: up
model:
  inputs: {x: [N, 3, H, W]}
  layers:
    conv: {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 4}
    up: {op: Upsample, size: [H, W], mode: bilinear}
"""
    try:
        _compiled(spec)
    except SpecError as err:
        [problem] = [p for p in err.problems if "'H'" in p.message]
        assert "in: [node, x]" in (problem.hint or "")
        assert "{op: interpolate, size: [H, W]}" in (problem.hint or "")
    else:
        raise AssertionError("H is not a number an nn.Upsample can be built with")
    fixed = spec.replace("size: [H, W], mode: bilinear", "mode: bilinear, in: [conv, x]")
    fixed = fixed.replace("op: Upsample", "op: interpolate")
    assert [str(d) for d in _compiled(fixed).graph.outputs[0].out.shape] == ["N", "4", "H", "W"]


SYMBOLIC_SIZES = """\
name: up
model:
  inputs: {x: [N, 3, H, W]}
  layers:
    conv: {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
    back: {op: interpolate, size: [H, W], mode: bilinear, align_corners: false}
    twice: {op: interpolate, size: [2*H, W], in: conv}
    square: {op: interpolate, size: H, in: conv}
  outputs: [back, twice, square]
"""


def test_interpolate_takes_the_models_own_sizes():
    """`size: [H, W]` (and arithmetic over the sizes, and one size for every dim) where H, W
    are the model input's: the static shapes say them, and the module resizes to them at every
    resolution, 1x1 included, exactly as F.interpolate with the numbers does."""
    compiled = _compiled(SYMBOLIC_SIZES)
    shapes = [[str(d) for d in o.out.shape] for o in compiled.graph.outputs]
    assert shapes == [["N", "4", "H", "W"], ["N", "4", "2*H", "W"], ["N", "4", "H", "H"]]
    model = compiled.build().eval()
    for h, w in [(1, 1), (7, 5), (16, 12)]:
        x = torch.randn(2, 3, h, w)
        back, twice, square = model(x)
        y = model.conv(x)
        want = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        assert torch.equal(back, want)
        assert torch.equal(twice, F.interpolate(y, size=(2 * h, w)))
        assert torch.equal(square, F.interpolate(y, size=h))


def test_an_interpolate_size_naming_no_input_size_is_refused():
    from graphspec.core.errors import SpecError

    spec = SYMBOLIC_SIZES.replace("size: [2*H, W]", "size: [2*H, Q]")
    try:
        _compiled(spec)
    except SpecError as err:
        assert any("'Q'" in p.message for p in err.problems), err
    else:
        raise AssertionError("Q is no size of the model's inputs")
