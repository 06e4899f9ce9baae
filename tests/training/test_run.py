"""`graphspec run` against the hand-written seed programs, and the run folder it leaves.

The seed references (tests/helpers/seed_programs.py) get the same initial weights and the same
data as the run (rebuilt from the run's seed exactly as the runner builds them) and must produce
the same loss curve; a fixed seed must repeat a run bit for bit.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from helpers import seed_programs as sp
from helpers.runhelp import ROOT, SPECS, losses, meta, python_child, run_cli, state_digest

from graphspec.compiler.pipeline import compile_file
from graphspec.training import datasets

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _initial(spec_file, seed: int):
    """The data and initial model of a run with `seed`, built the way the runner builds them."""
    compiled = compile_file(spec_file)
    torch.manual_seed(seed)
    data = datasets.from_spec(compiled.spec)
    return data, compiled.build()


def test_regression_matches_seed_loop(tmp_path):
    res = run_cli(
        SPECS / "regression.yaml", "--set", "seed=7", "--set", "train.log_every=1", runs=tmp_path
    )
    assert res.code == 0, res.err
    data, model = _initial(SPECS / "regression.yaml", 7)
    net = sp.RegressionNet()
    net.load_state_dict(model.state_dict())  # same initial weights
    (x,), y = data.train.items.inputs, data.train.items.target
    reference = sp.regression_loop(net, x, y, steps=200, lr=0.2)
    ours = losses(res.run_dir)
    assert len(ours) == 200
    assert ours == pytest.approx(reference, rel=1e-6)
    # the run's data is the seed's: torch.manual_seed, then x**2 + 0.2*rand
    torch.manual_seed(7)
    sx, sy = sp.regression_data()
    assert torch.equal(sx, x) and torch.equal(sy, y)


def test_lenet_matches_seed_step(tmp_path):
    res = run_cli(SPECS / "lenet.yaml", "--set", "seed=3", "--set", "train.steps=4", runs=tmp_path)
    assert res.code == 0, res.err
    data, model = _initial(SPECS / "lenet.yaml", 3)
    net = sp.LeNet()
    net.load_state_dict(model.state_dict())
    (x,), target = data.train.items.inputs, data.train.items.target
    # plain SGD has no state, so four calls of the seed's one step are four steps
    reference = [sp.lenet_step(net, x, target, lr=0.01)[0] for _ in range(4)]
    assert losses(res.run_dir) == pytest.approx(reference, rel=1e-6)
    final = torch.load(res.run_dir / "weights.pt", weights_only=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(final[key], value, rtol=1e-6, atol=1e-7)


def test_fixed_seed_repeats_exactly(tmp_path):
    args = (SPECS / "digits.yaml", "--set", "train.epochs=1", "--set", "train.log_every=5")
    first = run_cli(*args, runs=tmp_path / "a")
    second = run_cli(*args, runs=tmp_path / "b")
    assert first.code == second.code == 0
    assert losses(first.run_dir) == losses(second.run_dir)
    assert state_digest(first.run_dir) == state_digest(second.run_dir)
    other = run_cli(*args, "--set", "seed=1", runs=tmp_path / "c")
    assert losses(other.run_dir) != losses(first.run_dir)


def test_regression_run_folder(tmp_path):
    res = run_cli(SPECS / "regression.yaml", "--set", "train.steps=20", runs=tmp_path)
    assert res.code == 0, res.err
    run = res.run_dir
    assert run.parent == tmp_path / "regression"
    names = {p.name for p in run.iterdir()}
    assert {
        "spec.yaml",
        "meta.json",
        "metrics.jsonl",
        "checkpoints",
        "weights.pt",
        "model.py",
        "loss.png",
        "fit.png",
        "fit.gif",
    } <= names
    assert "graph.svg" in names or "graph.svg skipped" in res.err
    assert (run / "fit.gif").read_bytes()[:6] == b"GIF89a"
    # the resolved spec records the override and the seed that was picked
    resolved = yaml.safe_load((run / "spec.yaml").read_text())
    assert resolved["train"]["steps"] == 20
    assert isinstance(resolved["seed"], int) and resolved["seed"] == meta(run)["seed"]
    assert "--set train.steps=20" in (run / "spec.yaml").read_text()
    assert meta(run)["status"] == "finished"
    # the resolved spec runs again to the same numbers
    again = run_cli(run / "spec.yaml", runs=tmp_path)
    assert losses(again.run_dir) == losses(run)
    # the seed's regression prints, and the folder last
    assert "step 20/20  loss:" in res.out and "final fit: MSELoss" in res.out
    assert res.out.strip().splitlines()[-1] == str(run)


def test_amp_and_loader_workers_run(tmp_path):
    """bfloat16 autocast (frames drawn from bf16 outputs) and a DataLoader with a worker."""
    res = run_cli(
        SPECS / "regression.yaml",
        "--set",
        "train.amp=true",
        "--set",
        "train.steps=5",
        "--quiet",
        runs=tmp_path,
    )
    assert res.code == 0, res.err
    assert (res.run_dir / "fit.gif").exists()
    res = run_cli(
        SPECS / "cifar.yaml",
        "--fake-data",
        "8",
        "--set",
        "data.num_workers=1",
        "--set",
        "train.epochs=1",
        "--quiet",
        runs=tmp_path,
    )
    assert res.code == 0, res.err


def test_quiet_prints_only_the_folder(tmp_path):
    res = run_cli(SPECS / "lenet.yaml", "--quiet", runs=tmp_path)
    assert res.code == 0
    assert res.out.strip().splitlines() == [str(res.run_dir)]
    assert res.err == ""


def test_cifar_fake_data_end_to_end(tmp_path):
    res = run_cli(
        SPECS / "cifar.yaml",
        "--fake-data",
        "24",
        "--set",
        "data.num_workers=0",
        "--set",
        "train.log_every=3",
        runs=tmp_path,
    )
    assert res.code == 0, res.err
    out = res.out
    assert "FakeData standing in for CIFAR10 (--fake-data)" in out
    assert "[1,     3] loss:" in out and "[2,     6] loss:" in out  # 2 epochs of 6 batches
    assert "Finished Training" in out
    assert "GroundTruth: " in out and "Predicted: " in out
    assert "Accuracy of the network on the 4 test images:" in out
    assert "Accuracy for class: " in out
    run = res.run_dir
    assert meta(run)["fake_data"] == 24
    assert "--fake-data 24" in (run / "spec.yaml").read_text()
    assert {"weights.pt", "loss.png", "metrics.jsonl", "spec.yaml"} <= {
        p.name for p in run.iterdir()
    }
    evals = [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if "split" in line
    ]
    assert evals and set(evals[-1]["per_class"]) <= set(sp.CIFAR_CLASSES)
    # a FakeData run resumes on FakeData, without being told again
    more = run_cli("--resume", run, "--set", "train.epochs=3", "--set", "data.num_workers=0")
    assert more.code == 0, more.err
    assert "[3,     6] loss:" in more.out and "FakeData standing in" in more.out


def test_cifar_missing_fails_fast_without_torch(tmp_path):
    """No CIFAR-10 here and no network: one E-DATA line, decided before torch is imported.

    The child is made offline (every connection refused, as on a machine without a network),
    so the test asserts the same thing on every machine instead of skipping where the download
    host is reachable."""
    script = (
        "import socket, sys\n"
        "def offline(*args, **kwargs):\n"
        "    raise OSError(101, 'Network is unreachable')\n"
        "socket.create_connection = offline\n"
        "from graphspec.cli import main\n"
        f"code = main(['run', 'specs/cifar.yaml', '--set', 'data.root={tmp_path}',"
        f" '--runs-dir', '{tmp_path}'])\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\nsys.exit(code)\n"
    )
    proc = python_child("-c", script, cwd=ROOT, timeout=60)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "error[E-DATA]: CIFAR10 is not under" in line and "--fake-data" in line
    assert "cannot be downloaded" in line and "Network is unreachable" in line, line
    assert proc.stdout.strip() == "NO-TORCH"
    assert not any(tmp_path.glob("cifar*"))  # nothing written


def test_digits_learns(tmp_path):
    """Real data, real learning: the shipped digits spec reaches >= 95% test accuracy."""
    res = run_cli(SPECS / "digits.yaml", "--quiet", runs=tmp_path)
    assert res.code == 0, res.err
    result = meta(res.run_dir)["result"]
    assert result["samples"] == 359
    assert result["accuracy"] >= 95.0
