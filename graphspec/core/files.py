"""The one writer: every file a command writes goes through here.

Two promises, for every output (the emitted module, a drawing, the schema, and each file of a
run folder: spec.yaml, meta.json, model.py, metrics.jsonl, checkpoints, weights, plots):
- an OS error is a user-facing E-IO naming the path and the reason (no space left, read-only
  file system, permission denied, no such folder, a file larger than `ulimit -f` allows), never
  a traceback;
- nothing is left half-written: a file is written to a temporary file in the same folder,
  fsynced, then renamed over its name, and the temporary file is removed if anything fails (a
  kill -9 can leave one behind: its name starts with '.' and ends with '.tmp', and the run
  folder's readers skip and remove those).

Python ignores SIGXFSZ, so a write beyond `ulimit -f` fails with EFBIG instead of killing the
process; that is what makes a full disk and a size limit reportable.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from graphspec.core.errors import SpecError, fail

Writer = Callable[[IO[bytes]], Any]
"""Writes a whole file's content to a binary file object (torch.save, savefig)."""

_REASONS = {
    errno.ENOSPC: ("no space left on the device", "free some space, or write elsewhere"),
    errno.EDQUOT: ("disk quota exceeded", "free some space, or write elsewhere"),
    errno.EFBIG: ("file too large (the file size limit, ulimit -f)", "raise the limit"),
    errno.EROFS: ("read-only file system", "write to a writable folder"),
    errno.EACCES: ("permission denied", "write to a folder you may write to"),
    errno.EPERM: ("operation not permitted", "write to a folder you may write to"),
    errno.ENOENT: ("no such folder", "create the folder first, or write elsewhere"),
    errno.ENOTDIR: ("a part of the path is not a folder", "check the path"),
    errno.EISDIR: ("it is a folder", "give a file name"),
    errno.ENAMETOOLONG: ("the name is too long", "choose a shorter path"),
}


def io_error(path: str | os.PathLike[str], err: OSError, doing: str = "write") -> SpecError:
    """E-IO for `err` while `doing` `path`: the reason in words, and what to do."""
    reason, hint = _REASONS.get(err.errno or 0, (err.strerror or type(err).__name__, None))
    return fail("E-IO", f"cannot {doing} {path}: {reason}", hint=hint)


def write_atomic(path: str | os.PathLike[str], data: str | bytes | Writer) -> None:
    """Write `data` (text, bytes, or a function writing to a binary file) to `path`, whole or
    not at all; an OS error is E-IO naming `path`."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as err:
        raise io_error(target, err) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                _write_with(data, f)
            else:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give it a normal file's mode
        os.replace(tmp, target)
    except OSError as err:
        _remove(tmp)
        raise io_error(target, err) from None
    except BaseException:
        _remove(tmp)
        raise


class _Recording:
    """A file object that remembers the OS error of a failed write: torch.save's zip writer
    turns it into a RuntimeError ("unexpected pos"), which would hide ENOSPC or EFBIG."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _write_with(writer: Writer, f: IO[bytes]) -> None:
    recording = _Recording(f)
    try:
        writer(recording)  # type: ignore[arg-type]
    except Exception:
        if recording.error is not None:
            raise recording.error from None
        raise


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass  # a folder that turned read-only: nothing more can be done, and it is a .tmp


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_dir(path: str | os.PathLike[str], *, exclusive: bool = False) -> Path:
    """mkdir -p (or, `exclusive`, a new folder that must not exist: FileExistsError is left to
    the caller); any other OS error is E-IO."""
    target = Path(path)
    try:
        if exclusive:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.mkdir()
        else:
            target.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        if exclusive or not target.is_dir():
            raise
    except OSError as err:
        raise io_error(target, err, "create the folder") from None
    return target


def open_fd(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """os.open with E-IO (the run folder's lock file)."""
    try:
        return os.open(path, flags, mode)
    except OSError as err:
        raise io_error(path, err, "open") from None


class AppendFile:
    """A text file written a line at a time (metrics.jsonl): each write flushed, OS errors E-IO.

    Appending is not atomic: a kill mid-line leaves a cut line, which readers skip."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise io_error(self.path, err, "open") from None

    def write(self, text: str) -> None:
        try:
            self.file.write(text)
            self.file.flush()
        except OSError as err:
            raise io_error(self.path, err) from None

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # the write that failed was reported; closing cannot add anything


def open_regular(
    path: str | os.PathLike[str], code: str, max_bytes: int, what: str, *, follow_links: bool = True
) -> IO[bytes]:
    """The one reader of a file named by the user: opened only if it is a regular file of at
    most `max_bytes` (opened with O_NONBLOCK and checked with fstat, so a FIFO never blocks
    and /dev/zero is never read; with `follow_links=False` a symbolic link is refused too, as
    a run folder's checkpoints are); anything else is `code` (E-IO, E-CKPT, E-DATA) naming it."""
    import stat

    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise fail(code, f"{path}: missing", hint=f"give the path of {what}") from None
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_links:
            raise fail(code, f"{path}: is a symbolic link (refused)") from None
        reason = _REASONS.get(err.errno or 0, (err.strerror or type(err).__name__,))[0]
        raise fail(code, f"cannot read {path}: {reason}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        os.close(fd)
        why = (
            "is not a regular file (a folder, a FIFO or a device)"
            if not stat.S_ISREG(info.st_mode)
            else f"is {info.st_size:,} bytes, more than the {max_bytes:,} {what} may be"
        )
        raise fail(code, f"{path}: {why} (refused)", hint=f"give the path of {what}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def check_output(
    path: str | os.PathLike[str], *, overwrite: bool, flag: str = "--overwrite"
) -> None:
    """E-IO before any work when `path` cannot take a new file: its folder is missing or not
    writable, it is a folder or a special file, it is a file of a run folder (never replaced),
    or it exists and `overwrite` was not asked for. Checked by creating and removing a
    temporary file beside it."""
    import stat

    target = Path(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise io_error(target, err) from None
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise fail("E-IO", f"cannot write {target}: it is a folder", hint="give a file name")
        if not stat.S_ISREG(info.st_mode):
            raise fail("E-IO", f"cannot write {target}: it is not a regular file (a device, a "
                       "FIFO)", hint="give a file name")  # fmt: skip
        if is_run_folder(target.parent):
            raise fail("E-IO", f"will not replace {target}: it belongs to a run folder",
                       hint="write the output elsewhere")  # fmt: skip
        if not overwrite:
            raise fail("E-IO", f"will not replace {target}: it exists",
                       hint=f"pass {flag} to replace it, or give another name")  # fmt: skip
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise io_error(target, err) from None
    os.close(fd)
    os.unlink(tmp)


def is_run_folder(folder: str | os.PathLike[str]) -> bool:
    """A folder `graphspec run` wrote: its files (weights, checkpoints, spec) are never
    replaced by another command's output."""
    return Path(folder, "meta.json").is_file() and Path(folder, "spec.yaml").is_file()
