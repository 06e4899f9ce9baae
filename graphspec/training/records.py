"""Run folders read back, for `graphspec runs` and `graphspec runs compare` (no torch).

A run folder may be finished, still running, killed mid-write or hand-edited: every reader
here returns what it could read and a note on what it could not, and never raises for a
folder's content. Files are read only when they are regular files under a size cap (a FIFO
would block; a symbolic link could point anywhere), as the run folder's writer left them
(training/run_folder.py: meta.json, metrics.jsonl, spec.yaml).
"""

from __future__ import annotations

import datetime
import fcntl
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_META = 1 << 20  # what run_folder.read_meta allows
MAX_METRICS = 256 << 20  # a long run's metrics.jsonl is a few MB; this bounds a hostile one
MAX_DEPTH = 4  # runs/<name>/<timestamp> is 2 deep; --out folders may sit a little deeper
MAX_RUNS = 10_000
MAX_POINTS = 2_000  # loss points kept per run for the plot (every k-th of a longer curve)
NOT_METRICS = {"step", "epoch", "batch", "samples", "correct", "time_s", "lr", "split"}
MARKERS = ("meta.json", "spec.yaml", "metrics.jsonl")


@dataclass
class Run:
    """One run folder as far as it could be read."""

    path: Path
    name: str
    """The folder relative to the listed root (`regression/20261127-145558`)."""
    spec: str = "-"
    """The spec's `name:` (from spec.yaml), else the spec file meta.json names."""
    source: str = "-"
    """The spec file the run was started from (meta.json)."""
    status: str = "unknown"
    steps: int | None = None
    train_loss: float | None = None
    """The last logged training loss."""
    final: dict[str, dict[str, float]] = field(default_factory=dict)
    """Per split (train, valid, test...), the numbers of its last evaluation."""
    started: str | None = None
    duration_s: float | None = None
    seed: int | None = None
    problems: list[str] = field(default_factory=list)
    """What could not be read, in a few words each."""
    spec_data: Any = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    checkpoints: int = 0
    """Step checkpoints in its checkpoints/ folder: a run without one cannot be resumed."""

    @property
    def resumable(self) -> bool:
        return self.checkpoints > 0

    val_losses: list[tuple[int, float]] = field(default_factory=list)
    """The validation loss at each validation (train.validation)."""
    best: dict[str, Any] | None = None
    """The best validation (meta.json's result.validation): monitor, best, best_step,
    best_epoch, early_stopped."""

    @property
    def best_text(self) -> str:
        """`val_loss 0.12 @ step 40 (early stop)`, or '-'."""
        b = self.best
        if not b or not isinstance(b.get("best"), (int, float)):
            return "-"
        stop = " (early stop)" if b.get("early_stopped") else ""
        return (
            f"val_{_text(b.get('monitor'), '?')} {b['best']:.6g} @ step {b.get('best_step')}{stop}"
        )

    @property
    def sort_key(self) -> tuple:
        return (self.started or "", self.name)

    def as_json(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "path": str(self.path),
            "spec": self.spec,
            "source": self.source,
            "status": self.status,
            "steps": self.steps,
            "train_loss": _finite(self.train_loss),
            "final": {s: {k: _finite(v) for k, v in m.items()} for s, m in self.final.items()},
            "started": self.started,
            "duration_s": self.duration_s,
            "seed": self.seed,
            "problems": self.problems,
            "resumable": self.resumable,
            "best_validation": self.best,
        }


