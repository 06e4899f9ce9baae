"""`graphspec sample`: text from a next-token model, with the run's own vocabulary.

The prompt is encoded as the run encoded its text (its characters, stored in preprocess.json;
or bytes); each step feeds the last `block_size` ids, takes the logits of the last position,
divides them by the temperature, keeps the `top_k` largest, and draws the next id from a
generator seeded by `seed` (nanoGPT's sample.py, the same steps)."""

from __future__ import annotations

import torch

from graphspec.core.errors import fail
from graphspec.use.trained import Trained


def vocabulary(trained: Trained) -> tuple[dict[str, int], list[str]]:
    state = trained.state
    data = state.get("data", {})
    if state.get("reads_as") != "text":
        raise fail("E-DATA", f"sample is for next-token models; this run trained on "
                   f"{data.get('source')} data", hint="use `graphspec predict`")  # fmt: skip
    if data.get("encoding") == "bytes":
        chars = [chr(i) for i in range(256)]
        return {c: i for i, c in enumerate(chars)}, chars
    chars = list(state.get("vocabulary") or [])
    if not chars:
        raise fail("E-DATA", f"{data.get('encoding')} text: sample knows chars and bytes")
    return {c: i for i, c in enumerate(chars)}, chars


def encode(prompt: str, index: dict[str, int]) -> list[int]:
    if not prompt:
        raise fail("E-USAGE", "--prompt is empty: give at least one character")
    unknown = sorted({c for c in prompt if c not in index})
    if unknown:
        raise fail("E-DATA", f"the prompt has characters the run never saw: {unknown!r}",
                   hint="use characters of the training text")  # fmt: skip
    return [index[c] for c in prompt]


def generate(
    trained: Trained, prompt: str, tokens: int, temperature: float, top_k: int | None, seed: int
) -> str:
    index, chars = vocabulary(trained)
    ids = torch.tensor([encode(prompt, index)])
    block = int(trained.state["data"]["block_size"])
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(tokens):
            logits = trained.model(ids[:, -block:])  # (1, vocab, T): classes in dim 1
            last = logits[:, :, -1].float() / temperature
            if top_k:
                kth = last.topk(min(top_k, last.shape[1])).values[:, -1:]
                last = last.masked_fill(last < kth, float("-inf"))
            following = torch.multinomial(torch.softmax(last, dim=1), 1, generator=generator)
            ids = torch.cat([ids, following], dim=1)
    return "".join(chars[i] for i in ids[0].tolist())
