"""The sweep's report: the best trial, a table of every trial, and two pictures.

Written into the sweep folder: report.txt (the table as printed), report.json (the same as
data), history.png (each finished trial's value and the best so far) and params.png (each
searched field against the metric). Drawn from the study itself, so every worker's trials count.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from graphspec.sweep.definition import Definition

STATE_NAMES = {
    TrialState.COMPLETE: "finished",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
    TrialState.RUNNING: "running",
    TrialState.WAITING: "queued",
}


def write(study: optuna.Study, defn: Definition, folder: Path) -> str:
    trials = study.get_trials(deepcopy=False)
    best = _best(study)
    text = _table(trials, defn, best)
    (folder / "report.txt").write_text(text, encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(_as_json(trials, defn, best), indent=2) + "\n")
    _draw(trials, defn, folder)
    return text


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no trial finished
        return None


def _rows(trials: list[FrozenTrial], defn: Definition) -> list[list[str]]:
    rows = []
    for t in trials:
        value = "-" if t.value is None else f"{t.value:.6g}"
        if t.state == TrialState.PRUNED and t.intermediate_values:
            step = max(t.intermediate_values)
            value = f"{t.intermediate_values[step]:.6g} @ step {step}"
        params = [_fmt(t.params.get(s.key)) for s in defn.spaces]
        folder = Path(t.user_attrs.get("run_dir", "-")).name
        rows.append([str(t.number), STATE_NAMES.get(t.state, t.state.name), value, *params, folder])
    return rows


def _table(trials: list[FrozenTrial], defn: Definition, best: FrozenTrial | None) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"sweep of {Path(defn.spec).name}: {defn.direction} {defn.metric}",
        title_justify="left",
    )
    for column in ["trial", "state", defn.metric, *(s.key for s in defn.spaces), "run folder"]:
        table.add_column(column, justify="right" if column == "trial" else "left")
    for row in _rows(trials, defn):
        table.add_row(*row)
    out = io.StringIO()
    console = Console(file=out, width=160, highlight=False, color_system=None)
    console.print(table)
    if best is not None:
        values = ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items())
        console.print(f"best: trial {best.number}, {defn.metric} {best.value:.6g} ({values})")
    else:
        console.print("best: none yet (no trial finished)")
    return out.getvalue()


def _as_json(trials: list[FrozenTrial], defn: Definition, best: FrozenTrial | None) -> dict:
    return {
        "metric": defn.metric,
        "direction": defn.direction,
        "best": None
        if best is None
        else {
            "trial": best.number,
            "value": best.value,
            "params": best.params,
            "run_dir": best.user_attrs.get("run_dir"),
        },
        "trials": [
            {
                "trial": t.number,
                "state": STATE_NAMES.get(t.state, t.state.name),
                "value": t.value,
                "params": t.params,
                "intermediate": {str(k): v for k, v in t.intermediate_values.items()},
                "run_dir": t.user_attrs.get("run_dir"),
                "redo_of": t.user_attrs.get("redo_of"),
            }
            for t in trials
        ],
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _draw(trials: list[FrozenTrial], defn: Definition, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    _history(plt, done, defn, folder / "history.png")
    _params(plt, trials, defn, folder / "params.png")


def _history(plt: Any, done: list[FrozenTrial], defn: Definition, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    xs, ys = [t.number for t in done], [float(t.value or 0.0) for t in done]  # finished: set
    ax.plot(xs, ys, "o", label=defn.metric)
    better = max if defn.direction == "maximize" else min
    running = [better(ys[: i + 1]) for i in range(len(ys))]
    ax.step(xs, running, where="post", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(defn.metric)
    ax.set_title("optimisation history")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _params(plt: Any, trials: list[FrozenTrial], defn: Definition, path: Path) -> None:
    n = len(defn.spaces)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.6), squeeze=False)
    for ax, space in zip(axes[0], defn.spaces, strict=True):
        for state, marker in ((TrialState.COMPLETE, "o"), (TrialState.PRUNED, "x")):
            points = [
                (t.params[space.key], _value(t))
                for t in trials
                if t.state == state and space.key in t.params and _value(t) is not None
            ]
            if points:
                label = "finished" if state == TrialState.COMPLETE else "pruned (last report)"
                xs = [_position(space, x) for x, _ in points]
                ax.plot(xs, [y for _, y in points], marker, label=label)
        if space.kind == "choice":  # the choices in the order the command gave them
            ax.set_xticks(range(len(space.choices)), [str(c) for c in space.choices])
        if space.log:
            ax.set_xscale("log")
        ax.set_xlabel(space.key)
        ax.set_ylabel(defn.metric)
        ax.legend(fontsize="small")
    fig.suptitle("each searched field against the metric")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _position(space: Any, x: Any) -> Any:
    return space.choices.index(x) if space.kind == "choice" else x


def _value(t: FrozenTrial) -> float | None:
    if t.value is not None:
        return t.value
    if t.intermediate_values:
        v = t.intermediate_values[max(t.intermediate_values)]
        return v if math.isfinite(v) else None
    return None
