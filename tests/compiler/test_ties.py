"""`tie: other` makes a module's weight another module's: both state_dict keys, one parameter.

A PyTorch module with `self.head.weight = self.emb.weight` is the reference: its state_dict
(both keys) loads into the emitted module with strict=True, outputs agree, and the parameter
count is torch's (the shared tensor once). Ties that cannot hold are refused with a message
that says what to do.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

TIED = """
name: tied
blocks:
  Trunk:
    inputs: {ids: {shape: [N, L], dtype: int64}}
    layers:
      emb: {op: Embedding, num_embeddings: 11, embedding_dim: 6}
      mix: {op: Linear, out_features: 6}
model:
  inputs: {ids: {shape: [N, L], dtype: int64}}
  layers:
    trunk: {block: Trunk}
    head: {op: Linear, out_features: 11, bias: false, tie: trunk.emb}
"""


class Trunk(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 6)
        self.mix = nn.Linear(6, 6)

    def forward(self, ids):
        return self.mix(self.emb(ids))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Trunk()
        self.head = nn.Linear(6, 11, bias=False)
        self.head.weight = self.trunk.emb.weight

    def forward(self, ids):
        return self.head(self.trunk(ids))


def test_a_tied_head_loads_both_keys_strict_and_counts_the_table_once():
    torch.manual_seed(0)
    reference = Tied().eval()
    assert set(reference.state_dict()) >= {"head.weight", "trunk.emb.weight"}
    compiled = compile_text(TIED)
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    count = sum(p.numel() for p in reference.parameters())
    assert compiled.graph.total_params == count == sum(p.numel() for p in model.parameters())
    assert count == 11 * 6 + 6 * 6 + 6  # not 11 * 6 twice
    ids = torch.randint(0, 11, (3, 5))
    with torch.no_grad():
        torch.testing.assert_close(model(ids), reference(ids))
    assert model.head.weight is model.trunk.emb.weight


def test_an_untied_head_is_a_second_tensor():
    """The negative control: without `tie:` the same keys load, but into two tensors."""
    compiled = compile_text(TIED.replace(", tie: trunk.emb", ""))
    model = compiled.build()
    assert model.head.weight is not model.trunk.emb.weight
    assert compiled.graph.total_params == 11 * 6 * 2 + 6 * 6 + 6


def test_a_tie_into_a_repeat_copy_by_number():
    spec = """
name: copies
blocks:
  Layer:
    inputs: {x: [N, C]}
    layers: {fc: {op: Linear, out_features: C}}
model:
  inputs: {x: [N, 4]}
  layers:
    h: {block: Layer, repeat: 3}
    out: {op: Linear, out_features: 4, tie: h.1.fc}
"""
    compiled = compile_text(spec)
    model = compiled.build()
    assert model.out.weight is model.h[1].fc.weight
    assert compiled.graph.total_params == sum(p.numel() for p in model.parameters()) == 3 * 20 + 4


@pytest.mark.parametrize(
    ("tie", "says"),
    [
        ("trunk.nothing", "'trunk' has no module 'nothing'"),
        ("nowhere", "there is no node 'nowhere'"),
        ("head", "a module cannot tie itself"),
        ("trunk", "it is not a module op"),
    ],
)
def test_a_tie_to_no_module_is_refused(tie, says):
    with pytest.raises(SpecError) as err:
        compile_text(TIED.replace("tie: trunk.emb", f"tie: {tie}"))
    (problem,) = err.value.problems
    assert problem.code == "E-REF" and says in problem.message
    assert problem.hint


def test_weights_of_different_shapes_cannot_be_tied():
    with pytest.raises(SpecError) as err:
        compile_text(TIED.replace("tie: trunk.emb", "tie: trunk.mix"))
    (problem,) = err.value.problems
    assert "has a weight of shape [11, 6] but 'trunk.mix' has [6, 6]" in problem.message


def test_a_module_without_a_weight_cannot_tie():
    spec = TIED.replace(
        "head: {op: Linear, out_features: 11, bias: false, tie: trunk.emb}",
        "head: {op: ReLU, tie: trunk.emb}",
    )
    with pytest.raises(SpecError) as err:
        compile_text(spec)
    assert "'ReLU' has no weight to tie" in err.value.problems[0].message


def test_the_state_table_holds_both_keys_and_counts_the_tied_one_once():
    from graphspec.compiler.state import state_table, trainable_counts

    table = state_table(compile_text(TIED).graph)
    assert table["head.weight"].tied == "trunk.emb" and table["trunk.emb.weight"].tied is None
    assert trainable_counts(table, []) == (11 * 6 + 6 * 6 + 6, 0)
    assert trainable_counts(table, ["trunk.mix.*"]) == (11 * 6 + 6 * 6 + 6 - 42, 42)


def test_a_tie_inside_a_block_holds_in_every_specialization():
    spec = """
name: inner
blocks:
  LM:
    args: {w: 6}
    inputs: {ids: {shape: [N, L], dtype: int64}}
    layers:
      emb: {op: Embedding, num_embeddings: 11, embedding_dim: w}
      head: {op: Linear, out_features: 11, bias: false, tie: emb}
model:
  inputs: {ids: {shape: [N, L], dtype: int64}}
  layers:
    lm: {block: LM, args: {w: 8}, in: ids}
    lm2: {block: LM, in: ids}
    out: {op: add, in: [lm, lm2]}
"""
    from graphspec.compiler.state import state_table

    compiled = compile_text(spec)
    model = compiled.build()
    assert model.lm.head.weight is model.lm.emb.weight
    assert model.lm2.head.weight is model.lm2.emb.weight
    assert compiled.graph.total_params == sum(p.numel() for p in model.parameters()) == 88 + 66
    assert state_table(compiled.graph)["lm2.head.weight"].tied == "lm2.emb"
