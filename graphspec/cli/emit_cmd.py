"""`graphspec emit SPEC [-o FILE] [--train]`: the model as one self-contained PyTorch file;
with --train, the whole training program (data, loss, optimizer, loop, prints) as a script."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--output", metavar="FILE.py", help="write here instead of stdout")
    p.add_argument(
        "--train",
        action="store_true",
        help="emit a standalone training script (runs with plain `python`)",
    )


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler.pipeline import compile_file
    from graphspec.core.files import write_atomic

    compiled = compile_file(args.spec)
    if args.train:
        from graphspec.program.script import generate

        source = generate(compiled)
    else:
        source = compiled.source
    if args.output:
        write_atomic(args.output, source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0
