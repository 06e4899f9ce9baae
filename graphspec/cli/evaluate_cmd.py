"""`graphspec evaluate RUN_DIR [--data FILE] [--split test]`: a trained run's metrics on its own
split (its final test metrics, reproduced) or on a new labelled file; a table on the screen and
evaluation.json in the run folder or -o (a new file's confusion matrix is in its JSON only)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder `graphspec run` wrote")
    p.add_argument("--data", metavar="FILE", help="a labelled file of new samples")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="the run's own split to evaluate (default: test)")  # fmt: skip
    p.add_argument("--weights", choices=("final", "best"), default="final")
    p.add_argument("-o", "--output", metavar="FILE.json",
                   help="default: RUN_DIR/evaluation.json (or evaluation-<file>.json)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from graphspec.core.files import write_atomic
    from graphspec.training import confusion, metrics
    from graphspec.use import evaluate
    from graphspec.use.trained import open_run

    trained = open_run(args.run_dir, args.weights)
    if args.data:
        result = evaluate.on_file(trained, args.data)
        default = f"evaluation-{Path(args.data).stem}.json"
    else:
        result = evaluate.on_split(trained, args.split)
        default = "evaluation.json" if args.split == "test" else f"evaluation-{args.split}.json"
    out = Path(args.output) if args.output else trained.run_dir / default
    table = Table(title=f"{trained.spec.name}: {result['split']}, {result['samples']:,} samples")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.table_lines(result):
        table.add_row(name, value)
    Console().print(table)
    write_atomic(out, json.dumps(result, indent=2) + "\n")
    if "confusion_matrix" in result and not args.output and not args.data:
        # the run's own split: the run's confusion files again (another file's stay in its JSON)
        confusion.write(trained.run_dir, result["confusion_matrix"])
    print(out)
    return 0
