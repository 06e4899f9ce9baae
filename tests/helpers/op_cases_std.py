"""Oracle cases for the standard op set of issue 10 (1-D/3-D conv, pooling and norms,
transposed conv, adaptive pooling, resampling, activations, reductions, pieces), merged into
`test_ops_meta.CASES`.

Generators are written once per family and read the op's own class for what varies (`dims`, the
fields it has): a drawn combination keeps only the fields the op defines (`fields`). Each draw
mixes valid parameter sets with the edges where torch refuses: a kernel larger than the input,
a list of the wrong length, groups that do not divide, an unbatched input, a mode for another
rank, sections that do not add up.
"""

from __future__ import annotations

from random import Random
from typing import Any

from graphspec.core.shapes import DTYPES, Dim, TensorType
from graphspec.ops import OPS
from helpers.op_cases_bert import OMIT, SHAPES, draw, fields
from helpers.op_oracle import MIXED_DTYPES, Case, tt

SPATIAL = {1: [1, 2, 5, 8, 11, "L"], 2: [1, 3, 5, 8, "H"], 3: [2, 3, 4, 6, "D"]}
"""Spatial sizes drawn per rank: small enough for the CPU run, with a symbol in each."""


def _seed(op: str, salt: int) -> int:
    return sum(map(ord, op)) * 31 + salt


