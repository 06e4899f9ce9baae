"""Image datasets through torchvision: CIFAR-10, MNIST and FashionMNIST by name (downloaded on
demand), FakeData (random images, for pipeline tests and `--fake-data`), and ImageFolder (the
user's own images, one folder per class). Each is a Dataset read through a DataLoader, except
where torchvision holds the images as one uint8 array (CIFAR-10, MNIST, FashionMNIST) and every
transform has an exact batched form (data/transforms.py): then make_data() returns that array as
a tensor and batches() transforms a batch at a time, with no PIL image per sample and no worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar, Literal

from graphspec.core.codetext import literal
from graphspec.core.fields import NonNeg, Size
from graphspec.data.base import TORCHVISION_IMPORTS, Source, data_error, transforms_line
from graphspec.data.tensors import ShapeList
from graphspec.data.transforms import Transform, batched_steps, why_not_batched

PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class VisionSet:
    """What graphspec knows about a torchvision dataset without importing it."""

    folder: str  # under root
    files: tuple[str, ...]  # what torchvision looks for in that folder
    url: str  # where torchvision downloads it from
    image_size: tuple[int, int, int]  # raw image (C, H, W), before transforms
    train_size: int
    test_size: int
    classes: tuple[str, ...]


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
VISION: dict[str, VisionSet] = {
    "CIFAR10": VisionSet(
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta"),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        (3, 32, 32),
        50_000,
        10_000,
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    ),
    "MNIST": VisionSet(
        "MNIST/raw",
        _MNIST_FILES,
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        (1, 28, 28),
        60_000,
        10_000,
        tuple(str(i) for i in range(10)),
    ),
    "FashionMNIST": VisionSet(
        "FashionMNIST/raw",
        _MNIST_FILES,
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        (1, 28, 28),
        60_000,
        10_000,
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


class ImageSource(Source):
    """A torchvision Dataset with transforms, batched by a DataLoader."""

    counted_as: ClassVar[str] = "images"

    transforms: list[Transform] = ["ToTensor"]

    in_memory = False
    imports = TORCHVISION_IMPORTS

    def data_path(self) -> str:
        return f"DataLoader, one PIL image per sample ({self._why_loader()})"

    def _why_loader(self) -> str:
        return f"{self.source} is read image by image"


class VisionData(ImageSource):
    """A torchvision dataset by name, downloaded on demand into `root`; evaluation uses its
    test split."""

    source: Literal["CIFAR10", "MNIST", "FashionMNIST"]
    root: str = "data"
    download: bool = True
    classes: list[str] | None = None
    """Short class names for the printed results; default: the dataset's own."""

    @property
    def known(self) -> VisionSet:
        return VISION[self.source]

    @property
    def in_memory(self) -> bool:  # type: ignore[override]
        """The uint8 images as one tensor, transformed a batch at a time (see the docstring)."""
        return batched_steps(self.transforms) is not None

    def transforms_batches(self) -> bool:
        return self.in_memory

    def _why_loader(self) -> str:
        return why_not_batched(self.transforms)

    def data_path(self) -> str:
        if not self.in_memory:
            return super().data_path()
        names = ", ".join(name for name, _ in batched_steps(self.transforms))
        return f"in memory: one uint8 tensor, {names} on whole batches (no DataLoader)"

    def helpers(self) -> list[str]:
        if not self.in_memory:
            return []
        return [_IMAGES_OF, _transform_batch(batched_steps(self.transforms))]

    def class_count(self) -> tuple[int | None, str]:
        return len(self.known.classes), self.source  # `classes:` only names them

    def class_names(self) -> list[str] | None:
        return list(self.classes or self.known.classes)

    def has_test(self) -> bool:
        return True

    def problems(self, pos_of) -> list:
        from graphspec.core.errors import Problem

        if self.classes and len(self.classes) != len(self.known.classes):
            message = (
                f"data.classes names {len(self.classes)} classes, {self.source} has "
                f"{len(self.known.classes)}"
            )
            return [Problem("E-CONSTRAINT", message, pos_of(("data", "classes")))]
        return []

    def make_data(self) -> list[str]:
        if self.in_memory:
            return self._make_tensors()
        lines = [transforms_line(self.transforms)]
        for split, flag in (("trainset", True), ("testset", False)):
            lines.append(
                f"    {split} = torchvision.datasets.{self.source}(root={literal(self.root)}, "
                f"train={flag}, download={self.download}, transform=transform)"
            )
        return lines + ["    return trainset, testset"]

    def _make_tensors(self) -> list[str]:
        lines = ["    # the raw images, untransformed: batches() transforms a whole batch at once"]
        for split, flag in (("trainset", True), ("testset", False)):
            lines.append(
                f"    {split} = torchvision.datasets.{self.source}(root={literal(self.root)}, "
                f"train={flag}, download={self.download})"
            )
        return lines + ["    return images_of(trainset), images_of(testset)"]

    def describe(self, train: int, test: int | None) -> str:
        return f"{self.source} ({self.root}/): {train:,} train / {test or 0:,} test"

    def stand_in(self, size: int) -> Source:
        known = self.known
        return FakeImages(
            source="FakeData",
            size=size,
            test_size=max(1, size // 5),
            image_size=list(known.image_size),
            num_classes=len(known.classes),
            transforms=self.transforms,
            classes=self.classes or list(known.classes),
            batch_size=self.batch_size,
            test_batch_size=self.test_batch_size,
            shuffle=self.shuffle,
            num_workers=self.num_workers,
            drop_last=self.drop_last,
        )

    def check_available(self, doc, *, fake_data: bool) -> None:
        if fake_data:
            return
        known = self.known
        folder = os.path.join(self.root, known.folder)
        missing = [n for n in known.files if not os.path.isfile(os.path.join(folder, n))]
        if not missing:
            return
        reason = f"{self.source} is not under '{self.root}' ({folder}/{missing[0]} is missing)"
        if self.download:
            unreachable = _unreachable(known.url)
            if unreachable is None:
                return  # torchvision downloads it when the data is built
            reason += f" and cannot be downloaded ({unreachable})"
        else:
            reason += " and download is false"
        c, h, w = known.image_size
        hint = (
            f"place the dataset's files under {folder}/, or run with --fake-data to train on "
            f"FakeData of the same shape ({c}x{h}x{w}, {len(known.classes)} classes)"
        )
        raise data_error(reason, doc.pos(("data", "source")), hint)


def _unreachable(url: str) -> str | None:
    """Why the download host cannot be reached, or None if a connection opens."""
    import socket  # only `run` probes the network: kept off validate's start-up
    from urllib.parse import urlparse

    parts = urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT_S):
            return None
    except OSError as err:
        return f"{parts.hostname}: {err.strerror or err}"


