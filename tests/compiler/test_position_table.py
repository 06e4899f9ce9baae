"""A position table bounds the sequence length: `positions` gives ids 0 .. L - 1, so an
`Embedding` of 1024 rows over them takes at most 1024 positions. graphspec refuses more where
the length is a number -- at `summary --input`, and at validate when the spec fixes it --
instead of an index error when the model runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from graphspec import cli
from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError

GPT2 = Path(__file__).resolve().parents[2] / "specs" / "zoo" / "gpt2.yaml"

SMALL = """
name: pos
model:
  inputs: {idx: {shape: [N, L], dtype: int64}}
  layers:
    tok: {op: Embedding, num_embeddings: 50, embedding_dim: 4, in: idx}
    pos: {op: positions, in: idx}
    wpe: {op: Embedding, num_embeddings: 16, embedding_dim: 4}
    emb: {op: add, in: [tok, wpe]}
"""


def test_summary_refuses_more_positions_than_gpt2s_table_has(capsys):
    assert cli.main(["summary", str(GPT2), "--input", "idx=1,2000"]) == 2
    err = capsys.readouterr().err
    assert "'transformer.wpe'" in err and "positions 0 to 1999" in err
    assert "num_embeddings 1024 rows" in err
    assert "hint: give sequences of at most 1024 positions" in err
    assert cli.main(["summary", str(GPT2), "--input", "idx=1,1024"]) == 0  # the whole table


def test_summary_refuses_it_for_a_size_given_by_name(capsys):
    assert cli.main(["summary", str(GPT2), "--size", "T=1025"]) == 2
    assert "positions 0 to 1024" in capsys.readouterr().err


def test_validate_refuses_a_fixed_length_longer_than_the_table():
    with pytest.raises(SpecError) as err:
        compile_text(SMALL.replace("[N, L]", "[N, 20]"))
    (problem,) = err.value.problems
    assert "the ids are positions 0 to 19, but the table has num_embeddings 16 rows" in (
        problem.message
    )
    assert "num_embeddings: 20" in problem.hint
    compile_text(SMALL.replace("[N, L]", "[N, 16]"))  # the control: 16 positions fit


def test_torch_fails_at_run_time_where_the_refusal_stands():
    """What the refusal saves the user from: the emitted module's index error."""
    model = compile_text(SMALL).build()
    assert model(torch.randint(0, 50, (2, 16))).shape == (2, 16, 4)
    with pytest.raises(IndexError):
        model(torch.randint(0, 50, (2, 17)))
