"""`graphspec run` under torchrun (gloo, 2 CPU processes): the same run as one process over the
same global batches, one run folder written by rank 0 with the global metrics, two "machines"
on this host, and a rank killed with SIGKILL then resumed bit-identically.

Tolerance: the final float32 weights of N processes equal one process's within 1e-5 absolute
(measured: 3e-7 on the regression); the rounding differs because each rank sums its half of
the batch and the halves are then added.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers.runhelp import SPECS, child_env, losses, meta, run_cli, state_digest

from graphspec.training import checkpoint
from graphspec.training.distributed import Shard

pytestmark = pytest.mark.usefixtures("one_thread")

ATOL = 1e-5
REGRESSION = (SPECS / "regression.yaml", "--set", "seed=0", "--set", "train.log_every=10")
CIFAR = (
    SPECS / "cifar.yaml",
    "--fake-data",
    "40",
    "--set",
    "seed=0",
    "--set",
    "data.batch_size=5",  # 8 batches a epoch, cut 2 + 3: uneven parts, weighted by size
    "--set",
    "data.num_workers=0",
    "--set",
    "train.log_every=5",
)
DIGITS = (  # shuffled, dropout, Adam, StepLR: every piece of state a resume must restore
    SPECS / "digits.yaml",
    "--set",
    "seed=0",
    "--set",
    "train.epochs=3",
    "--set",
    "train.log_every=1",
    "--set",
    "train.checkpoint_every=10",
    "--set",
    "scheduler.step_size=1",
)


def _torchrun(
    *args, launcher: tuple = ("--standalone", "--nproc-per-node=2"), runs: Path, popen: bool = False
):
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *launcher,
        "-m",
        "graphspec",
        "run",
        *map(str, args),
        "--runs-dir",
        str(runs),
    ]
    env = child_env() | {"OMP_NUM_THREADS": "1"}
    if popen:
        return subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)


def _single(args, runs: Path) -> Path:
    res = run_cli(*args, runs=runs)
    assert res.code == 0, res.err
    return res.run_dir


def _only_run(runs: Path) -> Path:
    folders = [p for p in runs.glob("*/*") if p.is_dir()]
    assert len(folders) == 1, folders  # exactly one run folder, whatever the world size
    return folders[0]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "weights.pt", weights_only=True)


def _assert_same_training(multi: Path, single: Path) -> None:
    a, b = _weights(multi), _weights(single)
    assert a.keys() == b.keys()
    worst = max(float((a[k] - b[k]).abs().max()) for k in a)
    assert worst <= ATOL, f"weights differ by {worst}"
    # the logged losses are the global batch's, not one rank's half
    assert losses(multi) == pytest.approx(losses(single), rel=1e-4, abs=1e-6)
    ends = [
        r
        for r in map(json.loads, (multi / "metrics.jsonl").read_text().splitlines())
        if "split" in r
    ]
    ref = [
        r
        for r in map(json.loads, (single / "metrics.jsonl").read_text().splitlines())
        if "split" in r
    ]
    assert [e["samples"] for e in ends] == [r["samples"] for r in ref]  # the whole set
    assert ends[-1]["loss"] == pytest.approx(ref[-1]["loss"], rel=1e-4)
    assert meta(multi)["world_size"] == 2 and meta(multi)["status"] == "finished"


def test_shards_partition_every_batch():
    for n in range(1, 40):
        for size in (1, 2, 3, 4):
            if n < size:
                continue
            parts = [Shard(r, size).span(5, 5 + n) for r in range(size)]
            assert [i for p in parts for i in range(p.start, p.stop)] == list(range(5, 5 + n))
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1


def test_regression_on_two_processes_equals_one(tmp_path):
    """Through `graphspec run --nproc 2` (which starts torchrun --standalone)."""
    single = _single(REGRESSION, tmp_path / "one")
    argv = [
        sys.executable,
        "-m",
        "graphspec",
        "run",
        *map(str, REGRESSION),
        "--nproc",
        "2",
        "--runs-dir",
        str(tmp_path / "two"),
    ]
    res = subprocess.run(
        argv,
        env=child_env() | {"OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    multi = _only_run(tmp_path / "two")
    assert res.stdout.strip().splitlines()[-1] == str(multi)
    assert res.stdout.count("step 200/200") == 1  # rank 1 prints nothing
    assert "distributed: 2 processes (gloo); global batch 100" in res.stderr
    _assert_same_training(multi, single)


@pytest.fixture(scope="module")
def cifar_single(tmp_path_factory) -> Path:
    return _single(CIFAR, tmp_path_factory.mktemp("cifar1"))


def test_cifar_on_two_processes_equals_one(tmp_path, cifar_single):
    res = _torchrun(*CIFAR, runs=tmp_path)
    assert res.returncode == 0, res.stderr
    multi = _only_run(tmp_path)
    _assert_same_training(multi, cifar_single)
    assert res.stdout.count("Accuracy of the network on the 8 test images") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_machines_on_this_host(tmp_path, cifar_single):
    """Two torchrun agents, --nnodes 2, one process each, meeting at a c10d rendezvous."""
    launcher = (
        "--nnodes=2",
        "--nproc-per-node=1",
        "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{_free_port()}",
        "--rdzv-id=graphspec-test",
    )
    agents = [_torchrun(*CIFAR, launcher=launcher, runs=tmp_path, popen=True) for _ in range(2)]
    results = [a.communicate(timeout=600) for a in agents]
    assert [a.returncode for a in agents] == [0, 0], [err for _, err in results]
    _assert_same_training(_only_run(tmp_path), cifar_single)
    assert sum(out.count("Finished Training") for out, _ in results) == 1


def _ranks(agent: subprocess.Popen) -> dict[int, int]:
    """torchrun's worker processes by rank (read from their environment)."""
    found = {}
    for task in Path(f"/proc/{agent.pid}/task").iterdir():
        for pid in (task / "children").read_text().split():
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            for item in env:
                if item.startswith(b"RANK="):
                    found[int(item[5:])] = int(pid)
    return found