def _per_dim(rng: Random, n: int, values: list) -> Any:
    """One value, a list of n, or (rarely) a list of the wrong length, for a Sizes field."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(values)
    length = n if roll < 0.95 else rng.choice([k for k in (1, 2, 3, 4) if k != n])
    return [rng.choice(values) for _ in range(length)]


def _spatial_input(rng: Random, n: int, channels: Any, batched: bool = True) -> TensorType:
    lead = [rng.choice([2, "N"])] if batched else []
    return tt(*lead, channels, *(rng.choice(SPATIAL[n]) for _ in range(n)))


def _batched_edges(params: dict[str, Any], n: int, channels: int = 4) -> list[Case]:
    """An unbatched sample, one rank too many, and a 2-D input: refused by graphspec's rule
    (unbatched is a policy; torch reads it) or by both."""
    sizes = [5] * n
    return [
        Case(params, (tt(channels, *sizes),)),
        Case(params, (tt(2, channels, *sizes, 5),)),
        Case(params, (tt(2, channels),)),
    ]


# -- convolutions --------------------------------------------------------------------------------


def convnd_cases(op: str) -> list[Case]:
    n = OPS[op].dims
    rng = Random(_seed(op, 1))
    cases = []
    for _ in range(220):
        c = rng.choice([1, 2, 4, 6, 3, "C"])
        params: dict[str, Any] = {
            "op": op,
            "out_channels": rng.choice([1, 2, 4, 6]),
            "kernel_size": _per_dim(rng, n, [1, 2, 3, 5, 1, 3, 0]),
        }
        optional = {
            "stride": _per_dim(rng, n, [1, 2, 3]),
            "padding": rng.choice([1, 2, "same", "valid", _per_dim(rng, n, [0, 1, 2])]),
            "dilation": _per_dim(rng, n, [1, 2]),
            "groups": rng.choice([2, 3]),
            "bias": False,
            "padding_mode": rng.choice(["reflect", "replicate", "circular"]),
        }
        params |= {k: v for k, v in optional.items() if rng.random() < 0.25}
        batched = rng.random() < 0.9
        if c == "C":
            params["in_channels"] = 3  # torch needs a number where the rule refuses a symbol
        elif rng.random() < 0.2 or not batched:  # a refused rank leaves nothing to infer
            params["in_channels"] = c + rng.choice([0, 1])
        cases.append(Case(params, (_spatial_input(rng, n, c, batched),)))
    base = {"op": op, "in_channels": 3, "out_channels": 4, "kernel_size": 3}
    cases += _batched_edges(base, n, channels=3)
    cases += [Case({**base, "groups": 2}, (tt(2, 3, *[8] * n),))]
    cases += [Case(base, (tt(2, 3, *[8] * n, dtype=dt),)) for dt in DTYPES]
    return cases


def conv_transpose_cases(op: str) -> list[Case]:
    n = OPS[op].dims
    rng = Random(_seed(op, 2))
    cases = []
    for _ in range(220):
        c = rng.choice([1, 2, 4, 6])
        params: dict[str, Any] = {
            "op": op,
            "out_channels": rng.choice([1, 2, 4, 6]),
            "kernel_size": _per_dim(rng, n, [1, 2, 3, 4]),
        }
        optional = {
            "stride": _per_dim(rng, n, [1, 2, 3]),
            "padding": _per_dim(rng, n, [0, 1, 2, 3]),
            "output_padding": _per_dim(rng, n, [0, 1, 2]),
            "dilation": _per_dim(rng, n, [1, 2]),
            "groups": rng.choice([2, 3]),
            "bias": False,
            "padding_mode": rng.choice(["zeros", "reflect"]),
            "in_channels": c + rng.choice([0, 0, 1]),
        }
        params |= {k: v for k, v in optional.items() if rng.random() < 0.35}
        batched = rng.random() < 0.9
        if not batched:  # a refused rank leaves nothing to infer
            params["in_channels"] = c
        cases.append(Case(params, (_spatial_input(rng, n, c, batched),)))
    base = {"op": op, "in_channels": 3, "out_channels": 4, "kernel_size": 2, "stride": 2}
    cases += _batched_edges(base, n, channels=3)
    cases += [Case({**base, "output_padding": 1}, (tt(2, 3, *[4] * n),))]
    cases += [Case(base, (tt(2, 3, *[4] * n, dtype=dt),)) for dt in DTYPES]
    return cases


# -- pooling -------------------------------------------------------------------------------------


def poolnd_cases(op: str) -> list[Case]:
    n = OPS[op].dims
    rng = Random(_seed(op, 3))
    cases = []
    for _ in range(220):
        params: dict[str, Any] = {"op": op, "kernel_size": _per_dim(rng, n, [1, 2, 3, 4])}
        optional = {
            "stride": rng.choice([None, _per_dim(rng, n, [1, 2, 3])]),
            "padding": _per_dim(rng, n, [0, 1, 2]),
            "ceil_mode": True,
            "dilation": _per_dim(rng, n, [1, 2]),
            "count_include_pad": False,
            "divisor_override": rng.choice([1, 3]),
        }
        params = fields(op, params | {k: v for k, v in optional.items() if rng.random() < 0.35})
        cases.append(Case(params, (_spatial_input(rng, n, 3, rng.random() < 0.9),)))
    base = {"op": op, "kernel_size": 2}
    cases += _batched_edges(base, n)
    cases += [Case({**base, "padding": 2}, (tt(2, 3, *[8] * n),))]
    cases += [Case({**base, "stride": 0}, (tt(2, 3, *[8] * n),))]
    cases += [Case(base, (tt(2, 3, *[4] * n, dtype=dt),)) for dt in DTYPES]
    return cases


def adaptive_cases(op: str) -> list[Case]:
    n = OPS[op].dims
    rng = Random(_seed(op, 4))
    cases = []
    for _ in range(150):
        roll = rng.random()
        if roll < 0.5:
            size: Any = rng.choice([1, 1, 2, 3, 7, 0])
        else:
            length = n if roll < 0.9 else rng.choice([k for k in (1, 2, 3) if k != n])
            size = [rng.choice([1, 2, 3, None]) for _ in range(length)]
        dtype = rng.choice(MIXED_DTYPES)
        x = _spatial_input(rng, n, rng.choice([1, 3, "C"]), rng.random() < 0.9)
        cases.append(Case({"op": op, "output_size": size}, (TensorType(x.shape, dtype),)))
    cases += _batched_edges({"op": op, "output_size": 1}, n)
    return cases


# -- norms and dropout ---------------------------------------------------------------------------


def batchnorm_nd_cases(op: str) -> list[Case]:
    """N * spatial is kept above 1: torch refuses one value per channel while training."""
    n = OPS[op].dims
    rng = Random(_seed(op, 5))
    cases = []
    for d in draw(
        _seed(op, 6),
        100,
        c=[1, 3, 8],
        given=[OMIT, OMIT, "right", "wrong"],
        eps=[OMIT, 1e-3, 0.0],
        momentum=[OMIT, None, 0.5],
        affine=[OMIT, False, True],
        track_running_stats=[OMIT, False, True],
        dtype=MIXED_DTYPES,
    ):
        if d["given"] is not OMIT:
            d["num_features"] = d["c"] + (0 if d["given"] == "right" else 1)
        spatial = [rng.choice([2, 3, 4]) for _ in range(n)]
        batch = rng.choice([2, 3, "N"])
        if op == "BatchNorm1d" and rng.random() < 0.3:
            spatial, batch = [], rng.choice([2, 3])  # (N, C) too; N = 1 is refused in training
        x = tt(batch, d["c"], *spatial, dtype=d["dtype"])
        cases.append(Case(fields(op, d), (x,)))
    base = {"op": op, "num_features": 3}
    cases += _batched_edges(base, n, channels=3)[:2]
    cases += [Case(base, (tt(2, "C", *[4] * n),)), Case({"op": op}, (tt(2, 3, *[1] * n),))]
    return cases


def groupnorm_cases(op: str) -> list[Case]:
    rng = Random(_seed(op, 7))
    cases = []
    for d in draw(
        _seed(op, 8),
        150,
        num_groups=[1, 2, 3, 4],
        c=[2, 4, 6, 3, "C"],
        rank=[1, 2, 3, 4, 4, 5],
        given=[OMIT, OMIT, "right", "wrong"],
        eps=[OMIT, 1e-3],
        affine=[OMIT, False],
        dtype=MIXED_DTYPES,
    ):
        if d["given"] is not OMIT and d["c"] != "C":
            d["num_channels"] = d["c"] + (0 if d["given"] == "right" else 1)
        if d["c"] == "C" or d["rank"] < 2:  # nothing to infer it from
            d["num_channels"] = 4
        batch = rng.choice([2, "N"] if d["rank"] > 2 else [2, 3])  # N = 1 may leave 1 value
        shape = [batch, d["c"], *(rng.choice([1, 3, 4]) for _ in range(d["rank"] - 2))]
        cases.append(Case(fields(op, d), (tt(*shape[: d["rank"]], dtype=d["dtype"]),)))
    return cases


def dropout_nd_cases(op: str) -> list[Case]:
    n = OPS[op].dims or 1
    rng = Random(_seed(op, 9))
    cases = []
    for d in draw(
        _seed(op, 10),
        80,
        rank=[n + 1, n + 2, n + 2, n + 2, n + 3],
        p=[OMIT, 0.0, 0.3, 1.0, 1.5],
        inplace=[OMIT, True],
        dtype=["float32", "float32", "float16", "float64", "int64"],
    ):
        shape = [rng.choice([2, 3, "N"]) for _ in range(d["rank"])]
        cases.append(Case(fields(op, d), (tt(*shape, dtype=d["dtype"]),)))
    return cases


# -- activations ---------------------------------------------------------------------------------


def activation_cases(op: str) -> list[Case]:
    """Every activation's own fields drawn (a field the op lacks is dropped by `fields`)."""
    cases = []
    for d in draw(
        _seed(op, 11),
        80,
        _shape=SHAPES,
        _dtype=MIXED_DTYPES,
        inplace=[OMIT, True, False],
        negative_slope=[OMIT, 0.2, -1.0, 0],
        alpha=[OMIT, 0.5, 2],
        min_val=[OMIT, -2.0, 0.0, 1.0],
        max_val=[OMIT, 2.0, 0.5, -1.5],
        beta=[OMIT, 2.0, 0.5],
        threshold=[OMIT, 5.0, 1],
        approximate=[OMIT, "tanh", "erf"],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    params = {"op": op, "min_val": 1.0, "max_val": 1.0} if "min_val" in OPS[op].model_fields else {}
    cases += [Case(params or {"op": op}, (tt(2, 3),), names=("x0",))]
    return cases + [Case({"op": op}, (tt(2, 3, dtype=dt),)) for dt in DTYPES]


def clamp_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 12),
        150,
        _shape=SHAPES,
        _dtype=MIXED_DTYPES,
        min=[OMIT, None, -1, 0.5, 2, -1.5],
        max=[OMIT, None, 1, 0.5, 3.0, -2],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


