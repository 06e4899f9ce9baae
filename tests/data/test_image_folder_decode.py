"""An ImageFolder decoded once: each image through torchvision's loader and the transforms before
ToTensor into one uint8 tensor, the rest on whole batches. The batches must be the very batches
torchvision's ImageFolder + transforms give through a DataLoader; a folder beyond the decode
limit, mixed sizes with nothing to unify them, or a transform without a batched form keep the
DataLoader path, and the run says which it took and why.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
import torchvision
import torchvision.transforms as T
from helpers.runhelp import python_child, run_cli
from helpers.vision_files import write_image_folder

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_text
from graphspec.data.images import DECODE_LIMIT_ENV
from graphspec.training import program

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
NORMALIZE = f"{{Normalize: {{mean: {list(MEAN)}, std: {list(STD)}}}}}"


def _spec(root, transforms: str, size: int = 32, channels: int = 3, test_root=None) -> str:
    test = f"\n  test_root: {test_root}" if test_root else ""
    return f"""
name: folder
model:
  inputs: {{x: [N, {channels}, {size}, {size}]}}
  layers:
    flat: {{op: flatten, start_dim: 1}}
    fc: {{op: Linear, out_features: 3}}
data:
  source: ImageFolder
  root: {root}{test}
  transforms: {transforms}
  batch_size: 8
  shuffle: true
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.01}}
train: {{epochs: 1}}
device: cpu
"""


@pytest.fixture(scope="module")
def same_size(tmp_path_factory):
    root = tmp_path_factory.mktemp("same")
    write_image_folder(root, per_class=12, classes=3, seed=1)
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    write_image_folder(root, per_class=12, classes=3, sizes=((40, 30), (29, 37), (32, 32)), seed=2)
    return root


def _ours(text: str, order: torch.Tensor, count: int):
    spec = compile_text(text).spec
    prog = program.load(spec, "<test>")
    trainset, _ = prog.make_data()
    made = prog.batches(trainset, order, spec.data.batch_size, False)
    return spec.data, [next(made) for _ in range(count)]


def _torchvision(root, steps: list, order: torch.Tensor, count: int, batch: int = 8):
    folder = torchvision.datasets.ImageFolder(root, transform=T.Compose(steps))
    plan = [order[i * batch : (i + 1) * batch].tolist() for i in range(count)]
    return list(torch.utils.data.DataLoader(folder, batch_sampler=plan))


def _same(ours, theirs) -> bool:
    assert len(ours) == len(theirs) >= 4
    return all(
        images.dtype == ref.dtype and images.shape == ref.shape and torch.equal(images, ref)
        and torch.equal(labels, ref_labels) and labels.dtype == ref_labels.dtype
        for ((images,), labels), (ref, ref_labels) in zip(ours, theirs, strict=True)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("transforms", "reference"),
    [
        (f"[ToTensor, {NORMALIZE}]", [T.ToTensor(), T.Normalize(MEAN, STD)]),
        ("[PILToTensor]", [T.PILToTensor()]),
        ("[{Pad: 2}, {CenterCrop: 32}, ToTensor, {Grayscale: {num_output_channels: 1}}]",
         [T.Pad(2), T.CenterCrop(32), T.ToTensor(), T.Grayscale(1)]),
        ("[{Resize: 20}, ToTensor]", [T.Resize(20), T.ToTensor()]),
    ],
)  # fmt: skip
def test_same_size_batches_equal_torchvisions(same_size, transforms, reference):
    order = torch.randperm(36, generator=torch.Generator().manual_seed(7))
    size = 20 if "Resize" in transforms else 32
    source, ours = _ours(_spec(same_size, transforms, size), order, 4)
    assert source.in_memory and source.data_path().startswith("in memory: each image decoded")
    assert _same(ours, _torchvision(same_size, reference, order, 4))


@pytest.mark.parametrize(
    ("transforms", "reference"),
    [
        (f"[{{Resize: [24, 24]}}, ToTensor, {NORMALIZE}]",
         [T.Resize((24, 24)), T.ToTensor(), T.Normalize(MEAN, STD)]),
        (f"[{{Resize: 26}}, {{CenterCrop: 24}}, ToTensor, {NORMALIZE}]",
         [T.Resize(26), T.CenterCrop(24), T.ToTensor(), T.Normalize(MEAN, STD)]),
        ("[{Grayscale: {num_output_channels: 1}}, {CenterCrop: 24}, ToTensor]",
         [T.Grayscale(1), T.CenterCrop(24), T.ToTensor()]),
    ],
)  # fmt: skip
def test_mixed_sizes_brought_to_one_equal_torchvisions(mixed, transforms, reference):
    order = torch.randperm(36, generator=torch.Generator().manual_seed(3))
    channels = 1 if "Grayscale" in transforms else 3
    source, ours = _ours(_spec(mixed, transforms, 24, channels), order, 4)
    assert source.in_memory
    assert _same(ours, _torchvision(mixed, reference, order, 4))


def test_a_different_normalize_or_pixel_is_detected(same_size, tmp_path):
    """The negative control: the comparison above fails on another Normalize and on a folder
    whose one pixel changed."""
    order = torch.arange(36)
    _, ours = _ours(_spec(same_size, f"[ToTensor, {NORMALIZE}]"), order, 4)
    other = [T.ToTensor(), T.Normalize(MEAN, (0.25, 0.243, 0.261))]
    assert not _same(ours, _torchvision(same_size, other, order, 4))
    assert _same(ours, _torchvision(same_size, [T.ToTensor(), T.Normalize(MEAN, STD)], order, 4))

    from PIL import Image

    changed = tmp_path / "changed"
    write_image_folder(changed, per_class=12, classes=3, seed=1)  # the same images
    path = changed / "c1" / "0005.png"
    with Image.open(path) as image:
        image = image.convert("RGB")
    r, g, b = image.getpixel((3, 4))
    image.putpixel((3, 4), ((r + 1) % 256, g, b))
    image.save(path)
    _, theirs = _ours(_spec(changed, f"[ToTensor, {NORMALIZE}]"), order, 4)
    differ = [not torch.equal(a[0][0], b[0][0]) for a, b in zip(ours, theirs, strict=True)]
    assert differ == [False, False, True, False]  # only the batch holding c1/0005.png (17th)


@pytest.mark.parametrize(
    ("transforms", "why"),
    [
        ("[{RandomRotation: {degrees: 10}}, ToTensor]", "RandomRotation before ToTensor"),
        ("[ToTensor, {RandomErasing: {p: 0.5}}]", "RandomErasing after ToTensor"),
        (
            "[{RandomCrop: {size: 24}}, {CenterCrop: 20}, ToTensor]",
            "CenterCrop after RandomCrop cannot be done once at decode",
        ),
        ("[{Resize: 24}, ToTensor]", "the images have more than one size"),
    ],
)
def test_what_keeps_the_dataloader_path_is_said(mixed, transforms, why):
    source = compile_text(_spec(mixed, transforms, 24)).spec.data
    assert not source.in_memory
    assert source.data_path().startswith("DataLoader, one PIL image per sample")
    assert why in source.data_path()


def test_a_folder_beyond_the_decode_limit_takes_the_dataloader(same_size, tmp_path, monkeypatch):
    spec = tmp_path / "folder.yaml"
    spec.write_text(_spec(same_size, f"[ToTensor, {NORMALIZE}]"))
    monkeypatch.setenv(DECODE_LIMIT_ENV, str(36 * 3 * 32 * 32 - 1))  # one byte short
    res = run_cli(spec, runs=tmp_path / "runs")
    assert res.code == 0, res.err
    line = "data path: DataLoader, one PIL image per sample (36 images decoded would take 110.6 KB"
    assert line in res.out and DECODE_LIMIT_ENV in res.out
    meta = json.loads((res.run_dir / "meta.json").read_text())
    assert meta["data_path"].startswith("DataLoader")
    monkeypatch.setenv(DECODE_LIMIT_ENV, str(36 * 3 * 32 * 32))  # just fits
    res = run_cli(spec, runs=tmp_path / "runs")
    assert res.code == 0, res.err
    assert "data path: in memory: each image decoded once into one uint8 tensor (36 x 3x32x32" in (
        res.out
    )


def test_a_changed_file_makes_a_new_plan(tmp_path):
    """The plan is keyed by the files: an image of another size added later is seen."""
    write_image_folder(tmp_path / "imgs", per_class=4, classes=2, seed=4)
    text = _spec(tmp_path / "imgs", "[ToTensor]")
    assert compile_text(text).spec.data.in_memory
    write_image_folder(tmp_path / "more", per_class=1, classes=1, sizes=((20, 20),), seed=5)
    (tmp_path / "more" / "c0" / "0000.png").rename(tmp_path / "imgs" / "c1" / "9.png")
    data = compile_text(text).spec.data
    assert not data.in_memory and "more than one size" in data.data_path()


def test_the_run_and_its_emitted_script_train_the_same(tmp_path, monkeypatch):
    """`emit --train` writes the same decode-once code: the script prints the run's losses and
    class names (read from the folders, as ImageFolder names them)."""
    write_image_folder(tmp_path / "train", per_class=8, classes=3, sizes=((36, 30),), seed=6)
    write_image_folder(tmp_path / "test", per_class=2, classes=3, sizes=((30, 36),), seed=7)
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "folder.yaml"
    text = _spec("train", f"[{{CenterCrop: 24}}, ToTensor, {NORMALIZE}]", 24, test_root="test")
    spec.write_text(text.replace("train: {epochs: 1}", "train: {epochs: 2, log_every: 1}\nseed: 0"))
    run = run_cli(spec, runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert "data path: in memory: each image decoded, CenterCrop once" in run.out
    assert "c2" in run.out  # the per-class results name the class folders
    script = tmp_path / "train.py"
    assert main(["emit", str(spec), "--train", "-o", str(script)]) == 0
    assert re.search(r"decoded\(\s*torchvision\.datasets\.ImageFolder\(", script.read_text())
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    skip = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")
    expected = [line for line in run.out.splitlines()[:-1] if not line.startswith(skip)]
    assert proc.stdout.splitlines() == expected


def test_a_program_made_before_the_folder_changed_refuses_an_image_of_another_size(tmp_path):
    """The emitted script may run on a folder changed since `emit --train`: an image that decodes
    to another size than the first is refused by name, never stacked or cropped silently."""
    write_image_folder(tmp_path / "imgs", per_class=4, classes=2, seed=8)
    prog = program.load(compile_text(_spec(tmp_path / "imgs", "[ToTensor]")).spec, "<test>")
    (images,), labels = prog.make_data()[0]
    assert images.shape == (8, 3, 32, 32) and labels.tolist() == [0] * 4 + [1] * 4
    write_image_folder(tmp_path / "more", per_class=1, classes=1, sizes=((20, 20),), seed=9)
    (tmp_path / "more" / "c0" / "0000.png").rename(tmp_path / "imgs" / "c1" / "9.png")
    with pytest.raises(ValueError, match=r"9\.png decodes to \(3, 20, 20\), the first image to"):
        prog.make_data()


def _odd_images(root) -> None:
    """PNGs of every colour type and depth PIL writes, and files that are no 8-bit PNG (a JPEG,
    a BMP, a JPEG named .png, 16-bit PNGs): the first read by torchvision.io, the rest by PIL."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(11)
    px = rng.integers(0, 256, (30, 26, 4), dtype=np.uint8)
    palette = Image.fromarray(px[..., :3]).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    images = {
        "rgb.png": (Image.fromarray(px[..., :3]), {}),
        "rgba.png": (Image.fromarray(px), {}),
        "l.png": (Image.fromarray(px[..., 0]), {}),
        "la.png": (Image.fromarray(px[..., :2], "LA"), {}),
        "bits.png": (Image.fromarray(px[..., 0]).convert("1"), {}),
        "p.png": (palette, {}),
        "p_trns.png": (palette, {"transparency": 3}),
        "l_trns.png": (Image.fromarray(px[..., 0]), {"transparency": 7}),
        "i16.png": (Image.fromarray(rng.integers(0, 65536, (30, 26), dtype=np.uint16)), {}),
        "photo.jpg": (Image.fromarray(px[..., :3]), {"quality": 80}),
        "bitmap.bmp": (Image.fromarray(px[..., :3]), {}),
    }
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for name, (image, options) in images.items():
            image.save(root / c / name, **options)
        jpeg = io.BytesIO()
        Image.fromarray(px[..., :3]).save(jpeg, "JPEG")
        (root / c / "jpeg_named.png").write_bytes(jpeg.getvalue())
        rgb16 = rng.integers(0, 65536, (30, 26, 3), dtype=np.uint16).astype(">u2")
        _write_png16(root / c / "rgb16.png", rgb16)


