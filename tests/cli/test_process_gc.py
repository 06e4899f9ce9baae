"""The collector settings of a graphspec process: raised thresholds while the command runs and a
freeze before exit (start-up: bench/startup.py), never applied to a caller's own process."""

import gc
import subprocess
import sys

from helpers.runhelp import ROOT

from graphspec.cli import PROCESS_GC, main

PROBE = (
    "import gc, sys; from graphspec.cli import main; "
    "sys.argv = ['graphspec', 'validate', 'specs/lenet.yaml']; code = main(); "
    "print(code, gc.get_threshold(), gc.get_freeze_count() > 0)"
)


def test_the_process_entry_raises_the_thresholds_and_freezes_before_exit():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"0 {PROCESS_GC} True"
    assert PROCESS_GC[0] > gc.get_threshold()[0]  # higher than CPython's default


def test_a_call_from_python_leaves_the_callers_collector_alone(capsys):
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert main(["validate", str(ROOT / "specs" / "lenet.yaml")]) == 0
    assert "ok:" in capsys.readouterr().out
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
