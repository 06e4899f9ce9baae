"""Every registered op's static rule against torch, over many parameter sets.

For each op in `graphspec.ops.OPS`, a generator in tests/helpers/op_cases.py yields cases: a
seeded random draw over its fields and input shapes, plus the edge cases where torch refuses
(kernel larger than the input, groups that do not divide, a view that does not divide, ...).
`op_oracle.check` runs each case through the static rule and through the emitted code on the meta
device (and the CPU when small), and both must agree: same shapes, dtypes, parameter count and
state_dict entries (`Op.state`: names, shapes, dtypes, parameter or buffer), or both refuse.

Adding an op: add a generator to CASES (an op without one fails `test_every_op_has_cases`).
"""

from __future__ import annotations

import pytest
from helpers.op_cases import CASES
from helpers.op_oracle import POLICIES, Case, check, check_all, tt

from graphspec.core.shapes import TensorType
from graphspec.ops import OPS, activations, combine, conv, linear, reshape
from graphspec.ops.base import ShapeError


def test_every_op_has_cases():
    missing = sorted(set(OPS) - set(CASES))
    assert not missing, f"add a case generator to CASES in {__file__} for: {', '.join(missing)}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_rule_agrees_with_torch(name: str):
    if name not in CASES:
        pytest.fail(f"no cases for op '{name}': add a generator to CASES")
    counts, mismatches = check_all(CASES[name](name))
    shown = "\n".join(mismatches[:15])
    assert not mismatches, f"{len(mismatches)} of {counts.total()} cases disagree:\n{shown}"
    # The grid must reach both sides of the rule, or it tests less than it claims.
    assert counts["accept"] >= 10, counts
    refused = counts["refuse"] + sum(counts[f"policy:{p}"] for p in POLICIES)
    assert refused >= 3, counts


# -- the oracle itself: rules broken on purpose must be caught -----------------------------------


class _ExtraParam(linear.Linear):
    def param_count(self) -> int:
        return super().param_count() + 1


class _StateWithoutBias(linear.Linear):
    def state(self) -> dict:
        return {k: v for k, v in super().state().items() if k != "bias"}


class _NoFlatten(reshape.Flatten):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        return inputs[0]


class _IgnoresGroups(conv.Conv2d):
    def _check_groups(self) -> None:
        pass


class _RefusesAll(activations.ReLU):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        raise ShapeError("refused for no reason")


class _AlwaysFloat(combine.add):
    def infer(self, inputs: list[TensorType]) -> TensorType:
        return TensorType(super().infer(inputs).shape, "float32")


BROKEN = [
    (_ExtraParam, Case({"op": "Linear", "out_features": 3}, (tt(2, 4),))),
    (_StateWithoutBias, Case({"op": "Linear", "out_features": 3}, (tt(2, 4),))),
    (_NoFlatten, Case({"op": "Flatten"}, (tt(2, 3, 4),))),
    (
        _IgnoresGroups,
        Case({"op": "Conv2d", "out_channels": 4, "kernel_size": 1, "groups": 2}, (tt(2, 3, 5, 5),)),
    ),
    (_RefusesAll, Case({"op": "ReLU"}, (tt(2, 3),))),
    (_AlwaysFloat, Case({"op": "add"}, (tt(2, dtype="int64"), tt(2, dtype="int64")))),
]


@pytest.mark.parametrize(("broken", "case"), BROKEN, ids=lambda v: getattr(v, "__name__", ""))
def test_oracle_catches_a_broken_rule(monkeypatch, broken: type, case: Case):
    name = case.params["op"]
    assert check(case).outcome in ("accept", "refuse"), "the real rule must pass this case"
    monkeypatch.setitem(OPS, name, broken)
    verdict = check(case)
    assert verdict.outcome == "mismatch", verdict
