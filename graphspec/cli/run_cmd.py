"""`graphspec run SPEC [--set key=value ...] [--resume RUN_DIR]`: train a spec, write a run folder.

Exit codes: 0 done; 2 invalid input (spec, data, checkpoint); 3 the loss became NaN or inf;
130 (SIGINT) / 143 (SIGTERM) stopped after a checkpoint. docs/run.md shows a run.
"""

from __future__ import annotations

import argparse

FAKE_DATA_DEFAULT = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "positionals",
        metavar="SPEC [KEY=VALUE ...]",
        nargs="*",
        help="the spec to train (optional with --resume: the run's own spec.yaml), then "
        "overrides as bare key=value, like --set (e.g. optimizer.lr=0.01 train.epochs=3)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. --set optimizer.lr=0.01 (repeatable)",
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its newest checkpoint (bit-exact on the CPU)",
    )
    p.add_argument(
        "--fallback",
        action="store_true",
        help="with --resume: use the newest checkpoint that verifies",
    )
    p.add_argument(
        "--fake-data",
        nargs="?",
        type=int,
        const=FAKE_DATA_DEFAULT,
        metavar="N",
        help="train on N FakeData images shaped like the spec's dataset (default "
        f"{FAKE_DATA_DEFAULT}; test N/5), when the real one is not at hand",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the spec as it would run (overrides applied) as YAML and exit; write nothing",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only the run folder")
    p.add_argument(
        "--no-plots",
        action="store_true",
        help="draw no pictures (loss.png, fit.png, fit.gif, graph.svg)",
    )
    p.add_argument(
        "--plots-now",
        action="store_true",
        help="draw the pictures before the command returns; by default a background process "
        "draws them once the run folder is otherwise complete",
    )
    p.add_argument(
        "--runs-dir", default="runs", metavar="DIR", help="where run folders go (default: runs)"
    )
    p.add_argument("--out", metavar="DIR", help="write the run to exactly this folder")
    p.add_argument(
        "--overwrite", action="store_true", help="with --out: replace an existing run folder there"
    )
    p.add_argument(
        "--budget-mem",
        metavar="SIZE",
        help="memory a run may plan for, e.g. 64G (default: 80%% of RAM; a CUDA device: 90%% "
        "of its memory)",
    )
    p.add_argument(
        "--no-budget", action="store_true", help="skip the memory budget check (E-BUDGET)"
    )
    p.add_argument(
        "--decode-cache",
        nargs="?",
        const="",
        metavar="DIR",
        help="keep an image folder's decoded images in DIR (default $XDG_CACHE_HOME/graphspec/"
        "decoded), keyed by each file's name, size and time: the next run skips the decode",
    )
    p.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train on N processes of this machine: runs `torchrun --standalone "
        "--nproc-per-node N -m graphspec run ...` (data.batch_size stays the global batch)",
    )
    p.add_argument(
        "--any-world-size",
        action="store_true",
        help="with --resume: allow another number of processes than the run trained on",
    )


def run(args: argparse.Namespace) -> int:
    from graphspec.language.overrides import split_positionals

    args.spec, bare = split_positionals(args.positionals)
    args.overrides = [*args.overrides, *bare]  # bare key=value is --set key=value
    if args.print_config:
        return print_config(args.spec, args.overrides, args.resume)
    if args.nproc is not None:
        return _launch(args)
    from graphspec.training.plan import Options

    opts = Options(
        spec=args.spec,
        overrides=args.overrides,
        resume=args.resume,
        fallback=args.fallback,
        fake_data=args.fake_data,
        quiet=args.quiet,
        runs_dir=args.runs_dir,
        out=args.out,
        overwrite=args.overwrite,
        any_world_size=args.any_world_size,
        argv=_command_line(args),
        budget_mem=args.budget_mem,
        no_budget=args.no_budget,
        decode_cache=args.decode_cache,
        pictures=_pictures(args),
    )
    return train(opts)


def _pictures(args: argparse.Namespace) -> str:
    """Off with --no-plots; drawn before returning with --plots-now or when called in-process
    (a caller of graphspec.cli.main reads the folder next); else by a background process."""
    if args.no_plots:
        return "off"
    if args.plots_now or getattr(args, "in_process", False):
        return "now"
    return "background"


def train(opts) -> int:
    """Check everything torch-free (plan), then train (session); SpecError means exit 2."""
    import os

    from graphspec.training import world as worlds
    from graphspec.training.plan import prepare
    from graphspec.training.screen import Screen

    world = worlds.current()  # a malformed torchrun environment: E-DIST before anything
    if world.distributed:  # c10d's own C++ log lines would precede graphspec's one line
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "FATAL")
    plan = prepare(opts)
    try:
        from graphspec.training.startup import load_torch

        load_torch()  # a fresh process: the collector paused while torch loads (startup.py)
        from graphspec.training.session import Session  # imports torch

        if world.distributed:  # under torchrun: DDP, rank 0 writes (training/distributed.py)
            from graphspec.training.distributed import DistributedSession

            return DistributedSession(plan, opts, Screen(quiet=opts.quiet), world).run()
        return Session(plan, opts, Screen(quiet=opts.quiet)).run()
    finally:
        if plan.lock is not None:
            plan.lock.release()


def print_config(spec: str | None, items: list[str], resume: str | None) -> int:
    """The resolved spec on stdout, checked like a run's (torch-free); nothing is written."""
    from pathlib import Path

    from graphspec.compiler.pipeline import compile_document
    from graphspec.core.errors import fail
    from graphspec.language import overrides
    from graphspec.language.load import load_file
    from graphspec.language.recipe import check_training_options
    from graphspec.training.run_folder import spec_text

    if spec is None and resume is not None:
        spec = str(Path(resume) / "spec.yaml")
    if spec is None:
        raise fail("E-USAGE", "graphspec run --print-config needs a SPEC, or --resume RUN_DIR")
    doc = overrides.apply(load_file(spec), overrides.parse(items))
    compiled = compile_document(doc)  # a run's checks: an invalid spec is exit 2, not printed
    check_training_options(compiled.spec, doc)  # what the run checks after importing torch
    print(spec_text(doc.data, spec, items), end="")
    return 0


def _command_line(args: argparse.Namespace) -> list[str]:
    """The command as a user would retype it (recorded in meta.json)."""
    line = ["graphspec", "run"] + ([args.spec] if args.spec else [])
    for item in args.overrides:
        line += ["--set", item]
    for flag in ("resume", "fake_data", "runs_dir", "out", "budget_mem"):
        value = getattr(args, flag)
        if value is not None and not (flag == "runs_dir" and value == "runs"):
            line += [f"--{flag.replace('_', '-')}", str(value)]
    if args.decode_cache is not None:
        line += ["--decode-cache", *([args.decode_cache] if args.decode_cache else [])]
    flags = ("fallback", "quiet", "overwrite", "no_budget", "any_world_size", "no_plots")
    return line + [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f)]


def _launch(args: argparse.Namespace) -> int:
    """--nproc N: the same command under torchrun, which starts N ranks; its exit code."""
    from graphspec.core.errors import fail
    from graphspec.training import world

    if args.nproc < 1:
        raise fail("E-USAGE", f"--nproc {args.nproc}: needs at least one process")
    if world.current().distributed:
        raise fail("E-USAGE", "--nproc inside a torchrun job: torchrun already started the ranks")
    return world.launch(world.torchrun_command(args.nproc, _command_line(args)[1:]))
