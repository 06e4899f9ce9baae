"""Corrupted data files of every format, and the check that graphspec reads them safely.

Each format (npz, npy, a torch .pt, safetensors, csv, text, PNG images in an ImageFolder) has a
small sound file; `corrupt` damages its bytes (flipped bytes, a cut, inserted or zeroed runs, a
duplicated stretch, a hostile safetensors header) or swaps it for a FIFO or a link to /dev/zero.
`exercise` then takes the spec from plan to built job, in this process, the way `graphspec run`
does up to the first step (spec, budget, presence, make_data, the fit checks, the first batch),
under a time limit: a refusal (SpecError, or out of memory) is fine; anything else, or running
past the limit, is what the fuzz looks for.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import traceback
import zlib
from pathlib import Path

import numpy as np

LIMIT_S = 90  # a hang is forever; a loaded 2-core machine can take a while

CLASSIFIER = """\
name: fuzz
model:
  inputs: {{x: [N, 2]}}
  layers:
    out: {{op: Linear, out_features: 3}}
data: {data}
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.1}}
train: {{steps: 1}}
seed: 1
device: cpu
"""
TOKENS = """\
name: fuzz
model:
  inputs: {x: {shape: [N, T], dtype: int64}}
  layers:
    emb: {op: Embedding, num_embeddings: 64, embedding_dim: 4}
    logits: {op: Linear, out_features: 64}
    classes_first: {op: transpose, dim0: 1, dim1: 2}
data: {source: text, path: t.txt, block_size: 8, batch_size: 4}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 1}
seed: 1
device: cpu
"""
IMAGES = """\
name: fuzz
model:
  inputs: {x: [N, 3, 8, 8]}
  layers:
    flat: {op: flatten, start_dim: 1}
    out: {op: Linear, out_features: 2}
data: {source: ImageFolder, root: imgs, transforms: [ToTensor], batch_size: 4}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 1}
seed: 1
device: cpu
"""


def _blobs(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 3, n)


def png(width: int = 8, height: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    rows = b"".join(b"\0" + bytes(range(3 * width)) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


def _npz(d: Path) -> Path:
    x, y = _blobs()
    np.savez(d / "d.npz", x=x, y=y)
    return d / "d.npz"


def _npy(d: Path) -> Path:
    x, y = _blobs()
    np.save(d / "y.npy", y)
    np.save(d / "x.npy", x)
    return d / "x.npy"


def _pt(d: Path) -> Path:
    import torch

    x, y = _blobs()
    torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, d / "d.pt")
    return d / "d.pt"


def _safetensors(d: Path) -> Path:
    x, y = _blobs()
    header = {
        "x": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, x.nbytes]},
        "y": {"dtype": "I64", "shape": list(y.shape),
              "data_offsets": [x.nbytes, x.nbytes + y.nbytes]},
    }  # fmt: skip
    text = json.dumps(header).encode()
    path = d / "d.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + x.tobytes() + y.tobytes())
    return path


def _csv(d: Path) -> Path:
    x, y = _blobs()
    lines = ["a,b,label"] + [f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(x, y, strict=True)]
    (d / "t.csv").write_text("\n".join(lines) + "\n")
    return d / "t.csv"


def _text(d: Path) -> Path:
    (d / "t.txt").write_text("the cat sat on the mat. " * 12)
    return d / "t.txt"


def _images(d: Path) -> Path:
    for cls in ("a", "b"):
        (d / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            (d / "imgs" / cls / f"{i}.png").write_bytes(png())
    return d / "imgs" / "b" / "0.png"


# format: (make the sound files and return the one to corrupt, the spec)
FORMATS = {
    "npz": (_npz, CLASSIFIER.format(
        data="{source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}")),
    "npy": (_npy, CLASSIFIER.format(
        data="{source: npy, inputs: [x.npy], target: y.npy, batch_size: 4}")),
    "pt": (_pt, CLASSIFIER.format(
        data="{source: tensors, path: d.pt, inputs: [x], target: y, batch_size: 4}")),
    "safetensors": (_safetensors, CLASSIFIER.format(
        data="{source: tensors, path: d.safetensors, inputs: [x], target: y, batch_size: 4}")),
    "csv": (_csv, CLASSIFIER.format(
        data="{source: table, path: t.csv, target: label, num_classes: 3, batch_size: 4}")),
    "text": (_text, TOKENS),
    "png": (_images, IMAGES),
}  # fmt: skip


def _hostile_header(raw: bytes, rng: random.Random) -> bytes:
    """A safetensors header with one entry's dtype, shape or offsets replaced by a lie."""
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    entry = header[rng.choice(sorted(header))]
    key = rng.choice(["dtype", "shape", "data_offsets"])
    entry[key] = rng.choice(
        [["a"], 5, [[10], 2], "Q99", [0, 10**12], [-1, 3], [3, 1], None, {}, [2**70], True,
         [16, 3], [], "F64", [0]]
    )  # fmt: skip
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + raw[8 + size :]


