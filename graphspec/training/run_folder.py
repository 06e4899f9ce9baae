"""The run folder: `runs/<spec name>/<timestamp>/`, made safely and locked while a run writes it.

What a finished run leaves there (docs/run.md shows one):

    spec.yaml        the spec as run: --set overrides applied, the seed filled in
    meta.json        how it was run: command, overrides, seed, device, FakeData or not, result
    metrics.jsonl    one line per logged step, then one per evaluation
    checkpoints/     step-NNNNNNNN.pt, the newest few (atomic; weights_only=True loads them),
                     and best.pt, the best validated weights (train.validation)
    weights.pt       the final state_dict
    model.py         the generated module the weights belong to (`graphspec emit`'s text)
    loss.png, fit.png, fit.gif, graph.svg
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import yaml

from graphspec.core.errors import fail
from graphspec.core.files import AppendFile, io_error, make_dir, open_fd, write_atomic

DEFAULT_ROOT = "runs"
LOCK = ".lock"
# Fields a resumed run may change: how long it trains and how often it reports, not what.
RESUMABLE_CHANGES = ("epochs", "steps", "log_every", "checkpoint_every", "keep_checkpoints")


def new_run_dir(root: str, name: str, out: str | None = None, overwrite: bool = False) -> Path:
    """Create the folder for a new run: `out` if given, else root/name/<timestamp>."""
    if out is not None:
        return _explicit(Path(out), overwrite)
    base = Path(root) / name
    if base.is_symlink() or not _inside(base, Path(root)):
        raise fail(
            "E-PATH",
            f"run folder '{base}' leads outside '{root}' (a symbolic link)",
            hint=f"remove the link or choose another --runs-dir than '{root}'",
        )
    make_dir(base)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 100):
        path = base / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            make_dir(path, exclusive=True)  # two runs started in the same second: two folders
            return path
        except FileExistsError:
            continue
    raise fail("E-EXISTS", f"too many runs of '{name}' started at {stamp}")


def _inside(path: Path, root: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _explicit(path: Path, overwrite: bool) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        if not overwrite:
            raise fail(
                "E-EXISTS",
                f"run folder '{path}' already exists",
                hint="pass --overwrite to replace it, or --resume to continue it",
            )
        if not (path / "meta.json").is_file():
            raise fail(
                "E-EXISTS",
                f"'{path}' is not a graphspec run folder; not overwriting it",
                hint="choose another --out",
            )
        try:
            shutil.rmtree(path)
        except OSError as err:
            raise io_error(path, err, "replace") from None
    return make_dir(path)


class Lock:
    """An exclusive flock on run_dir/.lock; the kernel drops it when the process dies."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        self.fd = open_fd(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 32).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise fail(
                "E-LOCKED",
                f"run folder '{run_dir}' is in use by another graphspec run (pid {holder})",
                hint="wait for it to finish, or stop it",
            ) from None
        try:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, str(os.getpid()).encode())
        except OSError:
            pass  # the pid only helps the E-LOCKED message; a full disk must not stop the lock

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


STEP_KEYS = ("step", "epoch", "batch", "loss", "lr", "time_s")


class Metrics:
    """metrics.jsonl, metrics.csv and tensorboard/, written live: each batch of logged steps
    reaches all three in one flush, so a run can be followed while it trains (a killed run
    loses at most the last batch, which a resume redoes anyway). A resumed run's kept lines
    are the start of all three."""

    def __init__(self, run_dir: Path) -> None:
        from graphspec.training import events

        self.path = run_dir / "metrics.jsonl"
        kept = read_metrics(run_dir)  # a resumed run's lines up to its checkpoint
        self.file = AppendFile(self.path)
        self.csv = _LiveCsv(self.path)
        self.events = events.replay(run_dir, kept) if kept else events.Events.open(run_dir)
        self.wall_offset = time.time() - time.monotonic()  # the loop's clock to wall time

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")  # flushed
        self.csv.add(record)
        if self.events is not None:
            self.events.record(record)
            self.events.flush()

    def write_steps(self, rows: list[tuple], started: float) -> None:
        """Logged steps, (step, epoch index, batch, mean loss, lr, monotonic time) each, as
        records formatted cheaply (the loop's budget: bench/run_step.py)."""
        lines, csv_rows = [], []
        events, offset = self.events, self.wall_offset
        for step, epoch, batch, loss, lr, at in rows:
            t = f"{at - started:.3f}"
            lines.append(
                f'{{"step": {step}, "epoch": {epoch + 1}, "batch": {batch}, '
                f'"loss": {json_number(loss)}, "lr": {json_number(lr)}, "time_s": {t}}}\n'
            )
            csv_rows.append((step, epoch + 1, batch, float(loss), float(lr), float(t)))
            if events is not None:
                events.add(step, at + offset, [("train/loss", loss), ("train/lr", lr)])
        self.file.write("".join(lines))  # flushed
        self.csv.add_steps(csv_rows)
        if events is not None:
            events.flush()

    def flush(self) -> None:
        pass  # every write is flushed already (kept for the session's call)

    def close(self) -> None:
        """Close the files; metrics.csv is rewritten whole from metrics.jsonl once more."""
        self.file.close()
        self.csv.rewrite()
        self.csv.close()
        if self.events is not None:
            self.events.close()


