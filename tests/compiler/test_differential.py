"""A composition differential test with torch as the oracle (tests/helpers/compose.py).

Random specs of documented ops (chains and DAGs, blocks with arguments and `repeat:`, groups,
symbolic inputs), each beside a torch reference written independently of the code generator.
An accepted spec must run forward and backward at several sizes (1 included) with the static
shapes, dtypes and parameter count, and equal the reference's out-of-place evaluation; a
refused one must be one torch refuses too, or one where torch computes something else than the
spec says (an in-place write another reader sees). The default run draws a few hundred; the
soak (`-m soak`, GRAPHSPEC_SOAK=count, GRAPHSPEC_SOAK_START=first seed) draws many thousands
and prints the tally.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from helpers import compose

DEFAULT = 400


def _tally(seeds: range) -> tuple[Counter, dict[str, list[str]]]:
    counts: Counter = Counter()
    examples: dict[str, list[str]] = {}
    for seed in seeds:
        case = compose.draw(random.Random(seed))
        verdict, detail = compose.judge(case, seed)
        counts[verdict] += 1
        if verdict != "ok" and verdict != "refused":
            examples.setdefault(verdict, []).append(f"seed {seed}: {detail}\n{case.text()}")
    return counts, examples


def _check(counts: Counter, examples: dict[str, list[str]]) -> None:
    accepted = counts["ok"] + counts["wrong"] + counts["failed"]
    for bad in ("wrong", "failed", "internal"):
        assert not counts[bad], f"{counts[bad]} {bad}:\n" + "\n".join(examples[bad][:3])
    # a refusal of what torch runs is allowed only as a documented limit, under 1 %
    assert counts["false-refusal"] <= accepted / 100, "\n".join(examples["false-refusal"][:5])


def test_random_compositions_agree_with_torch():
    counts, examples = _tally(range(DEFAULT))
    assert counts["ok"] >= DEFAULT // 2, counts  # most drawn specs are accepted and checked
    assert counts["refused"] > 0, counts  # and the refusals are exercised too
    _check(counts, examples)


def test_the_judge_catches_a_wrong_result(monkeypatch):
    """Negative control: a compiler that drops the in-place refusal is caught as wrong."""
    from graphspec.compiler import hazards

    monkeypatch.setattr(hazards, "check_writes", lambda graph: None)
    case = compose.Case({"x": ["N", 8]})
    case.lines = ["d: {op: dropout, p: 0.5, in: x}", "r: {op: ReLU, inplace: true, in: d}",
                  "s: {op: add, in: [x, r]}"]  # fmt: skip
    case.refs = [
        ("d", ["x"], lambda x, w, t, i: compose.F.dropout(x[0], 0.5, training=t)),
        ("r", ["d"], lambda x, w, t, i: compose.F.relu(x[0], inplace=i)),
        ("s", ["x", "r"], lambda x, w, t, i: x[0] + x[1]),
    ]
    case.outputs = ["s"]
    assert compose.judge(case)[0] == "wrong"
    monkeypatch.undo()
    assert compose.judge(case)[0] == "refused"  # and torch agrees with the refusal


@pytest.mark.soak
def test_soak_random_compositions():
    count = int(os.environ.get("GRAPHSPEC_SOAK", "20000"))
    start = int(os.environ.get("GRAPHSPEC_SOAK_START", "10000"))  # disjoint runs side by side
    counts, examples = _tally(range(start, start + count))
    print(f"\ncompositions: seeds {start}..{start + count - 1}, {dict(counts)}")
    for verdict, found in examples.items():
        print(f"{verdict}: {len(found)}; first: {found[0]}")
    _check(counts, examples)
