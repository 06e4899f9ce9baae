"""No refusal without a reason: every SpecError that leaves the compiler carries a problem, and
a block calling a block whose weights need a size the outer block has only as a symbol either
validates (the caller's concrete size carried through) or says what to do."""

from __future__ import annotations

import pytest
import torch

from graphspec.compiler import pipeline
from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

NESTED = """\
name: nested
blocks:
  Layer: {inputs: {x: [N, C, H, W]}, layers: {conv1: {op: Conv2d, out_channels: 8, kernel_size: 1}}}
  Dense: {inputs: {x: [N, C, H, W]}, layers: {l1: {block: Layer}}}
model:
  inputs: {x: [N, 3, H, W]}
  layers: {dense: {block: Dense}}
"""


def test_a_block_in_a_block_gets_the_callers_concrete_size():
    model = compile_text(NESTED).build()
    assert model(torch.randn(2, 3, 5, 7)).shape == (2, 8, 5, 7)
    assert sum(p.numel() for p in model.parameters()) == 3 * 8 + 8


@pytest.mark.parametrize("op", ["Conv2d", "Linear", "BatchNorm2d"])
def test_a_symbolic_size_that_weights_need_is_refused_with_what_to_do(op):
    fields = {"Conv2d": "out_channels: 8, kernel_size: 1", "Linear": "out_features: 8"}
    text = NESTED.replace("x: [N, 3, H, W]}\n  layers", "x: [N, C, H, W]}\n  layers")
    text = text.replace("Conv2d, out_channels: 8, kernel_size: 1", f"{op}, {fields.get(op, '')}")
    text = text.replace("op: BatchNorm2d, }", "op: BatchNorm2d}")
    if op == "Linear":
        text = text.replace("[N, C, H, W]", "[N, H, C]")
    with pytest.raises(SpecError) as caught:
        compile_text(text)
    (problem,) = caught.value.problems
    assert "concrete" in problem.message and problem.node == "Layer.conv1"
    assert "called by 'Dense.l1'" in problem.message
    assert problem.hint and "as a number in the input's shape" in problem.hint


def test_a_spec_error_without_a_problem_is_a_bug_not_a_refusal(monkeypatch):
    def silent(*args, **kwargs):
        raise SpecError([])

    monkeypatch.setattr(pipeline, "infer", silent)
    with pytest.raises(RuntimeError, match="without a problem"):
        compile_text("name: t\nmodel:\n  inputs: {x: [N, 4]}\n  layers:\n    r: relu\n")


# Every refusal of the fuzzer's mutants (tests/security/test_fuzz.py) is held to a problem too:
# `fuzzing.exercise` reports a SpecError without one as a failure.
