"""Outputs never replace what must be kept; hostile run folders are listed, never crash.

- `export -o` onto a run folder's weights.pt, an existing folder, /proc/version or an existing
  file (without --overwrite) is E-IO before any work; the run folder's checksum is unchanged
  (the negative control: with --overwrite an ordinary existing file is replaced).
- A run folder's weights.pt that is a FIFO is refused without blocking (a time limit).
- `export --weights` of a missing folder, or of one whose spec.yaml is a FIFO, says so.
- `graphspec runs` lists a meta.json nested 100,000 deep as damaged; `runs compare` draws
  folders whose names are not UTF-8; `-o c.exe` is E-USAGE; a stopped run says whether it can
  be resumed (a checkpoint exists).
- A spec whose `from:` file lacks the constants:/blocks: it merges takes them as empty.
- `reduction: none` is refused at validate; BCE with integer labels before training.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers.runhelp import SPECS, run_cli

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def _cli(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _one_error(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"error[{code}]" in lines[0], err
    return lines[0]


def folder_checksum(folder: Path) -> str:
    """sha256 over every file's relative name and bytes: any change to the folder shows."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    res = run_cli(
        SPECS / "regression.yaml", "--set", "train.steps=4", "--quiet", "--no-plots",
        runs=tmp_path_factory.mktemp("runs"),
    )  # fmt: skip
    assert res.code == 0, res.err
    return res.run_dir


@pytest.fixture
def run(tmp_path, finished_run) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# -- export -o --------------------------------------------------------------------------------


def test_export_onto_the_runs_own_weights_is_refused(run):
    before = folder_checksum(run)
    code, _, err = _cli("export", "--weights", run, "-o", run / "weights.pt")
    assert code == 2
    assert "belongs to a run folder" in _one_error(err, "E-IO")
    code, _, err = _cli("export", "--weights", run, "-o", run / "weights.pt", "--overwrite")
    assert code == 2 and "belongs to a run folder" in err  # not even with the flag
    assert folder_checksum(run) == before


@pytest.mark.parametrize("where", ["folder", "proc", "existing"])
def test_export_onto_what_cannot_take_it_is_e_io_before_the_work(tmp_path, where, monkeypatch):
    from graphspec.export import exporter

    monkeypatch.setattr(exporter, "_model", lambda *a: pytest.fail("the export ran"))
    target = {"folder": tmp_path, "proc": Path("/proc/version"), "existing": tmp_path / "x.pt2"}
    (tmp_path / "x.pt2").write_bytes(b"kept")
    if where == "proc" and not target["proc"].exists():
        pytest.skip("no /proc here")
    args = ["--overwrite"] if where == "proc" else []
    code, _, err = _cli("export", SPECS / "regression.yaml", "-o", target[where], *args)
    assert code == 2
    _one_error(err, "E-IO")
    assert (tmp_path / "x.pt2").read_bytes() == b"kept"


def test_negative_control_overwrite_replaces_an_ordinary_file(tmp_path):
    target = tmp_path / "x.pt2"
    target.write_bytes(b"old")
    code, _, err = _cli("export", SPECS / "regression.yaml", "-o", target, "--overwrite")
    assert code == 0, err
    assert target.read_bytes() != b"old"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_export_of_a_run_whose_weights_are_a_fifo_does_not_block(run, tmp_path):
    (run / "weights.pt").unlink()
    os.mkfifo(run / "weights.pt")
    result: list = []
    worker = threading.Thread(
        target=lambda: result.append(_cli("export", "--weights", run, "-o", tmp_path / "o.pt2")),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=120)
    assert result, "export blocked on a FIFO named weights.pt"
    code, _, err = result[0]
    assert code == 2 and "not a regular file" in _one_error(err, "E-CKPT")


def test_export_of_a_missing_run_folder_says_so(tmp_path):
    code, _, err = _cli("export", "--weights", tmp_path / "nope", "-o", tmp_path / "o.pt2")
    assert code == 2 and "no such run folder" in _one_error(err, "E-IO")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_export_of_a_run_whose_spec_is_a_fifo_says_so(run, tmp_path):
    (run / "spec.yaml").unlink()
    os.mkfifo(run / "spec.yaml")
    code, _, err = _cli("export", "--weights", run, "-o", tmp_path / "o.pt2")
    assert code == 2 and "not a regular file" in _one_error(err, "E-IO")


# -- graphspec runs -----------------------------------------------------------------------------


