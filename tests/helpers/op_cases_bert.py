"""Oracle cases for the BERT-block ops (issue 4), merged into `test_ops_meta.CASES`.

One generator per op family: a seeded draw over the op's fields and its input types (dtypes
included: ids are int64, masks bool), plus hand-picked edges where torch refuses. Each case goes
through `op_oracle.check`: the static rule and the emitted code on the meta device (and the CPU
when small) must agree on shapes, dtypes and parameter counts, or both refuse.
"""

from __future__ import annotations

from random import Random
from typing import Any

from graphspec.core.shapes import DTYPES, FLOAT_DTYPES, Dim
from graphspec.ops import OPS
from helpers.op_oracle import MIXED_DTYPES, Case, tt

OMIT: Any = object()
"""Leave the field out, so the op's default applies."""
SHAPES = [(), (5,), (2, 3), ("N", 4), (2, 3, 4), ("N", 3, "L"), (1, 3, 1)]
DIMS = [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4]


def draw(seed: int, k: int, **axes: list) -> list[dict[str, Any]]:
    rng = Random(seed)
    return [{name: rng.choice(values) for name, values in axes.items()} for _ in range(k)]


def fields(op: str, d: dict[str, Any]) -> dict[str, Any]:
    own = OPS[op].model_fields
    return {"op": op, **{k: v for k, v in d.items() if k in own and v is not OMIT}}


def shaped(rng: Random, rank: int, sizes: list) -> tuple:
    return tuple(rng.choice(sizes) for _ in range(rank))


# -- lookups -------------------------------------------------------------------------------------


def embedding_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        41,
        80,
        _shape=[(2, 3), ("N", "L"), (), (5,), (2, 3, 4)],
        _dtype=["int64", "int64", "int32", "float32", "bool", "float16"],
        num_embeddings=[1, 10, 30, 0],
        embedding_dim=[1, 4, 8, 0],
        padding_idx=[OMIT, OMIT, 0, -1],
        max_norm=[OMIT, OMIT, 1.0],
        scale_grad_by_freq=[OMIT, True],
        sparse=[OMIT, True],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    base = {"op": op, "num_embeddings": 30522, "embedding_dim": 768}
    return cases + [Case(base, (tt("N", "L", dtype="int64"),))]


def functional_embedding_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        47,
        80,
        _ids=[(2, 3), ("N", "L"), (), (5,), (2, 3, 4)],
        _dtype=["int64", "int64", "int64", "int32", "float32", "bool"],
        _table=[(10, 4), (1, 8), (30, 1), (10, 4), (4,), (2, 3, 4), ("V", 4)],
        _table_dtype=["float32", "float32", "float32", "float64", "int64"],
        padding_idx=[OMIT, OMIT, OMIT, 0, -1, 3, 12],
    ):
        ids = tt(*d["_ids"], dtype=d["_dtype"])
        cases.append(Case(fields(op, d), (ids, tt(*d["_table"], dtype=d["_table_dtype"]))))
    return cases


def positions_cases(op: str) -> list[Case]:
    # Rank-3 ids whose dims 1 and 2 agree would let torch's expand_as broadcast the positions
    # over the wrong dim: the rule asks for (N, L) and the grid keeps clear of that coincidence.
    shapes = [(2, 3), ("N", "L"), (1, 7), ("N", 1), (5,), (), (2, 3, 4), ("N", "L", 4)]
    return [Case({"op": op}, (tt(*s, dtype=dt),)) for s in shapes for dt in DTYPES]


# -- normalisation, activations, dropout ---------------------------------------------------------


def layernorm_cases(op: str) -> list[Case]:
    cases = []
    shapes = [(2, 3), ("N", 4), (2, 3, 4), ("N", "L", 8), (3,), (), (2, "L"), (1, 1)]
    for d in draw(
        42,
        120,
        _shape=shapes,
        _dtype=["float32"] * 4 + ["float16", "bfloat16", "float64", "int64"],
        _given=[OMIT, OMIT, "last", "[last]", "two", "wrong", "[wrong]", 0],
        eps=[OMIT, 1e-12, 0.0],
        elementwise_affine=[OMIT, False],
        bias=[OMIT, False],
    ):
        shape = d["_shape"]
        given = _normalized(d["_given"], shape)
        if given is OMIT and not (shape and isinstance(shape[-1], int)):
            given = 8  # nothing to infer it from: torch needs it written
        if given is not OMIT:
            d["normalized_shape"] = given
        cases.append(Case(fields(op, d), (tt(*shape, dtype=d["_dtype"]),)))
    return cases


