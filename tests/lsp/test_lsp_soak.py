"""Every editor feature on mangled specs (marker `soak`, not in the default run): shipped specs
with characters deleted, inserted (brackets, colons, newlines, an emoji) and names broken, then
hover, definition, references and completion at random places, inlay hints, the outline,
folding and the quick fixes. A feature may answer nothing; it may not raise, and the compiler
may not crash. `GRAPHSPEC_SOAK=2000 python -m pytest -m soak -s tests/lsp/test_lsp_soak.py`."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from graphspec.lsp import actions, complete, hover, navigate
from graphspec.lsp.analysis import analyze
from graphspec.lsp.index import Index

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs" / "zoo").glob("*.yaml"))


def mangle(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text))
        kind = rng.random()
        if kind < 0.4:
            text = text[:i] + text[i + rng.randint(1, 5) :]
        elif kind < 0.7:
            bit = rng.choice(["[", "{", ":", " ", "\n", "🙂", "'", ",", "x", "0"])
            text = text[:i] + bit + text[i:]
        else:
            old = rng.choice(["Conv2d", "relu", "in:", "Linear"])
            text = text[:i] + text[i:].replace(old, rng.choice(["Conv2D", "x", "in: [", "Lin"]), 1)
    return text


@pytest.mark.soak
def test_features_survive_mangled_specs():
    rng = random.Random(int(os.environ.get("GRAPHSPEC_SEED", "0")))
    count = int(os.environ.get("GRAPHSPEC_SOAK", "2000"))
    for _ in range(count):
        path = rng.choice(SPECS)
        text = mangle(path.read_text(), rng)
        a = analyze(text, str(path))
        assert a.crash is None, (path, a.crash, text)
        index = Index(a)
        lines = text.splitlines() or [""]
        for _ in range(10):
            line = rng.randrange(len(lines))
            col = rng.randint(0, len(lines[line]))
            hover.hover(a, index, line, col)
            navigate.definition(index, line, col)
            navigate.references(index, line, col, True)
            complete.complete(lines, line, col, a.data)
        hover.inlay_hints(a, 0, len(lines))
        navigate.symbols(a)
        navigate.folding(lines)
        for p in a.problems:
            actions.fix_for(p, a.lines_of(p.pos.file) if p.pos else a.lines)
