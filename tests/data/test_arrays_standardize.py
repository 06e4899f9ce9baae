"""`arrays` with `standardize: true`: the training inputs' features have mean 0 and std 1,
and the test inputs are scaled with the training statistics, not their own."""

from __future__ import annotations

import numpy as np
import torch

from graphspec.compiler.pipeline import compile_text
from graphspec.training import program

SPEC = """
name: arr
model:
  class: Net
  inputs: {x: [N, 3]}
  layers:
    out: {op: Linear, out_features: 1}
data: {source: arrays, path: PATH, test_fraction: 0.25, standardize: STD}
loss: MSELoss
optimizer: {op: SGD, lr: 0.1}
"""


def _data(tmp_path, standardize: bool):
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, [1.0, 10.0, 100.0], size=(40, 3))
    np.savez(tmp_path / "d.npz", x=x, y=rng.normal(size=(40, 1)))
    text = SPEC.replace("PATH", str(tmp_path / "d.npz")).replace("STD", str(standardize).lower())
    return program.load(compile_text(text).spec, "test").make_data()


def test_standardize_uses_the_training_statistics(tmp_path):
    (train_x,), _ = _data(tmp_path, True)[0]
    (test_x,), _ = _data(tmp_path, True)[1]
    assert torch.allclose(train_x.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(train_x.std(0), torch.ones(3), atol=1e-5)
    (raw_train,), _ = _data(tmp_path, False)[0]
    (raw_test,), _ = _data(tmp_path, False)[1]
    mean, std = raw_train.mean(0), raw_train.std(0)
    assert torch.allclose(test_x, (raw_test - mean) / std, atol=1e-5)
    assert not torch.allclose(test_x.mean(0), torch.zeros(3), atol=1e-3)  # not its own stats