def _normalized(kind: Any, shape: tuple) -> Any:
    static = [s for s in shape if isinstance(s, int)]
    last = shape[-1] if shape and isinstance(shape[-1], int) else 3
    return {
        "last": last,
        "[last]": [last],
        "two": static[-2:] or [2, 2],
        "wrong": last + 1,
        "[wrong]": [last, last],
    }.get(kind, kind)


def gelu_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        43, 60, _shape=SHAPES, _dtype=MIXED_DTYPES, approximate=[OMIT, "none", "tanh", "erf"]
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def softmax_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(44, 80, _shape=SHAPES, _dtype=MIXED_DTYPES, dim=DIMS):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def dropout_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(45, 60, _shape=SHAPES, _dtype=MIXED_DTYPES, p=[OMIT, 0.0, 0.1, 1.0, 1.5, -0.1]):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


# -- elementwise arithmetic and comparison -------------------------------------------------------

SCALARS = [2, -1, 0, 3, 0.5, 2.0, -1e9]


def binary_cases(op: str) -> list[Case]:
    """Two broadcast tensors, or a tensor and a scalar `other`."""
    rng = Random(46 + len(op))
    cases = []
    for _ in range(120):
        extra = (
            {"rounding_mode": rng.choice(["trunc", "floor"])}
            if op == "div" and rng.random() < 0.3
            else {}
        )
        a = tt(*shaped(rng, rng.randrange(0, 4), [1, 1, 2, 3, "N"]), dtype=rng.choice(MIXED_DTYPES))
        if rng.random() < 0.5:
            b_dtype = rng.choice(MIXED_DTYPES)
            if extra and b_dtype not in FLOAT_DTYPES:
                b_dtype = "float32"  # integer // zeros fails on the values, which no rule sees
            b = tt(*shaped(rng, rng.randrange(0, 4), [1, 1, 2, 3, "N"]), dtype=b_dtype)
            cases.append(Case({"op": op, **extra}, (a, b)))
        else:
            other = rng.choice([s for s in SCALARS if not (extra and s == 0)])
            cases.append(Case({"op": op, "other": other, **extra}, (a,)))
    return cases


def pow_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        47, 100, _shape=SHAPES, _dtype=MIXED_DTYPES, exponent=[2, 3, -1, -2, 0, 0.5, 2.0, -1.0]
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def unary_cases(op: str) -> list[Case]:
    """Ops that take any tensor (sqrt, contiguous): every dtype, and a second input refused."""
    cases = [Case({"op": op}, (tt(*s, dtype=dt),)) for s in SHAPES for dt in DTYPES]
    return cases + [Case({"op": op}, (tt(2, 3), tt(2, 3))) for _ in range(3)]


# -- movement ------------------------------------------------------------------------------------


def unsqueeze_cases(op: str) -> list[Case]:
    return [Case({"op": op, "dim": d}, (tt(*s),)) for s in SHAPES for d in DIMS]


def transpose_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(48, 100, _shape=SHAPES, dim0=DIMS, dim1=DIMS, _dtype=MIXED_DTYPES):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def permute_cases(op: str) -> list[Case]:
    rng = Random(49)
    cases = []
    for _ in range(100):
        shape = rng.choice(SHAPES)
        dims = list(range(len(shape)))
        rng.shuffle(dims)
        dims = [d - len(shape) if rng.random() < 0.3 else d for d in dims]
        roll = rng.random()
        if roll < 0.15 and dims:
            dims[0] = dims[-1]  # a repeated dim
        elif roll < 0.3:
            dims.append(rng.choice(DIMS))  # one too many
        elif roll < 0.4 and dims:
            dims[rng.randrange(len(dims))] = rng.choice([-5, 4])  # out of range
        cases.append(Case({"op": op, "dims": dims}, (tt(*shape),)))
    return cases


EXPAND_INPUTS = [(1,), (2, 1), ("N", 1, "L"), (1, 1), (3,), (), ("N", 1), (1, "L")]


