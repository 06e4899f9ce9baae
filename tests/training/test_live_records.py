"""A run's tensorboard/ and metrics.csv are written as it logs, not replayed at its end."""

from __future__ import annotations

import csv
import json
import signal
import time
from pathlib import Path

import pytest
from helpers.runhelp import SPECS, run_cli, spawn

from graphspec.training import events


def _wait(predicate, proc, timeout: float = 120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the run ended first: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    pytest.fail("nothing was logged in time")


def _scalars(folder: Path, tag: str):
    from tensorboard.backend.event_processing import event_accumulator  # the test extra

    if not folder.is_dir():
        return []
    acc = event_accumulator.EventAccumulator(str(folder))
    acc.Reload()
    return acc.Scalars(tag) if tag in acc.Tags()["scalars"] else []


def test_tensorboard_and_csv_follow_a_running_run(tmp_path):
    """A run started in the background: its train/loss scalars, with wall times of their own
    log, and its metrics.csv rows are readable while it still trains."""
    started = time.time()
    proc = spawn(SPECS / "regression.yaml", "--set", "train.steps=10000000",
                 "--set", "train.log_every=50", "-q", "--no-plots", runs=tmp_path)  # fmt: skip
    try:
        run_dir = _wait(lambda: next(tmp_path.glob("regression/*/metrics.jsonl"), None), proc)
        run_dir = run_dir.parent
        seen = _wait(lambda: _scalars(run_dir / "tensorboard", "train/loss"), proc)
        rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
        assert proc.poll() is None, "the run must still be training"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    assert seen[0].step == 50 and seen[0].value > 0
    assert started <= seen[0].wall_time <= time.time()  # the log's own time, not a replay's
    assert (
        rows
        and rows[0]["step"] == "50"
        and float(rows[0]["loss"]) == pytest.approx(seen[0].value, rel=1e-6)
    )


def test_event_scalars_match_metrics_and_leave_counts_out(tmp_path):
    """After a run: every logged loss is a train/loss scalar at its step, the evaluation's
    numbers are eval/ scalars, and its counts (samples, correct) are not."""
    res = run_cli(SPECS / "wine.yaml", "train.epochs=2", "seed=0", runs=tmp_path)
    assert res.code == 0, res.err
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(res.run_dir / "tensorboard"))
    acc.Reload()
    names = acc.Tags()["scalars"]
    records = [json.loads(x) for x in (res.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "lr" in r]
    assert [e.step for e in acc.Scalars("train/loss")] == [r["step"] for r in steps]
    evaluation = next(r for r in records if "split" in r)
    assert "samples" in evaluation  # still in metrics.jsonl
    assert not [n for n in names if n.endswith(("/samples", "/correct"))], names
    assert any(n.startswith("eval/") for n in names), names


def test_tags_name_each_number_once():
    assert events.tags({"step": 5, "epoch": 1, "batch": 5, "loss": 0.5, "lr": 0.1}) == [
        ("train/loss", 0.5),
        ("train/lr", 0.1),
    ]
    assert events.tags({"step": 9, "val_loss": 0.25, "val_accuracy": 0.5}) == [
        ("val/loss", 0.25),
        ("val/accuracy", 0.5),
    ]
    assert events.tags({"step": 9, "split": "test", "loss": 1.0, "samples": 10, "correct": 3}) == [
        ("eval/test/loss", 1.0)
    ]
