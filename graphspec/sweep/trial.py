"""One trial: a normal `graphspec run` into the sweep folder, reporting each validation.

The trial's spec.yaml holds its sampled values and its seed (derived from the sweep's seed and
the trial's number), so `graphspec run --resume`, `runs` and `runs compare` treat it like any
run. Each `train.validation` check is reported to the study, and the pruner may end the run
there: its meta.json then says `pruned`.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from graphspec.language.recipe import higher_is_better
from graphspec.sweep.definition import Definition
from graphspec.sweep.study import suggest


@dataclass
class Outcome:
    state: TrialState
    value: float | None = None
    run_dir: Path | None = None
    why: str = ""
    reported: list[float] = field(default_factory=list)


def run_trial(trial: Trial, defn: Definition, folder: Path, fake_data: int | None) -> Outcome:
    """Train the trial's spec; its state for the study (COMPLETE, PRUNED or FAIL) and value."""
    from graphspec.core.errors import Diverged
    from graphspec.training.plan import Options, prepare
    from graphspec.training.screen import Screen
    from graphspec.training.session import Session

    values = {s.key: suggest(trial, s) for s in defn.spaces}
    run_dir = folder / f"trial-{trial.number:04d}"
    trial.set_user_attr("run_dir", str(run_dir))
    watcher = _Watcher(trial, defn.metric)
    items = [
        *defn.fixed,
        *(f"{k}={json.dumps(v)}" for k, v in values.items()),
        f"seed={defn.trial_seed(trial.number)}",
    ]
    opts = Options(
        spec=defn.spec,
        overrides=items,
        quiet=True,
        out=str(run_dir),
        overwrite=True,
        fake_data=fake_data,
        pictures="off",
        on_validation=watcher,
        argv=["graphspec", "run", defn.spec, *items, "--out", str(run_dir)],
    )
    plan = prepare(opts)
    try:
        Session(plan, opts, Screen(quiet=True, out=io.StringIO())).run()
    except Diverged as err:
        return Outcome(TrialState.FAIL, run_dir=run_dir, why=err.message)
    finally:
        if plan.lock is not None:
            plan.lock.release()
    if watcher.pruned:
        return Outcome(TrialState.PRUNED, watcher.best, run_dir, reported=watcher.values)
    value = _final_value(defn.metric, run_dir, watcher)
    if value is None or not math.isfinite(value):
        return Outcome(TrialState.FAIL, run_dir=run_dir, why=f"the run gave no {defn.metric}")
    return Outcome(TrialState.COMPLETE, value, run_dir, reported=watcher.values)


class _Watcher:
    """Session's on_validation hook: report the metric, ask the pruner, keep the best."""

    def __init__(self, trial: Trial, metric: str) -> None:
        self.trial, self.pruned = trial, False
        split, _, self.name = metric.partition(".")
        self.watching = split == "val"
        self.higher = higher_is_better(self.name)
        self.values: list[float] = []
        self.best: float | None = None

    def __call__(self, step: int, metrics: dict[str, float]) -> bool:
        value = metrics.get(self.name if self.watching else "loss")
        if value is None:
            return False
        self.values.append(value)
        if self.watching and (self.best is None or (value > self.best) == self.higher):
            self.best = value
        self.trial.report(value, step)
        self.pruned = self.trial.should_prune()
        return self.pruned


def _final_value(metric: str, run_dir: Path, watcher: _Watcher) -> float | None:
    split, _, name = metric.partition(".")
    if split == "val":
        return watcher.best  # the best validation, as the run's best checkpoint keeps it
    meta = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = meta.get("result") or {}
    if split == "test" and result.get("split") == "test":
        return _number(result.get(name))
    if split == "train":
        from graphspec.training.run_folder import read_metrics

        losses = [r["loss"] for r in read_metrics(run_dir) if "loss" in r and name == "loss"]
        return losses[-1] if losses else None
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def tell(study: optuna.Study, trial: Trial, outcome: Outcome) -> None:
    if outcome.why:
        trial.set_user_attr("why", outcome.why)
    try:
        if outcome.state == TrialState.COMPLETE:
            study.tell(trial, outcome.value)
        else:
            study.tell(trial, state=outcome.state)
    except RuntimeError as err:
        # GridSampler asks the study to stop once its grid is used up, which only an optimize()
        # loop may do; the trial is stored before that (optuna's _tell_with_warning: finally)
        if "Study.stop" not in str(err):
            raise
