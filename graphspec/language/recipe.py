"""The training half of a spec: data, loss, optimizer, scheduler, train, evaluate, device.

Losses, optimizers, schedulers and image transforms are closed tables of torch names with their
typed arguments (a `create_model` per torch class, built when a spec first names it), so a typo
is an error with did-you-mean and nothing is imported by a dotted path. Nothing here imports torch.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.fields import (
    Float,
    Int,
    NonNeg,
    NonNegFloat,
    PosFloat,
    Probability,
    Size,
    SizeOrPair,
    StrictModel,
)
from graphspec.language.unions import LazyUnion, union_of

Reduction = Literal["mean", "sum", "none"]

LOSSES: dict[str, dict[str, Any]] = {
    "MSELoss": {"reduction": (Reduction, "mean")},
    "L1Loss": {"reduction": (Reduction, "mean")},
    "SmoothL1Loss": {"reduction": (Reduction, "mean"), "beta": (NonNegFloat, 1.0)},
    "HuberLoss": {"reduction": (Reduction, "mean"), "delta": (PosFloat, 1.0)},
    "CrossEntropyLoss": {
        "reduction": (Reduction, "mean"),
        "ignore_index": (Int, -100),
        "label_smoothing": (Probability, 0.0),
    },
    "NLLLoss": {"reduction": (Reduction, "mean"), "ignore_index": (Int, -100)},
    "BCELoss": {"reduction": (Reduction, "mean")},
    "BCEWithLogitsLoss": {"reduction": (Reduction, "mean")},
}
CLASSIFICATION_LOSSES = frozenset({"CrossEntropyLoss", "NLLLoss"})
"""Losses whose target is a class index: these runs report accuracy."""

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

# `interval`: when the scheduler steps. Not a torch argument; the loop reads it.
_EVERY = {"interval": (Literal["epoch", "step"], "epoch")}
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
}

# torchvision.transforms by name; arguments as torchvision names them.
Floats = Annotated[list[Float], Field(min_length=1, max_length=4)]
TRANSFORMS: dict[str, dict[str, Any]] = {
    "ToTensor": {},
    "PILToTensor": {},
    "Normalize": {"mean": (Floats, ...), "std": (Floats, ...)},
    "Resize": {"size": (SizeOrPair, ...)},
    "CenterCrop": {"size": (SizeOrPair, ...)},
    "RandomCrop": {"size": (SizeOrPair, ...), "padding": (NonNeg | None, None)},
    "RandomHorizontalFlip": {"p": (Probability, 0.5)},
    "Grayscale": {"num_output_channels": (Literal[1, 3], 1)},
    "Pad": {"padding": (NonNeg, ...)},
}


def _table_union(
    name: str, table: dict[str, dict[str, Any]], shorthand: Any, keyed: bool = False
) -> Any:
    """One strict model per torch class, picked by `op`; each built the first time it is used."""

    @functools.cache
    def member(tag: str) -> type | None:
        if tag not in table:
            return None
        return create_model(tag, __base__=StrictModel, op=(Literal[tag], ...), **table[tag])

    union = LazyUnion(
        name, tags=table.keys, member=member, tag_of=_op_tag, shorthand=shorthand, keyed=keyed
    )
    return Annotated[Any, union]


def _op_tag(value: Any) -> str | None:
    return value.get("op") if isinstance(value, dict) else getattr(value, "op", None)


def _bare_name(value: Any) -> Any:
    """`MSELoss` alone means {op: MSELoss}."""
    return {"op": value} if isinstance(value, str) else value


def _transform_form(value: Any) -> Any:
    """`ToTensor` and `{Normalize: {mean: .., std: ..}}` (torchvision's spelling) mean {op: ..}."""
    if isinstance(value, dict) and len(value) == 1 and "op" not in value:
        ((name, args),) = value.items()
        if isinstance(args, dict):
            return {"op": name, **args}
        fields = TRANSFORMS.get(name, {})
        # `{Resize: 32}`: the one argument given bare; otherwise `value` is reported unknown
        return {"op": name, next(iter(fields)) if len(fields) == 1 else "value": args}
    return _bare_name(value)


def transform_steps(transforms: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """(torchvision name, keyword arguments) for each transform; defaults arrive as bare names."""
    steps = []
    for t in transforms:
        if isinstance(t, str):
            steps.append((t, {}))
        else:
            args = {k: tuple(v) if isinstance(v, list) else v for k, v in t.model_dump().items()}
            steps.append((args.pop("op"), args))
    return steps


Loss = _table_union("Loss", LOSSES, _bare_name)
Optimizer = _table_union("Optimizer", OPTIMIZERS, _bare_name)
Scheduler = _table_union("Scheduler", SCHEDULERS, _bare_name)
Transform = _table_union("Transform", TRANSFORMS, _transform_form, keyed=True)
UNIONS = tuple(union_of(t) for t in (Loss, Optimizer, Scheduler, Transform))
"""For the JSON Schema, which spells each union out."""

# -- data ------------------------------------------------------------------------------------

ShapeList = Annotated[list[Size], Field(min_length=1, max_length=8)]


class Loader(StrictModel):
    batch_size: Size = 1
    test_batch_size: Size | None = None
    """Batch size for evaluation; default: batch_size."""
    shuffle: bool = False
    """Reshuffle the training set every epoch, in an order fixed by the spec's seed."""
    num_workers: NonNeg = 0
    drop_last: bool = False


class RandomData(Loader):
    """Random tensors made once with `randn` (the seed's LeNet example). The first dimension of
    each shape is the number of samples."""

    source: Literal["random"]
    inputs: dict[str, ShapeList] = Field(min_length=1)
    target: ShapeList | None = None
    """Shape of a `randn` target (regression)."""
    num_classes: Size | None = None
    """Instead of `target`: integer labels in [0, num_classes) (classification)."""
    batch_size: Size | None = None  # type: ignore[assignment]
    """Default: the whole set as one batch."""

    @model_validator(mode="after")
    def _one_target(self) -> RandomData:
        if (self.target is None) == (self.num_classes is None):
            raise ValueError("random data needs exactly one of 'target' and 'num_classes'")
        firsts = {name: shape[0] for name, shape in self.inputs.items()}
        if self.target is not None:
            firsts["target"] = self.target[0]
        if len(set(firsts.values())) > 1:
            shown = ", ".join(f"{k} {v}" for k, v in firsts.items())
            raise ValueError(f"the first size of every shape is the number of samples: {shown}")
        return self


class LinspaceData(Loader):
    """x = linspace(start, end, steps) as a column, the target an expression of x (fitting)."""

    source: Literal["linspace"]
    start: Float
    end: Float
    steps: Size
    column: bool = True
    """Unsqueeze x to shape (steps, 1), as the regression seed does."""
    target: str
    """Elementwise expression of x, e.g. `x**2 + 0.2*rand_like(x)` or `sin(x)`."""
    batch_size: Size | None = None  # type: ignore[assignment]
    """Default: the whole set as one batch."""

    @field_validator("target")
    @classmethod
    def _expression(cls, value: str, info: ValidationInfo) -> str:
        try:
            exprs.parse_elementwise(value, {"x"})
        except exprs.ExprError as err:
            ctx = {"message": err.message, "code": err.code, "offset": err.offset, "hint": err.hint}
            raise PydanticCustomError("expr", "{message}", ctx) from None
        return value


class VisionData(Loader):
    """A torchvision dataset by name, downloaded on demand into `root`; evaluation uses its
    test split."""

    source: Literal["CIFAR10", "MNIST", "FashionMNIST"]
    root: str = "data"
    download: bool = True
    transforms: list[Transform] = ["ToTensor"]
    classes: list[str] | None = None
    """Short class names for the printed results; default: the dataset's own."""


class FakeImages(Loader):
    """torchvision.datasets.FakeData: random images with random labels (for pipeline tests)."""

    source: Literal["FakeData"]
    size: Size = 1000
    test_size: NonNeg = 200
    image_size: ShapeList = [3, 32, 32]
    num_classes: Size = 10
    transforms: list[Transform] = ["ToTensor"]
    classes: list[str] | None = None


class ImageFolderData(Loader):
    """torchvision.datasets.ImageFolder: the user's images, one folder per class."""

    source: Literal["ImageFolder"]
    root: str
    test_root: str | None = None
    """A second folder of the same classes for evaluation."""
    transforms: list[Transform] = ["ToTensor"]


class DigitsData(Loader):
    """scikit-learn's 8x8 digits (1,797 images, ships with scikit-learn, works offline), scaled
    to [0, 1] and shaped (N, 1, 8, 8)."""

    source: Literal["digits"]
    test_fraction: Probability = 0.2
    split_seed: Int = 0
    """The train/test split is fixed by this, not by the run's seed, so runs compare."""


Data = Annotated[
    RandomData | LinspaceData | VisionData | FakeImages | ImageFolderData | DigitsData,
    Field(discriminator="source"),
]

# -- training --------------------------------------------------------------------------------


class Train(StrictModel):
    epochs: Size | None = None
    """Passes over the training set (default 1 when `steps` is not given)."""
    steps: Size | None = None
    """Stop after this many optimizer steps (a cap when `epochs` is also given)."""
    log_every: Size = 1
    """With `epochs`: batches of an epoch between `[epoch, batch] loss:` lines (the tutorial's
    rule); with `steps` alone: steps between lines. Each line shows the mean loss since the last."""
    checkpoint_every: NonNeg = 0
    """Steps between checkpoints; 0: only at the end (and on Ctrl-C)."""
    keep_checkpoints: Size = 2
    """How many of the newest checkpoints to keep."""
    compile: bool = False
    amp: bool = False


class Evaluate(StrictModel):
    accuracy: bool = True
    per_class: bool = False
    examples: NonNeg = 4
    """Test images whose ground truth and prediction are printed (the tutorial shows 4)."""


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device(value: Any) -> Any:
    if isinstance(value, str) and not _DEVICE.match(value):
        raise ValueError(f"unknown device '{value}'; use auto, cpu, cuda, cuda:N or mps")
    return value


Device = Annotated[str, BeforeValidator(_device)]
