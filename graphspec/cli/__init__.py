"""The command line: thin commands over the library, and one place that maps failures to exits.

Exit codes: 0 success, 1 a bug (one line naming a crash log), 2 invalid input, 3 training
diverged, 130/143 interrupted. Set GRAPHSPEC_DEBUG=1 to see tracebacks instead of crash logs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from graphspec.core.errors import SpecError

COMMANDS = {
    "validate": "check specs and infer every shape (no torch import)",
    "summary": "a table of nodes, output shapes and parameter counts",
    "emit": "write the model as a plain PyTorch source file",
    "render": "draw the graph with graphviz (svg, png, pdf or dot)",
    "schema": "print the JSON Schema of the spec language (for editors)",
    "run": "train a spec; writes runs/<name>/<timestamp>/",
    "export": "export the model to torch.export (.pt2), TorchScript or ONNX, checked against eager",
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
    except Exception:  # a bug: keep the traceback out of the user's way, but keep it
        if os.environ.get("GRAPHSPEC_DEBUG"):
            raise
        path = _crash_log(argv if argv is not None else sys.argv[1:])
        print(f"graphspec: internal error (a bug); details in {path}", file=sys.stderr)
        return 1


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
