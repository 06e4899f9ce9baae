"""Image datasets through torchvision: CIFAR-10, MNIST and FashionMNIST by name (downloaded on
demand), FakeData (random images, for pipeline tests and `--fake-data`), and ImageFolder (the
user's own images, one folder per class). Each is a Dataset read through a DataLoader, except
where torchvision holds the images as one uint8 array (CIFAR-10, MNIST, FashionMNIST) and every
transform has an exact batched form (data/transforms.py): then make_data() returns that array as
a tensor and batches() transforms a batch at a time, with no PIL image per sample and no worker.
An ImageFolder makes such an array itself where it can: each image decoded once (`decode_plan`).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import ClassVar, Literal

from graphspec.core.codetext import literal
from graphspec.core.fields import Int, NonNeg, Probability, Size
from graphspec.data.base import (
    TORCHVISION_IMPORTS,
    Source,
    compose_line,
    constraint,
    data_error,
    transforms_line,
)
from graphspec.data.tensors import ShapeList
from graphspec.data.transforms import (
    ON_UINT8,
    Transforms,
    augments,
    batched_steps,
    decode_steps,
    decoded_shape,
    why_not_batched,
    why_not_decoded,
)

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

    reads_as = "images"
    counted_as: ClassVar[str] = "images"

    transforms: Transforms = ["ToTensor"]
    """torchvision transforms in order, or a torchvision weights name whose preprocessing is
    taken whole (`torchvision:ResNet18_Weights.IMAGENET1K_V1`: resize, crop, mean and std)."""

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
    """torchvision.datasets.ImageFolder: the user's images, one folder per class. Where the
    transforms allow it and the decoded images fit DECODE_SHARE of RAM, each image is decoded
    once into one uint8 tensor and batches() transforms a batch at a time (see `decode_plan`)."""

    source: Literal["ImageFolder"]
    path_fields = ("root", "test_root")
    root: str
    test_root: str | None = None
    """A second folder of the same classes for evaluation."""
    test_fraction: Probability = 0.0
    """Without `test_root`: this part of the images held out for the evaluation, drawn with
    `split_seed` (the same transforms as training)."""
    split_seed: Int = 0

    def gives_labels(self) -> bool:
        return True

    def has_test(self) -> bool:
        return self.test_root is not None or self.test_fraction > 0

    def problems(self, pos_of) -> list:
        if self.test_root is not None and self.test_fraction > 0:
            return [constraint("give either test_root or test_fraction, not both",
                               pos_of(("data", "test_fraction")))]  # fmt: skip
        return []

    @property
    def plan(self) -> DecodePlan:
        """decode_plan(), taken once per source object: generating a program asks for it a
        dozen times, and walking a folder of thousands of files costs each time. Kept with
        what it was taken for, so a model_copy with another root or transforms takes its own."""
        key = (self.root, self.test_root, repr(self.transforms))
        taken = self.__dict__.get("_plan_taken")
        if taken is None or taken[0] != key:
            taken = key, decode_plan(self.root, self.test_root, self.transforms)
            self.__dict__["_plan_taken"] = taken  # beside the fields: not one of them
        return taken[1]

    @property
    def in_memory(self) -> bool:  # type: ignore[override]
        return self.plan.why_not is None

    @property
    def imports(self) -> tuple[str, ...]:  # type: ignore[override]
        path = ("from pathlib import Path",) if self.in_memory and self.reads_png() else ()
        v2 = ("from torchvision.transforms import v2",) if self.augments_batches() else ()
        return TORCHVISION_IMPORTS + path + v2

    def transforms_batches(self) -> bool:
        return self.in_memory

    def augments_batches(self) -> bool:
        return self.in_memory and augments(decode_steps(self.transforms)[1])

    def reads_png(self) -> bool:
        """Whether PNGs are read by torchvision.io: when every decode step gives the same pixels
        on the decoded tensor as on the PIL image (a Resize or Grayscale wants PIL's image)."""
        return all(name in ON_UINT8 for name, _ in decode_steps(self.transforms)[0])

    def _why_loader(self) -> str:
        return self.plan.why_not or ""

    def data_path(self) -> str:
        if not self.in_memory:
            return super().data_path()
        before, after = decode_steps(self.transforms)
        c, h, w = self.plan.shape
        once = ", ".join(["decoded", *(name for name, _ in before)])
        drawn = " (random draws seeded by seed, epoch and batch)" if augments(after) else ""
        return (
            f"in memory: each image {once} once into one uint8 tensor ({self.plan.count:,} x "
            f"{c}x{h}x{w}, {_show(self.plan.bytes)}), {', '.join(n for n, _ in after)} on "
            f"whole batches{drawn} (no DataLoader)"
        )

    def helpers(self) -> list[str]:
        if not self.in_memory:
            return []
        after = decode_steps(self.transforms)[1]
        reader = _READ_PNG if self.reads_png() else _READ_PIL
        drawn = [_RANDOM_CROP, _RANDOM_FLIP] if augments(after) else []
        return [_DECODED, reader, *drawn, _transform_batch(after)]

    def class_names(self) -> list[str] | None:
        """On the decode path, the class folders' names as ImageFolder finds them (sorted)."""
        if not self.in_memory:
            return None  # the DataLoader path reads them from the dataset
        return sorted(e.name for e in os.scandir(self.root) if e.is_dir())

    def check_available(self, doc, *, fake_data: bool) -> None:
        _check_folder(self.root, doc.pos(("data", "root")))
        if self.test_root is not None:
            _check_folder(self.test_root, doc.pos(("data", "test_root")))

    def make_data(self) -> list[str]:
        if self.in_memory:
            return self._make_decoded()
        test = (
            f"    testset = torchvision.datasets.ImageFolder({literal(self.test_root)}, "
            "transform=transform)"
            if self.test_root
            else "    testset = None"
        )
        if self.test_fraction > 0:
            return [
                transforms_line(self.transforms),
                f"    images = torchvision.datasets.ImageFolder({literal(self.root)}, "
                "transform=transform)",
                "    split = torch.randperm(len(images), "
                f"generator=torch.Generator().manual_seed({self.split_seed}))",
                f"    n_test = round(len(images) * {literal(self.test_fraction)})",
                "    subset = torch.utils.data.Subset",
                "    trainset = subset(images, split[n_test:].sort().values.tolist())",
                "    testset = subset(images, split[:n_test].sort().values.tolist())",
                "    trainset.classes = testset.classes = images.classes  # for the evaluation",
                "    return trainset, testset",
            ]
        return [
            transforms_line(self.transforms),
            f"    trainset = torchvision.datasets.ImageFolder({literal(self.root)}, "
            "transform=transform)",
            test,
            "    return trainset, testset",
        ]

    def _make_decoded(self) -> list[str]:
        before, _ = decode_steps(self.transforms)
        if not self.reads_png():  # read_image gives PIL images: the steps end in a tensor
            before = [*before, ("PILToTensor", {})]
        test = (
            f"    testset = decoded(torchvision.datasets.ImageFolder({literal(self.test_root)}), "
            "decode)"
            if self.test_root
            else "    testset = None"
        )
        return [
            "    # each image decoded once, as ImageFolder reads it, through the transforms before",
            "    # ToTensor; batches() does the rest a whole batch at a time",
            compose_line("decode", before),
            f"    trainset = decoded(torchvision.datasets.ImageFolder({literal(self.root)}), "
            "decode)",
            test,
            "    return trainset, testset",
        ]

    def describe(self, train: int, test: int | None) -> str:
        tested = f" / {test:,} test" if test is not None else ""
        return f"ImageFolder {self.root}: {train:,} {'train' if tested else 'images'}{tested}"


# -- the decode-once plan -----------------------------------------------------------------------

DECODE_SHARE = 0.25
"""The most of this machine's RAM the decoded images of a folder may take (train and test
together); beyond it the DataLoader path. GRAPHSPEC_DECODE_LIMIT (bytes) sets another limit."""
DECODE_LIMIT_ENV = "GRAPHSPEC_DECODE_LIMIT"


@dataclass(frozen=True)
class DecodePlan:
    """Whether an image folder is decoded once, and if not why not."""

    why_not: str | None  # None: decoded once
    shape: tuple[int, int, int] | None = None  # one image as decoded (C, H, W)
    count: int = 0  # images, train and test

    @property
    def bytes(self) -> int:
        return self.count * math.prod(self.shape) if self.shape else 0


def decode_limit() -> tuple[int, str]:
    """The bytes the decoded images may take, and what says so."""
    text = os.environ.get(DECODE_LIMIT_ENV)
    if text is not None and text.strip().isdigit():
        return int(text), DECODE_LIMIT_ENV
    try:
        ram = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0, "this machine's RAM, unknown"
    return int(ram * DECODE_SHARE), f"{DECODE_SHARE:.0%} of this machine's {_show(ram)} RAM"


def decode_plan(root: str, test_root: str | None, transforms: Transforms) -> DecodePlan:
    """The plan for these folders as they are now: keyed by every file's name, size and mtime,
    so a file added, removed or rewritten makes a new plan, and an unchanged folder is read
    once however often the program's generation asks."""
    split = decode_steps(transforms)
    if split is None:
        return DecodePlan(why_not_decoded(transforms))
    folders = [root] + ([test_root] if test_root is not None else [])
    if not all(os.path.isdir(f) for f in folders):
        return DecodePlan("the image folder is not there yet")
    try:
        files = tuple((p, *_stamp(p)) for f in folders for p in _image_files(f))
    except OSError as err:
        return DecodePlan(f"a file cannot be read ({err.strerror or err})")
    steps = tuple((name, tuple(args.items())) for name, args in split[0])
    return _plan(files, steps, decode_limit())


def _stamp(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _plan(files: tuple, steps: tuple, limit: tuple[int, str]) -> DecodePlan:
    if not files:
        return DecodePlan("the folder has no images")
    before = [(name, dict(args)) for name, args in steps]
    shape = decoded_shape(before, None)
    if shape is None:  # the steps keep each image's size: they must all have one
        shapes: dict[tuple, str] = {}
        for path, *_ in files:
            try:
                shapes.setdefault(decoded_shape(before, _header_size(path)), path)
            except (OSError, ValueError, SyntaxError) as err:
                return DecodePlan(f"'{path}' cannot be read ({err})")
            if len(shapes) > 1:
                (a, first), (b, other) = shapes.items()
                return DecodePlan(
                    f"the images have more than one size ('{first}' decodes to "
                    f"{a[1]}x{a[2]}, '{other}' to {b[1]}x{b[2]}; a CenterCrop or a Resize to "
                    "[h, w] before ToTensor brings them to one)"
                )
        (shape,) = shapes
    plan = DecodePlan(None, shape, len(files))
    allowed, said_by = limit
    if plan.bytes > allowed:
        return DecodePlan(
            f"{len(files):,} images decoded would take {_show(plan.bytes)}, more than the "
            f"{_show(allowed)} allowed ({said_by})"
        )
    return plan


def _header_size(path: str) -> tuple[int, int]:
    """An image's (height, width) from its header: a PNG's from its IHDR chunk (the first 24
    bytes: several times faster than opening it with PIL), any other image's by PIL, which
    reads no pixels for it."""
    import struct

    from PIL import Image  # torchvision's own reader; `run` only

    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return height, width
    with Image.open(path) as image:
        width, height = image.size
    return height, width


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _show(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _check_folder(root: str, pos) -> None:
    hint = "ImageFolder wants root/<class name>/<image files>"
    if not os.path.isdir(root):
        raise data_error(f"image folder '{root}' does not exist", pos, hint)
    if not any(e.is_dir() for e in os.scandir(root)):
        raise data_error(f"image folder '{root}' has no class folders", pos, hint)
    for path in _image_files(root):
        _check_image(path, pos)


# What torchvision's ImageFolder takes as an image (its IMG_EXTENSIONS), matched the same way.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
MAX_IMAGE_BYTES = 256 * 1024**2


def _image_files(root: str) -> list[str]:
    """The files ImageFolder will open, found as it finds them (os.walk through links)."""
    found = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        for folder, _, names in sorted(os.walk(entry.path, followlinks=True)):
            found += [os.path.join(folder, n) for n in sorted(names)
                      if n.lower().endswith(IMAGE_EXTENSIONS)]  # fmt: skip
    return found


def _check_image(path: str, pos) -> None:
    """E-DATA naming the file unless it is a regular file of at most MAX_IMAGE_BYTES whose
    header PIL reads within its pixel limit and whose body verifies. Stat first: a FIFO or
    /dev/zero is never opened."""
    import stat

    from PIL import Image  # torchvision's own reader; `run` only

    try:
        info = os.stat(path)
    except OSError as err:
        raise data_error(f"image '{path}' cannot be read: {err.strerror or err}", pos) from None
    if not stat.S_ISREG(info.st_mode):
        raise data_error(f"image '{path}' is not a regular file (a FIFO, a device or a link "
                         "to one)", pos, "ImageFolder reads only image files")  # fmt: skip
    if info.st_size > MAX_IMAGE_BYTES:
        raise data_error(f"image '{path}' is {info.st_size:,} bytes, more than the "
                         f"{MAX_IMAGE_BYTES:,} an image may be", pos)  # fmt: skip
    try:
        with Image.open(path) as image:  # reads the header; refuses decompression bombs
            image.verify()  # the chunks' checksums (PNG): a corrupt body fails here, not mid-epoch
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise data_error(f"image '{path}' cannot be decoded: {err}", pos) from None


_IMAGES_OF = """\
def images_of(dataset):
    \"\"\"A torchvision dataset's images as one uint8 tensor (N, C, H, W), and its labels.\"\"\"
    images = torch.as_tensor(dataset.data)
    if images.dim() == 3:  # MNIST's (N, H, W): one channel
        images = images.unsqueeze(1)
    else:  # CIFAR-10's (N, H, W, C)
        images = images.permute(0, 3, 1, 2).contiguous()
    return (images,), torch.as_tensor(dataset.targets)"""


_DECODED = """\
def decoded(folder, decode, report=None):
    \"\"\"An ImageFolder's images, each read once (read_image) and brought through `decode` (the
    transforms before ToTensor), as one uint8 tensor (N, C, H, W), and its labels. `report` is
    told how many are done after each image (graphspec run's progress bar).\"\"\"
    images = []
    for path, _ in folder.samples:
        image = decode(read_image(path, folder.loader))
        if images and image.shape != images[0].shape:  # the folder changed since it was planned
            raise ValueError(
                f"{path} decodes to {tuple(image.shape)}, the first image to "
                f"{tuple(images[0].shape)}: the images must decode to one size"
            )
        images.append(image)
        if report is not None:
            report(len(images))
    return (torch.stack(images),), torch.tensor(folder.targets)"""

_READ_PNG = """\
PNG_SIGNATURE = b"\\x89PNG\\r\\n\\x1a\\n"


def read_image(path, loader):
    \"\"\"An image as ImageFolder's loader gives it (RGB), as a uint8 tensor (C, H, W). A PNG of 8
    bits a channel is decoded by torchvision.io (libpng: the very pixels PIL gives, several times
    faster for small images); any other file by the loader (PIL), JPEGs included: another libjpeg
    need not give PIL's pixels.\"\"\"
    data = Path(path).read_bytes()
    if data.startswith(PNG_SIGNATURE):
        png = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        try:
            image = torchvision.io.decode_png(png, mode=torchvision.io.ImageReadMode.RGB)
        except RuntimeError:  # libpng refuses it: PIL says why (or reads it after all)
            image = None
        if image is not None and image.dtype == torch.uint8:  # 16 bits: PIL's own reduction
            return image
    return transforms.functional.pil_to_tensor(loader(path))"""

_READ_PIL = """\
def read_image(path, loader):
    \"\"\"An image as ImageFolder's loader gives it (a PIL image, RGB): the transforms before
    ToTensor resample it as torchvision does a PIL image.\"\"\"
    return loader(path)"""

_RANDOM_CROP = """\
def random_crop(images, size, padding, draws):
    \"\"\"transforms.RandomCrop(size, padding) on a batch (N, C, H, W): padded by v2's pad, then
    each image cut at its own offsets drawn from `draws` (a slice: v2's crop of a tensor).\"\"\"
    if padding:
        images = v2.functional.pad(images, [padding])
    height, width = size
    rows, cols = images.shape[-2] - height + 1, images.shape[-1] - width + 1
    if rows < 1 or cols < 1:
        raise ValueError(f"RandomCrop of {size} from images of {tuple(images.shape[-2:])}")
    tops = torch.randint(rows, (len(images),), generator=draws).tolist()
    lefts = torch.randint(cols, (len(images),), generator=draws).tolist()
    cut = [x[:, t : t + height, u : u + width] for x, t, u in zip(images, tops, lefts, strict=True)]
    return torch.stack(cut)"""

_RANDOM_FLIP = """\
def random_flip(images, p, draws, flip):
    \"\"\"transforms.RandomHorizontalFlip(p) or RandomVerticalFlip(p) (`flip`: v2's horizontal_flip
    or vertical_flip) on a batch, each image flipped or not by its own draw from `draws`.\"\"\"
    chosen = (torch.rand(len(images), generator=draws) < p).view(-1, 1, 1, 1)
    return torch.where(chosen, flip(images), images)"""


def _transform_batch(steps: list[tuple[str, dict]]) -> str:
    """transform_batch(images): the spec's transforms as tensor ops on a uint8 batch."""
    drawn = augments(steps)
    lines = [
        f"def transform_batch(images{', draws' if drawn else ''}):",
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
        elif op == "RandomCrop":
            size = literal(args["size"] if isinstance(args["size"], tuple) else (args["size"],) * 2)
            padding = literal(args["padding"] or 0)
            crop = f"random_crop({name}, {size}, {padding}, draws)"
            lines += [f"    # {call}", f"    {name} = {crop}"]
        elif op in ("RandomHorizontalFlip", "RandomVerticalFlip"):
            flip = "horizontal_flip" if op == "RandomHorizontalFlip" else "vertical_flip"
            p = literal(args["p"])
            lines += [
                f"    # {call}",
                f"    {name} = random_flip({name}, {p}, draws, v2.functional.{flip})",
            ]
        else:
            lines.append(f"    {name} = {call}({name})")
    head = ["# Normalize's mean and std as torchvision makes them, over (C, 1, 1)", *constants]
    head += ["", ""]  # two blank lines before the def, as ruff's formatter writes them
    return "\n".join([*(head if constants else []), *lines, f"    return {name}"])
