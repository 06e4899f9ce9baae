"""Corrupt and special data files of every format end in E-DATA naming the file, exit 2.

A bad CRC inside an .npz, a .pt holding non-tensors or inputs and targets of different lengths,
safetensors headers that lie (shapes, dtypes, offsets), a corrupt PNG, a PNG claiming 30000x30000
pixels, a symbolic link to /dev/zero and a FIFO named like an image: each is refused before
training with one E-DATA line that names the file. The FIFO runs in a child under a time limit
(the negative control of a hang): before the check, ImageFolder blocked on it forever.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.runhelp import child_env, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")

TABLE = """\
name: corrupt
model:
  inputs: {{x: [N, 2]}}
  layers:
    out: {{op: Linear, out_features: 3}}
data: {data}
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.1}}
train: {{steps: 2}}
seed: 1
device: cpu
"""

IMAGES = """\
name: images
model:
  inputs: {x: [N, 3, 8, 8]}
  layers:
    flat: {op: flatten, start_dim: 1}
    out: {op: Linear, out_features: 2}
data: {source: ImageFolder, root: imgs, transforms: [ToTensor], batch_size: 2}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 2}
seed: 1
device: cpu
"""


def _run(tmp_path: Path, spec_text: str) -> tuple[int, str]:
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text)
    res = run_cli(spec, "--quiet", "--no-plots", runs=tmp_path / "runs")
    return res.code, res.err


def _refused(tmp_path: Path, spec_text: str, file: str, *words: str) -> str:
    code, err = _run(tmp_path, spec_text)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "error[E-DATA]" in lines[0] and file in lines[0], err
    for word in words:
        assert word in lines[0], err
    assert not any((tmp_path / "runs").glob("*/weights.pt"))
    return lines[0]


def _blobs(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 2)).astype(np.float32), rng.integers(0, 3, n)


# -- .npz -------------------------------------------------------------------------------------


def corrupt_npz_crc(path: Path) -> None:
    """One byte of a member's data flipped: the zip's table is intact, the CRC is not."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"NUMPY") + 200  # inside the first array's data
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_an_npz_with_a_bad_crc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _blobs(40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    corrupt_npz_crc(tmp_path / "d.npz")
    data = "{source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}"
    _refused(tmp_path, TABLE.format(data=data), "d.npz")


def test_negative_control_the_same_npz_uncorrupted_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _blobs(40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = "{source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}"
    assert _run(tmp_path, TABLE.format(data=data))[0] == 0


# -- .pt ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, words",
    [
        ({"x": 5, "y": torch.zeros(4, dtype=torch.long)}, ["'x'", "int", "not a tensor"]),
        ([torch.zeros(4, 2)], ["list", "not a dict"]),
        ({"x": torch.zeros(20, 2), "y": torch.zeros(7, dtype=torch.long)}, ["20", "7"]),
    ],
)
def test_a_pt_file_holding_the_wrong_things(tmp_path, monkeypatch, content, words):
    monkeypatch.chdir(tmp_path)
    torch.save(content, tmp_path / "d.pt")
    data = "{source: tensors, path: d.pt, inputs: [x], target: y, batch_size: 4}"
    _refused(tmp_path, TABLE.format(data=data), "d.pt", *words)


# -- .safetensors -----------------------------------------------------------------------------


def write_safetensors(path: Path, header: dict, data: bytes) -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _good_header(n: int = 8) -> tuple[dict, bytes]:
    x = np.zeros((n, 2), np.float32).tobytes()
    y = np.zeros(n, np.int64).tobytes()
    header = {
        "x": {"dtype": "F32", "shape": [n, 2], "data_offsets": [0, len(x)]},
        "y": {"dtype": "I64", "shape": [n], "data_offsets": [len(x), len(x) + len(y)]},
    }
    return header, x + y


@pytest.mark.parametrize(
    "change",
    [
        {"shape": ["a"]},
        {"shape": 5},
        {"shape": [[10], 2]},
        {"dtype": "Q99"},
        {"data_offsets": [0, 10**9]},
        {"shape": [9, 2]},  # lies about the byte size
        {"data_offsets": [-1, 63]},
    ],
)
def test_a_safetensors_header_that_lies(tmp_path, monkeypatch, change):
    monkeypatch.chdir(tmp_path)
    header, data = _good_header()
    header["x"].update(change)
    write_safetensors(tmp_path / "d.safetensors", header, data)
    data_field = "{source: tensors, path: d.safetensors, inputs: [x], target: y, batch_size: 4}"
    _refused(tmp_path, TABLE.format(data=data_field), "d.safetensors")


def test_negative_control_a_truthful_safetensors_header_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    header, data = _good_header()
    write_safetensors(tmp_path / "d.safetensors", header, data)
    data_field = "{source: tensors, path: d.safetensors, inputs: [x], target: y, batch_size: 4}"
    assert _run(tmp_path, TABLE.format(data=data_field))[0] == 0


# -- ImageFolder --------------------------------------------------------------------------------


def png_bytes(width: int, height: int, body: bytes | None = None) -> bytes:
    """A PNG: IHDR for an RGB image, one IDAT, IEND (the chunks written by hand, so a header
    may claim any size without the pixels being made)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    if body is None:
        body = zlib.compress(b"".join(b"\0" + b"\x80" * 3 * width for _ in range(height)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _image_folder(tmp_path: Path) -> Path:
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "imgs" / cls / f"{i}.png").write_bytes(png_bytes(8, 8))
    return tmp_path / "imgs" / "b"


def test_negative_control_a_sound_image_folder_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _image_folder(tmp_path)
    code, err = _run(tmp_path, IMAGES)
    assert code == 0, err


@pytest.mark.parametrize("kind", ["corrupt", "garbage", "bomb", "dev_zero"])
def test_a_bad_image_in_a_class_folder(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    folder = _image_folder(tmp_path)
    bad = folder / "z.png"
    if kind == "corrupt":  # the pixels' chunk damaged: its CRC no longer matches
        raw = bytearray(png_bytes(8, 8))
        raw[raw.index(b"IDAT") + 6] ^= 0xFF
        bad.write_bytes(bytes(raw))
    elif kind == "garbage":
        bad.write_bytes(b"not an image at all")
    elif kind == "bomb":
        bad.write_bytes(png_bytes(30000, 30000, body=b""))
    else:
        bad.symlink_to("/dev/zero")
    _refused(tmp_path, IMAGES, "z.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_like_an_image_is_refused_within_a_time_limit(tmp_path):
    folder = _image_folder(tmp_path)
    os.mkfifo(folder / "z.png")
    (tmp_path / "s.yaml").write_text(IMAGES)
    argv = [sys.executable, "-m", "graphspec", "run", "s.yaml", "-q", "--no-plots"]
    try:
        proc = subprocess.run(argv, cwd=tmp_path, env=child_env(), capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("graphspec run blocked on a FIFO in an image folder")
    assert proc.returncode == 2, proc.stderr
    assert "error[E-DATA]" in proc.stderr and "z.png" in proc.stderr
    assert "not a regular file" in proc.stderr
