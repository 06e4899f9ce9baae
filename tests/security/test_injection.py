"""Sentinels: outside text never becomes code.

Each test plants a payload that, if it ran, would create a sentinel file; the payload travels
through one channel (the spec's path here) into validate, emit, emit --train and build_module.
The negative control shows the payload really is code when pasted into a file unescaped.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graphspec.core.codetext import UnsafeSource, check_source, literal, one_line

SPECS = Path(__file__).resolve().parents[2] / "specs"


def _payload(sentinel: Path) -> str:
    # A file name holds no "/": the payload names the sentinel relative to the working folder.
    return f"import pathlib; pathlib.Path({sentinel.name!r}).write_text('pwned')"


def _evil_spec(tmp_path: Path, sentinel: Path, spec: str = "regression.yaml") -> Path:
    folder = tmp_path / f"x\n{_payload(sentinel)}\n#"
    folder.mkdir()
    target = folder / "spec.yaml"
    shutil.copy(SPECS / spec, target)
    return target


def test_negative_control_the_payload_is_code_when_pasted_raw(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "sentinel"
    raw = f"# Generated from x\n{_payload(sentinel)}\n#/spec.yaml\n"
    exec(compile(raw, "<control>", "exec"), {})  # noqa: S102
    assert sentinel.exists()


@pytest.mark.parametrize("spec", ["regression.yaml", "lenet.yaml", "digits.yaml"])
def test_a_path_holding_python_never_runs(tmp_path, spec, monkeypatch):
    import graphspec

    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "sentinel"
    path = _evil_spec(tmp_path, sentinel, spec)
    compiled = graphspec.compile_file(str(path))
    assert "\n" not in compiled.source.splitlines()[0]
    graphspec.build_module(str(path))
    out = subprocess.run(
        [sys.executable, "-m", "graphspec", "validate", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 1 and "\\n" in out.stdout
    from graphspec.program import script as codegen_train

    script = codegen_train.generate(compiled)
    compile(script, "<script>", "exec")  # parses: the path sits inside comments only
    assert not sentinel.exists()


def test_one_line_escapes_every_line_break():
    for brk in ["\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\x00"]:
        text = one_line(f"a{brk}b")
        assert len(f"#{text}\nx".splitlines()) == 2, repr(brk)
        assert text.isprintable()
    assert one_line("specs/lenet.yaml") == "specs/lenet.yaml"


def test_literal_is_plain_values_only():
    assert literal(["a\nb", 1, (2.5,), None]) == '["a\\nb", 1, (2.5,), None]'
    # double quotes as ruff writes them; any text still reads back as itself
    for text in ['say "hi"', "it's", "both ' and \"", "back\\slash", '"""', "\x00\u2028"]:
        assert ast.literal_eval(literal(text)) == text
    with pytest.raises(TypeError):
        literal(object())


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "x = __import__('os')\n",
        "class A:\n    def f(self):\n        return eval('1')\n",
        "x = ().__class__.__bases__\n",
        "import torch\nx = torch.load.__globals__\n",
        "def f(:\n",
    ],
)
def test_check_source_refuses_what_the_generator_never_writes(source):
    with pytest.raises(UnsafeSource):
        check_source(source)


def test_check_source_accepts_every_generated_file():
    import graphspec
    from graphspec.program import script as codegen_train

    for spec in sorted(SPECS.glob("*.yaml")):
        compiled = graphspec.compile_file(str(spec))
        check_source(compiled.source)
        if compiled.spec.data is not None:
            check_source(codegen_train.generate(compiled), compiled.spec.data.imports)


def test_a_newline_inside_a_value_stays_on_one_error_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        'name: s\nmodel: {inputs: {x: [N, 4]}, layers: {fc: {op: "Lin\\near", out_features: 2}}}\n'
        "data: {source: random, inputs: {x: [8, 4]}, target: [8, 2]}\n"
        'loss: "MSE\\nLoss"\noptimizer: {op: SGD, lr: 0.1}\ndevice: "cp\\nu"\n'
    )
    out = subprocess.run(
        [sys.executable, "-m", "graphspec", "validate", str(spec)], capture_output=True, text=True
    )
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert lines and all(line.startswith(f"{spec}:") for line in lines), out.stderr


DATA_MEMBER_SPEC = """\
name: members
model:
  inputs: {x: [N, 2]}
  layers:
    out: {op: Linear, out_features: 3}
data: {source: arrays, path: m.npz, inputs: [%s], target: %s, batch_size: 8}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 2}
seed: 1
device: cpu
"""


def _member_payloads(sentinel: str) -> list[str]:
    """Names that close the docstring make_data() opens, in each quoting a generator might use."""
    code = f"torch.save(0, {sentinel!r})"
    return [f'x"""; {code}; """', f"x'''; {code}; '''", f'x\\\\"""; {code}; """', f"x\n{code}\n#"]


@pytest.mark.parametrize("where", ["inputs", "target"])
@pytest.mark.parametrize("kind", range(4))
def test_a_data_file_member_name_never_runs(tmp_path, monkeypatch, where, kind):
    """An .npz member named like code, named by the spec, stays text in make_data()."""
    import numpy as np

    from graphspec.cli import main

    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "PWNED"
    evil = _member_payloads(sentinel.name)[kind]
    names = {"inputs": "x", "target": "y", where: evil}
    rng = np.random.default_rng(0)
    members = {names["inputs"]: rng.normal(size=(16, 2)), names["target"]: rng.integers(0, 3, 16)}
    np.savez(tmp_path / "m.npz", **members)
    spec = tmp_path / "members.yaml"
    # JSON strings are YAML double-quoted scalars: every character survives, escaped
    spec.write_text(DATA_MEMBER_SPEC % (json.dumps(names["inputs"]), json.dumps(names["target"])))
    assert main(["emit", str(spec), "--train", "-o", str(tmp_path / "train.py")]) == 0
    script = (tmp_path / "train.py").read_text()
    check_source(script, ("import numpy as np",))  # the npz source's own import
    assert "torch.save(0" not in _code_outside_strings_and_comments(script)
    code = main(["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "-q"])
    assert code in (0, 2)
    assert not sentinel.exists()


def _code_outside_strings_and_comments(source: str) -> str:
    """The source's code with string constants and comments dropped (what would run)."""
    import ast

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.unparse(tree)


def test_negative_control_a_member_name_pasted_raw_runs(tmp_path, monkeypatch):
    """The payload above is code when a docstring takes it unescaped."""
    monkeypatch.chdir(tmp_path)
    evil = _member_payloads("PWNED")[0]
    raw = f'import torch\ndef make_data():\n    """Arrays {evil} from a file."""\n'
    assert "torch.save(0" in _code_outside_strings_and_comments(raw)
