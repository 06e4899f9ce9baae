"""torchrun's environment, parsed strictly, and a peer that never comes.

RANK, WORLD_SIZE and LOCAL_RANK must be ASCII digits in range (`²` and `١٢` pass str.isdigit()),
MASTER_ADDR and MASTER_PORT are required past one process and checked: each bad value is one
E-DIST line naming the variable, exit 2. A rank whose peers never join ends with exit 2 and one
E-DIST line within GRAPHSPEC_DIST_TIMEOUT (here 3 s), each run under a hard time limit that
fails the test instead of hanging (torch's own default wait is 30 minutes).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
from helpers.runhelp import SPECS, child_env

from graphspec.core.errors import SpecError
from graphspec.training import world as worlds

GOOD = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize(
    "change, named",
    [
        ({"RANK": "²"}, "RANK"),
        ({"WORLD_SIZE": "١٢"}, "WORLD_SIZE"),
        ({"WORLD_SIZE": "-1"}, "WORLD_SIZE"),
        ({"WORLD_SIZE": "99999999999999999999"}, "WORLD_SIZE"),
        ({"LOCAL_RANK": "x"}, "LOCAL_RANK"),
        ({"RANK": "2"}, "RANK=2"),
        ({"MASTER_ADDR": ""}, "MASTER_ADDR"),
        ({"MASTER_ADDR": "host; id"}, "MASTER_ADDR"),
        ({"MASTER_PORT": "99999"}, "MASTER_PORT"),
        ({"MASTER_PORT": "x;id"}, "MASTER_PORT"),
        ({"MASTER_PORT": ""}, "MASTER_PORT"),
        ({"GRAPHSPEC_DIST_TIMEOUT": "0"}, "GRAPHSPEC_DIST_TIMEOUT"),
    ],
)
def test_a_malformed_variable_is_e_dist_naming_it(monkeypatch, change, named):
    for key, value in {**GOOD, **change}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SpecError) as caught:
        worlds.current()
    problem = caught.value.problems[0]
    assert problem.code == "E-DIST" and named in problem.message
    assert "\n" not in problem.format()


def test_negative_control_a_sound_environment_parses(monkeypatch):
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GRAPHSPEC_DIST_TIMEOUT", "7")
    assert worlds.current() == worlds.World(0, 2, 0, 7)
    for key in GOOD:
        monkeypatch.delenv(key)
    assert worlds.current().size == 1  # no torchrun: a plain run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alone(tmp_path, rank: int, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    full = {**child_env(), **GOOD, "RANK": str(rank), "MASTER_PORT": str(_free_port()), **env}
    argv = [sys.executable, "-m", "graphspec", "run", str(SPECS / "regression.yaml"), "-q",
            "--no-plots", "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rank {rank} without a peer did not end within 180 s")
    return proc, time.monotonic() - start


def test_a_malformed_environment_ends_the_command_with_one_line(tmp_path, monkeypatch, capsys):
    from graphspec.cli import main

    for key, value in {**GOOD, "RANK": "²"}.items():
        monkeypatch.setenv(key, value)
    assert main(["run", str(SPECS / "regression.yaml"), "--runs-dir", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "error[E-DIST]" in lines[0] and "RANK" in lines[0], lines
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("rank", [0, pytest.param(1, marks=pytest.mark.soak)])
def test_a_rank_whose_peer_never_comes_ends_within_the_timeout(tmp_path, rank):
    proc, took = _alone(tmp_path, rank, GRAPHSPEC_DIST_TIMEOUT="3")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "error[E-DIST]" in lines[0] and "within 3 s" in lines[0], lines
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing written before the peers met
    assert took < 120  # start-up plus 3 s, not torch's 30 minutes


RAGGED = """\
name: ragged
model:
  inputs: {x: [N, 2]}
  layers:
    fc: {op: Linear, out_features: 4}
    bn: {op: BatchNorm1d}
    out: {op: Linear, out_features: 3}
data: {source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {epochs: 1}
seed: 1
device: cpu
"""


@pytest.mark.soak
@pytest.mark.parametrize("drop_last", [False, True])
def test_a_ragged_last_batch_under_two_processes_with_batchnorm(tmp_path, drop_last):
    """11 samples in batches of 4: the last batch of 3 gives one process a single sample,
    which BatchNorm cannot train on: refused before training (E-USAGE, exit 2, one line);
    with data.drop_last the run trains (the negative control)."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(11, 2)).astype(np.float32),
             y=rng.integers(0, 3, 11))  # fmt: skip
    (tmp_path / "s.yaml").write_text(RAGGED)
    argv = [sys.executable, "-m", "graphspec", "run", "s.yaml", "--nproc", "2", "-q",
            "--no-plots", "--set", f"data.drop_last={str(drop_last).lower()}"]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, env=child_env(), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    if drop_last:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error[" in line]
    assert len(errors) == 1 and "error[E-USAGE]" in errors[0] and "BatchNorm" in errors[0]
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize(
    ("n", "batch", "size", "drop_last", "batch_norm", "refused"),
    [
        (11, 4, 2, False, True, "the last batch of an epoch has 3 samples"),  # 2 + 1 under BN
        (11, 3, 4, False, False, "data.batch_size has 3 samples"),  # one process gets none
        (11, 4, 2, True, True, None),  # control: drop_last drops the ragged batch
        (11, 4, 2, False, False, None),  # control: without BatchNorm one sample is enough
        (12, 4, 2, False, True, None),  # control: no ragged batch at all
    ],
)
def test_the_ragged_batch_rule_refuses_before_training(
    n, batch, size, drop_last, batch_norm, refused
):
    """The rule `--nproc` applies before training, in-process (the torchrun run is a soak):
    every process's part of every batch holds one sample, two with BatchNorm; else E-USAGE
    naming the batch and the fix."""
    from types import SimpleNamespace

    from torch import nn

    from graphspec.training.distributed import _check_shardable

    model = nn.Sequential(nn.Linear(2, 4), *([nn.BatchNorm1d(4)] if batch_norm else []))
    doc = SimpleNamespace(pos=lambda path: None)
    session = SimpleNamespace(model=model, world=SimpleNamespace(writer=True),
                              plan=SimpleNamespace(doc=doc))  # fmt: skip
    if refused is None:
        _check_shardable(n, batch, drop_last, size, session)
        return
    with pytest.raises(SpecError) as caught:
        _check_shardable(n, batch, drop_last, size, session)
    [problem] = caught.value.problems
    assert problem.code == "E-USAGE" and refused in problem.message
    assert "drop_last" in str(problem.hint)
