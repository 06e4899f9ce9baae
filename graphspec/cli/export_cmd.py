"""`graphspec export SPEC [--weights RUN_DIR] --format pt2|torchscript|onnx -o FILE`: the model
for deployment tools, with its symbolic sizes (the batch `N`, `L`, ...) kept dynamic, and checked
against the eager module at other sizes than the traced ones before the file is kept."""

from __future__ import annotations

import argparse
import sys

FORMATS = ("pt2", "torchscript", "onnx")  # graphspec.export.formats.FORMATS (kept torch-free)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "spec", metavar="SPEC", nargs="?", help="the spec (optional with --weights RUN_DIR)"
    )
    p.add_argument("--format", "-f", choices=FORMATS, default="pt2", help="default: pt2")
    p.add_argument("-o", "--output", metavar="FILE", help="default: <spec name>.pt2|.pt|.onnx")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output file (never a file of a run folder)",
    )
    p.add_argument(
        "--weights",
        metavar="RUN_DIR",
        help="a run folder (its final weights.pt) or a state_dict file; default: random weights",
    )
    p.add_argument(
        "--size",
        dest="sizes",
        action="append",
        default=[],
        metavar="SYM=INT",
        help="trace at this size of a symbol (default N=2, others 8; repeatable)",
    )
    p.add_argument(
        "--check-size",
        dest="check_sizes",
        action="append",
        default=[],
        metavar="SYM=INT",
        help="check at this size (default N=3, others 16; repeatable)",
    )
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    p.add_argument(
        "--device",
        default="cpu",
        help="export and check on this device (pt2, torchscript; onnx runs on the CPU)",
    )


def run(args: argparse.Namespace) -> int:
    from graphspec.export.exporter import Request, export

    report = export(
        Request(
            spec=args.spec,
            format=args.format,
            output=args.output,
            weights=args.weights,
            sizes=_sizes(args.sizes, "--size"),
            check_sizes=_sizes(args.check_sizes, "--check-size"),
            atol=args.atol,
            rtol=args.rtol,
            device=args.device,
            overwrite=args.overwrite,
        )
    )
    dynamic = ", ".join(report.dynamic) or "none"
    at = ", ".join(f"{k}={v}" for k, v in report.checked.items()) or "fixed sizes"
    print(
        f"exported {report.format} (dynamic: {dynamic}; weights: {report.weights}); checked at "
        f"{at} against the eager module: largest difference {report.agreement.worst:.3g}",
        file=sys.stderr,
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(report.path)
    return 0


def _sizes(items: list[str], flag: str) -> dict[str, int]:
    from graphspec.core.errors import fail

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not value.isdigit() or int(value) < 1:
            raise fail(
                "E-USAGE",
                f"{flag} {item!r}: expected SYMBOL=SIZE, e.g. {flag} N=4",
                hint="SIZE is a positive integer",
            )
        out[name] = int(value)
    return out