def expand_cases(op: str) -> list[Case]:
    rng = Random(50)
    cases = []
    for _ in range(120):
        shape = rng.choice(EXPAND_INPUTS)
        present = [d for d in shape if isinstance(d, str)]
        # torch gives a 0-d tensor expanded with -1 a size of -1 (a bug): -1 only where it keeps.
        # and with a 0 among the sizes, a negative size too: sizes of 0 are kept to the edges.
        entries = [-1, -1, 1, 2, 3, -2, *present, *present] if shape else [1, 2, -2]
        size = [
            rng.choice(entries)
            for _ in range(rng.randrange(max(len(shape) - 1, 0), len(shape) + 3))
        ]
        cases.append(Case({"op": op, "size": size}, (tt(*shape, dtype=rng.choice(MIXED_DTYPES)),)))
    # The seed's padding mask: (N, 1, L) -> (N, L, L), and a symbol the input lacks.
    cases.append(Case({"op": op, "size": ["N", "L", "L"]}, (tt("N", 1, "L", dtype="bool"),)))
    cases.append(Case({"op": op, "size": [-1, "L", -1]}, (tt("N", 1, "L", dtype="bool"),)))
    cases.append(Case({"op": op, "size": ["N", "S", "L"]}, (tt("N", 1, "L", dtype="bool"),)))
    cases += [Case({"op": op, "size": s}, (tt(1, 1),)) for s in ([0, 1], [2, 0, -1], [0])]
    return cases


def repeat_cases(op: str) -> list[Case]:
    rng = Random(51)
    cases = []
    for _ in range(100):
        shape = rng.choice(SHAPES)
        count = rng.randrange(max(len(shape) - 1, 1), len(shape) + 3)
        repeats = [rng.choice([1, 1, 2, 3, 0]) for _ in range(count)]
        cases.append(Case({"op": op, "repeats": repeats}, (tt(*shape),)))
    return cases


# -- masks ---------------------------------------------------------------------------------------


def masked_fill_cases(op: str) -> list[Case]:
    rng = Random(52)
    cases = []
    for _ in range(120):
        x = tt(
            *shaped(rng, rng.randrange(0, 4), [1, 2, 3, "N", "L"]), dtype=rng.choice(MIXED_DTYPES)
        )
        mask_dtype = rng.choice(["bool", "bool", "bool", "int64", "float32", "int32"])
        mask = tt(*shaped(rng, rng.randrange(0, 4), [1, 1, 2, 3, "N", "L"]), dtype=mask_dtype)
        value = rng.choice([-1e9, 0, 1, 0.5, -65504.0, 70000.0, 1e20, -(2**31) - 1])
        cases.append(Case({"op": op, "value": value}, (x, mask)))
    # Attention: scores (N, H, L, L) with the padding mask (N, 1, 1, L), and one of the wrong rank.
    scores = tt("N", 12, "L", "L")
    cases.append(Case({"op": op, "value": -1e9}, (scores, tt("N", 1, 1, "L", dtype="bool"))))
    cases.append(Case({"op": op, "value": -1e9}, (scores, tt("N", "L", dtype="bool"))))
    return cases


def eq_cases(op: str) -> list[Case]:
    cases = binary_cases(op)
    cases.append(Case({"op": op, "other": 0}, (tt("N", "L", dtype="int64"),)))  # the padding mask
    return cases


# -- attention -----------------------------------------------------------------------------------


def matmul_cases(op: str) -> list[Case]:
    rng = Random(53)
    sizes = [1, 2, 3, "N"]
    cases = []
    for _ in range(160):
        a = list(shaped(rng, rng.randrange(0, 5), sizes))
        b = list(shaped(rng, rng.randrange(0, 5), sizes))
        if a and len(b) >= 2 and rng.random() < 0.7:
            b[-2] = a[-1]  # usually the inner sizes meet
        elif a and len(b) == 1 and rng.random() < 0.7:
            b[0] = a[-1]
        dtype = rng.choice(["float32"] * 6 + ["float64", "float16", "int64", "bool"])
        other = dtype if rng.random() < 0.9 else rng.choice(MIXED_DTYPES)
        cases.append(Case({"op": op}, (tt(*a, dtype=dtype), tt(*b, dtype=other))))
    # BERT's scores: (N, 12, L, 64) @ (N, 12, 64, L), and the weights times the values.
    q, kt = tt("N", 12, "L", 64), tt("N", 12, 64, "L")
    cases += [Case({"op": op}, (q, kt)), Case({"op": op}, (tt("N", 12, "L", "L"), q))]
    return cases


