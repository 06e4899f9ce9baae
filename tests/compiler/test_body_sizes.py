"""Size fields may name the sizes of the model's (or block's) own inputs, not only of the node's
input: ViT's class token is a `[1, 1, D]` param expanded (or repeated) to the batch size `N`
of `x: [N, L, D]`. The code reads the size off that input at run time, so one module serves
every batch size; a symbol no input has is refused with what to write instead.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

CLASS_TOKEN = """
name: cls
model:
  inputs: {x: [N, L, 8]}
  params:
    class_token: {shape: [1, 1, 8], init: zeros}
  layers:
    cls: {op: expand, size: [N, -1, -1], in: class_token}
    seq: {op: cat, dim: 1, in: [cls, x]}
    rep: {op: repeat, repeats: [N, 1, 1], in: class_token}
    twice: {op: repeat, repeats: ["2*N", L, 1], in: class_token}
    flat: {op: reshape, size: [N, -1], in: seq}
  outputs: [seq, rep, twice, flat]
"""


class ClassToken(nn.Module):
    """What the spec says, written by hand."""

    def __init__(self):
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, 8))

    def forward(self, x):
        n, length = x.shape[0], x.shape[1]
        seq = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        rep = self.class_token.repeat(n, 1, 1)
        twice = self.class_token.repeat(2 * n, length, 1)
        return seq, rep, twice, seq.reshape(n, -1)


def test_a_param_expanded_and_repeated_to_the_models_batch_size():
    compiled = compile_text(CLASS_TOKEN)
    shapes = [str(t) for t in compiled.graph.output_types().values()]
    assert shapes == ["(N, L + 1, 8)", "(N, 1, 8)", "(2*N, L, 8)", "(N, 8*L + 8)"]
    torch.manual_seed(0)
    reference = ClassToken()
    reference.class_token.data.normal_()
    model = compiled.build()
    model.load_state_dict(reference.state_dict(), strict=True)
    for n, length in ((1, 1), (3, 5)):
        x = torch.randn(n, length, 8, requires_grad=True)
        got, want = model(x), reference(x)
        for g, w in zip(got, want, strict=True):
            torch.testing.assert_close(g, w)
        sum(g.sum() for g in got).backward()  # the expanded param takes a gradient
        assert model.class_token.grad.abs().sum() > 0


def test_a_block_reads_its_own_input_sizes():
    spec = """
name: blk
blocks:
  Prepend:
    inputs: {x: [B, T, C]}
    params:
      token: {shape: [1, 1, C], init: randn}
    layers:
      tok: {op: expand, size: [B, -1, -1], in: token}
      out: {op: cat, dim: 1, in: [tok, x]}
model:
  inputs: {x: [N, L, 4]}
  layers:
    p: {block: Prepend}
"""
    compiled = compile_text(spec)
    assert str(compiled.graph.outputs[0].out) == "(N, L + 1, 4)"
    assert "self.token.expand(x.size(0), -1, -1)" in compiled.source
    model = compiled.build()
    assert model(torch.randn(5, 2, 4)).shape == (5, 3, 4)


def test_a_symbol_no_input_has_is_refused_with_what_to_write():
    with pytest.raises(SpecError) as err:
        compile_text(CLASS_TOKEN.replace("size: [N, -1, -1]", "size: [M, -1, -1]"))
    (problem,) = err.value.problems
    assert "symbol 'M' is not a dimension of the input (1, 1, 8)" in problem.message
    assert "nor a size of this body's inputs (L, N)" in problem.message
    assert "a symbol that the input or the inputs of the model" in problem.hint
