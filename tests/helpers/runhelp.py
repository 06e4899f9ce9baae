"""Helpers for the `graphspec run` tests: run the CLI in-process or as a real subprocess, read a
run folder back, and fingerprint its final state."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from graphspec.cli import main
from graphspec.training import checkpoint

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def run_dir(self) -> Path:
        """The last line of stdout: where the run was written."""
        return Path(self.out.strip().splitlines()[-1])


def run_cli(*args: str | Path, runs: Path | None = None) -> Result:
    """`graphspec run ...` in this process (torch is imported once for the whole module)."""
    argv = ["run", *map(str, args)] + (["--runs-dir", str(runs)] if runs else [])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Result(code, out.getvalue(), err.getvalue())


def child_env() -> dict[str, str]:
    """A child computes with as many threads as this process: results compare bit-exactly."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(torch.get_num_threads())
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def python_child(*args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python ARGS...` in a child that computes like this process (see `child_env`)."""
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn(*args: str | Path, runs: Path) -> subprocess.Popen:
    """A real `graphspec run` process (for signals)."""
    argv = [sys.executable, "-m", "graphspec", "run", *map(str, args), "--runs-dir", str(runs)]
    return subprocess.Popen(
        argv, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def losses(run_dir: Path) -> list[float]:
    """The logged training losses, in order."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r["loss"] for r in map(json.loads, lines) if "split" not in r and "loss" in r]


def state_digest(run_dir: Path) -> str:
    """sha256 over the newest checkpoint's model, optimizer, scheduler and step counters."""
    newest = checkpoint.listing(run_dir)[0]
    ckpt = torch.load(newest, map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    for part in ("model", "optimizer", "scheduler", "step", "epoch", "batch"):
        _feed(h, ckpt[part])
    return h.hexdigest()


def _feed(h: hashlib._Hash, value: object) -> None:
    if isinstance(value, torch.Tensor):
        h.update(str((value.dtype, tuple(value.shape))).encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(h, item)
    else:
        h.update(repr(value).encode())


def meta(run_dir: Path) -> dict:
    return json.loads((run_dir / "meta.json").read_text())


def compile_with_constants(spec: Path, constants: dict | None = None):
    """`spec` compiled with some of its `constants:` replaced (a zoo model at a small size, the
    same layers and names), as `--set constants.X=...` would."""
    from graphspec.compiler.pipeline import compile_document
    from graphspec.language.load import load_file

    doc = load_file(spec)
    data = dict(doc.data)
    if constants:
        data["constants"] = {**data["constants"], **constants}
    return compile_document(doc, data)
