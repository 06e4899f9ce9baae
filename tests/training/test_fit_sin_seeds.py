"""specs/fit_sin.yaml reaches the least-squares optimum from every one of 100 seeds.

Each seed is trained in-process by the run's own pieces (the generated data functions, the
model, `make_job`, the loop), in the order `graphspec run` uses: seed, data, weights, cast to
train.dtype. The negative control trains the seeds that stalled before the fix (27, 71, 87)
with the old settings, float32 and LBFGS's default tolerance_change, and sees them stall.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from helpers.runhelp import SPECS

from graphspec.compiler.pipeline import compile_file
from graphspec.training import datasets
from graphspec.training.job import make_job
from graphspec.training.loop import TrainState, train

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


class _Quiet:
    stop_signal = None

    def on_step(self, state, loss): ...
    def on_log(self, state, mean_loss, output): ...
    def on_checkpoint(self, state): ...
    def on_validate(self, state):
        return False


def _optimum() -> float:
    x = torch.linspace(-torch.pi, torch.pi, 2000)  # the spec's points, float32 as drawn
    xd, yd = x.double().numpy(), torch.sin(x).double().numpy()
    features = np.stack([xd**k for k in (1, 3, 5, 7)], axis=1)
    coeffs = np.linalg.lstsq(features, yd, rcond=None)[0]
    return float(np.mean((features @ coeffs - yd) ** 2))


def _fit(spec, compiled, seed: int) -> tuple[float, float]:
    """(final MSE in float64, seconds of training) of one seed, as `graphspec run` trains it."""
    spec = spec.model_copy(update={"seed": seed})
    torch.manual_seed(seed)
    data = datasets.from_spec(spec)
    model = compiled.build().to(getattr(torch, spec.train.dtype))
    job = make_job(spec, model, data, torch.device("cpu"), seed)
    start = time.perf_counter()
    train(job, TrainState(), _Quiet())
    elapsed = time.perf_counter() - start
    (x,), y = data.fit.inputs, data.fit.target
    with torch.no_grad():
        mse = (model(x).double() - y.double()).pow(2).mean().item()
    return mse, elapsed


def test_every_one_of_100_seeds_reaches_the_optimum():
    compiled = compile_file(SPECS / "fit_sin.yaml")
    best = _optimum()
    seeds = [*range(99), 113]  # 27, 71 and 87 stalled before; 113 did with 5 fixed steps
    results = {seed: _fit(compiled.spec, compiled, seed) for seed in seeds}
    ratios = {seed: mse / best for seed, (mse, _) in results.items()}
    assert len(ratios) == 100
    assert max(ratios.values()) <= 1.05, {s: r for s, r in ratios.items() if r > 1.05}
    assert min(ratios.values()) >= 1.0 - 1e-6  # nothing beats the optimum: it is the optimum
    assert max(t for _, t in results.values()) < 1.0  # well under 2 s (measured 0.19 s at most)


def test_the_old_float32_settings_stall_on_some_seeds():
    """Negative control: float32 with tolerance_change 1e-9 stops 13x-253x above the optimum."""
    compiled = compile_file(SPECS / "fit_sin.yaml")
    spec = compiled.spec
    old = spec.model_copy(
        update={
            "train": spec.train.model_copy(update={"dtype": "float32"}),
            "optimizer": spec.optimizer.model_copy(update={"tolerance_change": 1e-9}),
        }
    )
    best = _optimum()
    ratios = [_fit(old, compiled, seed)[0] / best for seed in (27, 71, 87)]
    assert all(r > 10 for r in ratios), ratios
