"""ImageFolder with test_fraction, a validation split and random augmentation: the run and its
`emit --train` script train on the same images, augmented by the same draws, and print the
same losses, and the script runs to its end (its evaluation names the classes of a Subset)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from helpers.runhelp import python_child, run_cli
from PIL import Image

from graphspec.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SPEC = """
name: folder
model:
  class: Net
  inputs: {x: [N, 3, 8, 8]}
  layers:
    flat: {op: Flatten}
    out: {op: Linear, out_features: 2}
data:
  source: ImageFolder
  root: images
  test_fraction: 0.25
  transforms:
    - {RandomResizedCrop: {size: 8, scale: [0.5, 1.0]}}
    - {RandomRotation: {degrees: 10}}
    - {ColorJitter: {brightness: 0.2}}
    - {AutoAugment: {policy: CIFAR10}}
    - TrivialAugmentWide
    - ToTensor
    - {RandomErasing: {p: 0.5}}
  batch_size: 4
  shuffle: true
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {epochs: 2, log_every: 2, validation: {split: 0.2}}
seed: 4
"""


def test_imagefolder_test_fraction_run_and_script_agree(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(12):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    spec = tmp_path / "folder.yaml"
    spec.write_text(SPEC)
    run = run_cli(spec, "--no-plots", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    assert " train / 6 test" in run.out  # 24 images: a quarter held out for the test
    script = tmp_path / "train.py"
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [x for x in run.out.splitlines() if x.startswith(("[", "validation"))]
    assert len(lines) >= 4
    assert [x for x in proc.stdout.splitlines() if x.startswith(("[", "validation"))] == lines
    assert "Accuracy of the network on the 6 test images" in proc.stdout
