"""The training half of a spec: data, loss, optimizer, scheduler, train, evaluate, device.

Losses, optimizers, schedulers and image transforms are closed tables of torch names with their
typed arguments (a `create_model` per torch class, built when a spec first names it), so a typo
is an error with did-you-mean and nothing is imported by a dotted path. Nothing here imports torch.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BeforeValidator,
    Field,
    create_model,
)

from graphspec.core.errors import fail
from graphspec.core.fields import (
    Fraction,
    Int,
    NonNeg,
    NonNegFloat,
    PosFloat,
    Probability,
    Size,
    StrictModel,
)
from graphspec.core.unions import LazyUnion, bare_name, table_union, union_of
from graphspec.data import SOURCE_MODULES, source_class
from graphspec.data.transforms import Transform

Reduction = Literal["mean", "sum"]
"""How a loss reduces over the batch; `none` (a loss per sample) is not offered: the training
loop steps on one number per batch."""


_METRIC = (
    r"^(loss|accuracy|per_class|perplexity|mse|mae|rmse|r2|auroc|confusion_matrix"
    r"|(precision|recall|f1)(_(macro|micro|weighted))?|top[1-9][0-9]*)$"
)
METRIC_NAMES = (
    "loss, accuracy, per_class, topK (K >= 1, e.g. top5), precision, recall, f1 (each with "
    "_macro, _micro or _weighted; macro when left out), auroc, confusion_matrix, perplexity, "
    "mse, mae, rmse, r2"
)


def _metric(value: Any) -> Any:
    if isinstance(value, str) and not re.match(_METRIC, value):
        raise ValueError(f"unknown metric '{value}'; use {METRIC_NAMES}")
    return value


Metric = Annotated[str, BeforeValidator(_metric), Field(json_schema_extra={"pattern": _METRIC})]
"""A metric by name: loss, accuracy, per_class, topK (top5: the label among the K highest
outputs), precision, recall, f1 (_macro, _micro, _weighted), auroc, confusion_matrix,
perplexity (exp of the mean cross-entropy per target, e.g. per token), mse, mae, rmse, r2."""
HIGHER_IS_BETTER = re.compile(r"^(accuracy|top\d+|r2|auroc|(precision|recall|f1)(_\w+)?)$")


Weights = Annotated[list[NonNegFloat], Field(min_length=1)]
"""A loss's `weight` (one per class, or broadcast over the target) or `pos_weight` (one per
output, or one for all): a list of numbers, made a tensor on the run's device and dtype."""
TENSOR_ARGS = frozenset({"weight", "pos_weight"})
"""Loss arguments torch takes as tensors."""

Task = Literal["classification", "regression", "binary"]
"""What a loss's target is: class indices (the run reports accuracy), values (mse and mae), or
probabilities in [0, 1] (the loss alone)."""


class LossRow(NamedTuple):
    task: Task
    args: dict[str, Any]
    """Its arguments as torch names them: name -> (type, default)."""


LOSSES: dict[str, LossRow] = {
    "MSELoss": LossRow("regression", {"reduction": (Reduction, "mean")}),
    "L1Loss": LossRow("regression", {"reduction": (Reduction, "mean")}),
    "SmoothL1Loss": LossRow(
        "regression", {"reduction": (Reduction, "mean"), "beta": (NonNegFloat, 1.0)}
    ),
    "HuberLoss": LossRow(
        "regression", {"reduction": (Reduction, "mean"), "delta": (PosFloat, 1.0)}
    ),
    "CrossEntropyLoss": LossRow(
        "classification",
        {
            "weight": (Weights | None, None),
            "reduction": (Reduction, "mean"),
            "ignore_index": (Int, -100),
            "label_smoothing": (Probability, 0.0),
        },
    ),
    "NLLLoss": LossRow(
        "classification",
        {
            "weight": (Weights | None, None),
            "reduction": (Reduction, "mean"),
            "ignore_index": (Int, -100),
        },
    ),
    "BCELoss": LossRow(
        "binary", {"weight": (Weights | None, None), "reduction": (Reduction, "mean")}
    ),
    "BCEWithLogitsLoss": LossRow(
        "binary",
        {
            "weight": (Weights | None, None),
            "reduction": (Reduction, "mean"),
            "pos_weight": (Weights | None, None),
        },
    ),
}
"""Every loss a spec may name (torch.nn's class of that name), with its task on its row."""
CLASSIFICATION_LOSSES = frozenset(n for n, row in LOSSES.items() if row.task == "classification")
"""Losses whose target is a class index: these runs report accuracy."""
REGRESSION_LOSSES = frozenset(n for n, row in LOSSES.items() if row.task == "regression")

