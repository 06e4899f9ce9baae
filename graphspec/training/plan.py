"""`graphspec run`: from a spec to a finished run folder.

The order is chosen so that every input error costs as little as possible and writes nothing:
the spec, the --set overrides and the data's presence are checked before torch is imported
(a missing CIFAR-10 is reported in milliseconds); the device, the data's shapes and a checkpoint
to resume from are checked before the run folder is made. Then: train (train.py), save, evaluate
with the weights reloaded from disk (as the tutorial does), draw, and print the folder last.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphspec.compiler.pipeline import Compiled, compile_document
from graphspec.core.errors import SpecError, fail
from graphspec.language import overrides
from graphspec.language.load import Document, load_file
from graphspec.program import data_facts as data_check
from graphspec.training import run_folder as runs
from graphspec.training import world as worlds
from graphspec.training.screen import Screen


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


def run(opts: Options) -> int:
    """The whole command; returns the exit code (SpecError propagates: exit 2)."""
    plan = prepare(opts)
    try:
        from graphspec.training.session import Session  # imports torch

        world = worlds.current()
        if world.distributed:  # under torchrun: DDP, rank 0 writes (distributed.py)
            from graphspec.training.distributed import DistributedSession

            return DistributedSession(plan, opts, Screen(quiet=opts.quiet), world).run()
        return Session(plan, opts, Screen(quiet=opts.quiet)).run()
    finally:
        if plan.lock is not None:
            plan.lock.release()


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
        data_check.check(plan.compiled.spec.data, plan.doc, fake_data=bool(opts.fake_data))
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
    resolved = copy.deepcopy(doc.data)
    resolved["seed"] = seed
    return Plan(compiled, doc, seed, resolved, source)


def _prepare_resume(opts: Options, items: list[overrides.Override]) -> Plan:
    run_dir = Path(opts.resume)
    stored_file = run_dir / "spec.yaml"
    if not stored_file.is_file() or not (run_dir / "meta.json").is_file():
        raise fail(
            "E-RESUME",
            f"'{run_dir}' is not a graphspec run folder (no spec.yaml and meta.json)",
            hint="pass the folder `graphspec run` printed last",
        )
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


def check_data_fits(compiled: Compiled, data: Any, doc: Document, classification: bool) -> None:
    """E-DATA before training when a sample does not fit the model (BAD-INPUTS 43)."""
    from graphspec.training.datasets import first_sample, labels_of

    if len(data.train.items) == 0:
        raise data_check.data_error("the training set is empty", doc)
    inputs, target = first_sample(data.train)
    declared = compiled.graph.inputs
    if len(inputs) != len(declared):
        raise data_check.data_error(
            f"the data gives {len(inputs)} input(s) per sample, the model takes "
            f"{len(declared)} ({', '.join(t.name for t in declared)})",
            doc,
        )
    for tensor, node in zip(inputs, declared, strict=True):
        _check_sample(tuple(tensor.shape), str(tensor.dtype), node, doc)
    outputs = compiled.graph.outputs
    if classification and outputs:
        _check_labels(labels_of(data.train), outputs[0], doc)
    elif outputs and hasattr(target, "shape"):
        want = _static(outputs[0].out.shape[1:])
        if want is not None and tuple(target.shape) != want:
            raise data_check.data_error(
                f"the target of a sample has shape {tuple(target.shape)}, the model's output "
                f"'{outputs[0].name}' per sample is {want}",
                doc,
                hint="a mismatch here would broadcast silently in the loss",
            )


def _static(dims: Any) -> tuple[int, ...] | None:
    if not all(d.is_static for d in dims):
        return None
    return tuple(d.value for d in dims)


def _check_sample(shape: tuple[int, ...], dtype: str, node: Any, doc: Document) -> None:
    declared = node.out.shape
    ok = len(declared) == len(shape) + 1 and all(
        not d.is_static or d.value == s for d, s in zip(declared[1:], shape, strict=True)
    )
    if not ok:
        raise data_check.data_error(
            f"a sample of the data has shape {shape}, the model's input '{node.name}' is "
            f"{node.out} (batch first)",
            doc,
        )
    want = f"torch.{node.out.dtype}"
    if dtype != want:
        raise data_check.data_error(
            f"the data gives {dtype.removeprefix('torch.')} for input '{node.name}', "
            f"declared {node.out.dtype}",
            doc,
        )


def _check_labels(labels: Any, output: Any, doc: Document) -> None:
    if labels is None or labels.numel() == 0:
        return
    classes = output.out.shape[-1]
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (classes.is_static and high >= classes.value):
        raise data_check.data_error(
            f"class labels run from {low} to {high}, but the model's output '{output.name}' "
            f"has {classes} classes",
            doc,
        )


def debug_enabled() -> bool:
    return bool(os.environ.get("GRAPHSPEC_DEBUG"))


def error_line(code: str, message: str, hint: str | None = None) -> None:
    """One error line on stderr in the compiler format (for exits 3 and 130)."""
    text = f"error[{code}]: {message}" + (f"; hint: {hint}" if hint else "")
    print(text, file=sys.stderr, flush=True)


__all__ = ["Options", "Plan", "SpecError", "check_data_fits", "prepare", "run"]
