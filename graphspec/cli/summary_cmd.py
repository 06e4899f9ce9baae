"""`graphspec summary SPEC [--json]`: nodes, output shapes and parameter counts."""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler import summary
    from graphspec.compiler.pipeline import compile_file

    c = compile_file(args.spec)
    if args.json:
        print(json.dumps(summary.as_dict(c.graph, c.spec.name), indent=2))
    else:
        summary.print_table(c.graph, c.spec.name)
    return 0
