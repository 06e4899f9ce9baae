"""Emitted code a user would keep: the model and the `emit --train` script of every shipped and
zoo spec pass `ruff check` and `ruff format --check`, and a spec's constants reach the model by
name (`nn.Linear(d_model, d_k * n_heads)`), with their values written once at the top.

The lint rules are graphspec's own (pyproject.toml), less the import ban that only concerns
graphspec's package (TID253) and the naming rules that PyTorch's conventions and a spec's own
names break (`import torch.nn.functional as F`, inputs named Q/K/V); plus ARG, so no function
takes a parameter it does not use.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.runhelp import ROOT, SPECS

from graphspec.compiler.pipeline import compile_file, compile_text
from graphspec.core.errors import SpecError
from graphspec.program import script

SHIPPED = sorted([*SPECS.glob("*.yaml"), *(SPECS / "zoo").glob("*.yaml")])
RUFF_ARGS = [
    "--isolated",
    "--line-length=100",
    "--target-version=py310",
]
LINT = ["--select=E,F,W,I,N,UP,B,ARG", "--ignore=N801,N803,N806,N812"]


def _ruff() -> list[str]:
    """The ruff next to this Python (the test extra installs it), else `python -m ruff`."""
    binary = Path(sys.executable).with_name("ruff")
    return [str(binary)] if binary.exists() else [sys.executable, "-m", "ruff"]


def _emit_all(out: Path) -> dict[str, str]:
    """Every shipped spec's model, and its training script where it has data, loss and
    optimizer (the rest refuse `emit --train` with E-DATA: they are models only)."""
    written = {}
    for spec in SHIPPED:
        compiled = compile_file(spec.relative_to(ROOT))
        stem = f"{spec.parent.name}_{spec.stem}"
        written[f"{stem}.py"] = compiled.source
        s = compiled.spec
        if s.data is None or s.loss is None or s.optimizer is None:
            with pytest.raises(SpecError, match="E-DATA"):
                script.generate(compiled)
            continue
        written[f"train_{stem}.py"] = script.generate(compiled)
    for name, text in written.items():
        (out / name).write_text(text)
    return written


@pytest.fixture(scope="module")
def emitted(tmp_path_factory, monkeypatch_module) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("emitted")
    return out, _emit_all(out)


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Relative data paths in the specs resolve from the repository root, as in the docs."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        yield mp


def test_every_shipped_spec_is_emitted(emitted):
    _, written = emitted
    assert len([n for n in written if not n.startswith("train_")]) == len(SHIPPED)
    assert any(n.startswith("train_") for n in written)


def test_emitted_code_passes_ruff_check(emitted):
    out, _ = emitted
    result = subprocess.run(
        [*_ruff(), "check", *RUFF_ARGS, *LINT, "--output-format=concise", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_emitted_code_passes_ruff_format_check(emitted):
    out, _ = emitted
    result = subprocess.run(
        [*_ruff(), "format", "--check", "--diff", *RUFF_ARGS, str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[:4000] + result.stderr


def test_ruff_check_catches_what_it_should(tmp_path):
    """Negative control: the same check refuses a long line, an unused import and an unused
    parameter, so a green run above means something."""
    bad = tmp_path / "bad.py"
    bad.write_text("import math\n\n\ndef f(x, epoch):\n    return x  # " + "y" * 100 + "\n")
    result = subprocess.run(
        [*_ruff(), "check", *RUFF_ARGS, *LINT, "--output-format=concise", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    for code in ("E501", "F401", "ARG001"):
        assert code in result.stdout


def test_no_benchmark_figures_or_noop_functions(emitted):
    """Docstrings and comments say why, not what a machine measured; nothing is a no-op."""
    _, written = emitted
    figure = re.compile(r"\d+(\.\d+)?\s*(ms|µs|us)\b|\d+(\.\d+)?x (faster|slower)")
    for name, text in written.items():
        assert not figure.search(text), (name, figure.search(text))
        prepares = "def prepare(net):\n" in text
        assert not prepares or "torch.compile" in text or "channels_last" in text


BERT_SIZES = [
    "d_k = 64",
    "n_heads = 12",
    "self.wq = nn.Linear(d_model, d_k * n_heads)",
    "self.token_embed = nn.Embedding(vocab_size, d_model)",
    # forward writes numbers: TorchScript cannot read a module-level int there
    "q_split = wq.view(wq.size(0), -1, 12, 64)",
]


def test_constants_are_emitted_by_name():
    source = compile_file(SPECS / "bert_attention.yaml").source
    for line in BERT_SIZES:
        assert line in source
    assert "nn.Linear(768, 768)" not in source


CONSTANTS_SPEC = """
name: c
constants: {width: 8, d: 2 * width, x: 3, pi_ish: 3}
model:
  inputs: {x: [N, 4]}
  layers:
    fc1: {op: Linear, out_features: d}
    fc2: {op: Linear, out_features: x * width}
    quarter: {op: Linear, out_features: d // 4}
    fc3: {op: Linear, out_features: 7}
"""


def test_constants_the_code_cannot_hold_by_name_keep_their_numbers():
    """`x` is also the input's name: a module-level x would be shadowed in forward, so sizes over
    it are written as numbers; a constant over another is written over it, after it; an
    unused constant is left out; and the module built from the source has the sizes."""
    compiled = compile_text(CONSTANTS_SPEC)
    source = compiled.source
    assert "width = 8\nd = 2 * width\n" in source
    assert "nn.Linear(4, d)" in source and "nn.Linear(d, 24)" in source
    assert "nn.Linear(24, d // 4)" in source and "nn.Linear(d // 4, 7)" in source
    assert "\nx = " not in source and "pi_ish" not in source
    model = compiled.build()
    assert [m.out_features for m in model.children()] == [16, 24, 4, 7]


def test_an_argument_shadowing_a_constant_is_written_as_its_number():
    text = """
name: b
constants: {width: 8}
blocks:
  B:
    args: {width: int}
    inputs: {x: [N, C]}
    layers:
      fc: {op: Linear, out_features: width}
      fc2: {op: Linear, out_features: width * 2}
model:
  inputs: {x: [N, 4]}
  layers:
    b: {block: B, args: {width: 5}}
    out: {op: Linear, out_features: width}
"""
    source = compile_text(text).source
    assert "nn.Linear(4, 5)" in source and "nn.Linear(5, 10)" in source
    assert "nn.Linear(10, width)" in source
