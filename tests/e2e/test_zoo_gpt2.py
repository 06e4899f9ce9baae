"""specs/zoo/gpt2.yaml is GPT-2 small in nanoGPT's layout, with its head tied to the token
embedding (`tie: transformer.wte`).

The reference is nanoGPT's GPT (karpathy/nanoGPT model.py, written out below with bias=True,
vocab 50257, block 1024, lm_head.weight tied to transformer.wte.weight). The default run checks
the full-size model without building it (parameter count and every state_dict key and shape,
the reference built on the meta device) and the whole path -- strict load, equal outputs --
on the same spec at a small size; the full-size equal-output check is a soak.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from helpers.runhelp import compile_with_constants
from torch.nn import functional as F

from graphspec.compiler.state import state_table

SPEC = Path(__file__).resolve().parents[2] / "specs" / "zoo" / "gpt2.yaml"


# ---- nanoGPT's model.py (inference path; dropout 0), as its author wrote it -------------------
@dataclass
class GPTConfig:
    block_size: int = 1024
    vocab_size: int = 50257
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True


class LayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:  # every position's logits (inference keeps only the last)
            return self.lm_head(x), None
        return self.lm_head(x[:, [-1], :]), None


# ---- the checks ------------------------------------------------------------------------------
SMALL = {"vocab_size": 97, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32}


def _compiled(constants: dict | None = None):
    return compile_with_constants(SPEC, constants)


def _randomised_biases(model: nn.Module) -> None:
    """nanoGPT starts biases at 0 and LayerNorm at 1: make them count in the comparison."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def _agree(config: GPTConfig, constants: dict | None, seq: int) -> float:
    torch.manual_seed(0)
    reference = GPT(config).eval()
    _randomised_biases(reference)
    compiled = _compiled(constants)
    model = compiled.build().eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    assert model.lm_head.weight is model.transformer.wte.weight  # still one tensor after loading
    idx = torch.randint(0, config.vocab_size, (2, seq), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, _ = reference(idx, targets=idx)
        got = model(idx)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    return (got - want).abs().max().item()


def test_full_size_gpt2_has_nanogpts_parameters_keys_and_shapes():
    with torch.device("meta"):  # nanoGPT's GPT-2 without allocating its 124M weights
        reference = GPT(GPTConfig())
    compiled = _compiled()
    count = sum(p.numel() for p in reference.parameters())  # the tied table once
    assert count == compiled.graph.total_params == 124_439_808
    table = state_table(compiled.graph)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: e.shape for k, e in table.items()} == want
    assert "lm_head.weight" in want and "transformer.wte.weight" in want


def test_small_gpt2_loads_nanogpts_state_dict_strict_and_outputs_agree():
    config = GPTConfig(**SMALL)
    _agree(config, SMALL, seq=SMALL["block_size"])


def test_tied_head_trains_one_table():
    """One tensor gets the gradient of both uses; an optimizer sees it once."""
    torch.manual_seed(0)
    model = _compiled(SMALL).build()
    params = list(model.parameters())
    assert sum(p is model.lm_head.weight for p in params) == 1
    logits = model(torch.randint(0, 97, (2, 8)))
    logits.sum().backward()
    assert model.transformer.wte.weight.grad is model.lm_head.weight.grad
    assert model.lm_head.weight.grad.abs().sum() > 0


@pytest.mark.soak
def test_full_size_gpt2_outputs_agree_with_nanogpt():
    start = time.perf_counter()
    worst = _agree(GPTConfig(), None, seq=64)
    print(f"gpt2 full size: max |diff| {worst:.2e} at T=64, {time.perf_counter() - start:.1f} s")
