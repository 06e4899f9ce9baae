"""Oracle cases for the sequence layers (recurrent and transformer), merged into
`test_ops_meta.CASES`: a seeded draw over each op's fields and input types, plus the edges
where torch refuses (a wrong input_size or d_model, proj_size not below hidden_size, a head
count that does not divide d_model, a rank that is no sequence, a mismatched memory)."""

from __future__ import annotations

from random import Random
from typing import Any

from helpers.op_oracle import Case, tt


def recurrent_cases(op: str) -> list[Case]:
    rng = Random(24)
    cases = []
    for _ in range(40):
        features, hidden = rng.choice([1, 3, 4]), rng.choice([2, 5, 6])
        batched = rng.random() < 0.8
        n = [rng.choice(["N", "N", 1])] if batched else []
        length = rng.choice(["L", "L", 1, 4])
        params: dict[str, Any] = {"op": op, "hidden_size": hidden}
        params |= rng.choice(
            [
                {},
                {"num_layers": 2},
                {"bidirectional": True},
                {"num_layers": 3, "bidirectional": True, "dropout": 0.3},
                {"num_layers": 2, "dropout": 0.5},
                {"bias": False},
            ]
        )
        if op == "RNN" and rng.random() < 0.3:
            params["nonlinearity"] = "relu"
        if op == "LSTM" and rng.random() < 0.3:
            params["proj_size"] = rng.choice([1, hidden - 1, hidden, hidden + 1])
        if rng.random() < 0.15:
            params["input_size"] = rng.choice([features, features + 1])
        dtype = rng.choice(["float32"] * 6 + ["float64", "int64"])
        cases.append(Case(params, (tt(*n, length, features, dtype=dtype),)))
    cases.append(Case({"op": op, "hidden_size": 3}, (tt(2, 3, 4, 5),)))  # not a sequence
    cases.append(Case({"op": op, "hidden_size": 3}, (tt(5),)))
    return cases


def transformer_cases(op: str) -> list[Case]:
    rng = Random(25)
    decoder = op == "TransformerDecoderLayer"
    cases = []
    for _ in range(40):
        e, heads = rng.choice([4, 6, 8]), rng.choice([1, 2, 3, 4])
        batched = rng.random() < 0.8
        n = [rng.choice(["N", "N", 1])] if batched else []
        length = rng.choice(["L", "L", 1, 3])
        params: dict[str, Any] = {"op": op, "nhead": heads, "dim_feedforward": rng.choice([5, 8])}
        params |= rng.choice(
            [
                {},
                {"dropout": 0.0},
                {"dropout": 0.0, "activation": "gelu"},
                {"norm_first": True},
                {"norm_first": True, "dropout": 0.0},
                {"bias": False, "activation": "gelu"},
                {"bias": False, "dropout": 0.0, "norm_first": True},
            ]
        )
        if rng.random() < 0.15:
            params["d_model"] = rng.choice([e, e + 1])
        dtype = rng.choice(["float32"] * 7 + ["float64"])
        ins = [tt(*n, length, e, dtype=dtype)]
        if decoder:
            memory = [*n, rng.choice(["S", "S", 1, 5]), e]
            if rng.random() < 0.1:
                memory[-1] = e + 2  # another d_model
            if batched and rng.random() < 0.1:
                memory[0] = 7  # another batch
            ins.append(tt(*memory, dtype=dtype))
        cases.append(Case(params, tuple(ins)))
    x = tt(2, 3, 4, 5)  # not a sequence
    cases.append(Case({"op": op, "nhead": 1}, (x, x) if decoder else (x,)))
    return cases


CASES = {
    "RNN": recurrent_cases,
    "GRU": recurrent_cases,
    "LSTM": recurrent_cases,
    "TransformerEncoderLayer": transformer_cases,
    "TransformerDecoderLayer": transformer_cases,
}
