"""Specs torch runs that graphspec once refused over symbolic sizes: each validates now, and the
built module's real shapes at several sizes (1 included where torch allows it) equal the
static ones bound to those sizes."""

from __future__ import annotations

import pytest
import torch

from graphspec.compiler.pipeline import compile_text


def agrees(text: str, *bindings: dict[str, int]) -> None:
    """Validate, build, run forward and backward at each binding; shapes as inferred."""
    compiled = compile_text(text)
    model = compiled.build()
    for sizes in bindings:
        torch.manual_seed(0)
        xs = [torch.randn(t.out.bind(sizes), requires_grad=True) for t in compiled.graph.inputs]
        outs = model(*xs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        static = [compiled.graph.ref_type(ref) for ref in compiled.graph.graph.outputs]
        assert [tuple(o.shape) for o in outs] == [t.bind(sizes) for t in static], sizes
        sum(o.float().sum() for o in outs).backward()


def spec(inputs: str, layers: str, extra: str = "") -> str:
    body = "\n".join(f"    {line.strip()}" for line in layers.strip().splitlines())
    return f"name: t\n{extra}model:\n  inputs: {inputs}\n  layers:\n{body}\n"


@pytest.mark.parametrize(
    ("inputs", "sizes"),
    [
        ("{a: [N, 4, H, 16], b: [N, 4, 16, 16]}", {"N": 2, "H": 3}),
        ("{a: [N, 4, H, 16], b: [N, 4, W, 16]}", {"N": 1, "H": 1, "W": 5}),
    ],
)
def test_cat_of_different_symbolic_sizes_is_their_sum(inputs, sizes):
    agrees(spec(inputs, "c: {op: cat, in: [a, b], dim: 2}"), sizes, {**sizes, "H": 7})


def test_cat_of_a_symbol_with_itself_and_a_constant():
    text = spec("{a: [N, 4], b: [N, 4], c: [1, 4]}", "j: {op: cat, in: [a, b, c], dim: 0}")
    agrees(text, {"N": 1}, {"N": 5})
    text = spec("{a: [2, L], b: [2, 1]}", "j: {op: cat, in: [a, b, a], dim: 1}")
    assert str(compile_text(text).graph.outputs[0].out) == "(2, 2*L + 1)"
    agrees(text, {"L": 1}, {"L": 4})


@pytest.mark.parametrize(
    "pool",
    [
        "{op: AvgPool3d, kernel_size: 3, stride: 3}",
        "{op: AvgPool3d, kernel_size: 2, padding: 1, ceil_mode: true}",
        "{op: MaxPool3d, kernel_size: 2, stride: 3, ceil_mode: true}",
        "{op: MaxPool3d, kernel_size: 3, stride: 4, padding: 1, dilation: 2, ceil_mode: true}",
        "{op: avg_pool3d, kernel_size: 2, stride: 3, ceil_mode: true, count_include_pad: false}",
    ],
)
def test_pools_over_symbols_with_every_mode(pool):
    text = spec("{x: [N, 2, D, H, W]}", f"p: {pool}")
    agrees(text, *({"N": 1, "D": d, "H": d + 1, "W": d + 5} for d in (6, 7, 9)))


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate", "zeros"])
@pytest.mark.parametrize("padding", [0, 1])
def test_conv_padding_modes_over_symbols(mode, padding):
    conv = (
        f"{{op: Conv2d, out_channels: 3, kernel_size: 3, padding: {padding}, padding_mode: {mode}}}"
    )
    agrees(
        spec("{x: [N, 2, H, W]}", f"c: {conv}"), {"N": 1, "H": 3, "W": 4}, {"N": 2, "H": 9, "W": 5}
    )


@pytest.mark.parametrize("start", [0, 1, -2])
def test_narrow_along_a_symbolic_dim(start):
    text = spec("{x: [N, L, 4]}", f"n: {{op: narrow, dim: 1, start: {start}, length: 1}}")
    agrees(text, {"N": 2, "L": 2}, {"N": 1, "L": 6})


def test_multihead_attention_with_bias_kv_and_zero_attn_over_a_symbolic_length():
    mha = (
        "{op: MultiheadAttention, embed_dim: 8, num_heads: 2, add_bias_kv: true, "
        "add_zero_attn: true, in: [x, x, x]}"
    )
    text = spec("{x: [N, L, 8]}", f"a: {mha}") + "  outputs: [a, a.weights]\n"
    assert str(compile_text(text).graph.output_types()["weights"]) == "(N, L, L + 2)"
    agrees(text, {"N": 2, "L": 1}, {"N": 1, "L": 5})


def test_view_and_reshape_sizes_as_arithmetic_over_the_models_own_symbols():
    text = (
        spec(
            "{x: [N, H, 24]}",
            """
        v: {op: view, size: [N, "2*H", 12]}
        w: {op: reshape, size: ["N*H", 24], in: x}
        """,
        )
        + "  outputs: [v, w]\n"
    )
    agrees(text, {"N": 1, "H": 1}, {"N": 2, "H": 3})
    x = torch.randn(2, 3, 24)
    v, w = compile_text(text).build()(x)
    assert torch.equal(v, x.view(2, 6, 12)) and torch.equal(w, x.reshape(6, 24))


def test_bool_block_arguments_in_bool_fields():
    text = """\
name: t
blocks:
  Att:
    args: {causal: false}
    inputs: {q: [N, 2, L, 4]}
    layers:
      a: {op: scaled_dot_product_attention, is_causal: causal, in: [q, q, q]}
      l: {op: Linear, out_features: 4, bias: not causal}
model:
  inputs: {x: [N, 2, L, 4]}
  layers:
    causal: {block: Att, args: {causal: true}}
    full: {block: Att}
  outputs: [causal, full]
"""
    compiled = compile_text(text)
    model = compiled.build()
    assert model.causal.l.bias is None and model.full.l.bias is not None
    q = torch.randn(2, 2, 5, 4)
    want = torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    assert torch.allclose(model.causal.l(want), model(q)[0], atol=1e-6)  # the causal mask
    agrees(text, {"N": 1, "L": 1}, {"N": 2, "L": 3})