def _finite(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: a diverged run's loss is written as text."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


def find(root: Path) -> list[Path]:
    """The run folders under `root` (or `root` itself when it is one), without following
    symbolic links; a run folder is not searched further."""
    if _is_run(root):
        return [root]
    found: list[Path] = []
    for top, dirs, _ in os.walk(root, followlinks=False):
        here = Path(top)
        depth = len(here.relative_to(root).parts)
        keep = []
        for d in sorted(dirs):
            sub = here / d
            if d.startswith(".") or sub.is_symlink():
                continue
            if _is_run(sub):
                found.append(sub)
            elif depth + 1 < MAX_DEPTH:
                keep.append(d)
        dirs[:] = keep
        if len(found) >= MAX_RUNS:
            break
    return found[:MAX_RUNS]


def _is_run(path: Path) -> bool:
    return path.is_dir() and any(os.path.lexists(path / m) for m in MARKERS)


def read(path: Path, root: Path | None = None) -> Run:
    """Everything `runs` shows about one folder; problems are noted, never raised."""
    name = str(path.relative_to(root)) if root is not None and path != root else path.name
    run = Run(path=path, name=shown(name or str(path)))
    meta = _read_meta(path, run)
    if meta is not None:
        _from_meta(meta, run)
    _from_metrics(path, run)
    _from_spec(path, run)
    run.checkpoints = _checkpoint_count(path)
    if run.status == "running" and not _locked(path):
        run.status = "stopped"  # its process is gone (killed or crashed)
        if run.resumable:
            run.problems.append("the run's process is gone; resume it with --resume")
        else:
            run.problems.append("the run's process is gone before its first checkpoint: it "
                                "cannot be resumed; start it again")  # fmt: skip
    return run


def shown(text: str) -> str:
    """A folder name fit for a table, a plot legend and JSON: bytes that are not UTF-8 (kept
    by Python as surrogates) shown as U+FFFD, control characters escaped."""
    from graphspec.core.codetext import one_line

    return one_line(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _checkpoint_count(path: Path) -> int:
    """How many step checkpoints the run holds (named as training/checkpoint.py names them)."""
    try:
        names = os.listdir(path / "checkpoints")
    except OSError:
        return 0
    return sum(1 for n in names if n.startswith("step-") and n.endswith(".pt"))


def _read_bytes(path: Path, cap: int) -> bytes | str:
    """The file's bytes, or why they could not be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"unreadable ({err.strerror or err})"
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_size > cap:
            return f"over {cap >> 20} MiB"
        return f.read(cap + 1)


def _read_meta(path: Path, run: Run) -> dict[str, Any] | None:
    raw = _read_bytes(path / "meta.json", MAX_META)
    if isinstance(raw, str):
        run.status = "no meta.json" if raw == "missing" else "damaged"
        run.problems.append(f"meta.json: {raw}")
        return None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested 1e5 deep
        meta = None
    if not isinstance(meta, dict):
        run.status = "damaged"
        run.problems.append("meta.json: not a JSON object")
        return None
    return meta


def _from_meta(meta: dict[str, Any], run: Run) -> None:
    status = meta.get("status")
    run.status = status if isinstance(status, str) and status else "unknown"
    run.source = _text(meta.get("spec"), "-")
    run.steps = _count(meta.get("steps"))
    run.seed = _count(meta.get("seed"))
    run.started = _text(meta.get("started"), None)
    start, end = _time(run.started), _time(meta.get("finished"))
    if start is not None and end is not None and end >= start:
        run.duration_s = (end - start).total_seconds()
    result = meta.get("result")
    if isinstance(result, dict):
        _take_evaluation(result, run)
        best = result.get("validation")
        run.best = best if isinstance(best, dict) else None


def _from_metrics(path: Path, run: Run) -> None:
    raw = _read_bytes(path / "metrics.jsonl", MAX_METRICS)
    if isinstance(raw, str):
        if raw != "missing":
            run.problems.append(f"metrics.jsonl: {raw}")
        return
    bad = 0
    losses: list[tuple[int, float]] = []
    last_time = None
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            bad += 1  # a line cut short by a kill
            continue
        if not isinstance(record, dict):
            bad += 1
            continue
        step, loss = _count(record.get("step")), _number(record.get("loss"))
        val = _number(record.get("val_loss"))
        if step is not None and val is not None:
            run.val_losses.append((step, val))
        if "split" in record:
            _take_evaluation(record, run)
        elif step is not None and loss is not None:
            losses.append((step, loss))
            last_time = _number(record.get("time_s"))
    if bad:
        run.problems.append(f"metrics.jsonl: {bad} unreadable line(s)")
    if losses:
        run.train_loss = losses[-1][1]
        if run.steps is None:
            run.steps = losses[-1][0]
        every = -(-len(losses) // MAX_POINTS)
        run.losses = losses[::every] if every > 1 else losses
        if run.losses[-1] != losses[-1]:
            run.losses.append(losses[-1])
    if run.duration_s is None and last_time is not None:
        run.duration_s = last_time  # still running or stopped: the training time so far


def _take_evaluation(record: dict[str, Any], run: Run) -> None:
    split = _text(record.get("split"), "final")
    numbers = {}
    for key, value in record.items():
        number = _number(value) if key not in NOT_METRICS else None
        if number is not None:
            numbers[_text(key, "?")] = number
    if numbers:
        run.final[split] = numbers


def _from_spec(path: Path, run: Run) -> None:
    from graphspec.core.errors import SpecError
    from graphspec.language import load

    if not os.path.lexists(path / "spec.yaml"):
        run.problems.append("spec.yaml: missing")
        return
    if (path / "spec.yaml").is_symlink():
        run.problems.append("spec.yaml: a symbolic link (not read)")
        return
    try:
        doc = load.load_file(path / "spec.yaml")
    except SpecError as err:
        run.problems.append(f"spec.yaml: {err.problems[0].message}")
        return
    run.spec_data = doc.data
    name = doc.data.get("name") if isinstance(doc.data, dict) else None
    run.spec = _text(name, run.spec)
    if run.seed is None and isinstance(doc.data, dict):
        run.seed = _count(doc.data.get("seed"))


def _locked(path: Path) -> bool:
    """Whether a live process holds the run folder's lock (run_folder.Lock)."""
    try:
        fd = os.open(path / ".lock", os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _text(value: Any, default: Any) -> Any:
    """A string from a file, on one line (a hand-edited file may hold anything)."""
    if not isinstance(value, str) or not value:
        return default
    return "".join(c if c.isprintable() else "?" for c in value)[:200]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _time(value: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# --- comparing ----------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{'optimizer.lr': 0.01, 'model.layers.fc1.out_features': 64, ...}; lists as one value."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out |= flatten(value, path)
        else:
            out[path] = value
    return out


MISSING = "—"


def differences(runs: list[Run]) -> list[tuple[str, list[Any]]]:
    """The spec fields whose values are not the same in every run, in spec order."""
    flat = [flatten(r.spec_data) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = []
    for key in keys:
        values = [f.get(key, MISSING) for f in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append((key, values))
    return rows


def metric_names(runs: list[Run]) -> list[tuple[str, str]]:
    """(split, metric) pairs any run has, in first-seen order."""
    return list(dict.fromkeys((s, k) for r in runs for s, m in r.final.items() for k in m))


def labels(runs: list[Run], diffs: list[tuple[str, list[Any]]]) -> list[str]:
    """What tells each run apart: `optimizer.lr=0.05, train.steps=15` shortened to the keys'
    last parts where those are unique (`lr=0.05, steps=15`); the folder when nothing differs."""
    keys = [k for k, _ in diffs]
    short = [k.rsplit(".", 1)[-1] for k in keys]
    names = [s if short.count(s) == 1 else k for s, k in zip(short, keys, strict=True)]
    out = []
    for i in range(len(runs)):
        parts = [f"{n}={_shown(values[i])}" for n, (_, values) in zip(names, diffs, strict=True)]
        text = ", ".join(parts)
        out.append(text if len(text) <= 48 else text[:45] + "...")
    if not diffs or len(set(out)) < len(out):
        return [run.name for run in runs]
    return out


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def smoothed(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased at the start."""
    out, last, count = [], 0.0, 0
    for v in values:
        count += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**count) if weight else v)
    return out


def loss_plot(
    runs: list[Run], labels: list[str], path: Path, smooth: float = 0.0, log_y: bool | None = None
) -> None:
    """The runs' training losses (solid) and validation losses (dashed, dots) overlaid against
    the step, one colour per run, labelled by what differs; `smooth` (0-1) draws TensorBoard's
    moving average over a faint raw curve; a log scale with `log_y`, or where the losses span
    more than 50x when it is None (matplotlib's Agg canvas, imported only here)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from graphspec.core.files import write_atomic

    fig = Figure(figsize=(7.2, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    values = []
    for n, (run, label) in enumerate(zip(runs, labels, strict=True)):
        colour = f"C{n % 10}"
        points = [(s, v) for s, v in run.losses if math.isfinite(v)]
        if points:
            steps, ys = [s for s, _ in points], [v for _, v in points]
            if smooth:
                ax.plot(steps, ys, lw=1.0, color=colour, alpha=0.25)
                ys = smoothed(ys, smooth)
            ax.plot(steps, ys, lw=1.5, color=colour, label=label)
            values += [v for _, v in points]
        val = [(s, v) for s, v in run.val_losses if math.isfinite(v)]
        if val:
            ax.plot(*zip(*val, strict=True), "o--", lw=1.2, ms=3, color=colour,
                    label=f"{label} (validation)")  # fmt: skip
            values += [v for _, v in val]
    auto = bool(values) and min(values) > 0 and max(values) / min(values) > 50
    if (log_y if log_y is not None else auto) and values and min(values) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ylabel = "loss (training: mean since the previous point"
    ax.set_ylabel(ylabel + (f", smoothed {smooth:g})" if smooth else ")"))
    ax.set_title("graphspec runs compare")
    if values:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    kind = path.suffix.lstrip(".").lower() or "png"
    write_atomic(path, lambda f: fig.savefig(f, format=kind))
