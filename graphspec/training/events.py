"""tensorboard/: the run's numbers as TensorBoard scalars, written by the run as it logs.

`tensorboard --logdir runs` follows a run while it trains: every batch of logged steps that
reaches metrics.jsonl reaches the event file in the same flush, with the wall time of its log.
The tags: `train/loss` and `train/lr` per logged step, `val/<metric>` per validation,
`eval/<split>/<metric>` per evaluation (the counts, samples and correct, stay in metrics.jsonl).

The records are tensorboard's own `Event` and `Summary` protos (what torch.utils.tensorboard's
`SummaryWriter.add_scalar` writes) in TFRecord framing (`_frame`, as tensorboard's
`RecordWriter`), written synchronously without its writer thread and without importing torch.
The framing's CRC32C is the `crc32c` package's (C, 0.7 µs a record; in the `tensorboard`
extra), else tensorboard's pure-Python one (about 10 µs a record: bench/run_step.py's loop
logs every 5 steps of 0.12 ms). Without the tensorboard package nothing is written;
metrics.jsonl and metrics.csv hold it all.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import time
from pathlib import Path
from typing import Any

from graphspec.core.files import io_error, make_dir

TENSORBOARD_DIR = "tensorboard"
NOT_SCALARS = frozenset({"step", "epoch", "batch", "split", "time_s", "samples", "correct"})


def tags(record: dict[str, Any]) -> list[tuple[str, float]]:
    """(tag, value) for each number of one metrics.jsonl record; the one naming rule."""
    # a logged step has an lr; an evaluation (its split: train, test) has none;
    # a validation's keys are val_<metric>
    prefix = "train" if "lr" in record else f"eval/{record.get('split', 'fit')}"
    out = []
    for key, value in record.items():
        if key in NOT_SCALARS or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        out.append(
            (f"val/{key[4:]}" if key.startswith("val_") else f"{prefix}/{key}", float(value))
        )
    return out


def _protos() -> tuple[Any, Any, Any] | None:
    """Event, Summary and a CRC32C function; None without tensorboard."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
    except ImportError:
        return None
    try:
        from crc32c import crc32c
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import (  # type: ignore[no-redef]
            crc32c,
        )
    return Event, Summary, crc32c


def _frame(data: bytes, crc32c: Any) -> bytes:
    """One TFRecord: length (uint64), its masked CRC32C, the data, the data's masked CRC32C."""
    header = struct.pack("<Q", len(data))
    return header + _masked(header, crc32c) + data + _masked(data, crc32c)


def _masked(data: bytes, crc32c: Any) -> bytes:
    x = crc32c(data) & 0xFFFFFFFF
    return struct.pack("<I", (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


class Events:
    """One event file under run_dir/tensorboard/, appended to and flushed by the caller."""

    def __init__(self, folder: Path, protos: tuple[Any, Any, Any]) -> None:
        self.Event, self.Summary, self.crc32c = protos
        self.templates: dict[tuple[str, ...], Any] = {}
        make_dir(folder)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}"
        self.path = folder / name
        try:
            self.file = open(self.path, "ab")  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise io_error(self.path, err, "open") from None
        self._write(self.Event(wall_time=time.time(), file_version="brain.Event:2"))

    @classmethod
    def open(cls, run_dir: Path, fresh: bool = True) -> Events | None:
        """The run's event file, None without tensorboard; `fresh` clears an older folder
        (a resumed run replays its kept metrics first: `replay`)."""
        protos = _protos()
        if protos is None:
            return None
        folder = run_dir / TENSORBOARD_DIR
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        return cls(folder, protos)

    def add(self, step: int, wall_time: float, scalars: list[tuple[str, float]]) -> None:
        if not scalars:
            return
        tags = tuple(t for t, _ in scalars)
        event = self.templates.get(tags)
        if event is None:  # one Event per set of tags, refilled: a third cheaper than anew
            values = [self.Summary.Value(tag=t) for t in tags]
            event = self.templates[tags] = self.Event(summary=self.Summary(value=values))
        event.step, event.wall_time = step, wall_time
        for value, (_, number) in zip(event.summary.value, scalars, strict=True):
            value.simple_value = number
        self._write(event)

    def record(self, record: dict[str, Any], wall_time: float | None = None) -> None:
        step = record.get("step", 0)
        self.add(step if isinstance(step, int) else 0, wall_time or time.time(), tags(record))

    def _write(self, event: Any) -> None:
        try:
            self.file.write(_frame(event.SerializeToString(), self.crc32c))
        except OSError as err:
            raise io_error(self.path, err) from None

    def flush(self) -> None:
        try:
            self.file.flush()
        except OSError as err:
            raise io_error(self.path, err) from None

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # a failed write was reported; closing cannot add anything


def replay(run_dir: Path, records: list[dict[str, Any]]) -> Events | None:
    """A fresh tensorboard/ holding `records` (a resumed run's kept lines, or a whole finished
    run's), left open for more; None without tensorboard."""
    events = Events.open(run_dir, fresh=True)
    if events is not None:
        for record in records:
            events.record(record)
        events.flush()
    return events


def installed() -> bool:
    """Whether tensorboard/ will be written (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):  # a None entry in sys.modules: import it and it fails
        return False
