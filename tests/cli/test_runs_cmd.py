"""`graphspec runs` and `graphspec runs compare` on real run folders from short runs, damaged
ones beside them (listed with their state, never a crash)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import pytest
from helpers.runhelp import ROOT, SPECS, run_cli

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    a = run_cli(SPECS / "regression.yaml", "train.steps=10", "seed=1", "-q", runs=runs)
    b = run_cli(
        SPECS / "regression.yaml", "train.steps=15", "optimizer.lr=0.05", "seed=1", "-q", runs=runs
    )
    assert a.code == 0 and b.code == 0, a.err + b.err
    return runs, a.run_dir, b.run_dir


def test_runs_lists_every_run_with_its_final_numbers(two_runs):
    runs, a, b = two_runs
    code, out, err = _cli("runs", str(runs), "--json")
    assert code == 0, err
    listed = {r["path"]: r for r in json.loads(out)}
    assert set(listed) >= {str(a), str(b)}
    ra, rb = listed[str(a)], listed[str(b)]
    assert ra["status"] == "finished" and ra["steps"] == 10 and rb["steps"] == 15
    assert ra["spec"] == "regression" and ra["seed"] == 1
    last = json.loads((a / "metrics.jsonl").read_text().splitlines()[-1])
    assert ra["final"]["train"]["loss"] == pytest.approx(last["loss"])
    assert ra["train_loss"] != rb["train_loss"]  # negative control: the runs differ
    code, out, err = _cli("runs", str(runs))
    assert code == 0 and a.name in out and "finished" in out


def test_broken_folders_are_listed_with_their_state(two_runs, tmp_path):
    runs, a, _ = two_runs
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(a, root / "ok" / "1")
    shutil.copytree(a, root / "corrupt" / "1")
    (root / "corrupt" / "1" / "meta.json").write_text("{not json")
    shutil.copytree(a, root / "killed" / "1")
    meta = json.loads((a / "meta.json").read_text())
    meta["status"] = "running"
    (root / "killed" / "1" / "meta.json").write_text(json.dumps(meta))
    (root / "cut" / "1").mkdir(parents=True)
    (root / "cut" / "1" / "metrics.jsonl").write_text('{"step": 5, "loss": 0.5, "lr": 0.1}\n{"st')
    os.mkfifo(root / "cut" / "1" / "meta.json")  # a FIFO is never opened for reading
    code, out, err = _cli("runs", str(root), "--json")
    assert code == 0, err
    status = {r["run"]: r for r in json.loads(out)}
    assert status["ok/1"]["status"] == "finished"
    assert status["corrupt/1"]["status"] == "damaged"
    assert status["killed/1"]["status"] == "stopped"  # "running", but no process holds it
    assert status["cut/1"]["status"] == "damaged" and status["cut/1"]["steps"] == 5
    assert any("unreadable line" in p for p in status["cut/1"]["problems"])
    code, out, err = _cli("runs", str(root))
    assert code == 0 and "damaged" in out and "Traceback" not in err


def test_compare_shows_the_differences_and_draws_the_losses(two_runs, tmp_path):
    runs, a, b = two_runs
    plot = tmp_path / "cmp.png"
    code, out, err = _cli("runs", "compare", str(a), str(b), "-o", str(plot), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["differences"] == {"optimizer.lr": [0.2, 0.05], "train.steps": [10, 15]}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = _cli("runs", "compare", str(a), str(a), "--no-plot")
    assert code == 0 and "the same" in out  # negative control: a run against itself
    code, out, err = _cli("runs", "compare", str(a), str(tmp_path / "nope"), "--no-plot")
    assert code == 2 and "E-IO" in err and "nope" in err


def test_runs_does_not_import_torch(two_runs):
    runs, a, b = two_runs
    script = (
        "import sys; from graphspec.cli import main\n"
        f"main(['runs', {str(runs)!r}]); main(['runs', 'compare', {str(a)!r}, {str(b)!r},"
        " '--no-plot'])\nprint('torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("False"), proc.stderr


def test_a_missing_runs_folder_is_an_input_error(tmp_path):
    code, out, err = _cli("runs", str(tmp_path / "none"))
    assert code == 2 and "E-IO" in err


def test_compare_heads_columns_with_what_differs(two_runs, tmp_path):
    """Columns and legend say `lr=0.2, steps=10`, not truncated folder names; the folders are
    a row of their own; smoothing and a log axis draw too."""
    runs, a, b = two_runs
    code, out, err = _cli("runs", "compare", str(a), str(b), "--no-plot", "--json")
    assert json.loads(out)["labels"] == ["lr=0.2, steps=10", "lr=0.05, steps=15"]
    code, out, err = _cli("runs", "compare", str(a), str(b), "--no-plot")
    assert code == 0 and "lr=0.05, steps=15" in out and a.name in out
    plot = tmp_path / "smooth.png"
    code, _, err = _cli("runs", "compare", str(a), str(b), "-o", str(plot), "--smooth", "0.6",
                        "--log-y")  # fmt: skip
    assert code == 0, err
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_smoothing_is_tensorboards_debiased_average():
    from graphspec.training.records import smoothed

    assert smoothed([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased
    assert smoothed([0.0, 10.0], 0.5) == pytest.approx([0.0, 10.0 * 0.5 / 0.75])
    assert smoothed([3.0, 4.0], 0.0) == [3.0, 4.0]


def test_compare_plots_and_lists_the_validation(tmp_path):
    """A validated run: its val losses are read for the plot, and `runs` shows the best."""
    root = tmp_path / "runs"
    res = run_cli(SPECS / "regression.yaml", "train.steps=20", "seed=1",
                  "train.validation={split: 0.2, every: 5}", "-q", runs=root)  # fmt: skip
    assert res.code == 0, res.err
    from graphspec.training.records import read

    run = read(res.run_dir)
    assert [s for s, _ in run.val_losses] == [5, 10, 15, 20]
    assert run.best_text.startswith("val_loss ") and "@ step" in run.best_text
    code, out, _ = _cli("runs", str(root))
    assert code == 0 and "best val" in out and "val_loss" in out
