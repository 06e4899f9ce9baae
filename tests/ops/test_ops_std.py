"""The standard op set of issue 10 in whole specs: ranks refused with a hint, absent ops
answered by meaning, several outputs wired by name, bounds in `expr`, and models built from the
new ops whose run-time shapes are the ones inference predicted."""

from __future__ import annotations

import pytest
import torch

from graphspec.compiler.pipeline import compile_file
from graphspec.core.errors import SpecError


def _compile(tmp_path, layers: str, inputs: str = "x: [N, 1, 128]", **extra: str):
    head = f"name: t\nmodel:\n  inputs:\n    {inputs}\n  layers:\n"
    body = "".join(f"    {line}\n" for line in layers.strip().splitlines())
    (tmp_path / "t.yaml").write_text(head + body + "".join(extra.values()))
    return compile_file(str(tmp_path / "t.yaml"))


def _problem(tmp_path, layers: str, inputs: str = "x: [N, 1, 128]"):
    with pytest.raises(SpecError) as info:
        _compile(tmp_path, layers, inputs)
    (problem,) = info.value.problems
    return problem


# -- an input of the wrong rank is an error, never a reinterpretation ---------------------------


def test_a_batch_of_sequences_into_conv2d_is_refused_toward_conv1d(tmp_path):
    p = _problem(tmp_path, "c: {op: Conv2d, out_channels: 4, kernel_size: 3}")
    assert p.code == "E-SHAPE" and p.node == "c" and p.pos.line == 6
    assert "rank-4" in p.message and "(N, 1, 128)" in p.message
    assert "Conv1d" in p.hint and "unsqueeze" in p.hint


def test_the_same_input_into_conv1d_is_a_1d_convolution(tmp_path):
    compiled = _compile(tmp_path, "c: {op: Conv1d, out_channels: 4, kernel_size: 3}")
    assert str(compiled.graph.outputs[0].out) == "(N, 4, 126)"
    model = compiled.build()
    assert model(torch.randn(2, 1, 128)).shape == (2, 4, 126)


@pytest.mark.parametrize(
    ("op", "inputs", "sibling"),
    [
        ("{op: MaxPool2d, kernel_size: 2}", "x: [N, 3, 8]", "MaxPool1d"),
        ("{op: BatchNorm3d}", "x: [N, 3, 4, 4]", "BatchNorm2d"),
        ("{op: AdaptiveAvgPool1d, output_size: 1}", "x: [N, 3, 4, 4]", "AdaptiveAvgPool2d"),
        ("{op: ConvTranspose3d, out_channels: 2, kernel_size: 2}", "x: [N, 3, 4, 4]", None),
        ("{op: Dropout2d}", "x: [N, 3, 8]", "Dropout1d"),
    ],
)
def test_every_batched_family_refuses_another_rank(tmp_path, op, inputs, sibling):
    p = _problem(tmp_path, f"c: {op}", inputs)
    assert p.code == "E-SHAPE" and "takes a batched rank-" in p.message
    assert sibling is None or sibling in p.hint


# -- an absent op: hints by meaning -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "wanted", "not_wanted"),
    [
        ("ConvTranspose4d", ["'ConvTranspose1d'", "'ConvTranspose3d'"], ["'transpose'"]),
        ("Conv4d", ["'Conv1d'", "'Conv2d'", "'Conv3d'"], ["ConvTranspose"]),
        ("reduce_mean", ["'mean'"], ["'expand'"]),
        ("Swish", ["'SiLU'"], []),
        ("min", ["'amin'", "clamp"], ["'sin'"]),
        ("max", ["'amax'"], ["'tanh'"]),
        ("quick_gelu", ["'GELU'", "'gelu'"], []),
        ("Dense", ["'Linear'"], []),
        ("Conv2D", ["'Conv2d'"], ["'Conv1d'"]),
        ("upsample_bilinear", ["'Upsample'"], ["'Linear'"]),
        ("Lineer", ["'Linear'"], []),  # a plain typo still gets its spelling
    ],
)
def test_an_absent_op_is_answered_by_meaning(tmp_path, name, wanted, not_wanted):
    p = _problem(tmp_path, f"c: {{op: {name}}}")
    assert p.code == "E-OP" and p.message == f"unknown op '{name}'"
    for text in wanted:
        assert text in p.hint, p.hint
    for text in not_wanted:
        assert text not in p.hint, p.hint


