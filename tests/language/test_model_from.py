"""`model: {from: FILE}`: a training spec takes its model from another spec file.

Every refusal is exit 2 at the `from:` value (FILE:LINE:COL), each attack beside a negative
control that is accepted; errors inside the model file point into that file."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_file, compile_text
from graphspec.core.errors import SpecError
from graphspec.language import load

ROOT = Path(__file__).resolve().parents[2]

MODEL = """\
name: mlp
constants: {width: 8}
model:
  class: MLP
  inputs: {x: [N, 1]}
  layers:
    fc1: {op: Linear, out_features: width}
    act: relu
    fc2: {op: Linear, out_features: 1}
"""
TRAIN = """\
name: reuse
model:
  from: {ref}
data: {{source: linspace, start: -1, end: 1, steps: 40, target: x**2}}
loss: MSELoss
optimizer: {{op: SGD, lr: 0.1}}
train: {{steps: 6, log_every: 2}}
device: cpu
"""
FROM_POS = (3, 9)  # line and column of the `from:` value in TRAIN


def _project(tmp_path: Path, ref: str = "zoo/mlp.yaml", git: bool = True) -> Path:
    """A project folder: zoo/mlp.yaml and train.yaml taking its model from `ref`."""
    proj = tmp_path / "proj"
    (proj / "zoo").mkdir(parents=True)
    if git:
        (proj / ".git").mkdir()
    (proj / "zoo" / "mlp.yaml").write_text(MODEL)
    (proj / "train.yaml").write_text(TRAIN.format(ref=ref))
    return proj


def _error(path: Path) -> tuple[str, str, int, int]:
    with pytest.raises(SpecError) as info:
        compile_file(path)
    p = info.value.problems[0]
    return p.code, p.message, p.pos.line, p.pos.col


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_the_model_its_constants_and_blocks_are_taken(tmp_path):
    proj = _project(tmp_path)
    c = compile_file(proj / "train.yaml")
    assert c.spec.model.class_ == "MLP" and list(c.spec.model.layers) == ["fc1", "act", "fc2"]
    assert c.graph.total_params == 1 * 8 + 8 + 8 * 1 + 1  # width 8 from the model's file
    assert c.spec.name == "reuse" and c.spec.optimizer.lr == 0.1  # training: this file's own
    model = str(proj / "zoo" / "mlp.yaml")
    written_out = compile_text((proj / "zoo" / "mlp.yaml").read_text(), "same.yaml")
    # each line's comment names the model file's line, by the file's name
    assert f"# (N, 8)  {Path(model).name}:7" in c.source
    mine = c.source.replace(str(proj / "train.yaml"), "").replace(Path(model).name, "")
    assert mine == written_out.source.replace("same.yaml", "")
    assert load.load_file(proj / "train.yaml").includes == [str(proj / "zoo" / "mlp.yaml")]


def test_this_files_entries_merge_over_the_models(tmp_path):
    proj = _project(tmp_path)
    text = (proj / "train.yaml").read_text()
    text = text.replace("name: reuse\n", "name: reuse\nconstants: {width: 3}\n")
    text = text.replace(
        "  from: zoo/mlp.yaml\n",
        "  from: zoo/mlp.yaml\n  class: Wide\n  layers:\n    fc2: {out_features: 2}\n"
        "    out: {op: Linear, out_features: 1}\n",
    )
    (proj / "train.yaml").write_text(text)
    c = compile_file(proj / "train.yaml")
    assert c.spec.model.class_ == "Wide"
    assert list(c.spec.model.layers) == ["fc1", "act", "fc2", "out"]  # a new layer at the end
    assert c.spec.model.layers["fc2"].out_features == 2
    assert c.graph.total_params == (3 + 3) + (3 * 2 + 2) + (2 + 1)  # width 3: this file's


def test_an_error_inside_the_model_file_points_into_it(tmp_path):
    proj = _project(tmp_path)
    model = proj / "zoo" / "mlp.yaml"
    model.write_text(MODEL.replace("op: Linear, out_features: 1", "op: Lineer, out_features: 1"))
    with pytest.raises(SpecError) as info:
        compile_file(proj / "train.yaml")
    p = info.value.problems[0]
    assert p.code == "E-OP" and p.pos.file == str(model) and (p.pos.line, p.pos.col) == (9, 15)
    # an expression's column inside a quoted value is counted in the model's own text
    model.write_text(MODEL.replace("out_features: width}", 'out_features: "width *"}'))
    direct = _error(model)
    assert _error(proj / "train.yaml") == direct and direct[0] == "E-EXPR"
    model.write_text(MODEL + "  outputs: [fc2\n")  # YAML syntax error in the model file
    with pytest.raises(SpecError) as info:
        compile_file(proj / "train.yaml")
    p = info.value.problems[0]
    assert p.code == "E-YAML" and p.pos.file == str(model) and p.pos.line >= 10


@pytest.mark.parametrize(
    ("ref", "code", "says"),
    [
        ("../outside.yaml", "E-PATH", "outside the project"),
        ("zoo/../../outside.yaml", "E-PATH", "outside the project"),
        ("{outside}", "E-PATH", "outside the project"),  # absolute, outside
        ("zoo/link.yaml", "E-PATH", "symbolic link"),  # a link inside, pointing out
        ("zoo/missing.yaml", "E-IO", "does not exist"),
        ("zoo", "E-IO", "is a directory"),
        ("zoo/fifo.yaml", "E-IO", "not a regular file"),
        ("zoo/big.yaml", "E-LIMIT", "the limit is 1 MiB"),
        ("train.yaml", "E-CYCLE", "train.yaml -> train.yaml"),  # itself
        ("zoo/a.yaml", "E-CYCLE", "train.yaml -> zoo/a.yaml -> zoo/b.yaml -> zoo/a.yaml"),
        ("zoo/nomodel.yaml", "E-MISSING", "has no model"),
        ("''", "E-TYPE", "path of a spec file"),
        ("[zoo/mlp.yaml]", "E-TYPE", "path of a spec file"),
    ],
)
def test_refusals_are_at_the_from_value(tmp_path, ref, code, says):
    outside = tmp_path / "outside.yaml"
    outside.write_text(MODEL)  # it exists and is a fine spec: the rule alone refuses it
    proj = _project(tmp_path, ref.format(outside=outside))
    zoo = proj / "zoo"
    (zoo / "link.yaml").symlink_to(outside)
    os.mkfifo(zoo / "fifo.yaml")
    (zoo / "big.yaml").write_text(MODEL + "# " + "x" * (1 << 20) + "\n")
    (zoo / "a.yaml").write_text("name: a\nmodel: {from: b.yaml}\n")
    (zoo / "b.yaml").write_text("name: b\nmodel:\n  from: a.yaml\n")
    (zoo / "nomodel.yaml").write_text("name: nomodel\nloss: MSELoss\n")
    runs = tmp_path / "runs"
    # a subprocess: a FIFO that were opened would hang it, and the timeout would say so
    proc = subprocess.run(
        [sys.executable, "-m", "graphspec", "run", "train.yaml", "--runs-dir", str(runs)],
        cwd=proj,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[0]
    where = f"train.yaml:{FROM_POS[0]}:{FROM_POS[1]}: error[{code}]"
    if code == "E-CYCLE" and ref == "zoo/a.yaml":
        where = f"zoo/b.yaml:3:9: error[{code}]"  # where the chain closes
        says = "zoo/a.yaml -> zoo/b.yaml -> zoo/a.yaml"
    assert line.startswith(where) and says in line, line
    assert "Traceback" not in proc.stderr and not runs.exists()


@pytest.mark.parametrize(
    "ref",
    [
        "zoo/mlp.yaml",
        "./zoo/../zoo/mlp.yaml",  # `..` that stays inside
        "zoo/inner.yaml",  # a symbolic link inside the project, to a file inside it
        "{proj}/zoo/mlp.yaml",  # absolute, inside
        "zoo/chain.yaml",  # a model file that takes its model from a third file
    ],
)
def test_negative_controls_are_accepted(tmp_path, ref):
    proj = tmp_path / "proj"
    proj = _project(tmp_path, ref.format(proj=proj))
    (proj / "zoo" / "inner.yaml").symlink_to(proj / "zoo" / "mlp.yaml")
    (proj / "zoo" / "chain.yaml").write_text("name: chain\nmodel: {from: mlp.yaml}\n")
    c = compile_file(proj / "train.yaml")
    assert c.spec.model.class_ == "MLP"


def test_the_project_is_the_git_working_tree_or_the_specs_folder(tmp_path):
    for git in (True, False):
        base = tmp_path / str(git)
        proj = _project(base, git=git)
        exp = proj / "experiments"
        exp.mkdir()
        (exp / "train.yaml").write_text(TRAIN.format(ref="../zoo/mlp.yaml"))
        if git:  # inside one git working tree: a sibling folder is in the project
            assert compile_file(exp / "train.yaml").spec.model.class_ == "MLP"
        else:  # outside git only the spec's own folder is
            assert _error(exp / "train.yaml")[:1] == ("E-PATH",)


def test_the_repository_spec_reaches_the_zoo():
    c = compile_file(ROOT / "specs" / "resnet18_fake.yaml")
    assert c.spec.model.class_ == "ResNet" and c.graph.total_params == 11_181_642
    assert c.spec.model.layers["fc"].out_features == 10


def test_overrides_work_on_the_taken_model(tmp_path):
    proj = _project(tmp_path)
    code, out, err = _cli(
        "run", str(proj / "train.yaml"), "model.layers.fc1.out_features=5", "--print-config"
    )
    assert code == 0, err
    printed = yaml.safe_load(out)
    assert "from" not in printed["model"] and printed["model"]["layers"]["fc1"]["out_features"] == 5
    assert printed["constants"] == {"width": 8}
    code, out, err = _cli("run", str(proj / "train.yaml"), "--set", "constants.width=-1")
    assert code == 2 and "E-" in err  # validated like the file
    code, out, err = _cli("run", str(proj / "train.yaml"), "model.from=zoo/x.yaml")
    assert code == 2 and err.startswith("--set model.from:1:1: error[E-SCHEMA]"), err


def test_the_run_folder_spec_repeats_the_run_without_the_model_file(tmp_path):
    pytest.importorskip("torch")
    proj = _project(tmp_path)
    runs = tmp_path / "runs"
    code, out, err = _cli("run", str(proj / "train.yaml"), "seed=3", "--runs-dir", str(runs))
    assert code == 0, err
    first = Path(out.strip().splitlines()[-1])
    stored = (first / "spec.yaml").read_text()
    assert "from" not in yaml.safe_load(stored)["model"] and "fc1:" in stored
    (proj / "zoo" / "mlp.yaml").unlink()  # the model file is gone; the run folder suffices
    again = tmp_path / "again.yaml"
    again.write_text(stored)
    code, out2, err = _cli("run", str(again), "--runs-dir", str(runs))
    assert code == 0, err
    second = Path(out2.strip().splitlines()[-1])
    assert (first / "metrics.jsonl").read_text().splitlines()[-1] == (
        second / "metrics.jsonl"
    ).read_text().splitlines()[-1]
    loss_lines = [line for line in out.splitlines() if line.startswith("step")]
    assert loss_lines and loss_lines == [x for x in out2.splitlines() if x.startswith("step")]


def test_validate_summary_emit_render_go_through_it(tmp_path):
    proj = _project(tmp_path)
    spec = str(proj / "train.yaml")
    for argv in (["validate", spec], ["summary", spec], ["emit", spec]):
        code, out, err = _cli(*argv)
        assert code == 0 and out, (argv, err)
    code, out, err = _cli("emit", spec)
    assert "class MLP(nn.Module)" in out
    code, out, err = _cli("render", spec, "-o", str(tmp_path / "g.dot"))
    assert code == 0 and "fc1" in (tmp_path / "g.dot").read_text(), err


def test_compile_text_reads_from_the_current_folder(tmp_path, monkeypatch):
    proj = _project(tmp_path)
    monkeypatch.chdir(proj)
    c = compile_text(TRAIN.format(ref="zoo/mlp.yaml"))
    assert c.spec.model.class_ == "MLP"
    with pytest.raises(SpecError) as info:
        compile_text(TRAIN.format(ref="../outside.yaml"))
    assert info.value.problems[0].code == "E-PATH"
    assert str(info.value.problems[0].pos) == "<spec>:3:9"


def test_the_loader_limits_hold_inside_the_model_file(tmp_path):
    proj = _project(tmp_path)
    model = proj / "zoo" / "mlp.yaml"
    model.write_text(MODEL + "blocks: &a {}\n")  # an anchor, refused in any spec file
    with pytest.raises(SpecError) as info:
        compile_file(proj / "train.yaml")
    p = info.value.problems[0]
    assert p.code == "E-ALIAS" and p.pos.file == str(model) and p.pos.line == 10
    model.write_bytes(MODEL.encode() + b"\xff\n")
    assert _error(proj / "train.yaml")[0] == "E-ENCODING"
