"""Each scheduler's learning rates in metrics.jsonl are those of torch's own scheduler, built
here by hand and stepped as often (a ReduceLROnPlateau: with the same validation values)."""

from __future__ import annotations

import json

import pytest
import torch
from helpers.runhelp import SPECS, run_cli

STEPS = 30


def _run(tmp_path, scheduler: str, *extra: str) -> list[dict]:
    res = run_cli(SPECS / "regression.yaml", f"train.steps={STEPS}", "train.log_every=1",
                  "seed=0", f"scheduler={scheduler}", *extra, "--no-plots",
                  runs=tmp_path)  # fmt: skip
    assert res.code == 0, res.err
    lines = (res.run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _logged_lrs(records: list[dict]) -> list[float]:
    return [r["lr"] for r in records if "lr" in r]


def _torch_lrs(make, steps: int = STEPS, lr: float = 0.2) -> list[float]:
    """lr after each of `steps` optimizer steps, each followed by one scheduler step."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make(optimizer)
    out = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        out.append(optimizer.param_groups[0]["lr"])
    return out


LR = torch.optim.lr_scheduler


@pytest.mark.parametrize(
    ("given", "make"),
    [
        ("{op: OneCycleLR, max_lr: 1.0, cycle_momentum: false}",
         lambda o: LR.OneCycleLR(o, max_lr=1.0, total_steps=STEPS, cycle_momentum=False)),
        ("{op: CosineAnnealingWarmRestarts, T_0: 7, T_mult: 2, eta_min: 0.01, interval: step}",
         lambda o: LR.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2, eta_min=0.01)),
        ("{op: CosineAnnealingLR, T_max: 20, interval: step, warmup: {iters: 5, "
         "start_factor: 0.1}}",
         lambda o: LR.SequentialLR(o, [LR.LinearLR(o, start_factor=0.1, total_iters=5),
                                       LR.CosineAnnealingLR(o, T_max=20)], milestones=[5])),
        ("{op: OneCycleLR, max_lr: 1.0, cycle_momentum: false, warmup: {iters: 4}}",
         lambda o: LR.SequentialLR(o, [LR.LinearLR(o, total_iters=4),
                                       LR.OneCycleLR(o, max_lr=1.0, total_steps=STEPS - 4,
                                                     cycle_momentum=False)], milestones=[4])),
    ],
    ids=["OneCycleLR", "CosineAnnealingWarmRestarts", "warmup+Cosine", "warmup+OneCycleLR"],
)  # fmt: skip
def test_per_step_scheduler_matches_torch(tmp_path, given, make):
    got = _logged_lrs(_run(tmp_path, given))
    want = _torch_lrs(make)
    assert len(got) == STEPS
    assert got == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert len(set(got)) > 3  # the schedule moved: the comparison could fail


def test_reduce_on_plateau_follows_the_validation_loss(tmp_path):
    records = _run(
        tmp_path,
        "{op: ReduceLROnPlateau, patience: 1, factor: 0.5, threshold: 0.3}",
        "train.validation={split: 0.2, every: 3}",
    )
    lrs = _logged_lrs(records)
    vals = {r["step"]: r["val_loss"] for r in records if "val_loss" in r}
    assert len(vals) == STEPS // 3
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    plateau = LR.ReduceLROnPlateau(optimizer, mode="min", patience=1, factor=0.5, threshold=0.3)
    want = []
    for step in range(1, STEPS + 1):  # the lr is logged before that step's validation
        want.append(optimizer.param_groups[0]["lr"])
        if step in vals:
            plateau.step(vals[step])
    assert lrs == pytest.approx(want, rel=1e-12)
    assert min(lrs) < 0.2  # it did reduce: the comparison could fail


def test_reduce_on_plateau_without_validation_is_refused(tmp_path):
    res = run_cli(SPECS / "regression.yaml", "scheduler={op: ReduceLROnPlateau}", runs=tmp_path)
    assert res.code == 2
    assert "E-CONSTRAINT" in res.err and "train.validation" in res.err


def test_one_cycle_momentum_needs_an_optimizer_with_momentum(tmp_path):
    res = run_cli(SPECS / "regression.yaml", "scheduler={op: OneCycleLR, max_lr: 1.0}",
                  "optimizer={op: Adagrad, lr: 0.1}", runs=tmp_path)  # fmt: skip
    assert res.code == 2 and "cycle_momentum" in res.err
