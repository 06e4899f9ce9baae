"""`graphspec sweep SPEC --set 'key=SPACE' ... --trials N`: search hyper-parameters on Optuna.

Each trial is a normal run folder under the sweep folder (runs/<name>/sweep-<key>/trial-NNNN/).
Rerunning the same command continues the study up to N finished trials; `--workers K` runs K
trial processes here, and `--storage URL` shares the study between machines (docs/run.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from graphspec.sweep.definition import PRUNERS, SAMPLERS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "positionals",
        metavar="SPEC [KEY=SPACE ...]",
        nargs="*",
        help="the spec, then overrides: spaces such as "
        "'optimizer.lr=tag(log, interval(1e-4, 1e-1))', 'data.batch_size=choice(16, "
        "32)', 'model.layers.fc1.out_features=range(32, 257, 32)', or plain values",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=SPACE",
        help="a search space or a plain override (repeatable)",
    )
    p.add_argument(
        "--trials",
        type=int,
        default=10,
        metavar="N",
        help="finished trials the study ends with (default 10)",
    )
    p.add_argument(
        "--metric",
        metavar="SPLIT.NAME",
        help="what is optimised: val.loss (default with train.validation), "
        "val.accuracy, test.accuracy, train.loss ...",
    )
    p.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
        help="default: maximize for accuracy and topK, else minimize",
    )
    p.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="default: tpe")
    p.add_argument(
        "--pruner",
        choices=PRUNERS,
        help="median (default with train.validation), hyperband or none",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="the sampler's seed; each trial's seed derives from "
        "it and the trial number (default: the spec's seed, else 0)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="K",
        help="trial processes on this machine, sharing the study (default 1)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna database URL (postgresql://...) shared by several machines; "
        "default: a journal file in the sweep folder",
    )
    p.add_argument("--runs-dir", default="runs", metavar="DIR")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="the sweep folder (default: "
        "RUNS_DIR/<name>/sweep-<key>, the same for the same command)",
    )
    p.add_argument("--resume", metavar="SWEEP_DIR", help="continue the sweep in this folder")
    p.add_argument("--worker", metavar="SWEEP_DIR", help=argparse.SUPPRESS)
    p.add_argument(
        "--fake-data",
        nargs="?",
        type=int,
        const=1000,
        metavar="N",
        help="train every trial on FakeData shaped like the spec's dataset",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print only the sweep folder")


def run(args: argparse.Namespace) -> int:
    from graphspec.sweep import require_optuna

    require_optuna()
    folder, defn = _folder_and_definition(args)
    if args.worker:
        from graphspec.sweep import work

        work(defn, folder, args.storage, args.fake_data, say=_say(True))
        return 0
    return _lead(args, folder, defn)


def _lead(args: argparse.Namespace, folder: Path, defn) -> int:
    from graphspec.core.errors import fail
    from graphspec.sweep import report, start_workers, work
    from graphspec.sweep.study import open_study
    from graphspec.training.startup import load_torch

    if args.workers < 1:
        raise fail("E-USAGE", f"--workers {args.workers}: needs at least one")
    open_study(defn, folder, args.storage)  # a bad --storage is said before torch loads
    load_torch()
    say = _say(args.quiet)
    say(f"sweep {folder}: {defn.trials} trials, {defn.direction} {defn.metric}")
    others = start_workers(folder, args.workers, args.storage, args.fake_data)
    try:
        work(defn, folder, args.storage, args.fake_data, say=say)
    finally:
        codes = [p.wait() for p in others]
    text = report.write(open_study(defn, folder, args.storage), defn, folder)
    if not args.quiet:
        print(text, end="")
    print(folder)
    return max([0, *codes])


def _say(quiet: bool):
    def say(text: str) -> None:
        if not quiet:
            print(text, flush=True)

    return say


def _folder_and_definition(args: argparse.Namespace):
    from graphspec.sweep import DEFINITION
    from graphspec.sweep.definition import Definition

    given = args.worker or args.resume
    if given:
        return Path(given), _stored(Path(given), args.trials if args.resume else None)
    defn, name = _new_definition(args)
    folder = Path(args.out) if args.out else Path(args.runs_dir) / name / f"sweep-{defn.key}"
    stored = folder / DEFINITION
    if stored.exists():  # the same command again: the same study, continued
        old = Definition.from_json(stored.read_text(encoding="utf-8"))
        _check_same(old, defn, folder)
    _write_definition(folder, defn)
    return folder, defn


def _new_definition(args: argparse.Namespace):
    from graphspec.core.errors import fail
    from graphspec.language.overrides import split_positionals
    from graphspec.sweep.definition import build

    spec, bare = split_positionals(args.positionals)
    if spec is None:
        raise fail("E-USAGE", "graphspec sweep needs a SPEC", hint="graphspec sweep SPEC --set ...")
    if args.trials < 1:
        raise fail("E-USAGE", f"--trials {args.trials}: needs at least one")
    options = {
        "trials": args.trials,
        "metric": args.metric,
        "direction": args.direction,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "seed": args.seed,
    }
    defn, doc = build(spec, [*args.overrides, *bare], **options)
    return defn, str(doc.data.get("name") or Path(spec).stem)


def _stored(folder: Path, trials: int | None):
    from graphspec.core.errors import fail
    from graphspec.sweep import DEFINITION
    from graphspec.sweep.definition import Definition

    path = folder / DEFINITION
    if not path.is_file():
        raise fail(
            "E-RESUME",
            f"'{folder}' is not a sweep folder (no {DEFINITION})",
            hint="pass the folder `graphspec sweep` printed last",
        )
    defn = Definition.from_json(path.read_text(encoding="utf-8"))
    if trials is not None and trials != defn.trials:
        defn.trials = trials
        _write_definition(folder, defn)
    return defn


def _check_same(old, new, folder: Path) -> None:
    from graphspec.core.errors import fail

    if old.key != new.key:
        raise fail(
            "E-EXISTS",
            f"'{folder}' holds another sweep (sweep.json differs)",
            hint="choose another --out, or --resume it as it is",
        )


def _write_definition(folder: Path, defn) -> None:
    from graphspec.core.files import make_dir, write_atomic
    from graphspec.sweep import DEFINITION

    make_dir(folder)
    write_atomic(folder / DEFINITION, defn.to_json())
