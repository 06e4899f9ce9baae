"""`graphspec run`, before torch: from a spec and the command line to a checked `Plan`.

The order is chosen so that every input error costs as little as possible and writes nothing:
the spec, the --set overrides and the data's presence are checked before torch is imported
(a missing CIFAR-10 is reported in milliseconds); the device, the data's shapes and a checkpoint
to resume from are checked before the run folder is made. Then: train (train.py), save, evaluate
with the weights reloaded from disk (as the tutorial does), draw, and print the folder last.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphspec.compiler.pipeline import Compiled, compile_document
from graphspec.core.errors import fail
from graphspec.language import overrides, paths
from graphspec.language.load import Document, load_file
from graphspec.training import budget
from graphspec.training import run_folder as runs
from graphspec.training import world as worlds


@dataclass
class Options:
    """What the command line asked for (cli/run_cmd.py fills it)."""

    spec: str | None = None
    overrides: list[str] = field(default_factory=list)
    resume: str | None = None
    fallback: bool = False
    fake_data: int | None = None
    quiet: bool = False
    runs_dir: str = runs.DEFAULT_ROOT
    out: str | None = None
    overwrite: bool = False
    any_world_size: bool = False
    """--resume on another number of processes than the run trained on."""
    argv: list[str] = field(default_factory=list)
    budget_mem: str | None = None
    """--budget-mem SIZE: the memory budget (default: a share of RAM; training/budget.py)."""
    no_budget: bool = False
    decode_cache: str | None = None
    """--decode-cache [DIR]: keep an image folder's decoded tensors there ("": the default
    folder, training/decode_cache.py); None: decode every run."""
    pictures: str = "now"
    """"now", "background" (the command line's default: training/plots.py) or "off" (--no-plots)."""
    on_validation: Callable[[int, dict[str, float]], bool] | None = None
    """Told each validation's step and metrics; True ends the run as pruned (a sweep's trial)."""


@dataclass
class Plan:
    """A checked spec, ready to run; nothing imported from torch yet."""

    compiled: Compiled
    doc: Document
    seed: int
    resolved: dict[str, Any]
    """The spec data as it will run (overrides applied, seed filled in): spec.yaml."""
    source: str
    run_dir: Path | None = None  # set now when resuming
    lock: runs.Lock | None = None


def prepare(opts: Options) -> Plan:
    """Everything that can be checked without torch: spec, overrides, resume target, data."""
    if opts.resume is None and opts.spec is None:
        raise fail("E-USAGE", "graphspec run needs a SPEC, or --resume RUN_DIR")
    items = overrides.parse(opts.overrides)
    if opts.resume is not None:
        plan = _prepare_resume(opts, items)
    else:
        doc = overrides.apply(load_file(opts.spec), items)
        compiled = compile_document(doc)
        plan = _plan(compiled, doc, opts.spec)
    try:
        limit = budget.limit_from(opts.budget_mem, not opts.no_budget)
        budget.check(plan.compiled, plan.doc, limit)  # before anything is allocated
        plan.compiled.spec.data.check_available(plan.doc, fake_data=bool(opts.fake_data))
    except BaseException:
        if plan.lock is not None:
            plan.lock.release()
        raise
    return plan


def _plan(compiled: Compiled, doc: Document, source: str, seed: int | None = None) -> Plan:
    spec = compiled.spec
    if spec.data is None:
        raise fail(
            "E-DATA",
            "the spec has no `data:` section: there is nothing to train on",
            doc.pos(()),
            hint="add data:, loss: and optimizer: (see docs/run.md)",
        )
    if seed is None:
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    compiled.spec = spec.model_copy(update={"seed": seed})
    resolved = copy.deepcopy(paths.resolve(doc.data, doc.file))
    resolved["seed"] = seed
    return Plan(compiled, doc, seed, resolved, source)


def _prepare_resume(opts: Options, items: list[overrides.Override]) -> Plan:
    run_dir = Path(opts.resume)
    stored_file = run_dir / "spec.yaml"
    if not run_dir.is_dir():
        raise fail("E-RESUME", f"'{run_dir}': no such run folder",
                   hint="pass the folder `graphspec run` printed last")  # fmt: skip
    for name in ("spec.yaml", "meta.json"):
        if (run_dir / name).exists() and not (run_dir / name).is_file():
            raise fail("E-RESUME", f"'{run_dir / name}' is not a regular file (refused)",
                       hint="a run folder holds the files `graphspec run` wrote")  # fmt: skip
    if not stored_file.is_file() or not (run_dir / "meta.json").is_file():
        raise fail(
            "E-RESUME",
            f"'{run_dir}' is not a graphspec run folder (no spec.yaml and meta.json)",
            hint="pass the folder `graphspec run` printed last",
        )
    runs.read_meta(run_dir)  # a damaged meta.json is an error, not a silent fresh start
    lock = runs.Lock(run_dir) if worlds.current().writer else None  # rank 0 writes it
    try:
        if opts.fake_data is None:  # a run started on FakeData continues on the same
            opts.fake_data = _stored_fake_data(run_dir)
        stored_doc = load_file(stored_file)
        stored = compile_document(stored_doc)
        doc = overrides.apply(load_file(opts.spec) if opts.spec else stored_doc, items)
        compiled = compile_document(doc)
        seed = compiled.spec.seed if compiled.spec.seed is not None else stored.spec.seed
        plan = _plan(compiled, doc, str(stored_file), seed)
        differs = runs.spec_differences(stored.spec, plan.compiled.spec)
        if differs:
            raise fail(
                "E-RESUME",
                f"the spec differs from the one this run trained "
                f"({', '.join(differs)}); a resumed run must train the same spec",
                hint="only train.epochs, steps, log_every and checkpoint_every may change"
                "; start a new run for anything else",
            )
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    plan.run_dir, plan.lock = run_dir, lock
    return plan


def _stored_fake_data(run_dir: Path) -> int | None:
    try:
        stored = json.loads((run_dir / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = stored.get("fake_data") if isinstance(stored, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
