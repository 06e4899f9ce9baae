"""specs/zoo/gpt2_hf.yaml is GPT-2 small in Hugging Face's layout: transformers'
GPT2LMHeadModel(GPT2Config()), random init (seeded, no weights downloaded), loads into it by
name with strict=True -- Conv1D weights kept [in, out] as HF keeps them, lm_head tied to
transformer.wte -- and gives its logits.

The default run checks the full-size model without building it (parameter count, every key and
shape, the reference on the meta device) and the whole path at a small size; the full-size
equal-output check is a soak.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from helpers.runhelp import compile_with_constants

from graphspec.compiler.state import state_table

SPEC = Path(__file__).resolve().parents[2] / "specs" / "zoo" / "gpt2_hf.yaml"
SMALL = {"vocab_size": 97, "n_positions": 16, "n_layer": 2, "n_head": 4, "n_embd": 32}


def _config(small: bool):
    from transformers import GPT2Config

    if not small:
        return GPT2Config()
    return GPT2Config(
        vocab_size=97, n_positions=16, n_layer=2, n_head=4, n_embd=32, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip


def _compiled(constants: dict | None = None):
    return compile_with_constants(SPEC, constants)


def _agree(small: bool, seq: int) -> float:
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    config = _config(small)
    reference = GPT2LMHeadModel(config).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # HF starts biases at 0 and LayerNorm at 1: make them count
        for name, p in reference.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
    model = _compiled(SMALL if small else None).build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    assert model.lm_head.weight is model.transformer.wte.weight
    ids = torch.randint(0, config.vocab_size, (2, seq), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, got = reference(ids).logits, model(ids)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    return (got - want).abs().max().item()


def test_full_size_gpt2_hf_has_hugging_faces_parameters_keys_and_shapes():
    from transformers import GPT2LMHeadModel

    with torch.device("meta"):
        reference = GPT2LMHeadModel(_config(small=False))
    compiled = _compiled()
    count = sum(p.numel() for p in reference.parameters())  # the tied table once
    assert count == compiled.graph.total_params == 124_439_808
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: e.shape for k, e in state_table(compiled.graph).items()} == want
    assert want["transformer.h.0.attn.c_attn.weight"] == (768, 2304)  # Conv1D: [in, out]


def test_small_gpt2_hf_loads_hugging_faces_state_dict_strict_and_logits_agree():
    _agree(small=True, seq=16)


@pytest.mark.soak
def test_full_size_gpt2_hf_logits_agree_with_hugging_face():
    start = time.perf_counter()
    worst = _agree(small=False, seq=64)
    print(f"gpt2_hf full size: max |diff| {worst:.2e} at T=64, {time.perf_counter() - start:.1f} s")