# -- reductions ----------------------------------------------------------------------------------

REDUCE_DIMS = [OMIT, -4, -3, -2, -1, 0, 1, 2, 3, [0, 1], [1, -1], [0, 0], [2, 0, 1], [-1]]


def reduce_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 13),
        200,
        _shape=[*SHAPES, (2, 0, 3), ("N", 3, 4, 5)],
        _dtype=MIXED_DTYPES,
        dim=REDUCE_DIMS,
        keepdim=[OMIT, True, False],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


# -- several inputs and several outputs ----------------------------------------------------------


def stack_cases(op: str) -> list[Case]:
    rng = Random(_seed(op, 14))
    cases = []
    for _ in range(200):
        base = tuple(rng.choice([1, 2, 3, "N"]) for _ in range(rng.randrange(0, 4)))
        inputs = []
        for _ in range(rng.choice([1, 2, 2, 3])):
            shape = list(base)
            if shape and rng.random() < 0.15:
                shape[rng.randrange(len(shape))] = rng.choice([4, "L"])
            dtype = rng.choice(MIXED_DTYPES) if rng.random() < 0.2 else "float32"
            inputs.append(tt(*shape, dtype=dtype))
        cases.append(Case({"op": op, "dim": rng.randrange(-5, 5)}, tuple(inputs)))
    return cases