def _wait_for(predicate, agent: subprocess.Popen, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if agent.poll() is not None:
            raise AssertionError(f"the run ended first: {agent.communicate()}")
        if time.monotonic() > end:
            agent.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.005)


def test_rank_killed_then_resumed_is_bit_identical(tmp_path):
    whole = _torchrun(*DIGITS, runs=tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    reference = _only_run(tmp_path / "whole")

    agent = _torchrun(*DIGITS, runs=tmp_path / "cut", popen=True)
    _wait_for(lambda: any((tmp_path / "cut").glob("digits/*/checkpoints/step-*.pt")), agent)
    os.kill(_ranks(agent)[1], signal.SIGKILL)
    agent.communicate(timeout=300)
    assert agent.returncode != 0
    run = _only_run(tmp_path / "cut")
    assert not (run / "weights.pt").exists(), "the kill came after the end"

    resumed = _torchrun("--resume", run, runs=tmp_path / "cut")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {run / 'checkpoints'}" in resumed.stdout
    assert state_digest(run) == state_digest(reference)
    assert losses(run) == losses(reference)
    a, b = _weights(run), _weights(reference)
    assert all(torch.equal(a[k], b[k]) for k in a)

    # the same folder on one process: refused (another world size), unless allowed
    refused = run_cli("--resume", run)
    assert refused.code == 2 and "error[E-RESUME]" in refused.err
    assert "2 process(es), resumed on 1" in refused.err
    assert checkpoint.listing(run)  # nothing was removed by the refusal


def test_sharded_loss_weights_each_part_by_its_share(monkeypatch):
    """One rank of two, with the peer faked: 2 samples here, 3 there (loss 4.0 over them).
    The value is the global mean; the gradient is this part's mean times 2 * 2/5, so that
    DDP's average over 2 ranks gives the global batch's gradient."""
    from graphspec.training import distributed

    def fake_all_reduce(stats):
        stats += torch.tensor([4.0 * 3, 3.0, 0.0], dtype=stats.dtype)

    monkeypatch.setattr(distributed.dist, "all_reduce", fake_all_reduce)
    loss = distributed.ShardedLoss(torch.nn.MSELoss(), world_size=2)
    out = torch.tensor([[1.0], [3.0]], requires_grad=True)
    value = loss(out, torch.zeros(2, 1))
    local = (1.0 + 9.0) / 2  # this part's mean
    assert value.item() == pytest.approx((local * 2 + 4.0 * 3) / 5)
    value.backward()
    assert out.grad.flatten().tolist() == pytest.approx([2 * 1 / 2 * 0.8, 2 * 3 / 2 * 0.8])
    assert loss.agreed_stop is False


def test_validation_on_two_processes_equals_one(tmp_path):
    """Rank 0 validates the whole split; the early-stopping decision reaches every rank, so
    all stop at the same step (a rank that went on would hang in its next all_reduce)."""
    val = "train.validation={split: 0.2, every: 10, early_stopping: {patience: 2, min_delta: 0.01}}"
    args = (*REGRESSION, "--set", val)
    single = _single(args, tmp_path / "one")
    res = _torchrun(*args, runs=tmp_path / "two")
    assert res.returncode == 0, res.stderr
    multi = _only_run(tmp_path / "two")

    def vals(run):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if "val_loss" in r]

    assert [r["step"] for r in vals(multi)] == [r["step"] for r in vals(single)]
    assert [r["val_loss"] for r in vals(multi)] == pytest.approx(
        [r["val_loss"] for r in vals(single)], rel=1e-4
    )
    assert meta(multi)["steps"] == meta(single)["steps"] < 200  # stopped early, together
    assert meta(multi)["result"]["validation"]["early_stopped"] is True
    assert res.stdout.count("early stopping at step") == 1  # rank 0 alone prints
    assert (multi / "checkpoints" / "best.pt").exists()