def test_a_meta_json_nested_deep_is_listed_as_damaged(run, tmp_path):
    (run / "meta.json").write_text("[" * 100_000 + "]" * 100_000)
    code, out, err = _cli("runs", run.parent, "--json")
    assert code == 0, err
    (listed,) = json.loads(out)
    assert listed["status"] == "damaged"


def test_runs_compare_draws_folders_whose_names_are_not_utf8(finished_run, tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    odd = os.path.join(os.fsencode(root), b"caf\xe9")  # Latin-1, not UTF-8
    shutil.copytree(finished_run, os.fsdecode(odd))
    shutil.copytree(finished_run, root / "plain")
    plot = tmp_path / "c.png"
    code, out, err = _cli("runs", "compare", os.fsdecode(odd), root / "plain", "-o", plot)
    assert code == 0, err
    assert plot.stat().st_size > 0
    code, out, err = _cli("runs", root)
    assert code == 0, err


def test_runs_compare_refuses_a_plot_format_it_cannot_draw(finished_run, tmp_path):
    code, _, err = _cli("runs", "compare", finished_run, finished_run, "-o", tmp_path / "c.exe")
    assert code == 2 and ".png, .svg or .pdf" in _one_error(err, "E-USAGE")
    assert not (tmp_path / "c.exe").exists()


@pytest.mark.parametrize("checkpoints", [True, False])
def test_runs_tells_a_resumable_run_from_one_that_is_not(run, checkpoints):
    meta = json.loads((run / "meta.json").read_text())
    meta["status"] = "running"  # its process gone: no lock held
    (run / "meta.json").write_text(json.dumps(meta))
    if not checkpoints:
        shutil.rmtree(run / "checkpoints")
    code, out, err = _cli("runs", run.parent, "--json")
    assert code == 0, err
    (listed,) = json.loads(out)
    assert listed["status"] == "stopped" and listed["resumable"] is checkpoints
    said = " ".join(listed["problems"])
    assert ("resume it with --resume" in said) is checkpoints
    assert ("cannot be resumed" in said) is not checkpoints


# -- from: files, losses ----------------------------------------------------------------------

MODEL_FILE = (
    "name: m\nmodel:\n  inputs: {x: [N, 4]}\n  layers:\n    out: {op: Linear, out_features: 2}\n"
)


def test_a_from_file_without_the_sections_the_spec_merges(tmp_path):
    (tmp_path / "m.yaml").write_text(MODEL_FILE)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "name: s\nconstants: {n: 3}\nblocks:\n  B:\n    inputs: {x: [N, 4]}\n    layers:\n"
        "      fc: {op: Linear, out_features: n}\nmodel:\n  from: m.yaml\n"
    )
    code, _, err = _cli("validate", spec)
    assert code == 0, err


def test_a_loss_reduction_of_none_is_refused_at_validate(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        (SPECS / "regression.yaml")
        .read_text()
        .replace("loss: MSELoss", "loss: {op: MSELoss, reduction: none}")  # fmt: skip
    )
    code, _, err = _cli("validate", spec)
    assert code == 2 and "one number per batch" in _one_error(err, "E-ENUM")


BCE = """\
name: bce
model:
  inputs: {x: [N, 2]}
  layers:
    out: {op: Linear, out_features: 1}
data: {source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}
loss: BCEWithLogitsLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 2}
seed: 1
device: cpu
"""


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_bce_with_integer_labels_is_refused_before_training(tmp_path, monkeypatch, dtype):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez("d.npz", x=rng.normal(size=(16, 2)).astype(np.float32),
             y=rng.integers(0, 2, (16, 1)).astype(dtype))  # fmt: skip
    (tmp_path / "s.yaml").write_text(BCE)
    res = run_cli("s.yaml", "--quiet", "--no-plots", runs=tmp_path / "runs")
    if dtype is np.float32:  # the negative control: float labels train
        assert res.code == 0, res.err
        return
    assert res.code == 2
    assert "wants float targets" in _one_error(res.err, "E-DATA")


def test_resume_of_a_missing_run_folder_says_so(tmp_path):
    res = run_cli("--resume", tmp_path / "nope")
    assert res.code == 2 and "no such run folder" in _one_error(res.err, "E-RESUME")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_resume_of_a_run_whose_spec_is_a_fifo_says_so(run):
    (run / "spec.yaml").unlink()
    os.mkfifo(run / "spec.yaml")
    res = run_cli("--resume", run)
    assert res.code == 2 and "not a regular file" in _one_error(res.err, "E-RESUME")
