"""The spec's `data:` as batches, through the generated training functions.

`make_data()`, `batches()` and `epoch_order()` are the program's own (program/functions.py,
written per source in data/): the run executes the same text that `emit --train` writes and
wraps what it returns. In-memory tensors (random, linspace, digits, arrays) are sliced or indexed
with no DataLoader in the way (a full-batch regression step is 350 µs; a loader would add a
third). CIFAR-10, MNIST and FashionMNIST are in memory too where their transforms have batched
forms (their uint8 images as one tensor, transformed per batch: data/transforms.py); the rest go
through a DataLoader, with the spec's workers or a number fit to the machine's cores.

Order: each epoch draws `torch.randperm(n, generator=g)` from the run's data generator when
shuffling. A checkpoint stores g's state at the start of the epoch and the batch reached, so a
resumed run redraws the same permutation and starts at that batch without loading the ones
before it.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset

from graphspec.core.codetext import one_line
from graphspec.core.errors import warnings_after_success
from graphspec.training.program import Program

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
    """One split of a dataset with its batching rules; batches come from the program."""

    items: TensorSet | Dataset
    batch_size: int
    program: Program
    shuffle: bool = False
    drop_last: bool = False
    shard: Any = None
    """A distributed run's `distributed.Shard`: each batch is cut to this rank's part of it."""

    def __len__(self) -> int:
        """Batches per epoch."""
        n, b = len(self.items), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def raw(self) -> Any:
        """The split as the generated functions hold it: ((inputs...), target) or a Dataset."""
        items = self.items
        return (items.inputs, items.target) if isinstance(items, TensorSet) else items

    def batches(
        self, generator: torch.Generator | None = None, start: int = 0, epoch: int = 0
    ) -> Iterator[Batch]:
        """This epoch's batches from number `start` on; draws the order from `generator`."""
        raw = self.raw
        order = self.program.epoch_order(raw, generator) if generator is not None else None
        # a DataLoader's workers are seeded by the epoch, and so are the random transforms of
        # an image folder decoded once (the program's draws()); other tensors need no seed
        seeded = not isinstance(self.items, TensorSet) or "draws" in self.program.namespace
        seed = {"epoch": epoch} if seeded else {}
        batches = self.program.batches(raw, order, self.batch_size, self.drop_last, start, **seed)
        return batches if self.shard is None else self._cut(batches)

    def _cut(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """This rank's part of each global batch (slices of it: views, no copy). A DataLoader
        still loads the whole batch on every rank: the compute is shared, not the reading."""
        for inputs, target in batches:
            part = self.shard.span(0, len(target))
            yield tuple(x[part] for x in inputs), target[part]


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
    path: str = ""
    """How batches are made, in words: the in-memory path or a DataLoader and its workers."""
    val: Split | None = None
    """`train.validation`'s split: a seeded part of the training data, or the test split."""

    @property
    def program(self) -> Program:
        return self.train.program


def from_spec(
    spec: Any,
    *,
    fake_data: int | None = None,
    origin: str = "spec",
    decode_cache: str | None = None,
    progress: bool = False,
) -> Data:
    """The spec's data for a run: its training functions generated and executed, then built.

    With `fake_data`, a dataset that allows it is replaced by FakeData of its shape. An image
    folder decoded once shows a progress bar (`progress`) and, with `decode_cache` (a folder, ""
    for the default one), keeps its decoded images there (training/decode_cache.py)."""
    from graphspec.training import decode_cache as cache
    from graphspec.training import program

    stand_in = spec.data.stand_in(fake_data) if fake_data else None
    run_spec = spec if stand_in is None else spec.model_copy(update={"data": stand_in})
    functions = program.load(run_spec, origin)
    helper = cache.install(functions, decode_cache, progress)
    stands_for = spec.data if stand_in is not None else None
    data = build(run_spec.data, functions, stands_for, spec.train.validation, spec.seed or 0)
    if helper is not None and helper.said:
        data.path += f"; {'; '.join(helper.said)}"
    return data


def build(
    spec: Any, program: Program, stands_for: Any = None, validation: Any = None, seed: int = 0
) -> Data:
    """Run the program's make_data() and wrap its splits. Random draws use the global torch
    RNG, seeded by the caller. `stands_for`: the dataset FakeData replaces (--fake-data);
    `validation`: train.validation, whose split is cut here by the program's own function."""
    where = getattr(spec, "root", None)
    named = f"{spec.source} {where}" if where else spec.named_as()[0]
    try:
        with warnings_after_success():  # torch's warning about a bad file, then E-DATA: never
            trainset, testset = program.make_data()
    except decoding_errors() as err:
        # a failed download, a corrupt or unreadable file, an object array (a pickle) numpy
        # refuses to load, a torch file whose pickle weights_only refuses, a zip with a bad
        # CRC, a safetensors file that lies about its tensors, an image PIL cannot decode
        raise DataError(f"{named} could not be loaded: {one_line(_first_line(err))}") from None
    for split, label in ((trainset, "training"), (testset, "test")):
        _check_lengths(split, f"{named} ({label} split)")
    if program.cast is not None:  # train.dtype
        trainset, testset = program.cast(trainset), program.cast(testset)
    classes = spec.class_names() or _dataset_classes(trainset)  # before a cut hides them
    # a text's characters name its classes: examples print as text, not ids
    classes = classes or getattr(program.make_data, "vocabulary", None)
    trainset, valset = _validation(trainset, testset, program, validation, seed)
    items = _items(trainset)
    train = Split(items, spec.batch_size or len(items), program, spec.shuffle, spec.drop_last)
    test = None
    if testset is not None:
        test = Split(_items(testset), spec.test_batch_size or train.batch_size, program)
    description = spec.describe(len(train.items), len(test.items) if test else None)
    data = Data(train, test, description, classes, fit=train.items if spec.fit else None)
    data.path = _path(spec, program, items)
    if valset is not None:
        batch = validation.batch_size or spec.test_batch_size or train.batch_size
        data.val = Split(_items(valset), batch, program)
        where = (
            "the test split"
            if validation.split == "test"
            else f"{validation.split:g} of the training split, seeded"
        )
        data.description += f"; validation: {len(data.val.items):,} samples ({where})"
    if stands_for is not None:
        c, h, w = spec.image_size
        data.fake = data.description = (
            f"FakeData standing in for {stands_for.source} (--fake-data): {len(train.items):,} "
            f"train / {len(test.items) if test else 0:,} test random {c}x{h}x{w} images with "
            "random labels"
        )
    return data


def decoding_errors() -> tuple[type[BaseException], ...]:
    """What reading a data file of any format raises on a file that is not what it claims
    (every one of them is the file's fault, never graphspec's): E-DATA naming the file."""
    import zipfile
    import zlib
    from tokenize import TokenError

    errors: list[type[BaseException]] = [
        OSError, RuntimeError, ValueError, KeyError, TypeError, EOFError, IndexError,
        pickle.UnpicklingError, zipfile.BadZipFile, zipfile.LargeZipFile,
        SyntaxError, TokenError,  # numpy parses a .npy header with tokenize and ast
        NotImplementedError, zlib.error,  # a zip member's unknown method, a bad deflate stream
    ]  # fmt: skip
    try:
        from PIL import Image

        errors.append(Image.DecompressionBombError)  # UnidentifiedImageError is an OSError
    except ImportError:
        pass
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:
        pass
    return tuple(errors)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _check_lengths(split: Any, named: str) -> None:
    """Every input and the target of an in-memory split hold the same number of samples: a
    file with 20 inputs and 7 targets is refused, never trained on 7."""
    if not isinstance(split, tuple):
        return
    inputs, target = split
    sizes = [len(x) for x in inputs] + [len(target)]
    if len(set(sizes)) > 1:
        shown = ", ".join(str(n) for n in sizes[:-1])
        raise DataError(
            f"{named}: the inputs hold {shown} samples and the target {sizes[-1]}: they must "
            "hold the same number"
        )


def _path(spec: Any, program: Program, items: Any) -> str:
    if isinstance(items, TensorSet):
        ignored = spec.num_workers  # a spec written for the DataLoader path may name workers
        return spec.data_path() + (f"; num_workers {ignored} unused" if ignored else "")
    workers = program.namespace.get("NUM_WORKERS", 0)
    chosen = "" if spec.num_workers is not None else " (fit to this machine's cores)"
    return f"{spec.data_path()}, {workers} worker{'' if workers == 1 else 's'}{chosen}"


def _validation(trainset: Any, testset: Any, program: Program, validation: Any, seed: int):
    """(train, validation): the held-out part cut by the generated `split_validation` from a
    generator of its own (seed + 1: apart from the epoch order's stream), or the test split."""
    if validation is None:
        return trainset, None
    if validation.split == "test":
        if testset is None:
            raise DataError("train.validation.split is 'test', but the data has no test split")
        return trainset, testset
    generator = torch.Generator().manual_seed(seed + 1)
    kept, held = program.split_validation(trainset, validation.split, generator)
    if program.size(kept) == 0:
        raise DataError(
            f"train.validation.split {validation.split:g} of {program.size(trainset)} samples "
            "leaves none to train on"
        )
    return kept, held


def _items(split: Any) -> TensorSet | Dataset:
    if isinstance(split, tuple):
        inputs, target = split
        return TensorSet(tuple(inputs), target)
    return split


def _dataset_classes(dataset: Any) -> list[str] | None:
    names = getattr(dataset, "classes", None)
    return list(names) if names is not None else None


def first_sample(split: Split) -> tuple[tuple[torch.Tensor, ...], Any]:
    """One sample's inputs (no batch dim) and target, for the pre-training shape check. The
    global generator is left as it was: a random transform drawing for this sample must not
    shift the training's draws (emit --train's script makes no such check)."""
    state = torch.get_rng_state()
    try:
        return _first_sample(split)
    finally:
        torch.set_rng_state(state)


def _first_sample(split: Split) -> tuple[tuple[torch.Tensor, ...], Any]:
    if isinstance(split.items, TensorSet):  # through batches(): a batched transform applies
        first = torch.zeros(1, dtype=torch.long)
        inputs, target = next(split.program.batches(split.raw, first, 1, False))
        return tuple(t[0] for t in inputs), target[0]
    image, label = split.items[0]
    return (image,), label


def labels_of(split: Split) -> torch.Tensor | None:
    """All class labels of a split, where they are known without loading images."""
    items = split.items
    if isinstance(items, TensorSet):
        return items.target
    targets = getattr(items, "targets", None)
    return torch.as_tensor(targets) if targets is not None else None
