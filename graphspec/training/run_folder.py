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
import importlib.util
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


class Metrics:
    """metrics.jsonl: one JSON object per line, flushed as written (the run writes its lines
    in batches; a killed run loses at most the last batch, which a resume redoes anyway)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.file = AppendFile(self.path)
        self.tensorboard = True
        """False once the background drawing process is to write tensorboard/ (plots.py)."""

    def write(self, record: dict[str, Any]) -> None:
        self.write_lines([json.dumps(record)])

    def write_lines(self, lines: list[str]) -> None:
        """Records already written as JSON text (the loop's, formatted cheaply)."""
        self.file.write("".join(line + "\n" for line in lines))  # flushed

    def flush(self) -> None:
        pass  # every write is flushed already (kept for the session's call)

    def close(self) -> None:
        """Close metrics.jsonl and write metrics.csv beside it, row for row (read by
        spreadsheets and pandas; rewritten whole, so a resumed run's csv matches too)."""
        self.file.close()
        write_atomic(self.path.with_suffix(".csv"), metrics_csv(self.path))
        if self.tensorboard:
            write_tensorboard(self.path)


TENSORBOARD_DIR = "tensorboard"


def write_tensorboard(path: Path) -> bool:
    """metrics.jsonl replayed as TensorBoard scalars under tensorboard/ (`tensorboard
    --logdir runs`) when the tensorboard package (the `tensorboard` extra) is installed:
    train/loss and train/lr per logged step, eval/<split>/<metric> per evaluation. Rewritten
    whole at each end, so a resumed run holds one curve.

    Written with tensorboard's own event-file writer and Summary protos, the ones
    torch.utils.tensorboard's SummaryWriter.add_scalar writes, without importing torch: the
    background drawing process (plots.py) writes them too."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:  # no tensorboard: metrics.jsonl and .csv still hold it all
        return False
    folder = path.parent / TENSORBOARD_DIR
    shutil.rmtree(folder, ignore_errors=True)
    writer = EventFileWriter(str(folder))
    try:
        for step, name, value in _scalars(path):
            summary = Summary(value=[Summary.Value(tag=name, simple_value=value)])
            writer.add_event(Event(summary=summary, step=step, wall_time=time.time()))
    finally:
        writer.close()
    return True


def tensorboard_installed() -> bool:
    """Whether write_tensorboard will write anything (found without importing it)."""
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):  # a None entry in sys.modules: import it and it fails
        return False


def _scalars(path: Path) -> list[tuple[int, str, float]]:
    """(step, tag, value) for every number in metrics.jsonl, in order."""
    out = []
    for record in read_metrics(path.parent):
        step = record.get("step", 0)
        # a logged step has an lr; an evaluation (its split: train, test) has none;
        # a validation's keys are val_<metric>
        prefix = "train" if "lr" in record else f"eval/{record.get('split', 'fit')}"
        for key, value in record.items():
            if key in ("step", "epoch", "batch", "split", "time_s") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                name = f"val/{key[4:]}" if key.startswith("val_") else f"{prefix}/{key}"
                out.append((step, name, float(value)))
    return out


def metrics_csv(path: Path) -> str:
    """metrics.jsonl as CSV: a column per key in order of first appearance, a row per line;
    a key a line lacks (an evaluation row has no lr) is an empty cell."""
    records = read_metrics(path.parent)  # a line cut short by a kill is skipped there too
    columns = list(dict.fromkeys(key for record in records for key in record))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()}
        for r in records
    )
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
