"""`graphspec render SPEC [-o FILE]`: draw the graph with graphviz (svg, png, pdf or dot).

The format comes from `--format`, else from the suffix of `-o`, else DOT. Without `-o` the drawing
goes to stdout (DOT or SVG text; PNG and PDF only into a pipe). A spec whose shapes do not check
is still drawn, up to the failing node (marked red, with the message); the errors then go to
stderr as usual and the exit code is 2.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here (.svg .png .pdf .dot); default: DOT text on stdout",
    )
    p.add_argument(
        "--format",
        choices=("dot", "svg", "png", "pdf"),
        help="default: from the -o suffix, else dot",
    )
    p.add_argument(
        "--rankdir",
        choices=("TB", "LR"),
        default="TB",
        help="top to bottom (default) or left to right",
    )
    p.add_argument(
        "--depth",
        type=_depth,
        metavar="N",
        help="draw blocks nested deeper than N as single nodes (0: every block)",
    )
    p.add_argument(
        "--expand",
        action="store_true",
        help="draw every copy of a repeated block instead of one marked ×N",
    )


def _depth(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from graphspec.core.errors import SpecError
    from graphspec.render import diagram as render

    fmt = _format(args)
    typed, title, failure = _typed(args.spec)
    text = render.dot_source(
        typed,
        title=title,
        problems=failure.problems if failure else (),
        rankdir=args.rankdir,
        depth=args.depth,
        expand=args.expand,
    )
    try:
        _write(text, args.output, fmt)
    except SpecError as err:  # no graphviz, or nowhere to write: report it with the spec's errors
        raise SpecError([*(failure.problems if failure else []), *err.problems]) from None
    if failure:
        raise failure  # drawn up to the error; now report it like any other command
    return 0


def _typed(spec_path: str):
    """(typed graph, title, None), or the partial graph and the error when inference failed."""
    from pathlib import Path

    from graphspec.compiler.pipeline import compile_file
    from graphspec.core.errors import SpecError

    try:
        compiled = compile_file(spec_path)
    except SpecError as err:
        if getattr(err, "partial", None) is None:  # failed before there was a graph to draw
            raise
        return err.partial, Path(spec_path).stem, err
    return compiled.graph, compiled.spec.name, None


def _format(args: argparse.Namespace) -> str:
    from graphspec.core.errors import fail
    from graphspec.render import diagram as render

    if args.output is None:
        return args.format or "dot"
    by_suffix = render.format_of(args.output)
    if args.format and by_suffix and args.format != by_suffix:
        raise fail(
            "E-RENDER",
            f"--format {args.format} does not match the suffix of {args.output}",
            hint=f"write -o with .{args.format}, or drop --format",
        )
    if not (args.format or by_suffix):
        raise fail(
            "E-RENDER",
            f"cannot tell the format of {args.output} from its suffix",
            hint="use .svg, .png, .pdf or .dot, or give --format",
        )
    return args.format or by_suffix


def _write(text: str, output: str | None, fmt: str) -> None:
    from graphspec.core.errors import fail
    from graphspec.render import diagram as render

    if output:
        written = render.write_drawing(text, output, fmt)  # E-IO from the one writer
        print(f"wrote {written}", file=sys.stderr)
    elif fmt == "dot":
        sys.stdout.write(text)
    elif fmt != "svg" and sys.stdout.isatty():
        raise fail(
            "E-RENDER",
            f"will not print {fmt.upper()} bytes to a terminal",
            hint=f"give -o FILE.{fmt}, or pipe the output",
        )
    elif fmt == "svg":
        sys.stdout.write(render.run_dot(text, fmt).decode())
    else:
        sys.stdout.buffer.write(render.run_dot(text, fmt))
