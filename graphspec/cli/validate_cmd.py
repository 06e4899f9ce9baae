"""`graphspec validate SPEC...`: check each spec; one `ok:` line each, or all its errors."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument(
        "--data",
        action="store_true",
        help="also make every data check `graphspec run` makes before training (files, "
        "columns, classes, shapes against the model), without training",
    )


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler.pipeline import compile_file
    from graphspec.core.codetext import one_line
    from graphspec.core.errors import SpecError

    failed = False
    for path in args.specs:
        try:
            c = compile_file(path)
            if c.spec.weights is not None:  # the file against the model (safetensors: no torch)
                from graphspec.compiler import weights_check

                weights_check.check(c)
        except SpecError as err:
            failed = True
            print("\n".join(p.format() for p in err.problems), file=sys.stderr)
            continue
        outs = ", ".join(str(c.graph.ref_type(ref)) for ref in c.graph.graph.outputs)
        nodes = sum(1 for _ in c.graph.walk())
        params = c.graph.total_params
        data = ""
        if args.data and c.spec.data is not None:
            from graphspec.training.data_check import check_data  # imports torch

            try:
                data = f"\n   {one_line(check_data(path))}"
            except SpecError as err:
                failed = True
                print("\n".join(p.format() for p in err.problems), file=sys.stderr)
                continue
        print(f"ok: {one_line(path)}: {nodes} nodes, {params:,} parameters, output {outs}{data}")
    return 2 if failed else 0