def json_number(value: float) -> str:
    """A float as JSON writes it (json.dumps spells non-finite values NaN and Infinity)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


class _LiveCsv:
    """metrics.csv appended row by row as metrics.jsonl is; a record with a key the header
    lacks (the first validation or evaluation) rewrites it whole, with that column added."""

    def __init__(self, jsonl: Path) -> None:
        self.jsonl, self.path = jsonl, jsonl.with_suffix(".csv")
        self.file: AppendFile | None = None
        self.rewrite()

    def rewrite(self) -> None:
        self.close()
        text = metrics_csv(self.jsonl)
        if text == "\n":  # nothing yet: the logged steps' header
            text = ",".join(STEP_KEYS) + "\n"
        write_atomic(self.path, text)
        self.columns = next(csv.reader([text.split("\n", 1)[0]]))
        self.file = AppendFile(self.path)

    def add(self, record: dict[str, Any]) -> None:
        if not set(record) <= set(self.columns):
            self.rewrite()  # metrics.jsonl holds the record already
            return
        out = io.StringIO()
        csv.DictWriter(out, self.columns, lineterminator="\n").writerow(_cells(record))
        self.file.write(out.getvalue())

    def add_steps(self, rows: list[tuple]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if tuple(self.columns[:6]) == STEP_KEYS:
            pad = [""] * (len(self.columns) - 6)
            writer.writerows([*row, *pad] for row in rows)
        else:
            place = csv.DictWriter(out, self.columns, lineterminator="\n")
            place.writerows(dict(zip(STEP_KEYS, row, strict=True)) for row in rows)
        self.file.write(out.getvalue())

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _cells(record: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in record.items()}


def metrics_csv(path: Path) -> str:
    """metrics.jsonl as CSV: a column per key in order of first appearance, a row per line;
    a key a line lacks (an evaluation row has no lr) is an empty cell."""
    records = read_metrics(path.parent)  # a line cut short by a kill is skipped there too
    columns = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_cells(r) for r in records)
    return out.getvalue()


def truncate_metrics(run_dir: Path, after_step: int) -> None:
    """Drop lines past the checkpoint a run resumes from: they are about to be redone."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return
    kept = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if (step := _step_of(line)) is not None and step <= after_step and '"split"' not in line
    ]  # an evaluation belongs to an end that is now redone
    write_atomic(path, "".join(line + "\n" for line in kept))


def _step_of(line: str) -> int | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:  # a line cut short by a kill
        return None
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) else None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.jsonl's records, skipping a line cut short by a kill."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def write_spec(
    run_dir: Path, data: dict[str, Any], source: str, overrides: list[str], notes: list[str] = ()
) -> None:
    """spec.yaml: exactly what ran, so `graphspec run runs/.../spec.yaml` repeats it."""
    write_atomic(run_dir / "spec.yaml", spec_text(data, source, overrides, notes))


def spec_text(
    data: dict[str, Any], source: str, overrides: list[str], notes: list[str] = ()
) -> str:
    """The resolved spec as YAML with a header naming its file and overrides (also what
    `graphspec run --print-config` prints)."""
    head = [f"# The spec as run by graphspec, from {source}"]
    head += [f"#   --set {item}" for item in overrides]
    head += [f"# {note}" for note in notes]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)
    return "\n".join(head) + "\n" + body


STATUSES = ("running", "finished", "diverged", "interrupted")
MAX_META_BYTES = 1 << 20


def read_meta(run_dir: Path) -> dict[str, Any]:
    """meta.json of a run to resume, checked: a regular file of at most 1 MiB holding a JSON
    object with the fields a run writes (E-RESUME naming what is wrong)."""
    path = run_dir / "meta.json"

    def bad(why: str) -> Exception:
        return fail(
            "E-RESUME",
            f"'{path}' {why}",
            hint="the run folder is damaged; start a new run (its checkpoints are in "
            f"{run_dir / 'checkpoints'})",
        )

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as err:
        raise bad(f"cannot be read: {err.strerror or err}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_META_BYTES:
            raise bad("is not a regular file of at most 1 MiB")
        raw = f.read(MAX_META_BYTES + 1)
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise bad(f"is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise bad("does not hold a JSON object")
    for key, kind in (("graphspec", str), ("spec_hash", str), ("status", str)):
        if not isinstance(meta.get(key), kind):
            raise bad(f"lacks '{key}' (a {kind.__name__})")
    if meta["status"] not in STATUSES:
        raise bad(f"has an unknown status {meta['status']!r}")
    seed = meta.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise bad(f"has a seed that is not a count: {seed!r}")
    return meta


def write_json(path: Path, record: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(record, indent=2) + "\n")


def spec_hash(spec: Any) -> str:
    """What a checkpoint must agree with: the spec minus how long and how loudly it trains."""
    dumped = spec.model_dump(mode="json", by_alias=True)
    dumped["train"] = {k: v for k, v in dumped["train"].items() if k not in RESUMABLE_CHANGES}
    dumped.pop("device", None)  # a run may continue on another device (not bit-exact then)
    text = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def spec_differences(a: Any, b: Any) -> list[str]:
    """Top-level sections where two specs differ beyond RESUMABLE_CHANGES (for E-RESUME)."""
    da, db = a.model_dump(mode="json", by_alias=True), b.model_dump(mode="json", by_alias=True)
    for d in (da, db):
        d["train"] = {k: v for k, v in d["train"].items() if k not in RESUMABLE_CHANGES}
        d.pop("device", None)
    return sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