PIECE_SHAPES = [(6,), (2, 5), ("N", 6), (2, 7, 3), ("N", "L", 12), (4, 0), ()]


def split_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 15),
        200,
        _shape=PIECE_SHAPES,
        dim=[OMIT, -2, -1, 0, 1, 2, 3],
        split_size_or_sections=[1, 2, 3, 5, [1, 4], [2, 2, 2], [3, 0, 3], [6], [12]],
        chunks=[1, 2, 3, 4, 7, 0],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"]),)))
    three_c = TensorType((Dim(1, ("N",)), Dim(3), Dim(3, ("C",))))
    cases += [Case(fields(op, {"chunks": 3, "split_size_or_sections": 3, "dim": 2}), (three_c,))]
    return cases


def narrow_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 16),
        200,
        _shape=[(6,), (2, 5), ("N", 6), (2, 7, 3), ("N", "L"), ()],
        dim=[-3, -2, -1, 0, 1, 2],
        start=[-7, -2, 0, 1, 3, 5],
        length=[0, 1, 2, 5],
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"]),)))
    return cases


def squeeze_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 17),
        200,
        _shape=[(1,), (2, 1, 3), (1, 1), ("N", 1, 4), (1, "L"), (), (3, 1, 1, 2)],
        dim=[OMIT, -4, -3, -2, -1, 0, 1, 2, 3, [1, 2], [0, -1], [0, 0]],
        _dtype=MIXED_DTYPES,
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def triangle_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 18),
        120,
        _shape=[*SHAPES, ("L", "L"), (2, 4, 4), (3, 5)],
        diagonal=[OMIT, -2, -1, 0, 1, 3],
        _dtype=list(DTYPES),
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    return cases


def identity_cases(op: str) -> list[Case]:
    cases = [Case({"op": op}, (tt(*s, dtype=dt),)) for s in SHAPES for dt in DTYPES]
    return cases + [Case({"op": op}, (tt(2, 3), tt(2, 3)))] * 3


# -- resampling ----------------------------------------------------------------------------------

