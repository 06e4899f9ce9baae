"""specs/bert_attention.yaml against the hand-written block and torch.nn.MultiheadAttention."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import seed_programs as seed

from graphspec.compiler.pipeline import compile_file

SPEC = Path(__file__).resolve().parents[2] / "specs" / "bert_attention.yaml"


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    model = compile_file(str(SPEC)).build().eval()
    embedding, attention = seed.BertEmbedding(), seed.MultiHeadAttention()
    embedding.load_state_dict(model.embed.state_dict(), strict=True)
    attention.load_state_dict(model.attention.state_dict(), strict=True)
    return model, embedding.eval(), attention.eval()


def _ids(seed_value: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed_value)
    ids = torch.randint(1, 30522, (8, 30), generator=g)
    ids[:, 22:] = 0  # trailing padding
    ids[3, 10:] = 0
    segments = torch.randint(0, 2, (8, 30), generator=g)
    return ids, segments


def test_output_and_attention_equal_the_hand_written_block(built):
    model, embedding, attention = built
    ids, segments = _ids()
    out, attn = model(ids, segments)
    ref_out, ref_attn = seed.bert_attention(embedding, attention, ids, segments)
    assert out.shape == (8, 30, 768) and attn.shape == (8, 12, 30, 30)
    assert torch.equal(out, ref_out)
    assert torch.equal(attn, ref_attn)


def test_equals_torch_multihead_attention(built):
    model, _, _ = built
    ids, segments = _ids(2)
    ref_out, weights = seed.torch_attention(model, ids, segments)
    with torch.no_grad():
        out, attn = model(ids, segments)
    assert (out - ref_out).abs().max().item() <= 1e-5
    assert (attn - weights).abs().max().item() <= 1e-5


def test_padded_keys_get_exactly_zero_attention(built):
    model, _, _ = built
    ids, segments = _ids(3)
    with torch.no_grad():
        _, attn = model(ids, segments)
    pad = ids.eq(0)[:, None, None, :].expand_as(attn)
    assert attn[pad].eq(0).all()
    assert attn[~pad].gt(0).all()
    assert torch.allclose(attn.sum(-1), torch.ones(8, 12, 30))


def test_summary_shows_the_score_shape():
    out = subprocess.run(
        [sys.executable, "-m", "graphspec", "summary", str(SPEC), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    nodes = {n["name"]: n for n in json.loads(out.stdout)["nodes"]}
    assert nodes["attention.scores"]["shape"] == ["N", "12", "L", "L"]
    assert nodes["attention.attn"]["shape"] == ["N", "12", "L", "L"]
    assert nodes["attention"]["outputs"] == {
        "norm": ["N", "L", "768"],
        "attn": ["N", "12", "L", "L"],
    }


def test_parameter_count_matches_torch(built):
    model, embedding, attention = built
    total = compile_file(str(SPEC)).graph.total_params
    assert total == sum(p.numel() for p in model.parameters())
    assert total == sum(p.numel() for m in (embedding, attention) for p in m.parameters())
