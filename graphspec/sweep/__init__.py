"""`graphspec sweep`: hyper-parameter search on Optuna over normal runs.

definition.py says what is searched (torch-free, checked before any trial), study.py holds the
Optuna study and the claiming of trials, trial.py runs one trial as a run folder, report.py
writes the table and pictures. This package sits above training/: it starts runs, it is not
part of them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphspec.sweep.definition import Definition

DEFINITION = "sweep.json"


def require_optuna() -> None:
    """`graphspec sweep` needs the `sweep` extra: E-INSTALL with the command, not a crash."""
    import importlib.util

    from graphspec.core.errors import fail

    if importlib.util.find_spec("optuna") is None:
        raise fail(
            "E-INSTALL",
            "graphspec sweep needs optuna, which is not installed here",
            hint="pip install 'graphspec[sweep]'",
        )


def work(
    defn: Definition, folder: Path, storage_url: str | None, fake_data: int | None, say=print
) -> int:
    """One worker: claim and run trials until the study holds N finished ones; trials run."""
    from graphspec.sweep import study as studies
    from graphspec.sweep.trial import run_trial, tell

    study = studies.open_study(defn, folder, storage_url)
    for number in studies.fail_dead_trials(study, folder, storage_url):
        say(f"trial {number} was cut off (its worker is gone): marked failed, run again")
    ran = 0
    while (trial := studies.claim(study, defn, folder)) is not None:
        try:
            with studies.heartbeat(study, trial):
                outcome = run_trial(trial, defn, folder, fake_data)
        except BaseException:
            from optuna.trial import TrialState

            study.tell(trial, state=TrialState.FAIL)  # a bad spec or a bug: not left running
            raise
        tell(study, trial, outcome)
        ran += 1
        value = "" if outcome.value is None else f" {defn.metric} {outcome.value:.6g}"
        say(f"trial {trial.number}: {outcome.state.name.lower()}{value} -> {outcome.run_dir}")
    return ran


def start_workers(
    folder: Path, count: int, storage_url: str | None, fake_data: int | None
) -> list[subprocess.Popen]:
    """`--workers K`: K-1 more processes of this machine on the same study."""
    command = [sys.executable, "-m", "graphspec", "sweep", "--worker", str(folder), "--quiet"]
    if storage_url:
        command += ["--storage", storage_url]
    if fake_data:
        command += ["--fake-data", str(fake_data)]
    return [subprocess.Popen(command) for _ in range(count - 1)]
