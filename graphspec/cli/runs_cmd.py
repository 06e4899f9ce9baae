"""`graphspec runs [RUNS_DIR]`: the runs, newest first, with their final numbers; `graphspec
runs compare RUN RUN...`: runs side by side (the spec fields that differ, the final metrics)
and their training losses overlaid in one picture. Reads run folders only: no torch."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from graphspec.core.errors import fail

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "words",
        nargs="*",
        metavar="RUNS_DIR | compare RUN...",
        help="a folder of runs (default: runs), or `compare` and two or more run folders",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--runs-dir", default="runs", help="where RUN names are looked up (compare)")
    p.add_argument(
        "-o",
        "--out",
        default="compare.png",
        metavar="FILE",
        help="compare: the overlaid loss plot (.png, .svg or .pdf; default compare.png)",
    )
    p.add_argument("--no-plot", action="store_true", help="compare: draw no plot")
    p.add_argument(
        "--smooth",
        type=_weight,
        default=0.0,
        metavar="W",
        help="compare: smooth the training losses as TensorBoard does (0 <= W < 1, e.g. 0.6)",
    )
    p.add_argument("--log-y", action="store_true", help="compare: a logarithmic loss axis")


def _weight(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"--smooth must be in [0, 1), got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.words[:1] == ["compare"]:
        return _compare(args, args.words[1:])
    if len(args.words) > 1:
        raise fail(
            "E-USAGE",
            f"graphspec runs takes one RUNS_DIR, got {len(args.words)}",
            hint="graphspec runs compare RUN RUN... compares runs",
        )
    return _list(args, Path(args.words[0] if args.words else args.runs_dir))


def _list(args: argparse.Namespace, root: Path) -> int:
    from graphspec.training import records

    if not root.is_dir():
        raise fail("E-IO", f"no runs folder '{root}'", hint="pass the --runs-dir of your runs")
    found = sorted(
        (records.read(p, root) for p in records.find(root)), key=lambda r: r.sort_key, reverse=True
    )
    if args.json:
        print(json.dumps([r.as_json() for r in found], indent=2))
        return 0
    if not found:
        print(f"no runs under {root}")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs under {root}", title_justify="left")
    columns = ("run", "spec", "status", "steps", "loss", "best val", "final", "started", "time")
    for column in columns:
        right = column in ("steps", "loss", "time")
        table.add_column(column, justify="right" if right else "left", no_wrap=column == "run")
    for r in found:
        table.add_row(
            r.name,
            r.spec,
            _status(r),
            "-" if r.steps is None else f"{r.steps:,}",
            _num(r.train_loss),
            r.best_text,
            _final(r),
            (r.started or "-").replace("T", " "),
            _duration(r.duration_s),
        )
    Console(highlight=False, width=max(Console().width, 160)).print(table)
    return 0


def _compare(args: argparse.Namespace, names: list[str]) -> int:
    from graphspec.training import records

    if len(names) < 2:
        raise fail("E-USAGE", "graphspec runs compare needs two or more RUN folders")
    plot = None if args.no_plot else Path(args.out)
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise fail(
            "E-USAGE",
            f"-o {records.shown(str(plot))}: the plot is drawn as .png, .svg or .pdf",
            hint="name the file with one of these endings, or pass --no-plot",
        )
    runs = [records.read(_run_dir(n, Path(args.runs_dir))) for n in names]
    diffs = records.differences(runs)
    labels = records.labels(runs, diffs)
    if plot is not None:
        records.loss_plot(runs, labels, plot, args.smooth, True if args.log_y else None)
    if args.json:
        print(
            json.dumps(
                {
                    "runs": [r.as_json() for r in runs],
                    "differences": {k: v for k, v in diffs},
                    "labels": labels,
                    "plot": str(plot) if plot else None,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="runs compared", title_justify="left")
    table.add_column("")
    for label in labels:
        table.add_column(label, overflow="fold")  # a long value wraps; its end is not cut off
    table.add_row("run", *_short_names(names))
    table.add_row("spec", *[r.spec for r in runs])
    table.add_row("status", *[_status(r) for r in runs])
    table.add_row("steps", *["-" if r.steps is None else f"{r.steps:,}" for r in runs])
    table.add_row("time", *[_duration(r.duration_s) for r in runs], end_section=True)
    for key, values in diffs:
        table.add_row(key, *[_value(v) for v in values])
    if not diffs:
        table.add_row("(spec)", *["the same" for _ in runs])
    table.rows[-1].end_section = True
    table.add_row("last logged loss", *[_num(r.train_loss) for r in runs])
    if any(r.best for r in runs):
        table.add_row("best validation", *[r.best_text for r in runs])
    for split, metric in records.metric_names(runs):
        table.add_row(
            f"{split} {metric}", *[_num(r.final.get(split, {}).get(metric)) for r in runs]
        )
    console = Console(highlight=False, width=max(Console().width, 160))
    console.print(table)
    if plot is not None:
        console.print(f"loss plot: {plot}")
    return 0


def _short_names(names: list[str]) -> list[str]:
    """The run folders below the folder they share (`cifar/20261206-053643`), so that a long
    runs path does not push the part that tells them apart out of the column."""
    paths = [os.path.abspath(n) for n in names]
    common = os.path.commonpath(paths)
    if common in paths or common == os.sep:  # nested runs, or nothing shared: as typed
        return [n.rstrip("/") for n in names]
    return [os.path.relpath(p, os.path.dirname(common)) for p in paths]


def _run_dir(name: str, root: Path) -> Path:
    from graphspec.training import records

    for path in (Path(name), root / name):
        if path.is_dir() and records.find(path) == [path]:
            return path
    raise fail(
        "E-IO",
        f"'{name}' is not a run folder (no meta.json, spec.yaml or metrics.jsonl)",
        hint="pass folders `graphspec runs` lists",
    )


def _status(r) -> str:
    """A stopped run says whether `graphspec run --resume` can continue it (a checkpoint)."""
    if r.status in ("stopped", "interrupted", "diverged", "failed"):
        return f"{r.status}, {'resumable' if r.resumable else 'no checkpoint'}"
    return r.status


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _value(value: object) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _final(r) -> str:
    parts = []
    for split, numbers in r.final.items():
        shown = ", ".join(f"{k} {_num(v)}" for k, v in list(numbers.items())[:3])
        parts.append(f"{split}: {shown}")
    return "; ".join(parts) or "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"