MODES = ["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]


def upsample_cases(op: str) -> list[Case]:
    rng = Random(_seed(op, 19))
    cases = []
    for _ in range(250):
        n = rng.choice([1, 2, 3, 0])
        mode = rng.choice(MODES)
        params: dict[str, Any] = {"op": op, "mode": mode}
        if rng.random() < 0.5:
            params["size"] = _per_dim(rng, max(n, 1), [1, 3, 4, 7])
        if "size" not in params or rng.random() < 0.1:
            params["scale_factor"] = _per_dim(rng, max(n, 1), [2.0, 0.5, 1.5, 3, 0.1])
        if rng.random() < 0.3:
            params["align_corners"] = rng.choice([True, False])
        dtype = rng.choice(MIXED_DTYPES)
        x = tt(rng.choice([2, "N"]), 3, *(rng.choice([1, 3, 4, "H"]) for _ in range(n)))
        cases.append(Case(params, (TensorType(x.shape, dtype),)))
    base = {"op": op, "scale_factor": 2.0}
    cases += [Case(base, (tt(3, 4, 4),)), Case({"op": op}, (tt(2, 3, 4, 4),))]
    if op == "interpolate":  # a second input gives the size (F.interpolate(x, size=y.shape[2:]))
        like = [
            (tt("N", 3, "h", "w"), tt("N", 5, "H", "W"), "bilinear"),
            (tt(2, 3, 4, 4), tt(7, 9), "nearest"),
            (tt(1, 2, 5), tt(2, 3, "L"), "linear"),
            (tt(2, 3, 3, 3), tt(2, 3, 3), "bilinear"),  # fewer dims than it needs: refused
        ]
        cases += [Case({"op": op, "mode": m}, (x, y)) for x, y, m in like]
        cases.append(Case({"op": op, "size": 4}, (tt(2, 3, 4, 4), tt(2, 3, 8, 8))))  # both: no
    return cases


def pixel_shuffle_cases(op: str) -> list[Case]:
    cases = []
    for d in draw(
        _seed(op, 20),
        150,
        _shape=[(2, 4, 3, 3), ("N", 8, 2, "W"), (9, 2, 2), (2, 3, 18, 1, 2), (4, 4), (2, 12, 2, 2)],
        upscale_factor=[1, 2, 3, 0],
        _dtype=MIXED_DTYPES,
    ):
        cases.append(Case(fields(op, d), (tt(*d["_shape"], dtype=d["_dtype"]),)))
    four_c = TensorType((Dim(2), Dim(4, ("C",)), Dim(3), Dim(3)))
    return cases + [Case({"op": op, "upscale_factor": 2}, (four_c,))]


def _by_name(generators: dict[Any, list[str]]) -> dict[str, Any]:
    return {name: gen for gen, names in generators.items() for name in names}


_POOLS = [f"{k}{n}d" for k in ("MaxPool", "AvgPool", "max_pool", "avg_pool") for n in (1, 2, 3)]
_ADAPTIVE = [
    f"{k}{n}d"
    for k in ("AdaptiveAvgPool", "AdaptiveMaxPool", "adaptive_avg_pool", "adaptive_max_pool")
    for n in (1, 2, 3)
]
_ACTIVATIONS = ["ReLU6", "LeakyReLU", "ELU", "SiLU", "Mish", "Hardswish", "Hardsigmoid"]
_ACTIVATIONS += ["Hardtanh", "Softplus", "ReLU", "Sigmoid", "Tanh", "relu", "sigmoid", "tanh"]
_ACTIVATIONS += [name.lower() for name in _ACTIVATIONS[:9]] + ["leaky_relu"]
_ACTIVATIONS.remove("leakyrelu")

CASES = _by_name(
    {
        convnd_cases: ["Conv1d", "Conv3d"],
        conv_transpose_cases: ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"],
        poolnd_cases: _POOLS,
        adaptive_cases: _ADAPTIVE,
        batchnorm_nd_cases: ["BatchNorm1d", "BatchNorm3d"]
        + [f"InstanceNorm{n}d" for n in (1, 2, 3)],
        groupnorm_cases: ["GroupNorm"],
        dropout_nd_cases: [f"{k}{n}d" for k in ("Dropout", "dropout") for n in (1, 2, 3)],
        activation_cases: _ACTIVATIONS,
        clamp_cases: ["clamp"],
        reduce_cases: ["mean", "sum", "amax", "amin"],
        stack_cases: ["stack"],
        split_cases: ["split", "chunk"],
        narrow_cases: ["narrow"],
        squeeze_cases: ["squeeze"],
        triangle_cases: ["tril", "triu"],
        identity_cases: ["Identity"],
        upsample_cases: ["Upsample", "interpolate"],
        pixel_shuffle_cases: ["PixelShuffle", "pixel_shuffle"],
    }
)