def _write_png16(path, pixels) -> None:
    """A 16-bit RGB PNG, which PIL cannot write: by hand (IHDR, one IDAT, IEND)."""
    import struct
    import zlib

    height, width, _ = pixels.shape
    rows = b"".join(b"\0" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))  # fmt: skip


def test_every_kind_of_png_and_other_files_decode_as_pils(tmp_path):
    """PNGs read by torchvision.io (libpng) give the very pixels ImageFolder's PIL loader gives,
    for every colour type; what libpng does not read to 8 bits (16-bit PNGs) and what is no PNG
    (JPEG, BMP, a JPEG named .png) goes through PIL. With a Resize the PIL image is needed, so
    every file goes through PIL. (13 files a class.)"""
    _odd_images(tmp_path / "odd")
    for transforms, reference, reads_png in (
        (f"[{{Pad: 1}}, {{CenterCrop: 24}}, ToTensor, {NORMALIZE}]",
         [T.Pad(1), T.CenterCrop(24), T.ToTensor(), T.Normalize(MEAN, STD)], True),
        ("[{Resize: [24, 24]}, PILToTensor]", [T.Resize((24, 24)), T.PILToTensor()], False),
    ):  # fmt: skip
        order = torch.randperm(26, generator=torch.Generator().manual_seed(5))
        text = _spec(tmp_path / "odd", transforms, 24).replace("batch_size: 8", "batch_size: 7")
        source, ours = _ours(text, order, 4)
        assert source.in_memory and source.reads_png() is reads_png
        assert ("decode_png" in program.load(compile_text(text).spec, "<t>").source) is reads_png
        theirs = _torchvision(tmp_path / "odd", reference, order, 4, batch=7)
        assert _same(ours, theirs)
