"""Is the spec's data there? Answered before torch is imported, so a missing dataset costs
milliseconds, not the seconds of `import torch`.

A torchvision dataset that is neither under `root` nor downloadable (no network, as on a locked
down machine) is one E-DATA error that says both ways on: place the files, or pass `--fake-data`
to train on FakeData of the same shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from graphspec.core.errors import Pos, SpecError, fail
from graphspec.language.load import Document


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

PROBE_TIMEOUT_S = 3.0


def check(data: object, doc: Document, *, fake_data: bool) -> None:
    """Raise E-DATA now if the data cannot be had; say nothing if it can (or may)."""
    source = getattr(data, "source", None)
    if source in VISION and not fake_data:
        _check_vision(data, VISION[source], doc)
    elif source == "ImageFolder":
        _check_folder(data.root, doc.pos(("data", "root")))
        if data.test_root is not None:
            _check_folder(data.test_root, doc.pos(("data", "test_root")))


def missing_files(root: str, vision: VisionSet) -> list[str]:
    folder = os.path.join(root, vision.folder)
    return [name for name in vision.files if not _present(os.path.join(folder, name))]


def _present(path: str) -> bool:
    return os.path.isfile(path)  # torchvision looks for the unpacked files (MNIST's too)


def _check_vision(data: object, vision: VisionSet, doc: Document) -> None:
    missing = missing_files(data.root, vision)
    if not missing:
        return
    folder = os.path.join(data.root, vision.folder)
    reason = f"{data.source} is not under '{data.root}' ({folder}/{missing[0]} is missing)"
    if data.download:
        unreachable = _unreachable(vision.url)
        if unreachable is None:
            return  # torchvision downloads it when the data is built
        reason += f" and cannot be downloaded ({unreachable})"
    else:
        reason += " and download is false"
    c, h, w = vision.image_size
    hint = (
        f"place the dataset's files under {folder}/, or run with --fake-data to train on "
        f"FakeData of the same shape ({c}x{h}x{w}, {len(vision.classes)} classes)"
    )
    raise fail("E-DATA", reason, doc.pos(("data", "source")), hint=hint)


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


def _check_folder(root: str, pos: Pos) -> None:
    if not os.path.isdir(root):
        raise fail(
            "E-DATA",
            f"image folder '{root}' does not exist",
            pos,
            hint="ImageFolder wants root/<class name>/<image files>",
        )
    classes = [e for e in os.scandir(root) if e.is_dir()]
    if not classes:
        raise fail(
            "E-DATA",
            f"image folder '{root}' has no class folders",
            pos,
            hint="ImageFolder wants root/<class name>/<image files>",
        )


def data_error(
    message: str, doc: Document, path: tuple = ("data",), hint: str | None = None
) -> SpecError:
    """An E-DATA error located at the spec's `data:` section (or a field of it)."""
    return fail("E-DATA", message, doc.pos(path), hint=hint)
