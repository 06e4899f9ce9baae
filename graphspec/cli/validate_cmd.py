"""`graphspec validate SPEC...`: check each spec; one `ok:` line each, or all its errors."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("specs", nargs="+", metavar="SPEC")


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler import weights_check
    from graphspec.compiler.pipeline import compile_file
    from graphspec.core.codetext import one_line
    from graphspec.core.errors import SpecError

    failed = False
    for path in args.specs:
        try:
            c = compile_file(path)
            weights_check.check(c)  # the weights file against the model (safetensors: no torch)
        except SpecError as err:
            failed = True
            print("\n".join(p.format() for p in err.problems), file=sys.stderr)
            continue
        outs = ", ".join(str(c.graph.ref_type(ref)) for ref in c.graph.graph.outputs)
        nodes = sum(1 for _ in c.graph.walk())
        params = c.graph.total_params
        print(f"ok: {one_line(path)}: {nodes} nodes, {params:,} parameters, output {outs}")
    return 2 if failed else 0
