"""Interrupted runs: SIGKILL, SIGINT and SIGTERM, resumed bit-exactly; NaN stops with exit 3.

The run under test is the digits spec shortened to 3 epochs of 45 batches: shuffled data (the
order comes from the data generator), dropout (the global RNG), Adam (optimizer state) and a
StepLR (scheduler state), so leaving out any one piece of state changes the result.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch
from helpers.runhelp import SPECS, losses, meta, run_cli, spawn, state_digest

from graphspec.training import checkpoint, session

ARGS = (
    SPECS / "digits.yaml",
    "--set",
    "train.epochs=3",
    "--set",
    "train.log_every=1",
    "--set",
    "train.checkpoint_every=10",
    "--set",
    "scheduler.step_size=1",
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    res = run_cli(*ARGS, runs=tmp_path_factory.mktemp("whole"))
    assert res.code == 0, res.err
    return res.run_dir


def _wait_for(predicate, proc, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended first: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.005)


def test_sigkill_mid_epoch_then_resume_is_bit_exact(tmp_path, uninterrupted):
    proc = spawn(*ARGS, runs=tmp_path)
    _wait_for(lambda: any(tmp_path.glob("digits/*/checkpoints/step-*.pt")), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    [run] = tmp_path.glob("digits/*")
    assert not (run / "weights.pt").exists(), "the kill came after the end"
    ckpt = torch.load(checkpoint.listing(run)[0], weights_only=True)
    assert 0 < ckpt["batch"] < 45, "killed mid-epoch"

    res = run_cli("--resume", run)
    assert res.code == 0, res.err
    assert f"resuming from {run / 'checkpoints'}" in res.out
    assert state_digest(run) == state_digest(uninterrupted)
    assert losses(run) == losses(uninterrupted)


def test_resume_without_rng_restore_differs(tmp_path, uninterrupted, monkeypatch):
    """Negative control: the same resume with the RNG states left out must not match."""
    first = run_cli(*ARGS, "--set", "train.steps=20", runs=tmp_path)  # stops mid-epoch 1
    assert first.code == 0, first.err
    run = first.run_dir
    resumed = run_cli("--resume", run, "--set", "train.steps=null")
    assert resumed.code == 0, resumed.err
    assert state_digest(run) == state_digest(uninterrupted)  # the positive control

    second = run_cli(*ARGS, "--set", "train.steps=20", runs=tmp_path / "b")

    def skip_rng(ckpt, state, generator):  # keep the data position, drop the random streams
        state.epoch_rng = ckpt["rng"]["epoch"]

    monkeypatch.setattr(checkpoint, "restore_rng", skip_rng)
    broken = run_cli("--resume", second.run_dir, "--set", "train.steps=null")
    assert broken.code == 0, broken.err
    assert state_digest(second.run_dir) != state_digest(uninterrupted)


def test_sigint_checkpoints_and_exits_130(tmp_path, uninterrupted):
    proc = spawn(*ARGS, "--set", "train.checkpoint_every=0", runs=tmp_path)
    metrics = lambda: list(tmp_path.glob("digits/*/metrics.jsonl"))  # noqa: E731
    _wait_for(lambda: metrics() and len(metrics()[0].read_text().splitlines()) >= 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "error[E-INTERRUPTED]: SIGINT at step" in err and "--resume" in err
    run = Path(out.strip().splitlines()[-1])
    assert meta(run)["status"] == "interrupted"
    [ckpt] = checkpoint.listing(run)  # checkpoint_every=0: the one written on SIGINT
    assert meta(run)["steps"] == int(ckpt.stem.split("-")[1])
    assert run_cli("--resume", run).code == 0
    assert state_digest(run) == state_digest(uninterrupted)


def test_sigterm_exits_143_after_checkpoint(tmp_path, monkeypatch):
    real_on_log = session.Session.on_log

    def on_log(self, state, mean_loss, output):
        real_on_log(self, state, mean_loss, output)
        if state.step == 7:
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the run: finish the step, stop

    monkeypatch.setattr(session.Session, "on_log", on_log)
    res = run_cli(*ARGS, "--set", "train.checkpoint_every=0", runs=tmp_path)
    assert res.code == 143
    assert "SIGTERM at step 7" in res.err
    assert [p.name for p in checkpoint.listing(res.run_dir)] == ["step-00000007.pt"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers put back


def test_nan_loss_exits_3_keeping_last_finite_checkpoint(tmp_path):
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "optimizer.lr=1e6",
        "--set",
        "train.log_every=1",
        runs=tmp_path,
    )
    assert res.code == 3
    [line] = [x for x in res.err.splitlines() if "E-DIVERGED" in x]
    step = int(line.split(" at step ")[1].split()[0])
    assert step > 1
    assert meta(res.run_dir)["status"] == "diverged"
    [newest, *_] = checkpoint.listing(res.run_dir)
    assert newest.name == f"step-{step - 1:08d}.pt"
    weights = torch.load(newest, weights_only=True)["model"]
    assert all(torch.isfinite(t).all() for t in weights.values())
    assert len(losses(res.run_dir)) == step - 1


def test_resume_extends_a_finished_run(tmp_path):
    short = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "train.steps=30",
        "--set",
        "seed=5",
        "--set",
        "train.log_every=1",
        runs=tmp_path,
    )
    longer = run_cli("--resume", short.run_dir, "--set", "train.steps=60")
    assert longer.code == 0, longer.err
    whole = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "train.steps=60",
        "--set",
        "seed=5",
        "--set",
        "train.log_every=1",
        runs=tmp_path,
    )
    assert losses(short.run_dir) == losses(whole.run_dir)
    assert state_digest(short.run_dir) == state_digest(whole.run_dir)


VALIDATED = (
    *ARGS,
    "--set",
    "train.validation={split: 0.2, every: 15, early_stopping: {patience: 4, min_delta: 0.01}}",
)


def _validations(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "val_loss" in r]


def _best_model(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "best.pt", weights_only=True)["model"]


def test_sigkill_with_validation_then_resume_is_bit_exact(tmp_path):
    """Validation every 15 steps, checkpoints every 10: the kill lands between them, and the
    early-stopping counters and best.pt must come back as an uninterrupted run has them."""
    whole = run_cli(*VALIDATED, runs=tmp_path / "whole")
    assert whole.code == 0, whole.err
    proc = spawn(*VALIDATED, runs=tmp_path / "killed")
    newest = lambda: checkpoint.listing(next((tmp_path / "killed").glob("digits/*")))  # noqa: E731
    _wait_for(
        lambda: (
            any(tmp_path.glob("killed/digits/*/checkpoints/step-*.pt"))
            and int(newest()[0].stem.split("-")[1]) >= 40
        ),
        proc,
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [run] = (tmp_path / "killed").glob("digits/*")
    assert not (run / "weights.pt").exists(), "the kill came after the end"
    assert (run / "checkpoints" / "best.pt").exists()
    res = run_cli("--resume", run)
    assert res.code == 0, res.err
    assert state_digest(run) == state_digest(whole.run_dir)
    assert losses(run) == losses(whole.run_dir)
    assert _validations(run) == _validations(whole.run_dir)  # each once, the same numbers
    a, b = _best_model(run), _best_model(whole.run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert meta(run)["result"]["validation"] == {
        **meta(whole.run_dir)["result"]["validation"],
        "best_checkpoint": str(run / "checkpoints" / "best.pt"),
    }
    assert meta(run)["steps"] == meta(whole.run_dir)["steps"]