Betas = Annotated[list[Probability], Field(min_length=2, max_length=2)]
_ADAM = {"betas": (Betas, [0.9, 0.999]), "eps": (PosFloat, 1e-8)}
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "SGD": {
        "lr": (PosFloat, 0.001),
        "momentum": (NonNegFloat, 0.0),
        "dampening": (NonNegFloat, 0.0),
        "weight_decay": (NonNegFloat, 0.0),
        "nesterov": (bool, False),
    },
    "Adam": {
        "lr": (PosFloat, 0.001),
        **_ADAM,
        "weight_decay": (NonNegFloat, 0.0),
        "amsgrad": (bool, False),
    },
    "AdamW": {
        "lr": (PosFloat, 0.001),
        **_ADAM,
        "weight_decay": (NonNegFloat, 0.01),
        "amsgrad": (bool, False),
    },
    "NAdam": {"lr": (PosFloat, 0.002), **_ADAM, "weight_decay": (NonNegFloat, 0.0)},
    "RAdam": {"lr": (PosFloat, 0.001), **_ADAM, "weight_decay": (NonNegFloat, 0.0)},
    "Adamax": {"lr": (PosFloat, 0.002), **_ADAM, "weight_decay": (NonNegFloat, 0.0)},
    "RMSprop": {
        "lr": (PosFloat, 0.01),
        "alpha": (Probability, 0.99),
        "eps": (PosFloat, 1e-8),
        "weight_decay": (NonNegFloat, 0.0),
        "momentum": (NonNegFloat, 0.0),
    },
    "Adagrad": {"lr": (PosFloat, 0.01), "weight_decay": (NonNegFloat, 0.0)},
    "Adadelta": {
        "lr": (PosFloat, 1.0),
        "rho": (Probability, 0.9),
        "eps": (PosFloat, 1e-6),
        "weight_decay": (NonNegFloat, 0.0),
    },
    "GradientDescent": {
        "lr": (PosFloat, 0.001)
    },  # graphspec's own: see graphspec/training/optim.py
    "LBFGS": {
        "lr": (PosFloat, 1.0),
        "max_iter": (Size, 20),
        "history_size": (Size, 100),
        "tolerance_grad": (NonNegFloat, 1e-7),
        "tolerance_change": (NonNegFloat, 1e-9),
        "line_search_fn": (Literal["strong_wolfe"] | None, None),
    },
}
CLOSURE_OPTIMIZERS = frozenset({"LBFGS"})
"""Optimizers whose step() re-evaluates the loss through a closure."""
OWN_OPTIMIZERS = frozenset({"GradientDescent"})
"""Defined in training/optim.py (a hand-written loop's `p -= lr * p.grad`), not in torch.optim."""


class Warmup(StrictModel):
    """A linear warm-up before the scheduler: torch's LinearLR from `start_factor` x lr to lr
    over `iters` intervals, chained before the scheduler with SequentialLR."""

    iters: Size
    """Intervals (steps or epochs, the scheduler's `interval`) the warm-up lasts."""
    start_factor: PosFloat = 1 / 3


