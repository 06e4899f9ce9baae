"""The spec's `data:` as batches: built once, then served in a seeded, resumable order.

Two kinds of sets. In-memory tensors (random, linspace, digits) are batched by slicing or
`index_select`, with no DataLoader in the way (a full-batch regression step is 350 µs; a loader
would add a third). torchvision datasets (CIFAR10, MNIST, FashionMNIST, FakeData, ImageFolder) go
through a DataLoader, with workers if the spec asks.

Order: each epoch draws `torch.randperm(n, generator=g)` from the run's data generator when
shuffling. A checkpoint stores g's state at the start of the epoch and the batch reached, so a
resumed run redraws the same permutation and starts at that batch without loading the ones
before it.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from graphspec.core import exprs
from graphspec.language.recipe import (
    DigitsData,
    FakeImages,
    ImageFolderData,
    LinspaceData,
    RandomData,
    VisionData,
    transform_steps,
)
from graphspec.program import data_facts as data_check

Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor]


class DataError(Exception):
    """The data could not be built; the runner reports it as E-DATA at the spec's `data:`."""


@dataclass
class TensorSet:
    """Samples held as tensors: inputs (one per model input) and a target, first dim = sample."""

    inputs: tuple[torch.Tensor, ...]
    target: torch.Tensor

    def __len__(self) -> int:
        return len(self.target)


@dataclass
class Split:
    """One split of a dataset with its batching rules."""

    items: TensorSet | Dataset
    batch_size: int
    shuffle: bool = False
    drop_last: bool = False
    num_workers: int = 0
    shard: Any = None
    """A distributed run's `distributed.Shard`: each batch is cut to this rank's part of it."""

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = len(self.items), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def batches(
        self, generator: torch.Generator | None = None, start: int = 0, epoch: int = 0
    ) -> Iterator[Batch]:
        """This epoch's batches from number `start` on; draws the order from `generator`."""
        order = None
        if self.shuffle and generator is not None:
            order = torch.randperm(len(self.items), generator=generator)
        if isinstance(self.items, TensorSet):
            return self._tensor_batches(order, start)
        return self._loader_batches(order, start, epoch)

    def _tensor_batches(self, order: torch.Tensor | None, start: int) -> Iterator[Batch]:
        items, b, shard = self.items, self.batch_size, self.shard
        if order is None and start == 0 and b >= len(items) and shard is None:
            yield items.inputs, items.target  # the whole set, as the fitting seeds use it
            return
        for i in range(start, len(self)):
            if order is None:  # a slice is a view: no copy
                lo, hi = i * b, min((i + 1) * b, len(items))
                pick = shard.span(lo, hi) if shard else slice(lo, hi)
                yield tuple(t[pick] for t in items.inputs), items.target[pick]
            else:
                idx = order[i * b : (i + 1) * b]
                idx = idx[shard.span(0, len(idx))] if shard else idx
                yield tuple(t[idx] for t in items.inputs), items.target[idx]

    def _loader_batches(
        self, order: torch.Tensor | None, start: int, epoch: int
    ) -> Iterator[Batch]:
        ids = order.tolist() if order is not None else list(range(len(self.items)))
        b = self.batch_size
        plan = [ids[i * b : (i + 1) * b] for i in range(start, len(self))]
        if self.shard is not None:  # this rank's part of each global batch
            plan = [batch[self.shard.span(0, len(batch))] for batch in plan]
        # The loader draws its workers' base seed from this generator; without one it would
        # draw from the global RNG, and a resumed run (one extra loader) would drift from an
        # uninterrupted one.
        seeds = torch.Generator().manual_seed(epoch)
        loader = DataLoader(
            self.items, batch_sampler=plan, num_workers=self.num_workers, generator=seeds
        )
        for inputs, target in loader:
            yield (inputs,), target


@dataclass
class Data:
    """The built data of a run."""

    train: Split
    test: Split | None
    description: str
    classes: list[str] | None = None
    fake: str | None = None
    """Set when FakeData stands in for a missing dataset: what it replaces (labelled in output)."""
    fit: TensorSet | None = field(default=None, repr=False)
    """For a fitting task (linspace data): the points to plot the fit over."""


