"""A new op, a new data source that needs an import of its own, and a new loss are each one
source file: a copy of the package with that one file changed validates, emits and runs a spec
that uses it. The copy is compared with the package, so the test cannot change more than it says.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import graphspec

PACKAGE = Path(graphspec.__file__).parent

SOFTSIGN = '''

class Softsign(_KeepsResult):
    """torch.nn.Softsign: x / (1 + |x|)."""

    op: Literal["Softsign"]
    kind = "module"
    torch_name = "nn.Softsign"
'''

JSON_SOURCE = '''"""Pairs (x, y) from a JSON text: a source whose generated code imports json."""

from __future__ import annotations

from typing import Literal

from graphspec.core.codetext import literal
from graphspec.data.base import Source


class JsonPairs(Source):
    """Pairs [x, y] given as a JSON text, one sample each."""

    source: Literal["json_pairs"]
    text: str
    batch_size: int = 2

    imports = %(imports)s

    def check_available(self, doc, *, fake_data: bool) -> None:
        pass

    def make_data(self) -> list[str]:
        return [
            '    """Pairs from a JSON text."""',%(inner)s
            f"    pairs = json.loads({literal(self.text)})",
            "    x = torch.tensor([[float(p[0])] for p in pairs])",
            "    y = torch.tensor([[float(p[1])] for p in pairs])",
            "    return ((x,), y), None",
        ]
'''

POISSON = (
    '    "PoissonNLLLoss": LossRow(\n'
    '        "regression", {"reduction": (Reduction, "mean"), "log_input": (bool, True)}\n'
    "    ),\n"
)

SPEC = """name: one_file
model:
  inputs:
    x: [N, 1]
  layers:
    fc: {op: Linear, out_features: 1}
    act: %(act)s
data: %(data)s
loss: %(loss)s
optimizer: {op: SGD, lr: 0.01}
train: {epochs: 1}
"""
LINSPACE = "{source: linspace, start: 0, end: 1, steps: 8, target: x}"


def _copy_with(tmp_path: Path, relative: str, change) -> Path:
    """A copy of the package where only `relative` differs, changed by `change(text) -> text`."""
    root = tmp_path / "site"
    shutil.copytree(PACKAGE, root / "graphspec")  # bytecode too: it is checked against each file
    target = root / "graphspec" / relative
    target.write_text(change(target.read_text() if target.exists() else ""))
    assert _differing(PACKAGE, root / "graphspec") == [relative]
    return root


def _differing(a: Path, b: Path, prefix: str = "") -> list[str]:
    """Files that differ or exist on one side only, __pycache__ left out."""
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [prefix + n for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    # dircmp compares by os.stat first; read the common files to be sure
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    out += [prefix + n for n in mismatch + errors if prefix + n not in out]
    for sub in cmp.common_dirs:
        out += _differing(a / sub, b / sub, f"{prefix}{sub}/")
    return sorted(out)


def _graphspec(root: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "graphspec", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


THREE_COMMANDS = """
import sys
from graphspec.cli import main
for args in (["validate"], ["emit", "--train", "-o", "train.py"], ["run", "-q"]):
    code = main([args[0], "spec.yaml", *args[1:]])
    if code:
        sys.exit(f"{args[0]} exited {code}")
"""


def _validate_emit_run(root: Path, tmp_path: Path, **spec: str) -> None:
    """validate, emit --train and run of a spec, in one process (torch is imported once)."""
    (tmp_path / "spec.yaml").write_text(SPEC % spec)
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", THREE_COMMANDS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "train.py").exists()


def test_the_copy_is_this_package():
    """The copies below come from the graphspec under test, not an installed one."""
    assert (PACKAGE / "ops" / "activations.py").exists() and PACKAGE.name == "graphspec"


def test_a_new_op_is_its_class(tmp_path):
    root = _copy_with(tmp_path, "ops/activations.py", lambda text: text + SOFTSIGN)
    _validate_emit_run(root, tmp_path, act="Softsign", data=LINSPACE, loss="MSELoss")
    assert "nn.Softsign()" in (tmp_path / "train.py").read_text()


def _source(imports: str, inner: str = "") -> str:
    return JSON_SOURCE % {"imports": imports, "inner": inner}


JSON_DATA = "{source: json_pairs, text: '[[0, 1], [1, 3], [2, 5], [3, 7]]'}"


def test_a_new_source_with_its_own_import_is_its_file(tmp_path):
    """The source states `import json` once, on its class; the check of the generated code
    takes it from there, so validate, emit --train and run all accept it."""
    root = _copy_with(tmp_path, "data/json_pairs.py", lambda _: _source('("import json",)'))
    _validate_emit_run(root, tmp_path, act="relu", data=JSON_DATA, loss="MSELoss")
    assert "\nimport json\n" in (tmp_path / "train.py").read_text()


def test_negative_control_an_import_the_source_does_not_state_is_refused(tmp_path):
    """The same source importing json inside make_data() without stating it: a bug, exit 1."""
    inner = '\n            "    import json",'
    root = _copy_with(tmp_path, "data/json_pairs.py", lambda _: _source("()", inner))
    (tmp_path / "spec.yaml").write_text(SPEC % dict(act="relu", data=JSON_DATA, loss="MSELoss"))
    done = _graphspec(root, tmp_path, "emit", "spec.yaml", "--train", "-o", "train.py")
    assert done.returncode == 1 and not (tmp_path / "train.py").exists(), done.stderr


def test_a_new_loss_is_its_row(tmp_path):
    """A row in language/recipe.py's LOSSES, its task on the row: validate, emit and run take it,
    and the regression task gives it the regression metrics."""

    def add_row(text: str) -> str:
        anchor = "LOSSES: dict[str, LossRow] = {\n"
        assert anchor in text
        return text.replace(anchor, anchor + POISSON)

    root = _copy_with(tmp_path, "language/recipe.py", add_row)
    _validate_emit_run(root, tmp_path, act="relu", data=LINSPACE, loss="PoissonNLLLoss")
    assert "nn.PoissonNLLLoss(" in (tmp_path / "train.py").read_text()
    check = (
        "from graphspec.language.recipe import REGRESSION_LOSSES as R; print('PoissonNLLLoss' in R)"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "True"


@pytest.mark.parametrize("relative", ["ops/activations.py", "data/json_pairs.py"])
def test_negative_control_the_comparison_sees_a_second_change(tmp_path, relative):
    root = _copy_with(tmp_path, relative, lambda text: text + "\n")
    (root / "graphspec" / "cli" / "__init__.py").write_text("# changed\n")
    assert len(_differing(PACKAGE, root / "graphspec")) == 2