# `interval`: when the scheduler steps, and `warmup`: not torch arguments; the loop reads them.
_EVERY = {
    "interval": (Literal["epoch", "step"], "epoch"),
    "warmup": (Warmup | None, None),
}
_STEPPED = {**_EVERY, "interval": (Literal["epoch", "step"], "step")}
SCHEDULERS: dict[str, dict[str, Any]] = {
    "StepLR": {"step_size": (Size, ...), "gamma": (PosFloat, 0.1), **_EVERY},
    "ExponentialLR": {"gamma": (PosFloat, ...), **_EVERY},
    "CosineAnnealingLR": {"T_max": (Size, ...), "eta_min": (NonNegFloat, 0.0), **_EVERY},
    "MultiStepLR": {"milestones": (list[Size], ...), "gamma": (PosFloat, 0.1), **_EVERY},
    "LinearLR": {
        "start_factor": (PosFloat, 1 / 3),
        "end_factor": (PosFloat, 1.0),
        "total_iters": (Size, 5),
        **_EVERY,
    },
    "ConstantLR": {"factor": (PosFloat, 1 / 3), "total_iters": (Size, 5), **_EVERY},
    "PolynomialLR": {"total_iters": (Size, 5), "power": (PosFloat, 1.0), **_EVERY},
    "CosineAnnealingWarmRestarts": {
        "T_0": (Size, ...),
        "T_mult": (Size, 1),
        "eta_min": (NonNegFloat, 0.0),
        **_EVERY,
    },
    "OneCycleLR": {
        "max_lr": (PosFloat, ...),
        "total_steps": (Size | None, None),  # default: the run's steps (or epochs)
        "pct_start": (Probability, 0.3),
        "anneal_strategy": (Literal["cos", "linear"], "cos"),
        "cycle_momentum": (bool, True),
        "base_momentum": (NonNegFloat, 0.85),
        "max_momentum": (NonNegFloat, 0.95),
        "div_factor": (PosFloat, 25.0),
        "final_div_factor": (PosFloat, 1e4),
        "three_phase": (bool, False),
        **_STEPPED,
    },
    # steps after each validation, on its `monitor` (train.validation computes it)
    "ReduceLROnPlateau": {
        "monitor": (Metric, "loss"),
        "mode": (Literal["min", "max"] | None, None),  # default: by the monitor
        "factor": (Fraction, 0.1),
        "patience": (NonNeg, 10),
        "threshold": (NonNegFloat, 1e-4),
        "threshold_mode": (Literal["rel", "abs"], "rel"),
        "cooldown": (NonNeg, 0),
        "min_lr": (NonNegFloat, 0.0),
        "eps": (NonNegFloat, 1e-8),
    },
}
ON_VALIDATION = frozenset({"ReduceLROnPlateau"})
"""Schedulers stepped with a validation metric, after each validation."""

# -- fine-tuning: parameter groups and frozen parameters (language/weights.py: what a run starts
# from) -----------------------------------------------------------------------------------------

Patterns = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=1000)]], Field(min_length=1)
]
"""State_dict key patterns as fnmatch reads them: `fc.*`, `layer[12].*`."""


class ParamGroup(StrictModel):
    """torch's parameter group: the parameters whose names match `params`, with options of
    their own (the optimizer's other arguments, e.g. `lr`)."""

    params: Annotated[str, Field(min_length=1, max_length=1000)] | Patterns


def _group_fields(tag: str) -> dict[str, Any]:
    """`groups:` for optimizer `tag`: each group may set any of the optimizer's own arguments."""
    if tag in CLOSURE_OPTIMIZERS:
        return {}  # LBFGS takes one parameter group
    options = {key: (kind | None, None) for key, (kind, _) in OPTIMIZERS[tag].items()}
    group = create_model(f"{tag}Group", __base__=ParamGroup, **options)  # type: ignore[call-overload]
    doc = "Parameter groups, in order: a parameter goes to the first whose `params` it matches;"
    doc += " the rest form the last group, with the optimizer's own options."
    return {"groups": (list[group], Field([], description=doc))}  # type: ignore[valid-type]


def group_options(group: Any) -> dict[str, Any]:
    """A parameter group's own options as torch keyword arguments (those it sets)."""
    return {k: v for k, v in group.model_dump(exclude={"params"}).items() if v is not None}


def group_patterns(group: Any) -> list[str]:
    return [group.params] if isinstance(group.params, str) else list(group.params)


# -- data ------------------------------------------------------------------------------------


def _source_tag(value: Any) -> str | None:
    return value.get("source") if isinstance(value, dict) else getattr(value, "source", None)


# One class per source, each in graphspec/data/ with its facts and code; picked by `source:`,
# and only that one built (its module imported) when a spec names it.
Data = Annotated[
    Any,
    LazyUnion(
        "Data",
        tags=SOURCE_MODULES.keys,
        member=source_class,
        tag_of=_source_tag,
        shorthand=lambda value: value,
        tag_key="source",
    ),
]