def build(spec: Any, *, fake_data: int | None = None) -> Data:
    """Build the spec's data. Random draws use the global torch RNG, seeded by the caller."""
    if isinstance(spec, VisionData) and fake_data:
        return _fake_for(spec, fake_data)
    return _BUILDERS[type(spec)](spec)


def _loader_args(spec: Any) -> dict[str, Any]:
    return {
        "batch_size": spec.batch_size,
        "shuffle": spec.shuffle,
        "drop_last": spec.drop_last,
        "num_workers": spec.num_workers,
    }


def _test_split(spec: Any, items: TensorSet | Dataset) -> Split:
    return Split(items, spec.test_batch_size or spec.batch_size, num_workers=spec.num_workers)


def _random(spec: RandomData) -> Data:
    inputs = tuple(torch.randn(*shape) for shape in spec.inputs.values())
    n = inputs[0].shape[0]
    if spec.num_classes is not None:
        target = torch.randint(spec.num_classes, (n,))
    else:
        target = torch.randn(*spec.target)
    items = TensorSet(inputs, target)
    args = _loader_args(spec) | {"batch_size": spec.batch_size or n}
    return Data(Split(items, **args), None, f"random tensors, {_count(n, 'sample')}")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def target_function(text: str):
    """The target expression as a function of x, rendered from the checked AST."""
    body = exprs.parse_elementwise(text, {"x"}).render({"x": "x"})
    namespace: dict[str, Any] = {"torch": torch}
    # The source is printed from graphspec's checked expression tree, never the user's string.
    exec(compile(f"def target(x):\n    return {body}\n", "<data.target>", "exec"), namespace)  # noqa: S102
    return namespace["target"]


def _linspace(spec: LinspaceData) -> Data:
    x = torch.linspace(spec.start, spec.end, spec.steps)
    if spec.column:
        x = torch.unsqueeze(x, dim=1)  # (steps, 1), as the regression seed
    y = target_function(spec.target)(x)
    items = TensorSet((x,), y)
    args = _loader_args(spec) | {"batch_size": spec.batch_size or spec.steps}
    text = f"linspace({spec.start:g}, {spec.end:g}, {spec.steps}), target {spec.target}"
    return Data(Split(items, **args), None, text, fit=items)


def _digits(spec: DigitsData) -> Data:
    images, labels = _digits_arrays()
    split = torch.randperm(len(labels), generator=torch.Generator().manual_seed(spec.split_seed))
    n_test = round(len(labels) * spec.test_fraction)
    test_ids, train_ids = split[:n_test], split[n_test:]
    train = TensorSet((images[train_ids],), labels[train_ids])
    test = TensorSet((images[test_ids],), labels[test_ids])
    text = f"scikit-learn digits, 8x8: {len(train):,} train / {len(test):,} test"
    return Data(
        Split(train, **_loader_args(spec)),
        _test_split(spec, test) if n_test else None,
        text,
        classes=[str(i) for i in range(10)],
    )


