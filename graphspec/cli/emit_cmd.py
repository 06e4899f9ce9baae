"""`graphspec emit SPEC [-o FILE] [--train] [--set KEY=VALUE]...`: the model as one
self-contained PyTorch file; with --train, the whole training program (data, loss, optimizer,
loop, prints) as a script. --set changes the spec as `graphspec run --set` does."""

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
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field as `graphspec run --set` does, e.g. --set optimizer.lr=0.01",
    )


def run(args: argparse.Namespace) -> int:
    from graphspec.compiler.pipeline import compile_document
    from graphspec.core.files import write_atomic
    from graphspec.language import overrides
    from graphspec.language.load import load_file

    items = overrides.parse(args.overrides)
    compiled = compile_document(overrides.apply(load_file(args.spec), items))
    if args.train:
        from graphspec.program.script import generate

        source = generate(compiled, args.overrides)
    else:
        source = compiled.source
    if args.output:
        write_atomic(args.output, source)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(source)
    return 0
