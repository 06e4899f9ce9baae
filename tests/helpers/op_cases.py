"""Op cases for the oracle: the core families (conv, linear, norm, activations, dropout, reshape,
combine, expr), and `CASES`, every registered op's generator (the BERT-block and standard sets come
from op_cases_bert, op_cases_std and op_cases_seq).

Each generator yields a seeded random draw over its op's fields and input shapes, plus the edge
cases where torch refuses (kernel larger than the input, groups that do not divide, a view that
does not divide, ...). Adding an op: add a generator to CASES.
"""

from __future__ import annotations

import re
from random import Random
from typing import Any

from graphspec.core.shapes import DTYPES
from graphspec.ops import OPS
from helpers import op_cases_bert, op_cases_seq, op_cases_std, op_cases_tensors
from helpers.op_oracle import MIXED_DTYPES, Case, tt

OMIT: Any = object()
"""Leave the field out, so the op's default applies."""
DRAWS = 200
"""Random cases per op, on top of the hand-written edge cases."""


def draw(seed: int, k: int = DRAWS, **axes: list) -> list[dict[str, Any]]:
    """`k` combinations, each value drawn independently from its axis (seeded: reproducible)."""
    rng = Random(seed)
    return [{name: rng.choice(values) for name, values in axes.items()} for _ in range(k)]


def fields(op: str, d: dict[str, Any]) -> dict[str, Any]:
    """The op's own fields out of a drawn combination, OMIT ones left out."""
    own = OPS[op].model_fields
    return {"op": op, **{k: v for k, v in d.items() if k in own and v is not OMIT}}


def dtype_cases(params: dict[str, Any], shape: tuple) -> list[Case]:
    return [Case(params, (tt(*shape, dtype=dt),)) for dt in DTYPES]


# -- conv, linear, norm --------------------------------------------------------------------------


def conv2d_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        1,
        400,
        n=[2, "N"],
        c=[1, 2, 4, 6, 3, 4, 6, "C"],
        h=[1, 3, 5, 8, 9, "H"],
        w=[2, 5, 7, 9],
        batched=[1, 1, 0],
        out_channels=[1, 2, 4, 6],
        kernel_size=[1, 3, 5, [2, 3], 1, 3, 2, [3, 1], 3, 0],
        stride=[OMIT, 1, 2, [1, 3]],
        padding=[OMIT, OMIT, 1, 2, [2, 0], "same", "valid"],
        dilation=[OMIT, OMIT, 2, [1, 2]],
        groups=[OMIT, OMIT, 2, 3],
        bias=[OMIT, False],
        given=[OMIT, OMIT, "right", "wrong"],
        padding_mode=[OMIT, OMIT, "reflect", "replicate", "circular"],
    ):
        if d["c"] == "C":
            d["in_channels"] = 3  # torch needs a number where the rule refuses a symbol
        elif d["given"] is not OMIT:
            d["in_channels"] = d["c"] + (0 if d["given"] == "right" else 1)
        elif not d["batched"]:  # refused as unbatched: nothing is inferred, so write it
            d["in_channels"] = d["c"]
        shape = ([d["n"]] if d["batched"] else []) + [d["c"], d["h"], d["w"]]
        cases.append(Case(fields(op, d), (tt(*shape),)))
    base = {"op": op, "in_channels": 3, "out_channels": 4, "kernel_size": 3}
    cases += [Case(base, (tt(*s),)) for s in [(8, 8), (8,), (2, 3, 4, 8, 8), (1, 3, 2, 8)]]
    cases += [Case({**base, "in_channels": 2}, (tt(2, 3, 8, 8),))]
    cases += [Case({**base, "groups": 2, "out_channels": 4}, (tt(2, 3, 8, 8),))]
    cases += [Case({**base, "stride": 2, "padding": "same"}, (tt(2, 3, 8, 8),))]
    cases += [Case({**base, "in_channels": 512, "out_channels": 512}, (tt("N", 512, 64, 64),))]
    return cases + dtype_cases(base, (2, 3, 8, 8))


