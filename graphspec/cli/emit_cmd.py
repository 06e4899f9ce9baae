"""`graphspec emit SPEC [-o FILE]`: the model as one self-contained PyTorch file."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE.py", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    from graphspec.compile import compile_file
    from graphspec.files import write_atomic

    source = compile_file(args.spec).source
    if args.output:
        write_atomic(args.output, source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0