class FakeImages(ImageSource):
    """torchvision.datasets.FakeData: random images with random labels (for pipeline tests)."""

    source: Literal["FakeData"]
    size: Size = 1000
    test_size: NonNeg = 200
    image_size: ShapeList = [3, 32, 32]
    num_classes: Size = 10
    classes: list[str] | None = None

    def class_count(self) -> tuple[int | None, str]:
        return self.num_classes, "data.num_classes"

    def class_names(self) -> list[str] | None:
        return self.classes or [str(i) for i in range(self.num_classes)]

    def sample_count(self) -> tuple[int | None, str]:
        return self.size, "data.size"

    def has_test(self) -> bool:
        return self.test_size > 0

    def make_data(self) -> list[str]:
        shape = tuple(self.image_size)
        test = (
            f"    testset = torchvision.datasets.FakeData({self.test_size}, {shape}, "
            f"{self.num_classes}, transform, random_offset={self.size})"
            if self.test_size
            else "    testset = None"
        )
        return [
            transforms_line(self.transforms),
            f"    trainset = torchvision.datasets.FakeData({self.size}, {shape}, "
            f"{self.num_classes}, transform)",
            test,
            "    return trainset, testset",
        ]

    def describe(self, train: int, test: int | None) -> str:
        return f"FakeData: {train:,} train / {test or 0:,} test random images"