def sdpa_cases(op: str) -> list[Case]:
    rng = Random(54)
    cases = []
    for _ in range(100):
        batch = shaped(rng, rng.randrange(0, 3), [1, 2, "N"])
        e, ev = rng.choice([4, 8]), rng.choice([4, 6])
        q = [*batch, "L", e]
        k = [*(batch if rng.random() < 0.8 else shaped(rng, len(batch), [1, 2, 3])), "S", e]
        v = [*k[:-1], ev]
        if rng.random() < 0.15:
            rng.choice([k, v])[-2 if rng.random() < 0.5 else -1] = 5  # a length or width off
        dtype = rng.choice(["float32"] * 5 + ["float64", "float16", "int64"])
        ins = [tt(*q, dtype=dtype), tt(*k, dtype=dtype), tt(*v, dtype=dtype)]
        if rng.random() < 0.4:
            mask = shaped(rng, rng.randrange(0, 2), [1, *batch]) + (
                "L" if rng.random() < 0.8 else 1,
                "S",
            )
            ins.append(tt(*mask, dtype=rng.choice(["bool", "bool", dtype, "int64", "float64"])))
        params = {"op": op, **({"is_causal": True} if rng.random() < 0.2 else {})}
        params |= rng.choice([{}, {}, {"dropout_p": 0.1}, {"scale": 0.125}])
        cases.append(Case(params, tuple(ins)))
    return cases


def mha_cases(op: str) -> list[Case]:
    rng = Random(55)
    cases = []
    for _ in range(100):
        e, heads = rng.choice([4, 6, 8]), rng.choice([1, 2, 3, 4])
        batched = rng.random() < 0.85
        n = ["N"] if batched else []
        kdim, vdim = rng.choice([e, e, 5]), rng.choice([e, e, 3])
        length = rng.choice(["S", "S", 5])
        ins = [tt(*n, "L", e), tt(*n, length, kdim), tt(*n, length, vdim)]
        if rng.random() < 0.1:
            ins[2] = tt(*n, 4, vdim)  # key and value lengths differ
        params: dict[str, Any] = {"op": op, "num_heads": heads}
        params |= rng.choice(
            [
                {},
                {},
                {"dropout": 0.1},
                {"bias": False},
                {"add_bias_kv": True},
                {"add_zero_attn": True},
                {"average_attn_weights": False},
            ]
        )
        if rng.random() < 0.2:
            params["embed_dim"] = rng.choice([e, e + 1])
        ins += _mha_masks(rng, params, n, heads, length)
        cases.append(Case(params, tuple(ins)))
    # The BERT block: d_model 768, 12 heads, ids (N, L), padding mask (N, L).
    x = tt("N", "L", 768)
    cases.append(Case({"op": op, "num_heads": 12}, (x, x, x, tt("N", "L", dtype="bool"))))
    cases.append(Case({"op": op, "num_heads": 5}, (x, x, x)))
    return cases


def _mha_masks(rng: Random, params: dict, n: list, heads: int, length: Any) -> list:
    roll = rng.random()
    dtype = rng.choice(["bool", "bool", "float32", "int64"])
    if roll < 0.35:
        return [tt(*n, rng.choice([length, length, "L"]), dtype=dtype)]
    if roll < 0.6:
        params["mask_inputs"] = ["attn_mask"]
        stacked = [Dim.of(n[0]) * heads] if n else [heads]
        shape = rng.choice([["L", length], [*stacked, "L", length], [*n, "L", length]])
        return [tt(*shape, dtype=dtype)]
    if roll < 0.7:
        return [tt(*n, length, dtype="bool"), tt("L", length, dtype="bool")]
    return []


CASES = {
    "Embedding": embedding_cases,
    "positions": positions_cases,
    "embedding": functional_embedding_cases,
    "LayerNorm": layernorm_cases,
    "GELU": gelu_cases,
    "gelu": gelu_cases,
    "softmax": softmax_cases,
    "dropout": dropout_cases,
    "sub": binary_cases,
    "mul": binary_cases,
    "div": binary_cases,
    "eq": eq_cases,
    "ne": eq_cases,
    "lt": eq_cases,
    "le": eq_cases,
    "gt": eq_cases,
    "ge": eq_cases,
    "pow": pow_cases,
    "sqrt": unary_cases,
    "contiguous": unary_cases,
    "unsqueeze": unsqueeze_cases,
    "transpose": transpose_cases,
    "permute": permute_cases,
    "expand": expand_cases,
    "repeat": repeat_cases,
    "masked_fill": masked_fill_cases,
    "matmul": matmul_cases,
    "scaled_dot_product_attention": sdpa_cases,
    "MultiheadAttention": mha_cases,
}
