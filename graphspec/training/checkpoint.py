"""Checkpoints: written atomically, read back only with `torch.load(weights_only=True)`.

A checkpoint holds what resuming bit-exactly needs: the model, optimizer and scheduler state, the
global torch RNG and the data generator (now, and at the start of the epoch, whose order is
redrawn), and where in the epoch the run was. A file that fails any check is refused with
E-CKPT and the reason; nothing in it is ever unpickled as code.

Checks on reading, in order: the path is a regular file (not a FIFO, a device or a symbolic
link: opened with O_NOFOLLOW | O_NONBLOCK, so a FIFO cannot hang resume), no larger than
MAX_BYTES; torch.load(weights_only=True) reads it; it has every key; and its `checksum`, a
sha256 over every tensor's bytes and every other value (`digest`), matches: one flipped bit in
tensor data is E-CKPT, and `--fallback` resumes from the newest checkpoint that verifies.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import torch

from graphspec.core import files
from graphspec.core.errors import SpecError, fail, warnings_after_success
from graphspec.core.files import make_dir, write_atomic
from graphspec.training.loop import TrainState

FORMAT = 2  # 2: with a checksum
MAX_BYTES = 64 << 30
"""The largest checkpoint read back (64 GiB): beyond that it is not one this run wrote."""
FOLDER = "checkpoints"
BEST = "best.pt"
"""`train.validation`'s best weights, a checkpoint beside the step ones (never pruned)."""
_NAME = re.compile(r"^step-(\d{8})\.pt$")
_KEYS = {
    "format",
    "spec_hash",
    "step",
    "epoch",
    "batch",
    "running_loss",
    "running_count",
    "model",
    "optimizer",
    "scheduler",
    "rng",
    "checksum",
}


def path_for(run_dir: Path, step: int) -> Path:
    return run_dir / FOLDER / f"step-{step:08d}.pt"


def save_atomic(obj: Any, path: Path) -> None:
    """torch.save through the one writer (core/files.py): whole or not at all, E-IO on OS
    errors."""
    make_dir(path.parent)
    write_atomic(path, lambda f: torch.save(obj, f))


def capture(
    state: TrainState,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    generator: torch.Generator,
    spec_hash: str,
) -> dict[str, Any]:
    ckpt = {
        "format": FORMAT,
        "spec_hash": spec_hash,
        "step": state.step,
        "epoch": state.epoch,
        "batch": state.batch,
        "running_loss": state.running_loss,
        "running_count": state.running_count,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": capture_rng(state, generator),
        "validation": {
            "best": state.best,
            "best_step": state.best_step,
            "best_epoch": state.best_epoch,
            "bad": state.bad_validations,
        },
    }
    ckpt["checksum"] = digest(ckpt)
    return ckpt