def linear_cases(op: str) -> list[Case]:
    shapes = [(3,), (2, 3), ("N", 8), (2, 4, 3), ("N", 2, 5, 8), (1,), (2, 1)]
    cases = []
    for d in draw(
        2,
        _shape=shapes,
        out_features=[1, 5, 16, 0],
        bias=[OMIT, False],
        given=[OMIT, "right", "wrong"],
    ):
        last = d["_shape"][-1]
        if d["given"] is not OMIT:
            d["in_features"] = last if d["given"] == "right" else last + 1
        cases.append(Case(fields(op, d), (tt(*d["_shape"]),)))
    base = {"op": op, "in_features": 4, "out_features": 3}
    cases += [Case(base, (tt(*s),)) for s in [(), (2, "L"), ("L",)]]
    cases += [Case({"op": op, "out_features": 4096}, (tt("N", 4096),))]
    return cases + dtype_cases({"op": op, "out_features": 3}, (2, 4))


def batchnorm_cases(op: str) -> list[Case]:
    cases = []
    # N*H*W is kept above 1: torch refuses one value per channel while training, a runtime
    # condition of the batch that a static rule over a symbolic N cannot see.
    for d in draw(
        3,
        100,
        n=[2, 3, "N"],
        c=[1, 3, 8],
        hw=[(2, 2), (1, 3), (5, 4)],
        given=[OMIT, "right", "wrong"],
        eps=[OMIT, 1e-3, 0.0],
        momentum=[OMIT, None, 0.5],
        affine=[OMIT, False],
        track_running_stats=[OMIT, False],
    ):
        if d["given"] is not OMIT:
            d["num_features"] = d["c"] + (0 if d["given"] == "right" else 1)
        cases.append(Case(fields(op, d), (tt(d["n"], d["c"], *d["hw"]),)))
    base = {"op": op, "num_features": 3}
    cases += [Case(base, (tt(*s),)) for s in [(2, 3), (2, 3, 4), (3, 4, 4), (2, 3, 2, 2, 2)]]
    cases += [Case(base, (tt(2, "C", 4, 4),))]
    for affine, track in [(True, True), (False, False)]:
        params = {**base, "affine": affine, "track_running_stats": track}
        cases += dtype_cases(params, (2, 3, 4, 4))
    return cases


# -- pooling -------------------------------------------------------------------------------------


# -- elementwise and regularisation --------------------------------------------------------------

ANY_SHAPES = [(), (5,), (2, 3), ("N", 4), (2, 3, 4, 5), ("N", 3, "L")]


def activation_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(5, 60, _shape=ANY_SHAPES, inplace=[OMIT, True, False], dtype=list(DTYPES)):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["dtype"]),)))
    return cases + dtype_cases({"op": op}, (2, 3))


def dropout_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        6,
        80,
        _shape=ANY_SHAPES,
        p=[OMIT, 0.0, 0.3, 1.0, 1.5, -0.1],
        inplace=[OMIT, True],
        dtype=["float32", "float32", "float16", "int64"],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["dtype"]),)))
    return cases + dtype_cases({"op": op}, (2, 3))


# -- reshaping -----------------------------------------------------------------------------------

DIMS = [OMIT, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4]


def flatten_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(7, _shape=ANY_SHAPES + [(1,), (2, 1, 3)], start_dim=DIMS, end_dim=DIMS):
        cases.append(Case(fields(op, d), (tt(*d["_shape"]),)))
    return cases + dtype_cases({"op": op}, (2, 3, 4))


VIEW_INPUTS = [(2, 3, 4), ("N", 6), ("N", 3, 4), (), (1,), (12,), ("N", "L", 8)]
VIEW_SIZES = [-1, -1, 1, 2, 3, 4, 6, 8, 12, 24, 0, -2, "N", "L"]


def view_cases(op: str) -> list[Case]:
    cases = []
    rng = Random(8)
    for _ in range(DRAWS):
        shape = rng.choice(VIEW_INPUTS)
        present = {d for d in shape if isinstance(d, str)}
        # A symbol the input lacks has no run-time value to read: the rule refuses it and
        # there is no code for torch to run, so the draw keeps to the input's own symbols.
        entries = [e for e in VIEW_SIZES if not isinstance(e, str) or e in present]
        size = [rng.choice(entries) for _ in range(rng.randrange(0, 5))]
        cases.append(Case({"op": op, "size": size}, (tt(*shape),)))
    valid = [
        ((2, 3, 4), [6, 4]),
        (("N", 6), ["N", 2, 3]),
        (("N", 6), [-1]),
        ((), []),
        ((1,), []),
        (("N", 3, 4), ["N", -1]),
        (("N", "L", 8), ["L", "N", 2, 4]),
    ]
    cases += [Case({"op": op, "size": size}, (tt(*shape),)) for shape, size in valid]
    return cases + dtype_cases({"op": op, "size": [-1]}, (2, 3))