def _digits_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1, 8, 8) float images in [0, 1] and int64 labels."""
    found = importlib.util.find_spec("sklearn")
    path = (
        os.path.join(found.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
        if found and found.submodule_search_locations
        else ""
    )
    if os.path.isfile(path):  # the file load_digits reads; skips importing scikit-learn (~1 s)
        with gzip.open(path, "rt") as f:
            rows = [[int(v) for v in line.split(",")] for line in f if line.strip()]
        table = torch.tensor(rows, dtype=torch.int64)
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        pixels, labels = torch.as_tensor(bunch.data), torch.as_tensor(bunch.target)
    images = (pixels.to(torch.float32) / 16.0).reshape(-1, 1, 8, 8)
    return images, labels.to(torch.int64)


def _vision(spec: VisionData) -> Data:
    import torchvision.datasets as tvd  # lazily: a torchvision import costs about a second

    cls = {"CIFAR10": tvd.CIFAR10, "MNIST": tvd.MNIST, "FashionMNIST": tvd.FashionMNIST}
    transform = make_transform(spec.transforms)
    try:
        train = cls[spec.source](spec.root, train=True, download=spec.download, transform=transform)
        test = cls[spec.source](spec.root, train=False, download=spec.download, transform=transform)
    except (OSError, RuntimeError) as err:  # a failed download, a corrupt file
        raise DataError(f"{spec.source} could not be loaded: {err}") from None
    classes = spec.classes or list(train.classes)
    text = f"{spec.source} ({spec.root}/): {len(train):,} train / {len(test):,} test"
    return Data(Split(train, **_loader_args(spec)), _test_split(spec, test), text, classes)


def _fake_for(spec: VisionData, size: int) -> Data:
    """FakeData shaped like the dataset the spec names, for `--fake-data`."""
    known = data_check.VISION[spec.source]
    test_size = max(1, size // 5)
    fake = FakeImages(
        source="FakeData",
        size=size,
        test_size=test_size,
        image_size=list(known.image_size),
        num_classes=len(known.classes),
        transforms=spec.transforms,
        classes=spec.classes or list(known.classes),
        **_loader_args(spec),
        test_batch_size=spec.test_batch_size,
    )
    data = _fakedata(fake)
    c, h, w = known.image_size
    data.fake = (
        f"FakeData standing in for {spec.source} (--fake-data): {size:,} train / "
        f"{test_size:,} test random {c}x{h}x{w} images with random labels"
    )
    data.description = data.fake
    return data


def _fakedata(spec: FakeImages) -> Data:
    import torchvision.datasets as tvd

    transform = make_transform(spec.transforms)
    shape = tuple(spec.image_size)
    train = tvd.FakeData(spec.size, shape, spec.num_classes, transform)
    # a different offset gives the test split different images
    test = (
        tvd.FakeData(spec.test_size, shape, spec.num_classes, transform, random_offset=spec.size)
        if spec.test_size
        else None
    )
    classes = spec.classes or [str(i) for i in range(spec.num_classes)]
    text = f"FakeData: {spec.size:,} train / {spec.test_size:,} test random images"
    return Data(
        Split(train, **_loader_args(spec)), _test_split(spec, test) if test else None, text, classes
    )


def _image_folder(spec: ImageFolderData) -> Data:
    import torchvision.datasets as tvd

    transform = make_transform(spec.transforms)
    try:
        train = tvd.ImageFolder(spec.root, transform=transform)
        test = tvd.ImageFolder(spec.test_root, transform=transform) if spec.test_root else None
    except (OSError, RuntimeError) as err:  # no images in a class folder, unreadable files
        raise DataError(f"ImageFolder could not be read: {err}") from None
    text = f"ImageFolder {spec.root}: {len(train):,} images, {len(train.classes)} classes"
    return Data(
        Split(train, **_loader_args(spec)),
        _test_split(spec, test) if test else None,
        text,
        list(train.classes),
    )


def make_transform(transforms: list[Any]):
    """torchvision.transforms.Compose of the spec's transforms (names from a closed table)."""
    import torchvision.transforms as tvt

    # each name is one of spec_train.TRANSFORMS, checked when the spec was validated
    return tvt.Compose([getattr(tvt, name)(**args) for name, args in transform_steps(transforms)])


_BUILDERS = {
    RandomData: _random,
    LinspaceData: _linspace,
    DigitsData: _digits,
    VisionData: _vision,
    FakeImages: _fakedata,
    ImageFolderData: _image_folder,
}


def first_sample(split: Split) -> tuple[tuple[torch.Tensor, ...], Any]:
    """One sample's inputs (no batch dim) and target, for the pre-training shape check."""
    if isinstance(split.items, TensorSet):
        return tuple(t[0] for t in split.items.inputs), split.items.target[0]
    image, label = split.items[0]
    return (image,), label


def labels_of(split: Split) -> torch.Tensor | None:
    """All class labels of a split, where they are known without loading images."""
    items = split.items
    if isinstance(items, TensorSet):
        return items.target
    targets = getattr(items, "targets", None)
    return torch.as_tensor(targets) if targets is not None else None