def digest(obj: Any) -> str:
    """sha256 over a checkpoint's content (its `checksum` key left out): every tensor's dtype,
    shape and bytes, and every other value's type and repr, in a fixed order."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in obj.items() if k != "checksum"} if isinstance(obj, dict) else obj)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"L{type(value).__name__}{len(value)}".encode())
        for item in value:
            _feed(h, item)
    else:
        h.update(f"V{type(value).__name__}:{value!r}".encode())


def capture_rng(state: TrainState, generator: torch.Generator) -> dict[str, Any]:
    rng = {
        "torch": torch.get_rng_state(),
        "data": generator.get_state(),
        "epoch": state.epoch_rng if state.epoch_rng is not None else generator.get_state(),
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(ckpt: dict[str, Any], state: TrainState, generator: torch.Generator) -> None:
    """Put back every random stream: without this a resumed run draws a different order."""
    rng = ckpt["rng"]
    torch.set_rng_state(rng["torch"])
    generator.set_state(rng["data"])
    state.epoch_rng = rng["epoch"]
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def restore(
    ckpt: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    generator: torch.Generator,
    where: str,
) -> TrainState:
    """Load a verified checkpoint into the freshly built objects; return the loop state."""
    try:
        model.load_state_dict(ckpt["model"], strict=True)
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        first = str(err).strip().splitlines()[0]
        raise fail("E-CKPT", f"{where}: does not fit this model: {first}") from None
    state = TrainState(
        step=ckpt["step"],
        epoch=ckpt["epoch"],
        batch=ckpt["batch"],
        running_loss=ckpt["running_loss"],
        running_count=ckpt["running_count"],
    )
    val = ckpt.get("validation")
    if isinstance(val, dict):  # the early-stopping counters go on where they were
        best = val.get("best")
        state.best = float(best) if isinstance(best, (int, float)) else None
        state.best_step, state.best_epoch = (
            int(val.get("best_step", 0)),
            int(val.get("best_epoch", 0)),
        )
        state.bad_validations = int(val.get("bad", 0))
    restore_rng(ckpt, state, generator)
    return state


def check_world(ckpt: dict[str, Any], size: int, allowed: bool, where: str) -> None:
    """A run resumes on as many processes as it trained on: the batches are cut the same way
    then, and the result is bit-identical. Another count trains the same global batches, so it
    is allowed on request, but its float rounding differs."""
    saved = ckpt.get("world_size", 1)
    if saved != size and not allowed:
        raise fail(
            "E-RESUME",
            f"{where}: written by a run on {saved} process(es), resumed on {size}",
            hint=f"resume with torchrun --nproc-per-node {saved} (or --nproc {saved}); "
            "--any-world-size continues anyway (same batches, not bit-identical)",
        )


def load(path: Path, spec_hash: str) -> dict[str, Any]:
    """Read and verify one checkpoint; every failure is E-CKPT naming the reason."""
    where = str(path)
    try:
        with open_regular(path, where) as f, warnings_after_success():
            ckpt = torch.load(f, map_location="cpu", weights_only=True)
    except SpecError:
        raise
    except FileNotFoundError:
        raise fail("E-CKPT", f"{where}: missing") from None
    except Exception as err:  # truncated zip, a pickle that is not plain data, ...  # noqa: BLE001
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "it holds Python objects, not plain tensors (refused, never unpickled)"
        raise fail("E-CKPT", f"{where}: not a readable checkpoint: {reason}") from None
    return _verify(ckpt, where, spec_hash)


def open_regular(path: Path, where: str, max_bytes: int = MAX_BYTES) -> Any:
    """`path` opened for reading only if it is a regular file (not a link) of at most
    `max_bytes`: the one reader (core/files.py), with E-CKPT."""
    del where  # the path names itself
    return files.open_regular(path, "E-CKPT", max_bytes, "a checkpoint", follow_links=False)


def _verify(ckpt: Any, where: str, spec_hash: str) -> dict[str, Any]:
    if not isinstance(ckpt, dict) or not _KEYS <= ckpt.keys():
        raise fail("E-CKPT", f"{where}: not a graphspec checkpoint (keys missing)")
    if not isinstance(ckpt["format"], int) or ckpt["format"] > FORMAT:
        raise fail(
            "E-CKPT",
            f"{where}: written in format {ckpt['format']}, newer than this "
            f"graphspec reads ({FORMAT})",
            hint="upgrade graphspec to resume it",
        )
    if ckpt["format"] < FORMAT:
        raise fail(
            "E-CKPT",
            f"{where}: written in format {ckpt['format']}, without a checksum",
            hint="start a new run; this graphspec resumes only checkpoints it can verify",
        )
    if not isinstance(ckpt["checksum"], str) or digest(ckpt) != ckpt["checksum"]:
        raise fail(
            "E-CKPT",
            f"{where}: the checksum does not match its content (the file is corrupt)",
            hint="pass --fallback to resume from the newest checkpoint that verifies",
        )
    if ckpt["spec_hash"] != spec_hash:
        raise fail(
            "E-CKPT",
            f"{where}: belongs to a different spec (hash "
            f"{str(ckpt['spec_hash'])[:12]}, this run's is {spec_hash[:12]})",
        )
    for key in ("step", "epoch", "batch", "running_count"):
        if not isinstance(ckpt[key], int) or ckpt[key] < 0:
            raise fail("E-CKPT", f"{where}: '{key}' is not a count: {ckpt[key]!r}")
    rng = ckpt["rng"]
    if not isinstance(rng, dict) or not all(
        isinstance(rng.get(k), torch.Tensor) for k in ("torch", "data", "epoch")
    ):
        raise fail("E-CKPT", f"{where}: RNG state missing or malformed")
    return ckpt


def listing(run_dir: Path) -> list[Path]:
    """The run's checkpoints, newest first (by step in the name)."""
    folder = run_dir / FOLDER
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def remove_strays(run_dir: Path) -> list[Path]:
    """Temporary files a kill left behind mid-save; they were never renamed, so never valid."""
    folder = run_dir / FOLDER
    strays = [p for p in folder.glob(".*.tmp")] if folder.is_dir() else []
    for p in strays:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: the stray stays, and is never read
    return strays


def newest_valid(run_dir: Path, spec_hash: str, fallback: bool) -> tuple[dict[str, Any], Path]:
    """The newest checkpoint that verifies. Without `fallback`, the newest must verify."""
    paths = listing(run_dir)
    if not paths:
        raise fail(
            "E-CKPT",
            f"{run_dir}: no checkpoints to resume from",
            hint=f"expected {FOLDER}/step-NNNNNNNN.pt in the run folder",
        )
    first_error: SpecError | None = None
    for path in paths:
        try:
            return load(path, spec_hash), path
        except SpecError as err:
            if not fallback:
                problem = err.problems[0]
                hint = problem.hint
                if len(paths) > 1:
                    more = "pass --fallback to resume from the newest checkpoint that verifies"
                    hint = f"{hint}; {more}" if hint else more
                raise fail("E-CKPT", problem.message, hint=hint) from None
            first_error = first_error or err
    assert first_error is not None
    raise first_error


def prune(run_dir: Path, keep: int) -> None:
    for old in listing(run_dir)[keep:]:
        try:
            old.unlink(missing_ok=True)
        except OSError:
            pass  # an old checkpoint kept on a full or read-only disk harms nothing


def params_finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())
