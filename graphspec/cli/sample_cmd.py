"""`graphspec sample RUN_DIR --prompt TEXT [--tokens N] [--temperature T] [--top-k K]`: text from
a trained next-token model, with the run's own vocabulary."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a folder `graphspec run` wrote")
    p.add_argument("--prompt", required=True, help="the text to continue")
    p.add_argument("--tokens", type=int, default=200, metavar="N", help="default: 200")
    p.add_argument("--temperature", type=float, default=1.0, metavar="T", help="default: 1.0")
    p.add_argument("--top-k", type=int, metavar="K", help="draw among the K likeliest only")
    p.add_argument("--seed", type=int, default=0, help="the draws' seed (default 0)")
    p.add_argument("--weights", choices=("final", "best"), default="final")


def run(args: argparse.Namespace) -> int:
    from graphspec.core.errors import fail
    from graphspec.use.sample import generate
    from graphspec.use.trained import open_run

    if args.tokens < 0 or args.temperature <= 0 or (args.top_k is not None and args.top_k < 1):
        raise fail("E-USAGE", "--tokens >= 0, --temperature > 0 and --top-k >= 1, please")
    trained = open_run(args.run_dir, args.weights)
    print(generate(trained, args.prompt, args.tokens, args.temperature, args.top_k, args.seed))
    return 0
