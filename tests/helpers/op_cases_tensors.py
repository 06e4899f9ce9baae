"""Oracle cases for `roll`, `pad` and the vision modules (issue 21), merged into op_cases.CASES.

A seeded draw over each op's fields and input types, reaching past torch's limits (dims out of
range, shifts and dims that do not pair up, reflect pads as large as the dim, a non-constant
mode on a rank torch refuses, crops larger than the dim).
"""

from __future__ import annotations

from random import Random

from helpers.op_oracle import MIXED_DTYPES, Case, tt

SIZES = [1, 2, 3, 5, "N", "H"]


def _shape(rng: Random, low: int, high: int) -> tuple:
    return tuple(rng.choice(SIZES) for _ in range(rng.randrange(low, high + 1)))


def roll_cases(op: str) -> list[Case]:
    rng = Random(61)
    cases = []
    for _ in range(100):
        x = tt(*_shape(rng, 0, 4), dtype=rng.choice(MIXED_DTYPES))
        count = rng.choice([1, 1, 2, 3])
        shifts = [rng.randrange(-4, 5) for _ in range(count)]
        params: dict = {
            "op": op,
            "shifts": shifts if count > 1 or rng.random() < 0.5 else shifts[0],
        }
        roll = rng.random()
        if roll < 0.7:
            dims = [rng.randrange(-5, 5) for _ in range(count + (rng.random() < 0.1))]
            params["dims"] = dims if len(dims) > 1 or rng.random() < 0.5 else dims[0]
        cases.append(Case(params, (x,)))
    # Swin's shift of (N, H, W, C) by -3 along H and W.
    cases.append(Case({"op": op, "shifts": [-3, -3], "dims": [1, 2]}, (tt("N", 14, 14, 96),)))
    return cases


def pad_cases(op: str) -> list[Case]:
    rng = Random(62)
    cases = []
    for _ in range(160):
        mode = rng.choice(["constant", "constant", "reflect", "replicate", "circular"])
        x = tt(*_shape(rng, 1, 5), dtype=rng.choice([*MIXED_DTYPES, "float32"]))
        amounts = [rng.choice([0, 1, 2, 3, -1]) for _ in range(2 * rng.choice([1, 1, 2, 3]))]
        params: dict = {"op": op, "pad": amounts}
        if mode != "constant":
            params["mode"] = mode
        if rng.random() < 0.25:
            params["value"] = rng.choice([0, 1, -1.5, 0.5])
        if rng.random() < 0.03:
            params["pad"] = amounts[:-1]  # an odd count
        cases.append(Case(params, (x,)))
    # Swin pads (N, H, W, C) at the ends of H and W to whole windows; a crop of a whole dim.
    cases.append(Case({"op": op, "pad": [0, 0, 0, 1, 0, 1]}, (tt("N", 13, 13, 96),)))
    cases.append(Case({"op": op, "pad": [-2, -2]}, (tt(2, 3),)))
    return cases


CASES = {"roll": roll_cases, "pad": pad_cases}


def stochastic_depth_cases(op: str) -> list[Case]:
    rng = Random(63)
    cases = []
    for _ in range(60):
        x = tt(*_shape(rng, 0, 4), dtype=rng.choice(MIXED_DTYPES))
        params = {"op": op, "p": rng.choice([0.0, 0.1, 0.5, 1.0, 1.5]), "mode": "row"}
        params["mode"] = rng.choice(["row", "batch", "row", "sample"])
        cases.append(Case(params, (x,)))
    return cases


def permute_module_cases(op: str) -> list[Case]:
    rng = Random(64)
    cases = []
    for _ in range(60):
        x = tt(*_shape(rng, 1, 4), dtype=rng.choice(MIXED_DTYPES))
        dims = list(range(x.rank))
        rng.shuffle(dims)
        roll = rng.random()
        if roll < 0.2:
            dims = [d - x.rank for d in dims]  # negative dims
        elif roll < 0.3:
            dims = dims[:-1] or [0, 0]  # one too few
        elif roll < 0.4:
            dims[0] = dims[-1]  # a repeat
        cases.append(Case({"op": op, "dims": dims}, (x,)))
    # ConvNeXt's pair: (N, C, H, W) -> (N, H, W, C) and back
    cases.append(Case({"op": op, "dims": [0, 2, 3, 1]}, (tt("N", 96, "H", "W"),)))
    cases.append(Case({"op": op, "dims": [0, 3, 1, 2]}, (tt("N", "H", "W", 96),)))
    return cases


CASES |= {"StochasticDepth": stochastic_depth_cases, "Permute": permute_module_cases}


def layernorm_with_dim_cases(op: str) -> list[Case]:
    """LayerNorm's own cases, and `dim:` over ranks 1-5 (dim 1 of a rank-4 input is emitted
    as torchvision's LayerNorm2d, any other as a movedim around nn.LayerNorm)."""
    from helpers.op_cases_bert import layernorm_cases

    rng = Random(65)
    cases = layernorm_cases(op)
    for _ in range(40):
        shape = tuple(rng.choice([1, 2, 3, 6, "N", "H"]) for _ in range(rng.randrange(1, 6)))
        dim = rng.randrange(-6, 6)
        params = {"op": op, "dim": dim, "eps": 1e-6}
        size = shape[dim] if -len(shape) <= dim < len(shape) else "H"
        # torch's nn.LayerNorm needs it; inferred only from a concrete dim in range
        if not isinstance(size, int) or rng.random() < 0.3:
            params["normalized_shape"] = rng.choice([3, 6, [6], [2, 3]])
        cases.append(Case(params, (tt(*shape),)))
    cases.append(Case({"op": op, "dim": 1}, (tt("N", 96, "H", "W"),)))  # ConvNeXt's
    return cases


CASES["LayerNorm"] = layernorm_with_dim_cases
