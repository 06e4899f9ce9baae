"""`graphspec summary SPEC [--json] [--input x=1,3,224,224] [--batch-size N] [--size NAME=N]`:
nodes, output shapes (symbolic, or concrete for the input sizes given), parameter counts, and the
static cost of a training step (compiler/cost.py) at those sizes."""

from __future__ import annotations

import argparse
import json
import re


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
    from graphspec.compiler import cost, summary
    from graphspec.compiler.pipeline import compile_file

    given = _parse_inputs(args.input)
    c = compile_file(args.spec)
    sizes = summary.bind_inputs(c.graph, given) if given else {}
    summary.check_sizes(c.graph, sizes | dict(args.size))
    at = cost.default_sizes(c.spec) | sizes | dict(args.size)
    if args.batch_size:
        at["N"] = args.batch_size
    costs = cost.cost_of(c.graph, at)
    trainable, frozen = _trainable(c)
    if args.json:
        shown = summary.as_dict(c.graph, c.spec.name, sizes)
        counts = {"trainable_params": trainable, "frozen_params": frozen}
        print(json.dumps({**shown, **counts, "cost": costs.as_dict()}, indent=2))
    else:
        console = summary.print_table(c.graph, c.spec.name, sizes)
        if frozen:
            console.print(f"Trainable params: {trainable:,} · frozen (train.freeze): {frozen:,}")
        cost.print_cost(costs, console)
    return 0


def _trainable(c) -> tuple[int, int]:
    """(trainable, frozen) parameter counts under train.freeze."""
    if not c.spec.train.freeze:
        return c.graph.total_params, 0
    from graphspec.compiler.state import state_table, trainable_counts

    return trainable_counts(state_table(c.graph), c.spec.train.freeze)