def test_an_unrelated_name_gets_no_near_spelling(tmp_path):
    p = _problem(tmp_path, "c: {op: zzz_frobnicate}")
    assert "did you mean" not in p.hint and "docs/ops.md" in p.hint


@pytest.mark.parametrize("name", ["Conv1d", "mean", "ConvTranspose2d", "amin", "SiLU"])
def test_names_that_got_near_spellings_before_are_ops_now(tmp_path, name):
    from graphspec.ops import OPS

    assert name in OPS


# -- several outputs: split and chunk -------------------------------------------------------------


def test_chunk_outputs_are_wired_by_name(tmp_path):
    layers = """
fc: {op: Linear, out_features: 12}
parts: {op: chunk, chunks: 3, dim: -1}
k: {op: relu, in: parts.out1}
s: {op: add, in: [parts, k, parts.out2]}
"""
    compiled = _compile(tmp_path, layers, "x: [N, 4]")
    assert str(compiled.graph.outputs[0].out) == "(N, 4)"
    model = compiled.build()
    x = torch.randn(3, 4)
    q, k, v = model.fc(x).chunk(3, dim=-1)
    assert torch.equal(model(x), q + torch.relu(k) + v)


def test_split_counts_its_pieces_and_a_missing_one_is_named(tmp_path):
    layers = """
parts: {op: split, split_size_or_sections: [2, 3], dim: 1}
y: {op: relu, in: parts.out2}
"""
    p = _problem(tmp_path, layers, "x: [N, 5]")
    assert p.code == "E-REF" and "out0, out1" in p.message


def test_chunk_of_a_symbolic_multiple_stays_symbolic(tmp_path):
    layers = "parts: {op: chunk, chunks: 2, dim: 1}\nb: {op: relu, in: parts.out1}"
    compiled = _compile(tmp_path, layers, "x: [N, 4, L]")
    assert str(compiled.graph.outputs[0].out) == "(N, 2, L)"


# -- bounds inside expr ---------------------------------------------------------------------------


def test_min_max_clamp_in_an_expr_compute_what_they_say(tmp_path):
    text = (
        "name: t\nmodel:\n  inputs: {x: [N]}\n  params: {a: {shape: [1]}}\n  layers:\n"
        '    y: {op: expr, expr: "clamp(x, -1, 2) + max(x, a) + min(0, x) + abs(exp(log(x*x)))"}\n'
    )
    (tmp_path / "t.yaml").write_text(text)
    compiled = compile_file(str(tmp_path / "t.yaml"))
    assert "torch.clamp(x, -1, 2)" in compiled.source
    model = compiled.build()
    x = torch.linspace(-3, 3, 7)
    want = x.clamp(-1, 2) + torch.maximum(x, model.a) + x.clamp(max=0) + (x * x)
    assert torch.allclose(model(x), want)


# -- models made of the new ops: run-time shapes are the inferred ones ----------------------------

