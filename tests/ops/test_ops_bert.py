"""The BERT-block ops one at a time: the code they emit, and the errors they give.

The shape, dtype and parameter rules of every op are checked against torch in test_ops_meta.py
(cases in op_cases_bert.py); here: that the generated code reads as a PyTorch user writes it,
that each refusal names what is wrong and what to do, and that the seed's attention, written as
a spec from these ops, computes what the hand-written (fixed) seed computes.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from helpers import seed_programs as sp
from helpers.op_oracle import tt

from graphspec.compiler.pipeline import compile_file
from graphspec.core.shapes import TensorType
from graphspec.ops import OPS, Op, ShapeError


def typed(params: dict[str, Any], *inputs: TensorType, constants: dict | None = None) -> Op:
    """The op as infer.py builds it: validated, then resolved against its inputs."""
    op = OPS[params["op"]].model_validate(params, context={"constants": constants or {}})
    return op.resolve(list(inputs))


ATTN = tt("N", "L", 768)
IDS = tt("N", "L", dtype="int64")

# (op fields, input types, argument names, the expected code)
EMITTED = [
    (
        {"op": "Embedding", "num_embeddings": 30522, "embedding_dim": 768},
        (IDS,),
        None,
        "nn.Embedding(30522, 768)",
    ),
    (
        {"op": "Embedding", "num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0},
        (IDS,),
        None,
        "nn.Embedding(10, 4, padding_idx=0)",
    ),
    ({"op": "LayerNorm"}, (ATTN,), None, "nn.LayerNorm(768)"),
    (
        {"op": "LayerNorm", "normalized_shape": [12, 64], "eps": 1e-12},
        (tt("N", 12, 64),),
        None,
        "nn.LayerNorm((12, 64), eps=1e-12)",
    ),
    ({"op": "GELU", "approximate": "tanh"}, (ATTN,), None, 'nn.GELU(approximate="tanh")'),
    (
        {"op": "MultiheadAttention", "num_heads": 12},
        (ATTN,) * 3,
        None,
        "nn.MultiheadAttention(768, 12, batch_first=True)",
    ),
    (
        {"op": "MultiheadAttention", "num_heads": 12},
        (ATTN, ATTN, ATTN, tt("N", "L", dtype="bool")),
        ["x", "x", "x", "pad"],
        "self.attn(x, x, x, key_padding_mask=pad, need_weights=True)",
    ),
    (
        {"op": "positions"},
        (IDS,),
        ["ids"],
        "torch.arange(ids.size(1), device=ids.device).unsqueeze(0).expand_as(ids)",
    ),
    ({"op": "eq", "other": 0}, (IDS,), ["ids"], "ids.eq(0)"),
    ({"op": "unsqueeze", "dim": 1}, (IDS,), ["pad"], "pad.unsqueeze(1)"),
    (
        {"op": "expand", "size": ["N", "L", "L"]},
        (tt("N", 1, "L"),),
        ["pad"],
        "pad.expand(-1, pad.size(2), -1)",
    ),
    (
        {"op": "repeat", "repeats": [1, 12, 1, 1]},
        (tt("N", 1, "L", "L"),),
        ["m"],
        "m.repeat(1, 12, 1, 1)",
    ),
    ({"op": "view", "size": ["N", -1, 12, 64]}, (ATTN,), ["q"], "q.view(q.size(0), -1, 12, 64)"),
    (
        {"op": "transpose", "dim0": 1, "dim1": 2},
        (tt("N", "L", 12, 64),),
        ["q"],
        "q.transpose(1, 2)",
    ),
    (
        {"op": "permute", "dims": [0, 2, 1, 3]},
        (tt("N", "L", 12, 64),),
        ["q"],
        "q.permute(0, 2, 1, 3)",
    ),
    ({"op": "contiguous"}, (ATTN,), ["c"], "c.contiguous()"),
    (
        {"op": "matmul"},
        (tt("N", 12, "L", 64), tt("N", 12, 64, "L")),
        ["q", "kt"],
        "torch.matmul(q, kt)",
    ),
    ({"op": "div", "other": 8.0}, (tt("N", 12, "L", "L"),), ["s"], "s / 8.0"),
    (
        {"op": "div", "other": 2, "rounding_mode": "floor"},
        (IDS,),
        ["i"],
        'torch.div(i, 2, rounding_mode="floor")',
    ),
    ({"op": "sub", "other": -1.5}, (ATTN,), ["x"], "x - (-1.5)"),
    ({"op": "mul"}, (ATTN, ATTN), ["a", "b"], "a * b"),
    ({"op": "pow", "exponent": 3}, (ATTN,), ["x"], "x.pow(3)"),
    ({"op": "sqrt"}, (ATTN,), ["x"], "torch.sqrt(x)"),
    ({"op": "softmax", "dim": -1}, (ATTN,), ["s"], "F.softmax(s, dim=-1)"),
    (
        {"op": "masked_fill", "value": -1e9},
        (tt("N", 12, "L", "L"), tt("N", 1, 1, "L", dtype="bool")),
        ["scores", "mask"],
        "scores.masked_fill(mask, -1e9)",
    ),
    ({"op": "dropout", "p": 0.1}, (ATTN,), ["x"], "F.dropout(x, p=0.1, training=self.training)"),
    ({"op": "gelu"}, (ATTN,), ["x"], "F.gelu(x)"),
    (
        {"op": "scaled_dot_product_attention", "dropout_p": 0.1, "is_causal": True},
        (tt("N", 12, "L", 64),) * 3,
        ["q", "k", "v"],
        "F.scaled_dot_product_attention(q, k, v, dropout_p=0.1 if self.training else 0.0, "
        "is_causal=True)",
    ),
]


@pytest.mark.parametrize(
    ("params", "inputs", "args", "code"), EMITTED, ids=[c[0]["op"] for c in EMITTED]
)
def test_emitted_code_reads_like_pytorch(params, inputs, args, code):
    op = typed(params, *inputs)
    op.infer(list(inputs))
    got = op.emit_init() if args is None else op.emit_call("attn", args)
    assert got == code


# (op fields, input types, code, text the message has, text the hint has, field pointed at)
REFUSED = [
    (
        {"op": "Embedding", "num_embeddings": 10, "embedding_dim": 4},
        (tt("N", "L"),),
        "E-DTYPE",
        "float32",
        "dtype: int64",
        None,
    ),
    (
        {"op": "Embedding", "num_embeddings": 10, "embedding_dim": 4, "padding_idx": 10},
        (IDS,),
        "E-CONSTRAINT",
        "num_embeddings 10",
        "-10 to 9",
        "padding_idx",
    ),
    (
        {"op": "masked_fill", "value": -1e9},
        (tt("N", 12, "L", "L"), tt("N", "L", dtype="bool")),
        "E-SHAPE",
        "(N, L) (rank 2) does not broadcast to the tensor (N, 12, L, L) (rank 4)",
        "unsqueeze",
        None,
    ),
    (
        {"op": "masked_fill", "value": -1e9},
        (tt("N", "L"), tt("N", "L", dtype="int64")),
        "E-DTYPE",
        "bool mask, got int64",
        "eq",
        None,
    ),
    (
        {"op": "masked_fill", "value": -1e9},
        (tt("N", "L", dtype="float16"), tt("N", "L", dtype="bool")),
        "E-RANGE",
        "overflows float16",
        "65504",
        "value",
    ),
    (
        {"op": "MultiheadAttention", "num_heads": 5},
        (ATTN,) * 3,
        "E-CONSTRAINT",
        "num_heads 5 does not divide embed_dim 768",
        "divisor of 768",
        "num_heads",
    ),
    (
        {"op": "MultiheadAttention", "num_heads": 12},
        (ATTN, ATTN, ATTN, tt("N", "L", "L", dtype="bool")),
        "E-SHAPE",
        "key_padding_mask must be (N, L)",
        "keys to ignore",
        None,
    ),
    (
        {"op": "matmul"},
        (tt("N", 12, "L", 64), tt("N", 12, "L", 64)),
        "E-SHAPE",
        "(N, 12, L, 64) @ (N, 12, L, 64)",
        "transpose",
        None,
    ),
    (
        {"op": "matmul"},
        (tt(2, 3), tt(3, 4, dtype="float64")),
        "E-DTYPE",
        "float32 and float64",
        "convert",
        None,
    ),
    ({"op": "sub"}, (ATTN,), "E-ARITY", "needs a second operand", "other", "in_"),
    ({"op": "mul", "other": 2}, (ATTN, ATTN), "E-ARITY", "two inputs", "drop `other`", "other"),
    ({"op": "sub", "other": 1}, (tt(3, dtype="bool"),), "E-DTYPE", "bool", "logical_xor", None),
    (
        {"op": "pow", "exponent": -1},
        (IDS,),
        "E-DTYPE",
        "negative integer exponent",
        "-1.0",
        "exponent",
    ),
    (
        {"op": "LayerNorm", "normalized_shape": 512},
        (ATTN,),
        "E-SHAPE",
        "[768]",
        "leave",
        "normalized_shape",
    ),
    (
        {"op": "view", "size": ["N", -1, 7, 64]},
        (ATTN,),
        "E-SHAPE",
        "cannot view",
        "multiply",
        "size",
    ),
    (
        {"op": "expand", "size": ["N", "S", "L"]},
        (tt("N", 1, "L"),),
        "E-SHAPE",
        "'S'",
        "symbol",
        "size",
    ),
    (
        {"op": "expand", "size": ["N", 4, "L"]},
        (tt("N", 3, "L"),),
        "E-SHAPE",
        "not 1",
        "repeat",
        "size",
    ),
    (
        {"op": "permute", "dims": [0, 1, 1]},
        (tt(2, 3, 4),),
        "E-SHAPE",
        "repeat a dim",
        "once",
        "dims",
    ),
    ({"op": "unsqueeze", "dim": 3}, (IDS,), "E-SHAPE", "valid: -3 to 2", None, "dim"),
    (
        {"op": "positions"},
        (tt("N", dtype="int64"),),
        "E-SHAPE",
        "(N, L)",
        "(batch, sequence)",
        None,
    ),
    (
        {"op": "scaled_dot_product_attention", "is_causal": True},
        (*(tt("N", "L", 8),) * 3, tt("L", "L", dtype="bool")),
        "E-CONSTRAINT",
        "is_causal",
        "drop",
        "is_causal",
    ),
]


@pytest.mark.parametrize(
    ("params", "inputs", "code", "says", "hint", "field"),
    REFUSED,
    ids=[c[0]["op"] for c in REFUSED],
)
def test_refusals_say_what_and_where(params, inputs, code, says, hint, field):
    with pytest.raises(ShapeError) as caught:
        typed(params, *inputs).infer(list(inputs))
    err = caught.value
    assert (err.code, err.field) == (code, field)
    assert says in err.message
    if hint:
        assert hint in (err.hint or "")


def test_multihead_attention_types_both_outputs():
    op = typed(
        {"op": "MultiheadAttention", "num_heads": 12, "average_attn_weights": False},
        ATTN,
        tt("N", "S", 768),
        tt("N", "S", 768),
    )
    out, weights = op.infer([ATTN, tt("N", "S", 768), tt("N", "S", 768)])
    assert (str(out), str(weights)) == ("(N, L, 768)", "(N, 12, L, S)")
    assert op.outputs == ("out", "weights")
    assert op.param_count() == sum(
        p.numel() for p in torch.nn.MultiheadAttention(768, 12).parameters()
    )


ATTENTION_SPEC = """\
name: seed_attention
model:
  class: Attention
  inputs:
    Q: [N, 12, L, 64]
    K: [N, 12, L, 64]
    V: [N, 12, L, 64]
    mask: {shape: [N, 12, L, L], dtype: bool}
  layers:
    kt: {op: transpose, dim0: -1, dim1: -2, in: K}
    qk: {op: matmul, in: [Q, kt]}
    scores: {op: div, other: 8.0, shape: [N, 12, L, L]}
    masked: {op: masked_fill, value: -1e9, in: [scores, mask]}
    attn: {op: softmax, dim: -1}
    context: {op: matmul, in: [attn, V]}
  outputs: [context, attn]
"""


def test_seed_scaled_dot_product_attention_as_a_spec(tmp_path):
    """The seed's ScaledDotProductAttention, from these ops, against the fixed hand-written one."""
    path = tmp_path / "attention.yaml"
    path.write_text(ATTENTION_SPEC)
    model = compile_file(str(path)).build()
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 12, 30, 64) for _ in range(3))
    ids = torch.randint(1, 100, (2, 30))
    ids[:, 25:] = 0  # padding
    mask = sp.get_attn_pad_mask(ids, ids).unsqueeze(1).repeat(1, 12, 1, 1)
    context, attn = model(q, k, v, mask)
    want_context, want_attn = sp.ScaledDotProductAttention()(q, k, v, mask)
    assert torch.equal(attn, want_attn) and torch.equal(context, want_context)
    assert attn[..., 25:].abs().max().item() == 0.0  # padded keys get exactly zero attention
