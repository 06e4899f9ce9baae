"""The training half of a spec: data, loss, optimizer, scheduler, train, evaluate, device.

Losses, optimizers and schedulers are closed tables of torch names with their typed arguments
(built with `create_model`, one row per torch class), so a typo is an error with did-you-mean and
nothing is imported by a dotted path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, create_model

from graphspec.fields import Float, Int, NonNeg, NonNegFloat, PosFloat, Probability, Size, StrictModel

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

Betas = Annotated[list[Probability], Field(min_length=2, max_length=2)]
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
        "betas": (Betas, [0.9, 0.999]),
        "eps": (PosFloat, 1e-8),
        "weight_decay": (NonNegFloat, 0.0),
        "amsgrad": (bool, False),
    },
    "AdamW": {
        "lr": (PosFloat, 0.001),
        "betas": (Betas, [0.9, 0.999]),
        "eps": (PosFloat, 1e-8),
        "weight_decay": (NonNegFloat, 0.01),
        "amsgrad": (bool, False),
    },
    "RMSprop": {
        "lr": (PosFloat, 0.01),
        "alpha": (Probability, 0.99),
        "eps": (PosFloat, 1e-8),
        "weight_decay": (NonNegFloat, 0.0),
        "momentum": (NonNegFloat, 0.0),
    },
    "Adagrad": {"lr": (PosFloat, 0.01), "weight_decay": (NonNegFloat, 0.0)},
    "LBFGS": {
        "lr": (PosFloat, 1.0),
        "max_iter": (Size, 20),
        "history_size": (Size, 100),
        "tolerance_grad": (NonNegFloat, 1e-7),
        "tolerance_change": (NonNegFloat, 1e-9),
        "line_search_fn": (Literal["strong_wolfe"] | None, None),
    },
}

SCHEDULERS: dict[str, dict[str, Any]] = {
    "StepLR": {"step_size": (Size, ...), "gamma": (PosFloat, 0.1)},
    "ExponentialLR": {"gamma": (PosFloat, ...)},
    "CosineAnnealingLR": {"T_max": (Size, ...), "eta_min": (NonNegFloat, 0.0)},
    "MultiStepLR": {"milestones": (list[Size], ...), "gamma": (PosFloat, 0.1)},
}


def _table_union(table: dict[str, dict[str, Any]], what: str) -> Any:
    """One strict model per torch class, discriminated by `op`; `MSELoss` alone means {op: MSELoss}."""
    members = [
        Annotated[
            create_model(name, __base__=StrictModel, op=(Literal[name], ...), **fields),
            Tag(name),
        ]
        for name, fields in table.items()
    ]
    union = Annotated[Union[tuple(members)], Discriminator(_op_tag)]
    return Annotated[union, BeforeValidator(lambda v: {"op": v} if isinstance(v, str) else v)]


def _op_tag(value: Any) -> str | None:
    return value.get("op") if isinstance(value, dict) else getattr(value, "op", None)


Loss = _table_union(LOSSES, "loss")
Optimizer = _table_union(OPTIMIZERS, "optimizer")
Scheduler = _table_union(SCHEDULERS, "scheduler")

# -- data ------------------------------------------------------------------------------------

ShapeList = Annotated[list[Size], Field(max_length=8)]


class Loader(StrictModel):
    batch_size: Size = 1
    shuffle: bool = False
    num_workers: NonNeg = 0
    drop_last: bool = False


class RandomData(Loader):
    """Random tensors: `randn` inputs and target, made once (the seed's LeNet example)."""

    source: Literal["random"]
    inputs: dict[str, ShapeList]
    target: ShapeList


class LinspaceData(Loader):
    """x = linspace(start, end, steps) as a column, target an expression of x (the fitting tasks)."""

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


Transform = Union[str, dict[str, dict[str, Any]]]


class VisionData(Loader):
    """A torchvision dataset by name, downloaded on demand into `root`."""

    source: Literal["CIFAR10", "MNIST", "FashionMNIST"]
    root: str = "data"
    download: bool = True
    transforms: list[Transform] = ["ToTensor"]
    classes: list[str] | None = None


class FakeImages(Loader):
    """torchvision.datasets.FakeData: random images with random labels (for pipeline tests)."""

    source: Literal["FakeData"]
    size: Size = 1000
    image_size: ShapeList = [3, 32, 32]
    num_classes: Size = 10
    transforms: list[Transform] = ["ToTensor"]


class ImageFolderData(Loader):
    """torchvision.datasets.ImageFolder: the user's images, one folder per class."""

    source: Literal["ImageFolder"]
    root: str
    transforms: list[Transform] = ["ToTensor"]


class DigitsData(Loader):
    """scikit-learn's 8x8 digits (1,797 images, ships with scikit-learn, works offline)."""

    source: Literal["digits"]
    test_fraction: Probability = 0.2


Data = Annotated[
    Union[RandomData, LinspaceData, VisionData, FakeImages, ImageFolderData, DigitsData],
    Field(discriminator="source"),
]

# -- training --------------------------------------------------------------------------------


class Train(StrictModel):
    epochs: Size | None = None
    steps: Size | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    log_every: Size = 1
    checkpoint_every: NonNeg = 0
    """Steps between checkpoints; 0: only at the end."""
    compile: bool = False
    amp: bool = False


class Evaluate(StrictModel):
    accuracy: bool = True
    per_class: bool = False


_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _device(value: Any) -> Any:
    if isinstance(value, str) and not _DEVICE.match(value):
        raise ValueError(f"unknown device '{value}'; use auto, cpu, cuda, cuda:N or mps")
    return value


Device = Annotated[str, BeforeValidator(_device)]