Loss = table_union("Loss", {name: row.args for name, row in LOSSES.items()}, bare_name)
Optimizer = table_union("Optimizer", OPTIMIZERS, bare_name, extra=_group_fields)
Scheduler = table_union("Scheduler", SCHEDULERS, bare_name)
UNIONS = tuple(union_of(t) for t in (Loss, Optimizer, Scheduler, Transform, Data))
"""For the JSON Schema, which spells each union out."""

# -- training --------------------------------------------------------------------------------


STOP_LINE = (
    "stopped at step {step}: the loss moved by at most {tolerance:g} of itself"
    " for {patience} step(s)"
)
"""What `graphspec run` and the `emit --train` script print when `train.stop` ends training."""


class Stop(StrictModel):
    """Stop training once the loss has settled: what "train until done" means for a fit."""

    tolerance: PosFloat
    """A step whose loss differs from the step before's by at most this fraction of it is calm."""
    patience: Size = 1
    """Calm steps in a row that end training."""


EARLY_LINE = (
    "early stopping at step {step} (epoch {epoch}): val_{monitor} did not improve by more than"
    " {min_delta:g} for {patience} validation(s)"
)
"""What `graphspec run` and the `emit --train` script print when early stopping ends training."""
BEST_LINE = (
    "best validation: val_{monitor} {value:.6g} at step {step} (epoch {epoch});"
    " the final evaluation uses the {which} weights"
)
"""The line after `Finished Training` of a validated run: which weights were evaluated."""


class EarlyStopping(StrictModel):
    """Stop when a validation metric has not improved for `patience` validations."""

    monitor: Metric = "loss"
    """The metric watched (its mode follows from it: accuracy and topK higher, others lower)."""
    patience: Size = 3
    """Validations in a row without improvement that end training."""
    min_delta: NonNegFloat = 0.0
    """An improvement is a change by more than this, in the better direction."""


class Validate(StrictModel):
    """Evaluate on a validation split while training: metrics, early stopping, best weights."""

    split: Fraction | Literal["test"] = 0.1
    """A fraction cut off the training split by the seeded generator (the rest trains), or
    `test`: the data's test split."""
    every: Literal["epoch"] | Size = "epoch"
    """After every epoch, or every N optimizer steps."""
    metrics: list[Metric] | None = None
    """Default, by the loss: classification loss and accuracy (and perplexity when the labels
    are per position, e.g. per token); regression loss, mse and mae; otherwise loss."""
    batch_size: Size | None = None
    """Default: data.test_batch_size, else data.batch_size."""
    early_stopping: EarlyStopping | None = None
    final_weights: Literal["last", "best"] = "last"
    """Which weights weights.pt keeps and the final evaluation uses: the last (as Keras'
    restore_best_weights=False) or the best validated ones (checkpoints/best.pt)."""


BINARY_LOSSES = frozenset(n for n, row in LOSSES.items() if row.task == "binary")
"""Losses over probabilities of 0/1 targets: these runs report accuracy at a threshold."""
TASK_METRICS = {
    "classification": r"^(loss|accuracy|per_class|perplexity|auroc|confusion_matrix"
    r"|(precision|recall|f1)(_\w+)?|top\d+)$",
    "sequence": r"^(loss|accuracy|per_class|perplexity|(precision|recall|f1)(_\w+)?|top\d+)$",
    "binary": r"^(loss|accuracy|auroc|confusion_matrix|(precision|recall|f1)(_\w+)?)$",
    "regression": r"^(loss|mse|mae|rmse|r2)$",
    "reconstruction": r"^(loss|mse|mae|rmse|r2)$",
}
"""What each task can be measured by (anything else is E-LOSS at validate)."""
TASK_DEFAULTS = {
    "classification": ["loss", "accuracy", "confusion_matrix"],
    "sequence": ["loss", "perplexity", "accuracy"],
    "binary": ["loss", "accuracy", "precision", "recall", "f1", "auroc"],
    "regression": ["loss", "mse", "mae", "rmse", "r2"],
    "reconstruction": ["loss", "mse", "mae"],
}
"""The test split's metrics when `evaluate.metrics` is left out."""
VALIDATION_METRICS = re.compile(r"^(loss|accuracy|per_class|perplexity|mse|mae|rmse|r2|top\d+)$")
"""What the generated validate() computes per validation (plain torch, in emit --train too)."""


