"""`graphspec sweep`: trials as run folders, pruning, resuming after SIGKILL, shared studies.

Every sweep here searches specs/digits.yaml shortened to a few epochs with a validation split,
so that a trial takes seconds and reports to the pruner after each epoch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers.runhelp import SPECS, child_env

pytest.importorskip("optuna", reason="the sweep extra is part of the test extra")  # installed

SHORT = ["train.epochs=2", "train.validation={split: 0.2}", "train.log_every=100"]
SPACES = ["optimizer.lr=choice(3e-3, 1e-6)", "model.layers.fc1.out_features=choice(16, 32, 64)"]


def sweep(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "graphspec", "sweep", *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text())


def finished(rep: dict) -> list[dict]:
    return [t for t in rep["trials"] if t["state"] in ("finished", "pruned")]


def test_a_sweep_writes_trials_prunes_and_reports(tmp_path):
    """6 trials over a grid where a learning rate of 1e-6 cannot learn: those get pruned."""
    out = sweep(
        str(SPECS / "digits.yaml"),
        *SHORT,
        *SPACES,
        "--sampler",
        "grid",
        "--trials",
        "6",
        "--runs-dir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip().splitlines()[-1])
    assert folder.parent == tmp_path / "runs" / "digits" and folder.name.startswith("sweep-")
    rep = report(folder)
    trials = finished(rep)
    assert len(trials) == 6 and len({t["trial"] for t in trials}) == 6
    assert any(t["state"] == "pruned" for t in trials), rep
    for t in trials:  # each trial is a run folder holding its sampled values
        run = Path(t["run_dir"])
        spec = yaml.safe_load((run / "spec.yaml").read_text())
        assert spec["optimizer"]["lr"] == t["params"]["optimizer.lr"]
        fc1 = spec["model"]["layers"]["fc1"]["out_features"]
        assert fc1 == t["params"]["model.layers.fc1.out_features"]
        status = json.loads((run / "meta.json").read_text())["status"]
        assert status == ("pruned" if t["state"] == "pruned" else "finished")
    seeds = {yaml.safe_load((Path(t["run_dir"]) / "spec.yaml").read_text())["seed"] for t in trials}
    assert len(seeds) == 6  # each trial its own seed, from the sweep's seed and its number
    best = rep["best"]
    assert best["params"]["optimizer.lr"] == 3e-3
    values = [t["value"] for t in trials if t["state"] == "finished"]
    assert best["value"] == min(values)
    assert f"best: trial {best['trial']}" in out.stdout
    for name in ("report.txt", "history.png", "params.png"):
        assert (folder / name).stat().st_size > 0
    listed = subprocess.run(
        [sys.executable, "-m", "graphspec", "runs", "--json", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    names = {r["run"] for r in json.loads(listed.stdout)}
    assert {f"digits/{folder.name}/{Path(t['run_dir']).name}" for t in trials} <= names


def test_sigkill_mid_trial_then_the_same_command_ends_with_n_trials(tmp_path):
    """The killed trial is marked failed, its values run again; N finished, none twice."""
    args = [
        str(SPECS / "digits.yaml"),
        "train.epochs=6",
        "train.validation={split: 0.2}",
        "optimizer.lr=tag(log, interval(1e-3, 1e-2))",
        "--trials",
        "3",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--seed",
        "3",
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "graphspec", "sweep", *args],
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    victim = _wait_for_a_running_trial(tmp_path / "runs", number=1, timeout=300)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    assert json.loads((victim / "meta.json").read_text())["status"] == "running"
    out = sweep(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "trial 1 was cut off" in out.stdout
    rep = report(Path(out.stdout.strip().splitlines()[-1]))
    assert len(finished(rep)) == 3
    states = {t["trial"]: t["state"] for t in rep["trials"]}
    assert states[1] == "failed"
    redo = [t for t in rep["trials"] if t["redo_of"] == 1]
    assert len(redo) == 1 and redo[0]["state"] in ("finished", "pruned")
    killed = next(t for t in rep["trials"] if t["trial"] == 1)
    assert redo[0]["params"] == killed["params"]


def _wait_for_a_running_trial(runs: Path, number: int, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for trial in runs.glob(f"digits/sweep-*/trial-{number:04d}"):
            metrics = trial / "metrics.jsonl"
            if metrics.exists() and metrics.read_text().count("\n") >= 2:
                return trial
        time.sleep(0.05)
    raise AssertionError(f"trial {number} never started training")


def test_two_workers_on_one_journal_share_the_study(tmp_path):
    out = sweep(
        str(SPECS / "digits.yaml"),
        *SHORT,
        "optimizer.lr=tag(log, interval(1e-3, 1e-2))",
        "--trials",
        "4",
        "--workers",
        "2",
        "--pruner",
        "none",
        "--runs-dir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rep = report(Path(out.stdout.strip().splitlines()[-1]))
    _check_shared(rep, 4)
    owners = {
        json.loads((Path(t["run_dir"]) / "meta.json").read_text())["argv"][0] for t in finished(rep)
    }
    assert owners  # every trial left a complete run folder


def _check_shared(rep: dict, n: int) -> None:
    done = finished(rep)
    assert len(done) == n, rep
    assert len({t["trial"] for t in done}) == n
    assert len({t["run_dir"] for t in done}) == n
    assert all((Path(t["run_dir"]) / "weights.pt").exists() for t in done)
    assert not [t for t in rep["trials"] if t["state"] in ("running", "failed")]


MALFORMED = [
    ("optimizer.lr=interval(1e-1)", "interval() takes 2 numbers", 14),
    ("optimizer.lr=choice()", "choice() needs at least one value", 14),
    ("optimizer.lr=tag(log, interval(0, 1))", "a log scale needs bounds > 0", 23),
    ("optimizer.lr=tag(log, interval(-1, 1))", "a log scale needs bounds > 0", 23),
    ("optimizer.lr=interval(1, 0.5)", "the low bound must be below the high", 14),
    ("optimizer.lr=range(5, 5)", "holds no value", 14),
    ("optimizer.lr=uniform(1, 2)", "unknown search function 'uniform'", 14),
    ("optimizer.lr=choice(1, 2", "expected ')'", 25),
    ("optimizer.lr=interval(1e-4, x)", "takes finite numbers", 29),
]


@pytest.mark.parametrize(("item", "message", "col"), MALFORMED)
def test_a_malformed_space_is_an_error_at_the_override(tmp_path, capsys, item, message, col):
    from graphspec.cli import main

    code = main(["sweep", str(SPECS / "digits.yaml"), "--set", item, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--set {item}:1:{col}: error[E-SWEEP]" in err and message in err, err
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ("optimizer.lrx=interval(1e-4, 1e-1)", "optimizer.lrx"),  # no such field
        ("train.epochs=interval(0.5, 2.5)", "train.epochs"),  # a float for an integer field
        ("data.batch_size=choice(16, big)", "data.batch_size"),  # one choice does not fit
    ],
)
def test_a_space_that_does_not_fit_its_field_is_refused_before_any_trial(
    tmp_path, capsys, item, field
):
    from graphspec.cli import main

    code = main(["sweep", str(SPECS / "digits.yaml"), "--set", item, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"--set {field}"), err
    assert not any(tmp_path.iterdir())


def test_two_machines_share_one_study_through_postgresql(tmp_path):
    """Two sweep commands, each with its own sweep folder (as on two machines), one database."""
    from helpers import postgres

    with postgres.server() as url:
        args = [
            str(SPECS / "digits.yaml"),
            *SHORT,
            "optimizer.lr=tag(log, interval(1e-3, 1e-2))",
            "--trials",
            "4",
            "--pruner",
            "none",
            "--storage",
            url,
        ]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "graphspec", "sweep", *args, "--out", str(tmp_path / name)],
                cwd=tmp_path,
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in ("machine-a", "machine-b")
        ]
        outs = [p.communicate(timeout=900) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        import optuna

        (summary,) = optuna.study.get_all_study_summaries(url)
        study = optuna.load_study(study_name=summary.study_name, storage=url)
        rep = {
            "trials": [
                {
                    "trial": t.number,
                    "state": {"COMPLETE": "finished"}.get(t.state.name, t.state.name.lower()),
                    "run_dir": t.user_attrs["run_dir"],
                }
                for t in study.trials
            ]
        }
    _check_shared(rep, 4)
    homes = {Path(t["run_dir"]).parent.name for t in rep["trials"]}
    assert homes <= {"machine-a", "machine-b"}


def test_an_unreachable_storage_is_an_error_before_any_trial(tmp_path, capsys):
    from graphspec.cli import main

    url = "postgresql://nobody:secret@127.0.0.1:1/nowhere"  # port 1: refused at once
    code = main(["sweep", str(SPECS / "digits.yaml"), "optimizer.lr=interval(1e-4, 1e-2)",
                 "--storage", url, "--out", str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error[E-IO]: cannot open the study's database" in err
    assert "secret" not in err  # the password never reaches the terminal
    assert not list((tmp_path / "s").glob("trial-*"))