# -- several inputs ------------------------------------------------------------------------------


def random_shape(rng: Random, rank: int, sizes: list) -> tuple:
    return tuple(rng.choice(sizes) for _ in range(rank))


def add_cases(op: str) -> list[Case]:
    rng = Random(9)
    cases = []
    for _ in range(DRAWS):
        n = rng.choice([2, 2, 3])
        ranks = [rng.randrange(0, 4) for _ in range(n)]
        inputs = tuple(
            tt(*random_shape(rng, r, [1, 1, 2, 3, "N"]), dtype=rng.choice(MIXED_DTYPES))
            for r in ranks
        )
        cases.append(Case({"op": op}, inputs))
    return cases


def cat_cases(op: str) -> list[Case]:
    rng = Random(10)
    cases = []
    for _ in range(DRAWS):
        rank = rng.randrange(0, 4)
        base = random_shape(rng, rank, [1, 2, 3, "N"])
        dim = rng.randrange(-4, 4)
        inputs = tuple(_cat_input(rng, base, dim) for _ in range(rng.choice([1, 2, 2, 3])))
        cases.append(Case({"op": op, "dim": dim}, inputs))
    return cases


def _cat_input(rng: Random, base: tuple, dim: int) -> Any:
    """Usually `base` with another size along `dim`; sometimes off in another dim or rank."""
    shape = list(base)
    roll = rng.random()
    if shape and -len(shape) <= dim < len(shape) and roll < 0.6:
        shape[dim] = rng.choice([1, 2, 4, "N", "L"])
    elif shape and roll < 0.8:
        shape[rng.randrange(len(shape))] = rng.choice([1, 5, "L"])
    elif roll < 0.9:
        shape.append(2)
    dtype = rng.choice(MIXED_DTYPES) if rng.random() < 0.2 else "float32"
    return tt(*shape, dtype=dtype)


def expr_cases(op: str) -> list[Case]:
    rng = Random(11)
    texts = ["a*x + b*x**3", "sin(x) * a", "x + a", "exp(-x) + 2*a", "max(x, a) + min(x, 0.5)"]
    texts += ["clamp(x, -1, 1) * a", "abs(x) + exp(a) - log(abs(x) + 1)", "min(max(x, 0), a)"]
    cases = []
    for _ in range(80):
        x = tt(
            *random_shape(rng, rng.randrange(0, 3), [1, 2, 3, "N"]), dtype=rng.choice(MIXED_DTYPES)
        )
        a = tt(*random_shape(rng, rng.randrange(0, 2), [1, 2, 3]), dtype=rng.choice(MIXED_DTYPES))
        params = {"op": op, "expr": rng.choice(texts)}
        names = ("a", "x")  # forward's arguments follow the expression's sorted names
        if re.search(r"\bb\b", params["expr"]):  # the name b, not the b of abs
            names, a = ("a", "b", "x"), (a, tt(dtype=a.dtype))
        ins = (a if isinstance(a, tuple) else (a,)) + (x,)
        cases.append(Case(params, ins, names, {"names": list(names)}))
    return cases


CASES = {
    "Conv2d": conv2d_cases,
    "Linear": linear_cases,
    "BatchNorm2d": batchnorm_cases,
    "Dropout": dropout_cases,
    "ReLU": activation_cases,
    "Sigmoid": activation_cases,
    "Tanh": activation_cases,
    "relu": activation_cases,
    "sigmoid": activation_cases,
    "tanh": activation_cases,
    "Flatten": flatten_cases,
    "flatten": flatten_cases,
    "view": view_cases,
    "reshape": view_cases,
    "add": add_cases,
    "cat": cat_cases,
    "expr": expr_cases,
    **op_cases_bert.CASES,
    **op_cases_std.CASES,
    **op_cases_seq.CASES,
    **op_cases_tensors.CASES,
    "Softmax": op_cases_bert.softmax_cases,
    "LogSoftmax": op_cases_bert.softmax_cases,
    "log_softmax": op_cases_bert.softmax_cases,
}
