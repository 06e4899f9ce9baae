"""Checks of the training recipe across sections, at `validate` (no torch): a scheduler's needs
(a validation split to watch, an optimizer with momentum to cycle), class weights against the
data's classes, and what train.accumulate can't split."""

from __future__ import annotations

from typing import Any

from graphspec.core.errors import Problem
from graphspec.language.recipe import (
    CLOSURE_OPTIMIZERS,
    ON_VALIDATION,
    OPTIMIZERS,
    higher_is_better,
    validation_metrics,
)


def recipe_problems(spec: Any, doc: Any) -> list[Problem]:
    return _scheduler_problems(spec, doc) + _weight_problems(spec, doc) + _accumulate(spec, doc)


def _accumulate(spec: Any, doc: Any) -> list[Problem]:
    """train.accumulate splits each batch: a closure optimizer re-evaluates the whole one."""
    if getattr(spec.train, "accumulate", 1) == 1 or spec.optimizer is None:
        return []
    if spec.optimizer.op not in CLOSURE_OPTIMIZERS:
        return []
    return [Problem("E-CONSTRAINT", f"train.accumulate with {spec.optimizer.op}: its closure "
                    "evaluates the whole batch", doc.pos(("train", "accumulate")),
                    hint="leave train.accumulate at 1")]  # fmt: skip


def plateau_mode(entry: Any) -> str:
    """ReduceLROnPlateau's `mode`: as given, else by the metric it watches."""
    return entry.mode or ("max" if higher_is_better(entry.monitor) else "min")


def _scheduler_problems(spec: Any, doc: Any) -> list[Problem]:
    entry = spec.scheduler
    if entry is None:
        return []
    pos = doc.pos(("scheduler",))
    if entry.op in ON_VALIDATION:
        val = getattr(spec.train, "validation", None)
        if val is None:
            return [Problem("E-CONSTRAINT", f"{entry.op} steps on a validation metric, and "
                            "train.validation is not set", pos,
                            hint="add train: {validation: {split: 0.1}}")]  # fmt: skip
        if spec.loss is not None:
            try:
                validation_metrics(val, spec.loss.op, spec.data, also=entry.monitor)
            except ValueError as err:
                return [Problem("E-LOSS", str(err), doc.pos(("scheduler", "monitor")),
                                hint="monitor: loss")]  # fmt: skip
    if entry.op == "OneCycleLR" and entry.cycle_momentum and spec.optimizer is not None:
        fields = OPTIMIZERS.get(spec.optimizer.op, {})
        if "momentum" not in fields and "betas" not in fields:
            return [Problem("E-CONSTRAINT", f"OneCycleLR cycles the momentum, and "
                            f"{spec.optimizer.op} has none", pos,
                            hint="set cycle_momentum: false, or use SGD or Adam")]  # fmt: skip
    return []


def _weight_problems(spec: Any, doc: Any) -> list[Problem]:
    """CrossEntropyLoss and NLLLoss weigh each class: one weight per class of the data."""
    loss = spec.loss
    if loss is None or spec.data is None or getattr(loss, "weight", None) is None:
        return []
    if loss.op not in ("CrossEntropyLoss", "NLLLoss"):
        return []
    classes, where = spec.data.class_count()
    if classes is None or len(loss.weight) == classes:
        return []
    return [
        Problem(
            "E-LOSS",
            f"{loss.op}: weight has {len(loss.weight)} value(s), the data has {classes} "
            f"classes ({where})",
            doc.pos(("loss", "weight")),
            hint=f"give one weight per class: {classes} numbers",
        )
    ]
