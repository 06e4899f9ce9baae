"""An image folder decoded once, with random flips and crops per batch and the decode cache.

The random transforms run on whole uint8 batches, each image drawing from a generator seeded by
(seed, epoch, batch): a run, the same run stopped and resumed mid-epoch, and the script `emit
--train` writes print the same losses. `--decode-cache` keeps the decoded images on disk: the
next run reads them (and says so), and a touched file makes it decode again.
"""

from __future__ import annotations

import os

import pytest
import torch
from helpers.runhelp import losses, python_child, run_cli
from helpers.vision_files import write_image_folder

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_text
from graphspec.training import program

AUGMENTED = (
    "[{CenterCrop: 28}, {RandomCrop: {size: 24, padding: 2}}, RandomHorizontalFlip, "
    "{RandomVerticalFlip: {p: 0.3}}, ToTensor, {Normalize: {mean: [0.5], std: [0.25]}}]"
)


def _spec(root, transforms: str, epochs: int = 2) -> str:
    return f"""
name: folder
model:
  inputs: {{x: [N, 3, 24, 24]}}
  layers:
    flat: {{op: flatten, start_dim: 1}}
    fc: {{op: Linear, out_features: 3}}
data:
  source: ImageFolder
  root: {root}
  transforms: {transforms}
  batch_size: 8
  shuffle: true
loss: CrossEntropyLoss
optimizer: {{op: SGD, lr: 0.01, momentum: 0.9}}
train: {{epochs: {epochs}, log_every: 1, checkpoint_every: 1}}
seed: 3
device: cpu
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug") / "images"
    write_image_folder(root, per_class=8, classes=3, sizes=((30, 34),), seed=12)
    return root


def test_random_flips_and_crops_draw_per_batch_from_seed_epoch_and_batch(folder):
    """The same (epoch, batch) draws the same; another epoch draws otherwise; the crop is a
    window of the padded image and the flip mirrors it (each image on its own)."""
    spec = compile_text(_spec(folder, AUGMENTED)).spec
    assert spec.data.augments_batches()
    assert "random draws seeded by seed, epoch and batch" in spec.data.data_path()
    prog = program.load(spec, "<test>")
    trainset, _ = prog.make_data()
    order = torch.arange(24)

    def epoch(n: int) -> list[torch.Tensor]:
        return [x for (x,), _ in prog.batches(trainset, order, 8, False, epoch=n)]

    assert all(torch.equal(a, b) for a, b in zip(epoch(0), epoch(0), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(epoch(0), epoch(1), strict=True))

    (images,), _ = trainset
    flip = "[{CenterCrop: 24}, {RandomHorizontalFlip: {p: 1.0}}, PILToTensor]"
    flipped = program.load(compile_text(_spec(folder, flip)).spec, "<test>")
    (batch,), _ = next(flipped.batches(flipped.make_data()[0], None, 8, False))
    (plain,), _ = flipped.make_data()[0]
    assert torch.equal(batch, plain[:8].flip(-1))

    crop = "[{CenterCrop: 28}, {RandomCrop: {size: 24, padding: 2}}, PILToTensor]"
    cropped = program.load(compile_text(_spec(folder, crop)).spec, "<test>")
    (batch,), _ = next(cropped.batches(trainset, None, 8, False))
    padded = torch.nn.functional.pad(images[:8], (2, 2, 2, 2))
    offsets = set()
    for image, source in zip(batch, padded, strict=True):
        windows = source.unfold(1, 24, 1).unfold(2, 24, 1)  # (C, rows, cols, 24, 24)
        hits = (windows == image[:, None, None]).flatten(3).all(-1).all(0).nonzero().tolist()
        assert hits, "a crop is a window of the padded image"
        offsets.add(tuple(hits[0]))
    assert len(offsets) > 1, "each image draws its own offsets"


def test_run_resume_and_the_emitted_script_draw_the_same(folder, tmp_path, monkeypatch):
    """A whole run, the same run stopped after 4 steps (mid-epoch 2) and resumed, and the emitted
    script print the same losses; without the augmentations the losses differ (the control)."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "aug.yaml"
    spec.write_text(_spec(folder, AUGMENTED, epochs=3))
    whole = run_cli(spec, "--no-plots", runs=tmp_path / "whole")
    assert whole.code == 0, whole.err
    assert "random draws seeded by seed, epoch and batch" in whole.out

    first = run_cli(spec, "--no-plots", "--set", "train.steps=4", runs=tmp_path / "cut")
    assert first.code == 0, first.err
    resumed = run_cli("--resume", first.run_dir, "--no-plots", "--set", "train.steps=null")
    assert resumed.code == 0, resumed.err
    assert losses(first.run_dir) == losses(whole.run_dir)
    assert len(losses(whole.run_dir)) == 9

    script = tmp_path / "train.py"
    assert main(["emit", str(spec), "--train", "-o", str(script)]) == 0
    assert "draws(epoch, i)" in script.read_text()
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    skip = ("model: ", "data: ", "data path: ", "batches: ", "train: ", "wrote: ")
    expected = [line for line in whole.out.splitlines()[:-1] if not line.startswith(skip)]
    assert proc.stdout.splitlines() == expected

    plain = tmp_path / "plain.yaml"
    plain.write_text(_spec(folder, "[{CenterCrop: 24}, ToTensor]", epochs=3))
    other = run_cli(plain, "--no-plots", runs=tmp_path / "plain")
    assert other.code == 0, other.err
    assert losses(other.run_dir) != losses(whole.run_dir)


