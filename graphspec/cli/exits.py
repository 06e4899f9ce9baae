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
"""

from __future__ import annotations

import os
import signal
import sys

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
    return BUG


def report(err: BaseException, argv: list[str]) -> int:
    """Tell the user how the command ended; return its exit code."""
    code = exit_code(err)
    if isinstance(err, SpecError):
        for problem in err.problems:
            print(problem.format(), file=sys.stderr)
    elif isinstance(err, RunStopped):
        print(err.line(), file=sys.stderr, flush=True)
        print(err.run_dir, flush=True)  # the run folder is printed last, as on success
    elif isinstance(err, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
    elif code == BUG:
        print(_crash_line(argv), file=sys.stderr)
    return code


def debug() -> bool:
    """GRAPHSPEC_DEBUG=1: let a bug's traceback through instead of writing a crash log."""
    return bool(os.environ.get("GRAPHSPEC_DEBUG"))


def _crash_line(argv: list[str]) -> str:
    try:
        path = _crash_log(argv)
    except Exception:  # the log itself failed (a full disk): the message must still get out
        return "graphspec: internal error (a bug); the crash log could not be written"
    return f"graphspec: internal error (a bug); details in {path}"


def _crash_log(argv: list[str]) -> str:
    import tempfile  # only a crash needs these: kept off every command's start-up
    import time
    import traceback

    fd, path = tempfile.mkstemp(
        prefix=f"graphspec-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log"
    )
    with os.fdopen(fd, "w") as f:
        f.write(f"graphspec {' '.join(argv)}\n\n{traceback.format_exc()}")
    return path