MODELS = {
    "seq_cnn": (
        "x: [N, 3, 64]",
        """
c1: {op: Conv1d, out_channels: 8, kernel_size: 5, padding: 2}
b1: {op: BatchNorm1d}
a1: {op: ReLU6}
p1: {op: MaxPool1d, kernel_size: 2}
c2: {op: Conv1d, out_channels: 16, kernel_size: 3, dilation: 2}
g: {op: GroupNorm, num_groups: 4}
a2: {op: SiLU}
avg: {op: AdaptiveAvgPool1d, output_size: 1}
sq: {op: squeeze, dim: -1}
fc: {op: Linear, out_features: 5}
out: {op: log_softmax, dim: 1}
""",
        (4, 3, 64),
    ),
    "autoencoder": (
        "x: [N, 1, 28, 28]",
        """
e1: {op: Conv2d, out_channels: 8, kernel_size: 3, stride: 2, padding: 1}
a1: {op: LeakyReLU, negative_slope: 0.2}
e2: {op: Conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
n2: {op: InstanceNorm2d, affine: true}
a2: {op: ELU}
d1: {op: ConvTranspose2d, out_channels: 8, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
a3: {op: Mish}
d2: {op: ConvTranspose2d, out_channels: 4, kernel_size: 2, stride: 2}
ps: {op: PixelShuffle, upscale_factor: 2}
up: {op: interpolate, size: [28, 28], mode: bilinear}
y: {op: Hardsigmoid}
""",
        (2, 1, 28, 28),
    ),
    "volumes": (
        "x: [N, 2, 8, 8, 8]",
        """
c: {op: Conv3d, out_channels: 4, kernel_size: 3, padding: same}
b: {op: BatchNorm3d}
h: {op: Hardswish}
p: {op: AvgPool3d, kernel_size: 2}
t: {op: ConvTranspose3d, out_channels: 2, kernel_size: 2, stride: 2}
u: {op: Upsample, scale_factor: 2.0, mode: trilinear}
m: {op: adaptive_max_pool3d, output_size: [2, null, 3]}
d: {op: Dropout3d, p: 0.1}
s: {op: amax, dim: [2, 3], keepdim: true}
r: {op: mean, dim: -1}
st: {op: stack, in: [r, r], dim: 1}
n: {op: narrow, dim: 2, start: 0, length: 1}
ht: {op: Hardtanh, min_val: -0.5, max_val: 0.5}
""",
        (2, 2, 8, 8, 8),
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_model_of_new_ops_runs_with_the_inferred_shapes(tmp_path, name):
    inputs, layers, size = MODELS[name]
    compiled = _compile(tmp_path, layers, inputs)
    model = compiled.build().eval()
    with torch.no_grad():
        y = model(torch.randn(*size))
    sizes = {"N": size[0]}
    assert tuple(y.shape) == compiled.graph.outputs[0].out.bind(sizes)
    predicted = compiled.graph.total_params
    assert sum(p.numel() for p in model.parameters()) == predicted


def test_causal_mask_from_tril_keeps_the_lower_triangle(tmp_path):
    layers = "ones: {op: expr, expr: 'x * 0 + 1'}\nmask: {op: tril}"
    model = _compile(tmp_path, layers, "x: [L, L]").build()
    mask = model(torch.randn(4, 4))
    assert torch.equal(mask, torch.ones(4, 4).tril()) and mask[0, 1] == 0 and mask[1, 0] == 1


def test_new_ops_take_symbolic_sizes_and_keep_them(tmp_path):
    """One spec over [N, 3, H, W] serves every resolution: the symbolic output formula, bound
    at two sizes, is the shape the built module gives."""
    layers = """
c: {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}
p: {op: MaxPool2d, kernel_size: 3, stride: 2, padding: 1}
t: {op: ConvTranspose2d, out_channels: 2, kernel_size: 2, stride: 2}
u: {op: Upsample, scale_factor: 1.5}
a: {op: AvgPool2d, kernel_size: 2}
"""
    compiled = _compile(tmp_path, layers, "x: [N, 3, H, W]")
    out = compiled.graph.outputs[0].out
    assert not out.shape[2].is_static and "H" in str(out.shape[2])
    model = compiled.build()
    for h, w in [(32, 48), (37, 21)]:
        y = model(torch.randn(2, 3, h, w))
        assert tuple(y.shape) == out.bind({"N": 2, "H": h, "W": w}), (h, w, str(out))
