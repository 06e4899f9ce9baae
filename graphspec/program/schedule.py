"""The spec's learning-rate scheduler as generated source: `make_scheduler(optimizer[, intervals])`,
one function that `emit --train`'s script and `graphspec run` both call, so the two build the
same torch scheduler. Nothing here imports torch.

`intervals` is how often the scheduler steps in the whole run (its steps with `interval: step`,
else its epochs): OneCycleLR's `total_steps` when the spec leaves it out, the one scheduler
that reads it (`needs_intervals`). A `warmup:` puts
torch's LinearLR before the scheduler with SequentialLR. ReduceLROnPlateau steps after each
validation with the metric it watches (`monitor`, not a torch argument).
"""

from __future__ import annotations

from typing import Any

from graphspec.language.recipe import ON_VALIDATION
from graphspec.language.recipe_checks import plateau_mode

LR = "torch.optim.lr_scheduler."
NOT_TORCH = ("op", "interval", "warmup", "monitor", "mode")


def interval(spec: Any) -> str | None:
    """When the loop steps the scheduler: "step", "epoch", or None (none, or on validation)."""
    entry = spec.scheduler
    return None if entry is None or entry.op in ON_VALIDATION else entry.interval


def plateau_monitor(spec: Any) -> str | None:
    """The validation metric a ReduceLROnPlateau steps on; None for other schedulers."""
    entry = spec.scheduler
    return entry.monitor if entry is not None and entry.op in ON_VALIDATION else None


def needs_intervals(spec: Any) -> bool:
    """Whether make_scheduler() takes `intervals`: only a OneCycleLR without total_steps reads
    it (the run and the script both pass it exactly then)."""
    entry = spec.scheduler
    return entry is not None and entry.op == "OneCycleLR" and entry.total_steps is None


def source(spec: Any) -> str:
    entry = spec.scheduler
    warm = getattr(entry, "warmup", None)
    args = _args(entry)
    if entry.op == "OneCycleLR" and entry.total_steps is None:
        args.append("total_steps=intervals" + (f" - {warm.iters}" if warm else ""))
    if entry.op in ON_VALIDATION:
        args.insert(0, f"mode={plateau_mode(entry)!r}")
    main = f"{LR}{entry.op}({', '.join(['optimizer', *args])})"
    when = "after each validation" if entry.op in ON_VALIDATION else f"every {entry.interval}"
    if needs_intervals(spec):
        lines = [
            "def make_scheduler(optimizer, intervals):",
            f'    """The spec\'s scheduler, stepped {when}; `intervals`: its steps in the run."""',
        ]
    else:
        lines = [
            "def make_scheduler(optimizer):",
            f'    """The spec\'s scheduler, stepped {when}."""',
        ]
    if warm is None:
        return "\n".join([*lines, f"    return {main}"])
    return "\n".join(
        [
            *lines,
            f"    warmup = {LR}LinearLR(optimizer, start_factor={warm.start_factor!r}, "
            f"end_factor=1.0, total_iters={warm.iters})",
            f"    main = {main}",
            f"    return {LR}SequentialLR(optimizer, [warmup, main], milestones=[{warm.iters}])",
        ]
    )


def _args(entry: Any) -> list[str]:
    """torch's keyword arguments: those given other than their default (values are checked
    numbers, booleans and fixed words: repr writes them)."""
    fields = type(entry).model_fields
    out = []
    for key, value in entry.model_dump(exclude=set(NOT_TORCH)).items():
        if value != fields[key].default or fields[key].is_required():
            out.append(f"{key}={value!r}")
    return out
