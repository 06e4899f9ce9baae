"""The memory budget of `graphspec run` (training/budget.py): E-BUDGET at
the data field or node, before torch is imported and before anything is written."""

from __future__ import annotations

import sys

import pytest
from helpers.badinput import listing, located

from graphspec.cli import main
from graphspec.training import budget

HEAD = "name: t\nmodel:\n  inputs:\n    x: {x}\n  layers:\n{layers}\n"
TAIL = "loss: MSELoss\noptimizer: SGD\n"

CASES = {
    "random-data": (
        HEAD.format(x="[N, 1000]", layers="    fc: {op: Linear, out_features: 1}")
        + "data: {source: random, inputs: {x: [100000000, 1000]}, target: [100000000, 1],"
        " batch_size: 4}\n" + TAIL,
        7, "random data input 'x'",
    ),
    "linspace": (
        HEAD.format(x="[N, 1]", layers="    fc: {op: Linear, out_features: 1}")
        + "data: {source: linspace, start: 0, end: 1, steps: 1000000000000, target: 'x**2',"
        " batch_size: 4}\n" + TAIL,
        7, "linspace of 1,000,000,000,000 steps",
    ),
    "expand": (
        HEAD.format(x="[N, 1, 1]", layers="    big: {op: expand, size: [N, 100000, 100000]}\n"
                    "    fc: {op: Linear, out_features: 1}")
        + "data: {source: random, inputs: {x: [4, 1, 1]}, target: [4, 100000, 1]}\n" + TAIL,
        6, "tensor of 160.0 GB at batch size 4",
    ),
    "params": (  # Linear(10**6 -> 10**6) is 4 TB of weights
        HEAD.format(x="[N, 1000000]", layers="    fc: {op: Linear, out_features: 1000000}")
        + "data: {source: random, inputs: {x: [4, 1000000]}, target: [4, 1000000]}\n" + TAIL,
        None, None,
    ),
    # one batch of 1,000 images through two 64-channel convs: each tensor 0.23 GB, 0.46 GB kept
    "activations": (
        HEAD.format(x="[N, 1, 32, 32]", layers="    c: {op: Conv2d, out_channels: 64, "
                    "kernel_size: 3}\n    r: relu\n"
                    "    c2: {op: Conv2d, out_channels: 64, kernel_size: 1}\n"
                    "    r2: relu\n    f: {op: flatten, start_dim: 1}\n"
                    "    fc: {op: Linear, out_features: 1}")
        + "data: {source: random, inputs: {x: [1000, 1, 32, 32]}, target: [1000, 1]}\n"
        "loss: MSELoss\noptimizer: SGD\n",
        None, "a training step needs about",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", [n for n in CASES if n != "params"])
def test_beyond_the_budget_is_e_budget_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    text, line, says = CASES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(text)
    extra = ["--budget-mem", "300M"] if name == "activations" else []
    if name == "activations":  # 10 samples, but a batch of 10 million would not fit in 1G
        text = text.replace(
            "[10, 1, 32, 32]}, target: [10, 1]", "[1000, 1, 32, 32]}, target: [1000, 1]"
        )
        (tmp_path / "spec.yaml").write_text(text)
    before = listing(tmp_path)
    torch_loaded = "torch" in sys.modules
    code = main(["run", "spec.yaml", *extra])
    out, err = capsys.readouterr()
    assert code == 2, err
    found = located(err)
    assert found and all(code == "E-BUDGET" for _, code, _, _ in found), err
    assert "--budget-mem" in err and "Traceback" not in err
    if line is not None:
        assert found[0][2] == line, err
    if says is not None:
        assert says in err, err
    assert listing(tmp_path) == before  # no runs/ folder
    if not torch_loaded:
        assert "torch" not in sys.modules  # refused before torch was imported


def test_params_case_names_the_layer(tmp_path, monkeypatch, capsys):
    """A layer of absurd size is refused at validation already (infer.MAX_PARAMS), naming it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text(CASES["params"][0])
    assert main(["validate", "spec.yaml"]) == 2
    assert "E-BUDGET" in capsys.readouterr().err


def test_a_raised_budget_lets_the_same_spec_through(tmp_path, monkeypatch):
    """Negative control: the activation case runs with the budget raised (one step)."""
    monkeypatch.chdir(tmp_path)
    text = CASES["activations"][0].replace("optimizer: SGD", "optimizer: SGD\ntrain: {steps: 1}")
    (tmp_path / "spec.yaml").write_text(text)
    assert main(["run", "spec.yaml", "-q", "--budget-mem", "64G"]) == 0
    assert main(["run", "spec.yaml", "-q", "--budget-mem", "1K"]) == 2  # and a tiny one refuses
    assert main(["run", "spec.yaml", "-q", "--budget-mem", "1K", "--no-budget"]) == 0


def test_parse_size():
    assert budget.parse_size("64G") == 64 << 30
    assert budget.parse_size("1.5t") == int(1.5 * (1 << 40))
    assert budget.parse_size("512MiB") == 512 << 20
    assert budget.parse_size("1000") == 1000
    for bad in ("", "lots", "-1G", "0", "1X"):
        assert budget.parse_size(bad) is None, bad


def test_default_is_a_share_of_ram():
    limit = budget.limit_from(None)
    assert limit is not None and limit.bytes == int(budget.machine_ram() * budget.RAM_SHARE)
    assert budget.limit_from(None, enabled=False) is None
