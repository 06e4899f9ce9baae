"""Hand-made image datasets in torchvision's own on-disk layouts, for tests and bench/.

`write_cifar` writes CIFAR-10's pickled batches (data_batch_1..5, test_batch, batches.meta) of
random uint8 images; torchvision's CIFAR10 class refuses them unless their MD5s are the ones it
knows, so `accept_cifar(md5s)` patches the class's lists (the benchmarks' loader hook, said so in
bench/RESULTS.md). `write_mnist` writes MNIST's idx files, which torchvision reads unchecked;
`write_image_folder` a folder of PNGs, one subfolder per class, for ImageFolder.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CIFAR_CLASSES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def write_cifar(root: Path, per_batch: int, test: int, seed: int = 0) -> dict[str, str]:
    """root/cifar-10-batches-py/ with 5 x `per_batch` training images and `test` test images;
    returns each file's MD5."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"data_batch_{i}": per_batch for i in range(1, 6)} | {"test_batch": test}
    md5s = {}
    for name, n in files.items():
        entry = {
            "batch_label": name,
            "data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8),  # CHW rows
            "labels": rng.integers(0, 10, n).tolist(),
        }
        md5s[name] = _dump(folder / name, entry)
    meta = {"label_names": CIFAR_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}
    md5s["batches.meta"] = _dump(folder / "batches.meta", meta)
    return md5s


def _dump(path: Path, obj: object) -> str:
    data = pickle.dumps(obj)
    path.write_bytes(data)
    return hashlib.md5(data).hexdigest()


@contextlib.contextmanager
def accept_cifar(md5s: dict[str, str]) -> Iterator[None]:
    """torchvision's CIFAR10 checks every file's MD5 against its own list: give it ours."""
    from torchvision.datasets import CIFAR10

    saved = CIFAR10.train_list, CIFAR10.test_list, CIFAR10.meta
    patch_cifar(md5s)
    try:
        yield
    finally:
        CIFAR10.train_list, CIFAR10.test_list, CIFAR10.meta = saved


def patch_cifar(md5s: dict[str, str]) -> None:
    from torchvision.datasets import CIFAR10

    CIFAR10.train_list = [[f"data_batch_{i}", md5s[f"data_batch_{i}"]] for i in range(1, 6)]
    CIFAR10.test_list = [["test_batch", md5s["test_batch"]]]
    CIFAR10.meta = {**CIFAR10.meta, "md5": md5s["batches.meta"]}


def write_mnist(root: Path, name: str, train: int, test: int, seed: int = 0) -> None:
    """root/<name>/raw/ with MNIST's four idx files of random 28x28 uint8 images."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / name / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        head = struct.pack(">IIII", 0x803, n, 28, 28)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(head + images.tobytes())
        head = struct.pack(">II", 0x801, n)
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(head + labels.tobytes())


def write_image_folder(
    root: Path,
    per_class: int,
    classes: int = 3,
    sizes: tuple[tuple[int, int], ...] = ((32, 32),),
    seed: int = 0,
) -> list[Path]:
    """An ImageFolder of random PNGs: root/c0..c{classes-1}/NNNN.png, the (width, height)s of
    `sizes` in turn, in PIL modes RGB, L and RGBA in turn (ImageFolder's loader makes each RGB)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    written = []
    for c in range(classes):
        folder = root / f"c{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = sizes[(c * per_class + i) % len(sizes)]
            mode = ("RGB", "L", "RGBA")[i % 3] if per_class > 3 else "RGB"
            bands = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
            pixels = rng.integers(0, 256, (h, w, bands), dtype=np.uint8)
            image = Image.fromarray(pixels[..., 0] if bands == 1 else pixels)
            path = folder / f"{i:04d}.png"
            image.save(path)
            written.append(path)
    return written
