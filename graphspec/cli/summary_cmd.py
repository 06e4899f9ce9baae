"""`graphspec summary SPEC [--json] [--batch-size N] [--size NAME=VALUE ...]`: nodes, output
shapes, parameter counts, and the static cost of a training step (compiler/cost.py)."""

from __future__ import annotations

import argparse
import json
import re


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--batch-size",
        type=_positive,
        metavar="N",
        help="the batch size N for the cost (default: the spec's data batch size, else 1)",
    )
    p.add_argument(
        "--size",
        action="append",
        default=[],
        type=_binding,
        metavar="NAME=VALUE",
        help="a value for another symbolic size in the cost, e.g. --size L=128 (repeatable)",
    )


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1 or len(text) > 18:
        raise argparse.ArgumentTypeError(f"expected a whole number 1 or more, got {text!r}")
    return int(text)


def _binding(text: str) -> tuple[str, int]:
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\d{1,18})", text)
    if not m or int(m[2]) < 1:
        raise argparse.ArgumentTypeError(f"expected NAME=N with N >= 1, got {text!r}")
    return m[1], int(m[2])


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler import cost, summary
    from graphspec.compiler.pipeline import compile_file

    c = compile_file(args.spec)
    sizes = cost.default_sizes(c.spec) | dict(args.size)
    if args.batch_size:
        sizes["N"] = args.batch_size
    costs = cost.cost_of(c.graph, sizes)
    if args.json:
        print(
            json.dumps({**summary.as_dict(c.graph, c.spec.name), "cost": costs.as_dict()}, indent=2)
        )
    else:
        console = summary.print_table(c.graph, c.spec.name)
        cost.print_cost(costs, console)
    return 0
