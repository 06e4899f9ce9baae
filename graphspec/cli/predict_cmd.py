"""`graphspec predict RUN_DIR --data FILE_OR_FOLDER [-o predictions.csv]`: a trained run's
predictions on new data (a table without the target column, an .npz/.npy, an image folder or
images), prepared with the run's stored preprocess.json; one CSV row per sample."""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder `graphspec run` wrote")
    p.add_argument("--data", required=True, metavar="FILE_OR_FOLDER", help="the new samples")
    p.add_argument("-o", "--output", metavar="FILE", help="write the CSV here (default: stdout)")
    p.add_argument("--weights", choices=("final", "best"), default="final",
                   help="weights.pt (final, default) or checkpoints/best.pt (best)")  # fmt: skip
    p.add_argument("--top-k", type=int, metavar="K", help="classification: the K likeliest")


def run(args: argparse.Namespace) -> int:
    from graphspec.core.errors import fail
    from graphspec.core.files import write_atomic
    from graphspec.use import predict
    from graphspec.use.prepare import prepare
    from graphspec.use.trained import open_run

    if args.top_k is not None and args.top_k < 1:
        raise fail("E-USAGE", f"--top-k {args.top_k}: give K >= 1")
    trained = open_run(args.run_dir, args.weights)
    prepared = prepare(trained.state, args.data)
    text = predict.as_csv(predict.table(trained, prepared, args.top_k))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    write_atomic(args.output, text)
    print(f"{len(prepared.names):,} predictions", file=sys.stderr)
    print(args.output)
    return 0
