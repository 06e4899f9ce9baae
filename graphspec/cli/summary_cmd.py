"""`graphspec summary SPEC [--json] [--input x=1,3,224,224]`: nodes, output shapes (symbolic,
or concrete for the input sizes given) and parameter counts."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=SIZES",
        help="concrete input sizes, e.g. x=1,3,224,224 (NAME= may be left out for a model "
        "with one input); repeat for several inputs",
    )


def _parse_inputs(values: list[str]) -> dict[str, tuple[int, ...]]:
    from graphspec.core.errors import Pos, Problem, SpecError

    out = {}
    for value in values:
        name, _, sizes = value.rpartition("=")
        try:
            shape = tuple(int(s) for s in sizes.replace("x", ",").split(","))
        except ValueError:
            shape = ()
        if not shape or any(n < 1 for n in shape):
            message = f"--input {value!r}: sizes must be positive integers, e.g. x=1,3,224,224"
            raise SpecError([Problem("E-USAGE", message, Pos("<command line>", 1, 1))])
        out[name.strip()] = shape
    return out


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler import summary
    from graphspec.compiler.pipeline import compile_file

    given = _parse_inputs(args.input)
    c = compile_file(args.spec)
    sizes = summary.bind_inputs(c.graph, given) if given else {}
    summary.check_sizes(c.graph, sizes)
    if args.json:
        print(json.dumps(summary.as_dict(c.graph, c.spec.name, sizes), indent=2))
    else:
        summary.print_table(c.graph, c.spec.name, sizes)
    return 0
