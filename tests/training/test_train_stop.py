"""`train.stop`: training ends once the loss settles, in `graphspec run` and in its script."""

from __future__ import annotations

import pytest
from helpers.runhelp import SPECS, losses, meta, python_child, run_cli

from graphspec.cli import main
from graphspec.language.recipe import Stop
from graphspec.training.loop import TrainState, _settled

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SPEC = SPECS / "fit_sin.yaml"
STOP = ("--set", "train.steps=100", "--set", "train.stop={tolerance: 1.0e-3, patience: 2}")


def _stops_at(values: list[float], tolerance: float, patience: int) -> int | None:
    state, stop = TrainState(), Stop(tolerance=tolerance, patience=patience)
    for step, value in enumerate(values, 1):
        if _settled(stop, state, value):
            return step
    return None


def test_the_rule_counts_calm_steps_in_a_row():
    # relative change: 1.0 -> 0.9995 is calm at 1e-3; a big move in between resets the count
    assert _stops_at([1.0, 0.9995, 0.9990], 1e-3, 2) == 3
    assert _stops_at([1.0, 0.9995, 0.5, 0.4999, 0.4998], 1e-3, 2) == 5
    assert _stops_at([1.0, 0.5, 0.25, 0.125], 1e-3, 1) is None  # never calm
    assert _stops_at([2.0, 2.0], 1e-9, 1) == 2  # no change at all is calm
    assert _stops_at([1.0, 0.99], 1e-3, 1) is None and _stops_at([1.0, 0.99], 0.02, 1) == 2


def test_run_stops_early_and_its_script_stops_at_the_same_step(tmp_path):
    run = run_cli(SPEC, "--set", "seed=2", *STOP, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    steps = meta(run.run_dir)["steps"]
    assert 2 <= steps < 100 and len(losses(run.run_dir)) == steps
    assert f"stopped at step {steps}: the loss moved by at most 0.001 of itself" in run.out
    script = tmp_path / "train.py"
    assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(str(script), cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = run.out.splitlines()
    first = next(i for i, line in enumerate(ours) if line.startswith("step "))
    tail = ours[first:-2]
    assert proc.stdout.splitlines()[-len(tail) :] == tail


def test_without_a_stop_the_steps_run_out(tmp_path):
    run = run_cli(SPEC, "--set", "seed=2", "--set", "train.steps=12", runs=tmp_path)
    assert run.code == 0, run.err
    assert meta(run.run_dir)["steps"] == 12 and "stopped at step" not in run.out


def test_a_bad_stop_is_an_input_error(tmp_path):
    run = run_cli(SPEC, "--set", "train.stop={tolerance: -1}", runs=tmp_path)
    assert run.code == 2 and "tolerance" in run.err