def corrupt(path: Path, fmt: str, rng: random.Random) -> str:
    """Damage `path` in place; return what was done (for reporting)."""
    if rng.random() < 0.02 and hasattr(os, "mkfifo"):
        path.unlink()
        os.mkfifo(path)
        return "fifo"
    if rng.random() < 0.02:
        path.unlink()
        path.symlink_to("/dev/zero")
        return "link to /dev/zero"
    raw = bytearray(path.read_bytes())
    kind = rng.randrange(7 if fmt == "safetensors" else 6)
    if kind == 6:
        path.write_bytes(_hostile_header(bytes(raw), rng))
        return "hostile header"
    if not raw:
        return "empty"
    at = rng.randrange(len(raw))
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        done = "flipped bytes"
    elif kind == 1:
        raw = raw[:at]
        done = f"cut at {at}"
    elif kind == 2:
        raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        done = f"garbage inserted at {at}"
    elif kind == 3:
        n = rng.randint(1, 256)
        raw[at : at + n] = bytes(min(n, len(raw) - at))
        done = f"zeroed at {at}"
    elif kind == 4:
        n = rng.randint(1, 64)
        raw[at:at] = raw[at : at + n]
        done = f"stretch duplicated at {at}"
    else:
        raw[at] = (raw[at] + rng.choice([1, -1, 0x80])) % 256
        done = f"one byte nudged at {at}"
    path.write_bytes(bytes(raw))
    return done


class _Timeout(BaseException):
    """Raised by the alarm: a case that ran past LIMIT_S (a hang)."""


def exercise(folder: Path, spec_text: str) -> str | None:
    """None when the data is read or refused cleanly; else what went wrong (one line)."""
    from graphspec.cli.exits import INPUT, exit_code
    from graphspec.training.plan import Options, prepare
    from graphspec.training.screen import Screen
    from graphspec.training.session import Session

    spec = folder / "fuzz.yaml"
    spec.write_text(spec_text)
    here = Path.cwd()
    os.chdir(folder)

    def alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(LIMIT_S)
    plan = None
    try:
        opts = Options(spec=str(spec), pictures="off", quiet=True)
        plan = prepare(opts)
        with open(os.devnull, "w") as devnull:
            screen = Screen(quiet=True, tty=False, out=devnull, err=devnull)
            session = Session(plan, opts, screen)
            job = session._make_job()
            next(iter(job.data.train.batches()))
        return None
    except _Timeout:
        return f"hang: over {LIMIT_S} s"
    except BaseException as err:  # noqa: BLE001 - sorting refusals from bugs
        if exit_code(err) == INPUT:
            return None
        last = traceback.format_exc().strip().splitlines()
        where = next((ln.strip() for ln in reversed(last) if ln.strip().startswith("File ")), "")
        return f"internal error: {type(err).__name__}: {str(err)[:120]} at {where}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        if plan is not None and plan.lock is not None:
            plan.lock.release()
        os.chdir(here)


def one_case(root: Path, fmt: str, seed: int) -> tuple[str, str | None]:
    """Make the sound files of `fmt` under a fresh folder, corrupt one, exercise it."""
    import shutil

    folder = root / f"{fmt}-{seed}"
    folder.mkdir()
    try:
        make, spec = FORMATS[fmt]
        target = make(folder)
        done = corrupt(target, fmt, random.Random(seed))
        return done, exercise(folder, spec)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
