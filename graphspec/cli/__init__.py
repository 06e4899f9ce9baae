"""The command line: thin commands over the library, and one place that maps failures to exits.

Exit codes: 0 success, 1 a bug (one line naming a crash log), 2 invalid input, 3 training
diverged, 130/143 interrupted. Set GRAPHSPEC_DEBUG=1 to see tracebacks instead of crash logs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from graphspec.core.codetext import one_line
from graphspec.core.errors import SpecError

COMMANDS = {
    "validate": "check specs and infer every shape (no torch import)",
    "summary": "a table of nodes, output shapes and parameter counts",
    "emit": "write the model as a plain PyTorch source file",
    "render": "draw the graph with graphviz (svg, png, pdf or dot)",
    "schema": "print the JSON Schema of the spec language (for editors)",
    "run": "train a spec; writes runs/<name>/<timestamp>/",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="graphspec", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=_version())
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        module = _command(name)
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return top


def _command(name: str):
    return importlib.import_module(f"graphspec.cli.{name}_cmd")


def _version() -> str:
    from graphspec import __version__

    return f"graphspec {__version__}"


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _command(args.command).run(args) or 0
    except SpecError as err:
        for problem in err.problems:
            print(problem.format(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # a bug: keep the traceback out of the user's way, but keep it
        if os.environ.get("GRAPHSPEC_DEBUG"):
            raise
        if _out_of_memory(err):  # not a bug: a budget raised past what the machine has
            last = one_line(str(err).strip().splitlines()[-1][:200] if str(err).strip() else "")
            code = "E-OOM"
            print(
                f"error[{code}]: out of memory: {last}; hint: the memory budget was raised past "
                "what the machine has (--budget-mem, --no-budget); lower the batch size or "
                "the model",
                file=sys.stderr,
            )
            return 2
        _report_bug(argv if argv is not None else sys.argv[1:])
        return 1


def _out_of_memory(err: BaseException) -> bool:
    """An allocation the machine could not make (torch's CPU allocator, CUDA, Python)."""
    text = str(err)
    return (
        isinstance(err, MemoryError)
        or type(err).__name__ == "OutOfMemoryError"
        or ("can't allocate memory" in text or "CUDA out of memory" in text)
    )


def _report_bug(argv: list[str]) -> None:
    """One line on stderr naming the crash log; when no log can be written (a full disk, a
    read-only /tmp, ulimit -f), one line with the error itself. Never raises."""
    bug = sys.exc_info()[1]
    try:
        line = f"details in {_crash_log(argv)}"
    except Exception as err:  # noqa: BLE001 - the crash log must not become a second crash
        from graphspec.core.codetext import one_line

        why = getattr(err, "strerror", None) or type(err).__name__
        line = one_line(f"{type(bug).__name__}: {bug}"[:300]) + f" (no crash log: {why})"
    try:
        print(f"graphspec: internal error (a bug); {line}", file=sys.stderr)
    except Exception:  # noqa: BLE001 - stderr itself is gone: nothing left to tell
        pass


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
