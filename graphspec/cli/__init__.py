"""The command line: thin commands over the library, and one place that maps failures to exits.

Exit codes and what each ending prints are one table, in cli/exits.py. Set GRAPHSPEC_DEBUG=1
to see a bug's traceback instead of a crash log.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys

from graphspec.cli import exits

COMMANDS = {
    "validate": "check specs and infer every shape (no torch import)",
    "summary": "a table of nodes, output shapes and parameter counts",
    "emit": "write the model as a plain PyTorch source file",
    "render": "draw the graph with graphviz (svg, png, pdf or dot)",
    "schema": "print the JSON Schema of the spec language (for editors)",
    "run": "train a spec; writes runs/<name>/<timestamp>/",
    "runs": "list runs with their final numbers; `runs compare RUN RUN...` side by side",
    "sweep": "search hyper-parameters on Optuna: every trial a run folder, pruned at validations",
    "zoo": "list the models shipped inside graphspec (model: {from: graphspec:zoo/NAME.yaml})",
    "predict": "a trained run's predictions on new data (CSV, .npz/.npy, images)",
    "evaluate": "a trained run's metrics on its test split or a new labelled file",
    "sample": "text from a trained next-token model",
    "export": "export the model to torch.export (.pt2), TorchScript or ONNX, checked against eager",
    "lsp": "serve the Language Server Protocol on stdio: diagnostics, hover, shapes in the editor",
}


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, that command alone, so `graphspec validate` neither
    imports nor builds any other command's parser (start-up). `graphspec --help` lists all."""
    top = argparse.ArgumentParser(prog="graphspec", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=_version())
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if only in (None, name):
            command = sub.add_parser(name, help=help_text, description=help_text)
            _command(name).add_arguments(command)
    return top


def _command(name: str):
    return importlib.import_module(f"graphspec.cli.{name}_cmd")


def _version() -> str:
    from graphspec import __version__

    return f"graphspec {__version__}"


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # this process's own command: it ends when main returns
        gc.set_threshold(*PROCESS_GC)
        os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # see PROCESS_GC
        try:
            return _main(argv)
        finally:
            gc.freeze()  # nothing is left to collect: skip the collection at interpreter exit
    return _main(argv)


PROCESS_GC = (100_000, 50, 100)
"""Collector thresholds for a graphspec process (CPython's default: 700, 10, 10). Start-up builds
thousands of long-lived objects (pydantic models, schemas, validators) and little garbage, and
young collections kept scanning them: the higher first threshold (as mypy sets its own) and the
freeze at exit took about 8% of `graphspec validate specs/lenet.yaml`'s instructions (callgrind).

Pydantic plugins are left out the same way: graphspec's models are its own, a plugin installed for
another program (an observability hook) has nothing to watch here, and finding plugins reads the
entry points of every installed package (about 6 ms of a 0.4 s validate in a venv of 120)."""


def _main(argv: list[str] | None) -> int:
    given = sys.argv[1:] if argv is None else argv
    args = parser(given[0] if given and given[0] in COMMANDS else None).parse_args(argv)
    args.in_process = argv is not None  # called from Python, not from a shell: see run_cmd
    try:
        return _command(args.command).run(args) or 0
    except BaseException as err:  # every ending goes through the one exit table
        if isinstance(err, SystemExit) or (exits.exit_code(err) == exits.BUG and exits.debug()):
            raise
        return exits.report(err, argv if argv is not None else sys.argv[1:])