def task_of(loss: str, data: Any) -> str:
    """What a run learns, by its loss and data: classification (a class per sample), sequence (a
    class per token or pixel), binary (BCE family), regression, reconstruction (target: input)."""
    if data is not None and data.reconstructs():
        return "reconstruction"
    if loss in CLASSIFICATION_LOSSES:
        return "sequence" if data is not None and data.label_shape() else "classification"
    return "binary" if loss in BINARY_LOSSES else "regression"


def task_metric_problem(name: str, task: str, loss: str) -> str | None:
    """Why metric `name` does not fit a `task` run with `loss` (None when it does)."""
    if re.match(TASK_METRICS[task], name):
        return None
    if task in ("regression", "reconstruction"):
        return f"metric '{name}' needs class labels or 0/1 targets: a {loss} {task} run has none"
    if task == "binary":
        return f"metric '{name}' does not fit a {loss} run (0/1 targets at a threshold)"
    return f"metric '{name}' compares values; {loss} predicts classes"


def evaluation_metrics(evaluate: Any, loss: str, data: Any) -> list[str]:
    """The test split's metrics for `evaluate:` (loss first); ValueError naming one that does
    not fit the task."""
    task = task_of(loss, data)
    wanted = ["loss", *(evaluate.metrics if evaluate and evaluate.metrics else TASK_DEFAULTS[task])]
    if evaluate is not None and evaluate.per_class:
        wanted.append("per_class")
    if evaluate is not None and evaluate.accuracy:
        wanted.append("accuracy")
    for name in wanted:
        problem = task_metric_problem(name, task, loss)
        if problem:
            raise ValueError(problem)
    return list(dict.fromkeys(wanted))


def validation_metrics(
    validate: Validate, loss: str, data: Any = None, also: str | None = None
) -> list[str]:
    """The metrics a validation computes, the monitored one included; ValueError naming the one
    that does not fit the loss. (By default a classifier whose labels are per position, a
    language model's per token, also gets perplexity: the generated validate() sees that.)"""
    classify = loss in CLASSIFICATION_LOSSES
    if validate.metrics is not None:
        wanted = list(validate.metrics)
    elif classify:
        wanted = ["loss", "accuracy"]
    elif loss in REGRESSION_LOSSES:
        wanted = ["loss", "mse", "mae"]
    else:
        wanted = ["loss"]
    stop = validate.early_stopping
    if stop is not None and stop.monitor == "per_class":
        raise ValueError("early_stopping.monitor can't be per_class (one number per class)")
    if stop is not None and stop.monitor not in wanted:
        wanted.append(stop.monitor)
    if also is not None and also not in wanted:  # a ReduceLROnPlateau's monitor
        wanted.append(also)
    for name in wanted:
        labels = name in ("accuracy", "per_class", "perplexity") or name.startswith("top")
        if labels and not classify:
            raise ValueError(f"metric '{name}' needs class labels: a {loss} run has none")
        if name in ("mse", "mae", "rmse", "r2") and classify:
            raise ValueError(f"metric '{name}' compares values; {loss} predicts classes")
        if not VALIDATION_METRICS.match(name):
            raise ValueError(
                f"metric '{name}' is computed on the test split after training, not per "
                "validation: list it under evaluate.metrics"
            )
    return list(dict.fromkeys(wanted))


def higher_is_better(metric: str) -> bool:
    return bool(HIGHER_IS_BETTER.match(metric))


def check_training_options(spec: Any, doc: Any) -> None:
    """E-LOSS for a validation metric the loss can't give, E-DATA for `split: test` without a
    test split, E-CONSTRAINT for float64 on data read through a DataLoader."""
    val = spec.train.validation
    if val is not None and spec.loss is not None:
        try:
            validation_metrics(val, spec.loss.op)
        except ValueError as err:
            raise fail("E-LOSS", str(err), doc.pos(("train", "validation")),
                       hint="leave out `metrics:` for the loss's own") from None  # fmt: skip
        if val.split == "test" and spec.data is not None and not spec.data.has_test():
            raise fail("E-DATA", f"train.validation.split is 'test', but {spec.data.source} "
                       "has no test split", doc.pos(("train", "validation", "split")),
                       hint="give a fraction of the training split, e.g. split: 0.1")  # fmt: skip
    if spec.train.dtype != "float32" and spec.data is not None and not spec.data.in_memory:
        raise fail("E-CONSTRAINT", f"train.dtype {spec.train.dtype} is for in-memory data; "
                   f"{spec.data.source} is read through a DataLoader as float32",
                   doc.pos(("train", "dtype")), hint="leave train.dtype at float32")  # fmt: skip


