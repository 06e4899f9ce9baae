"""`train.log_every` longer than an epoch logs once per epoch (and says so), so a run always
prints a loss line and draws loss.png."""

from __future__ import annotations

import pytest
from helpers.runhelp import SPECS, losses, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

CIFAR = ("train.epochs=2", "data.num_workers=0", "--fake-data", "40")  # 10 batches of 4


def test_cifar_fake_data_logs_every_epoch(tmp_path):
    res = run_cli(SPECS / "cifar.yaml", *CIFAR, runs=tmp_path)  # the spec says log_every: 2000
    assert res.code == 0, res.err
    assert res.err.count("longer than an epoch of 10 batches: logging every 10") == 1
    assert "[1,    10] loss:" in res.out and "[2,    10] loss:" in res.out
    assert len(losses(res.run_dir)) == 2
    assert (res.run_dir / "loss.png").stat().st_size > 0


def test_a_log_every_within_the_epoch_is_kept(tmp_path):
    res = run_cli(SPECS / "cifar.yaml", *CIFAR, "--set", "train.log_every=5", runs=tmp_path)
    assert res.code == 0, res.err
    assert "longer than an epoch" not in res.err
    assert len(losses(res.run_dir)) == 4  # batches 5 and 10 of each epoch
