"""Errors stand alone: no torch warning before graphspec's one line, and the budget counts what
a data file declares before reading it.

- `--resume` of a checkpoint pickled with protocol 4: torch warns "Detected pickle protocol 4"
  and refuses it; the user sees only the E-CKPT line (the negative control: torch.load alone
  does warn on that file).
- An .npz whose member header claims 16 GB is E-BUDGET naming the array, before anything is
  read (no E-OOM blaming a budget the user never raised).
"""

from __future__ import annotations

import shutil
import warnings
import zipfile

import numpy as np
import pytest
import torch
from helpers.runhelp import SPECS, run_cli

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    res = run_cli(
        SPECS / "regression.yaml", "--set", "train.steps=4", "--quiet", "--no-plots",
        runs=tmp_path_factory.mktemp("runs"),
    )  # fmt: skip
    assert res.code == 0, res.err
    return res.run_dir


def _protocol_4(run):
    (ckpt,) = sorted((run / "checkpoints").glob("step-*.pt"))
    state = torch.load(ckpt, weights_only=True)
    torch.save(state, ckpt, pickle_protocol=4)
    return ckpt


def test_negative_control_torch_warns_on_a_protocol_4_checkpoint(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    ckpt = _protocol_4(run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Exception):  # noqa: B017, PT011 - torch's own refusal
            torch.load(ckpt, weights_only=True)
    assert any("pickle protocol" in str(w.message) for w in caught)


def test_resume_of_a_protocol_4_checkpoint_shows_only_the_error(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    _protocol_4(run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_cli("--resume", run, "--set", "train.steps=6", "--quiet", "--no-plots")
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "error[E-CKPT]" in lines[0], res.err
    assert not [w for w in caught if "pickle protocol" in str(w.message)]


SPEC = """\
name: huge
model:
  inputs: {x: [N, 2]}
  layers:
    out: {op: Linear, out_features: 3}
data: {source: arrays, path: d.npz, inputs: [x], target: y, batch_size: 4}
loss: CrossEntropyLoss
optimizer: {op: SGD, lr: 0.1}
train: {steps: 2}
seed: 1
device: cpu
"""


def test_an_npz_header_claiming_16_gb_is_over_the_budget_before_reading(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("d.npz", "w") as z:
        with z.open("x.npy", "w") as f:  # a header only: 2**31 x 2 float32 = 16 GiB
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (2**31, 2)}
            )
        with z.open("y.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(4, np.int64))
    (tmp_path / "s.yaml").write_text(SPEC)
    res = run_cli("s.yaml", "--budget-mem", "8G", "--quiet", "--no-plots", runs=tmp_path / "r")
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "error[E-BUDGET]" in lines[0] and "array 'x'" in lines[0], lines
    assert not (tmp_path / "r").exists()