def test_the_decode_cache_is_used_and_never_stale(folder, tmp_path):
    """A second run reads the decoded images from the cache and says so; after a file is
    touched (a new mtime) the run decodes again; the losses stay the same throughout."""
    images = tmp_path / "images"
    write_image_folder(images, per_class=8, classes=3, sizes=((30, 34),), seed=12)
    spec = tmp_path / "cached.yaml"
    spec.write_text(_spec(images, AUGMENTED, epochs=1))
    cache = tmp_path / "cache"
    args = (spec, "--no-plots", "--decode-cache", cache)

    first = run_cli(*args, runs=tmp_path / "runs")
    assert first.code == 0, first.err
    assert f"decoded images cached in {cache}" in first.out
    [entry] = cache.glob("*.pt")
    second = run_cli(*args, runs=tmp_path / "runs")
    assert second.code == 0, second.err
    assert f"24 decoded images read from the cache {entry}" in second.out

    touched = images / "c1" / "0003.png"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    third = run_cli(*args, runs=tmp_path / "runs")
    assert third.code == 0, third.err
    assert "read from the cache" not in third.out and "decoded images cached in" in third.out
    assert len(list(cache.glob("*.pt"))) == 2

    uncached = run_cli(spec, "--no-plots", runs=tmp_path / "runs")
    assert uncached.code == 0, uncached.err
    assert "the cache" not in uncached.out and "cached in" not in uncached.out
    runs = (first, second, third, uncached)
    assert len({tuple(losses(r.run_dir)) for r in runs}) == 1


def test_the_progress_bar_decodes_the_same(folder, capsys):
    """With the bar (a terminal), the run's wrapper hands decoded() a report callback; the
    tensors are those of the plain call, and the bar (on stderr) counts the folder's images."""
    from graphspec.training import decode_cache

    spec = compile_text(_spec(folder, AUGMENTED)).spec
    plain = program.load(spec, "<test>").make_data()[0]
    prog = program.load(spec, "<test>")
    helper = decode_cache.install(prog, None, bar=True)
    assert helper is not None and prog.namespace["decoded"] is helper
    (images,), labels = prog.make_data()[0]
    assert torch.equal(images, plain[0][0]) and torch.equal(labels, plain[1])
    err = capsys.readouterr().err
    assert "decoding:" in err and "/24 " in err
