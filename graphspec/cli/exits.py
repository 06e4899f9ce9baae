"""How every command ends: one table from outcome to exit code and to what the user sees.

Like huggingface_hub's CLI errors module, this is the only place that knows the exit codes:

| outcome                          | exit | on screen                                            |
|----------------------------------|------|------------------------------------------------------|
| success                          | 0    | the command's output                                 |
| a bug (any other exception)      | 1    | one line naming a crash log (GRAPHSPEC_DEBUG=1: raise) |
| invalid input (`SpecError`)      | 2    | one `FILE:LINE:COL: error[CODE]: ...` line each      |
| training diverged (`Diverged`)   | 3    | the error line, then the run folder                  |
| SIGINT (`Interrupted`, Ctrl-C)   | 130  | the error line, then the run folder                  |
| SIGTERM (`Interrupted`)          | 143  | the error line, then the run folder                  |
| stdout closed (`BrokenPipeError`) | 0   | nothing                                              |
| out of memory (past a raised budget) | 2 | one `error[E-OOM]: ...` line                         |

The crash log never raises: when it cannot be written (a full disk, `ulimit -f`, a read-only
temporary folder), the bug's own message is shown on the one line instead, and no partial log
is left.
"""

from __future__ import annotations

import os
import signal
import sys

from graphspec.core.codetext import one_line
from graphspec.core.errors import Diverged, Interrupted, RunStopped, SpecError

OK, BUG, INPUT, DIVERGED = 0, 1, 2, 3
SIGNALLED = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


def exit_code(err: BaseException) -> int:
    """The code for an outcome, from the table above."""
    if isinstance(err, SpecError):
        return INPUT
    if isinstance(err, Diverged):
        return DIVERGED
    if isinstance(err, Interrupted):
        return SIGNALLED.get(err.signum, 130)
    if isinstance(err, KeyboardInterrupt):
        return 130
    if isinstance(err, BrokenPipeError):
        return OK
    if out_of_memory(err):
        return INPUT
    return BUG


def out_of_memory(err: BaseException) -> bool:
    """An allocation the machine could not make (torch's CPU allocator, CUDA, Python): after
    the memory budget was raised past the machine (training/budget.py), not a bug."""
    text = str(err)
    return (
        isinstance(err, MemoryError)
        or type(err).__name__ == "OutOfMemoryError"
        or "can't allocate memory" in text
        or "CUDA out of memory" in text
    )


def report(err: BaseException, argv: list[str]) -> int:
    """Tell the user how the command ended; return its exit code."""
    code = exit_code(err)
    if isinstance(err, SpecError):
        for problem in err.problems:
            print(problem.format(), file=sys.stderr)
    elif isinstance(err, RunStopped) and not err.quiet:
        print(err.line(), file=sys.stderr, flush=True)
        print(err.run_dir, flush=True)  # the run folder is printed last, as on success
    elif isinstance(err, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
    elif out_of_memory(err):
        last = one_line(str(err).strip().splitlines()[-1][:200] if str(err).strip() else "")
        oom = "E-OOM"
        print(
            f"error[{oom}]: out of memory: {last}; hint: the run needed more memory than the "
            "machine gave (the budget is an estimate, and --budget-mem or --no-budget relax it);"
            " lower the batch size, the model or the data",
            file=sys.stderr,
        )
    elif code == BUG:
        try:
            print(_crash_line(argv, err), file=sys.stderr)
        except Exception:  # noqa: BLE001 - stderr itself is gone: nothing left to tell
            pass
    return code


def debug() -> bool:
    """GRAPHSPEC_DEBUG=1: let a bug's traceback through instead of writing a crash log."""
    return bool(os.environ.get("GRAPHSPEC_DEBUG"))


def _crash_line(argv: list[str], bug: BaseException) -> str:
    try:
        path = _crash_log(argv)
    except Exception as err:  # noqa: BLE001 - the log failed (a full disk): say what broke
        why = getattr(err, "strerror", None) or type(err).__name__
        what = one_line(f"{type(bug).__name__}: {bug}"[:300])
        return f"graphspec: internal error (a bug); {what} (no crash log: {why})"
    return f"graphspec: internal error (a bug); details in {path}"


def _crash_log(argv: list[str]) -> str:
    import tempfile  # only a crash needs these: kept off every command's start-up
    import time
    import traceback

    fd, path = tempfile.mkstemp(
        prefix=f"graphspec-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log"
    )
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"graphspec {' '.join(argv)}\n\n{traceback.format_exc()}")
    except BaseException:
        os.unlink(path)  # a log cut short by a full disk helps nobody
        raise
    return path