class ImageFolderData(ImageSource):
    """torchvision.datasets.ImageFolder: the user's images, one folder per class."""

    source: Literal["ImageFolder"]
    root: str
    test_root: str | None = None
    """A second folder of the same classes for evaluation."""

    def gives_labels(self) -> bool:
        return True

    def has_test(self) -> bool:
        return self.test_root is not None

    def check_available(self, doc, *, fake_data: bool) -> None:
        _check_folder(self.root, doc.pos(("data", "root")))
        if self.test_root is not None:
            _check_folder(self.test_root, doc.pos(("data", "test_root")))

    def make_data(self) -> list[str]:
        test = (
            f"    testset = torchvision.datasets.ImageFolder({literal(self.test_root)}, "
            "transform=transform)"
            if self.test_root
            else "    testset = None"
        )
        return [
            transforms_line(self.transforms),
            f"    trainset = torchvision.datasets.ImageFolder({literal(self.root)}, "
            "transform=transform)",
            test,
            "    return trainset, testset",
        ]

    def describe(self, train: int, test: int | None) -> str:
        return f"ImageFolder {self.root}: {train:,} images"


def _check_folder(root: str, pos) -> None:
    hint = "ImageFolder wants root/<class name>/<image files>"
    if not os.path.isdir(root):
        raise data_error(f"image folder '{root}' does not exist", pos, hint)
    if not any(e.is_dir() for e in os.scandir(root)):
        raise data_error(f"image folder '{root}' has no class folders", pos, hint)


_IMAGES_OF = """\
def images_of(dataset):
    \"\"\"A torchvision dataset's images as one uint8 tensor (N, C, H, W), and its labels.\"\"\"
    images = torch.as_tensor(dataset.data)
    if images.dim() == 3:  # MNIST's (N, H, W): one channel
        images = images.unsqueeze(1)
    else:  # CIFAR-10's (N, H, W, C)
        images = images.permute(0, 3, 1, 2).contiguous()
    return (images,), torch.as_tensor(dataset.targets)"""


def _transform_batch(steps: list[tuple[str, dict]]) -> str:
    """transform_batch(images): the spec's transforms as tensor ops on a uint8 batch."""
    lines = [
        "def transform_batch(images):",
        '    """The transforms on a whole uint8 batch (N, C, H, W): the very numbers of',
        "    torchvision's per-image path, without a PIL image per sample (see graphspec's",
        '    data/transforms.py for which transforms have such a form)."""',
    ]
    name, constants = "images", []
    for op, args in steps:
        call = f"transforms.{op}({', '.join(f'{k}={literal(v)}' for k, v in args.items())})"
        if op == "ToTensor":
            lines.append(f"    x = images.to(torch.get_default_dtype()).div(255)  # {call}")
            name = "x"
        elif op == "PILToTensor":
            lines.append(f"    x = images  # {call}: the uint8 tensor as it is")
            name = "x"
        elif op == "Normalize":  # torchvision's own arithmetic, its tensors made once
            n = len(constants) // 2 + 1
            for key in ("mean", "std"):
                constants.append(
                    f"{key.upper()}_{n} = torch.tensor({literal(args[key])}, "
                    "dtype=torch.get_default_dtype()).view(-1, 1, 1)"
                )
            lines.append(f"    {name} = {name}.sub(MEAN_{n}).div(STD_{n})  # {call}")
        else:
            lines.append(f"    {name} = {call}({name})")
    head = ["# Normalize's mean and std as torchvision makes them, over (C, 1, 1)", *constants]
    head += ["", ""]  # two blank lines before the def, as ruff's formatter writes them
    return "\n".join([*(head if constants else []), *lines, f"    return {name}"])