LINES_PER_EPOCH = 10
"""The default `log_every` with `epochs`: this many loss lines an epoch (at least every batch)."""


def default_log_every(batches_per_epoch: int, steps_mode: bool) -> int:
    """`train.log_every` left out: the run's rule (emit --train's script writes the same)."""
    return 1 if steps_mode else max(1, batches_per_epoch // LINES_PER_EPOCH)


class Train(StrictModel):
    epochs: Size | None = None
    """Passes over the training set (default 1 when `steps` is not given)."""
    steps: Size | None = None
    """Stop after this many optimizer steps (a cap when `epochs` is also given)."""
    log_every: Size | None = None
    """With `epochs`: batches of an epoch between `[epoch, batch] loss:` lines (the tutorial's
    rule); with `steps` alone: steps between lines. Each line shows the mean loss since the last.
    Default: about ten lines an epoch with `epochs` (batches // 10), every step with `steps`."""
    checkpoint_every: NonNeg = 0
    """Steps between checkpoints; 0: only at the end (and on Ctrl-C)."""
    keep_checkpoints: Size = 2
    """How many of the newest checkpoints to keep."""
    stop: Stop | None = None
    """Stop before `epochs`/`steps` run out when the loss settles (`{tolerance, patience}`)."""
    validation: Validate | None = None
    """Evaluate on a validation split while training (`{split, every, metrics,
    early_stopping, final_weights}`)."""
    dtype: Literal["float32", "float64"] = "float32"
    """The floating type of the weights and the data: float64 for ill-conditioned fits."""
    compile: bool = False
    """torch.compile the model before training (the generated `prepare()`; off: on the CPU it
    did not pay for the project's models, bench/RESULTS.md)."""
    amp: Literal["bf16", "fp16"] | bool = False
    """Mixed precision: autocast to bfloat16 (`bf16`, or `true`) or float16 (`fp16`, with a
    GradScaler; CUDA only). Off by default: on the CPU bf16 was slower (bench/RESULTS.md)."""
    channels_last: bool = False
    """Train in the channels-last memory format (the model and 4-D inputs)."""
    accumulate: Size = 1
    """Run each batch through the model in this many parts and add up their gradients before
    the one update: the same update as the whole batch (within float rounding; exactly so for
    a mean over samples, not a class-weighted one) with 1/K of the activation memory (under
    DDP, one all-reduce per update)."""
    clip_grad_norm: PosFloat | None = None
    """Scale the gradients so their total 2-norm is at most this before each update
    (torch.nn.utils.clip_grad_norm_)."""
    clip_grad_value: PosFloat | None = None
    """Clamp each gradient element to [-value, value] before each update
    (torch.nn.utils.clip_grad_value_)."""
    freeze: list[Annotated[str, Field(min_length=1, max_length=1000)]] = []
    """Fine-tuning: parameters and buffers whose state_dict keys match these patterns (fnmatch:
    `layer[1-3].*`) are frozen: no gradient, not in the optimizer, and a BatchNorm whose every
    entry is frozen keeps its running statistics (it stays in eval mode)."""


class Evaluate(StrictModel):
    """The test split's evaluation after training (and `graphspec evaluate`'s)."""

    accuracy: bool | None = None
    """Report accuracy (default: for the tasks that have it; true on a regression is E-LOSS)."""
    per_class: bool = False
    metrics: list[Metric] | None = None
    """The test split's metrics by name (the loss always); default, by the task: classification
    loss, accuracy, confusion_matrix; per token: loss, perplexity, accuracy; BCE: loss,
    accuracy, precision, recall, f1, auroc; regression: loss, mse, mae, rmse, r2."""
    threshold: Probability = 0.5
    """A BCE run's decision threshold on the predicted probability."""
    examples: NonNeg = 4
    """Test images whose ground truth and prediction are printed (the tutorial shows 4)."""


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device(value: Any) -> Any:
    if isinstance(value, str) and not _DEVICE.match(value):
        raise ValueError(f"unknown device '{value}'; use auto, cpu, cuda, cuda:N or mps")
    return value


Device = Annotated[str, BeforeValidator(_device)]
