"""`run` and the `emit --train` script share one training program: a change to the generated
step shows up in both (the two cannot drift apart, whatever the test of either one says)."""

from __future__ import annotations

import pytest
from helpers.runhelp import SPECS, python_child, run_cli

from graphspec.cli import main
from graphspec.program import functions

pytestmark = pytest.mark.usefixtures("one_thread")

SETS = ("--set", "seed=3", "--set", "train.steps=12", "--set", "train.log_every=1")


def _losses(text: str) -> list[str]:
    return [line.split("loss: ")[1] for line in text.splitlines() if line.startswith("step ")]


def _run_and_script(tmp_path):
    run = run_cli(SPECS / "regression.yaml", *SETS, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    script = tmp_path / "train.py"
    assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return _losses(run.out), _losses(proc.stdout)


def test_unchanged_the_loss_falls_in_both(tmp_path):
    in_run, in_script = _run_and_script(tmp_path)
    assert in_run == in_script and len(in_run) == 12
    assert float(in_run[-1]) < float(in_run[0])


def test_a_step_that_forgets_the_update_forgets_it_in_both(tmp_path, monkeypatch):
    original = functions._train_step

    def no_update(spec):
        text = original(spec)
        assert "    optimizer.step()\n" in text
        return text.replace("    optimizer.step()\n", "    pass  # the update, forgotten\n")

    monkeypatch.setattr(functions, "_train_step", no_update)
    in_run, in_script = _run_and_script(tmp_path)
    assert in_run == in_script
    assert len(set(in_run)) == 1  # no update: every step sees the same loss
