"""The speed switches: where the pictures are drawn (--no-plots, --plots-now, the background
process), and train.amp / channels_last / compile written into the shared generated program."""

from __future__ import annotations

import json
import time

import pytest
import torch
from helpers.runhelp import SPECS, meta, python_child, run_cli

from graphspec.compiler.pipeline import compile_text
from graphspec.program import functions
from graphspec.training import program

PICTURES = {"loss.png", "fit.png", "fit.gif"}


def _names(run) -> set[str]:
    return {p.name for p in run.iterdir()}


def test_no_plots_draws_nothing(tmp_path):
    res = run_cli(SPECS / "regression.yaml", "train.steps=10", "--no-plots", runs=tmp_path)
    assert res.code == 0, res.err
    assert not (PICTURES | {"graph.svg", ".pictures.npz"}) & _names(res.run_dir)
    assert meta(res.run_dir)["pictures"] == "off"


def test_in_process_runs_draw_before_returning(tmp_path):
    res = run_cli(SPECS / "regression.yaml", "train.steps=10", runs=tmp_path)
    assert res.code == 0, res.err
    assert PICTURES <= _names(res.run_dir) and ".pictures.npz" not in _names(res.run_dir)
    assert meta(res.run_dir)["pictures"] == "now"


def test_the_command_line_draws_in_the_background(tmp_path):
    proc = python_child(
        "-m", "graphspec", "run", SPECS / "regression.yaml", "train.steps=10", "-q",
        "--runs-dir", tmp_path / "runs", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / proc.stdout.strip().splitlines()[-1]
    assert meta(run)["pictures"] == "background" and meta(run)["status"] == "finished"
    deadline = time.monotonic() + 120
    while (run / ".pictures.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (run / ".pictures.npz").exists(), (run / "pictures.log").read_text()
    assert PICTURES <= _names(run)
    assert (run / "fit.gif").read_bytes()[:6] == b"GIF89a"
    assert not (run / "pictures.log").exists()  # kept only when the drawing said something
    _same_scalars(run)


def _same_scalars(run):
    """The background process wrote tensorboard/ (torch-free): every logged loss is there."""
    from tensorboard.backend.event_processing import event_accumulator  # the test extra

    acc = event_accumulator.EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    logged = [r for r in map(json.loads, lines) if "lr" in r]
    events = acc.Scalars("train/loss")
    assert logged and [e.step for e in events] == [r["step"] for r in logged]
    assert [e.value for e in events] == pytest.approx([r["loss"] for r in logged], rel=1e-6)


def _spec(train: str, device: str = "cpu", optimizer: str = "{op: SGD, lr: 0.01}") -> str:
    return f"""
name: switches
model:
  inputs: {{x: [N, 3, 8, 8]}}
  layers:
    conv: {{op: Conv2d, out_channels: 4, kernel_size: 3}}
    flat: {{op: flatten, start_dim: 1}}
    fc: {{op: Linear, out_features: 2}}
data: {{source: random, inputs: {{x: [8, 3, 8, 8]}}, num_classes: 2, batch_size: 4}}
loss: CrossEntropyLoss
optimizer: {optimizer}
train: {train}
device: {device}
"""


def test_fp16_is_for_cuda_and_needs_a_scalable_optimizer(tmp_path):
    for text, says in (
        (_spec("{steps: 1, amp: fp16}"), "train.amp fp16 on device cpu"),
        (_spec("{steps: 1, amp: fp16}", "auto", "{op: LBFGS, lr: 1}"), "train.amp fp16 with LBFGS"),
    ):
        path = tmp_path / "s.yaml"
        path.write_text(text)
        res = python_child("-m", "graphspec", "validate", path, cwd=tmp_path)
        assert res.returncode == 2 and "error[E-CONSTRAINT]" in res.stderr and says in res.stderr
    path.write_text(_spec("{steps: 1, amp: bf16}"))
    assert python_child("-m", "graphspec", "validate", path, cwd=tmp_path).returncode == 0


def test_fp16_scales_the_loss_in_the_generated_step():
    spec = compile_text(_spec("{steps: 1, amp: fp16}", "cuda")).spec
    text = functions.program(spec, "<test>")
    assert "SCALER = torch.amp.GradScaler(DEVICE.type)" in text
    assert "SCALER.scale(loss).backward()" in text and "loss.backward()" not in text
    assert "dtype=torch.float16" in text
    plain = functions.program(compile_text(_spec("{steps: 1}")).spec, "<test>")
    assert "SCALER" not in plain and "autocast" not in plain and "loss.backward()" in plain


def test_prepare_applies_channels_last_and_compile_as_written():
    spec = compile_text(_spec("{steps: 1, channels_last: true}")).spec
    prog = program.load(spec, "<test>")
    net = compile_text(_spec("{steps: 1}")).build()
    net = prog.prepare(net)
    assert net.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not net.conv.weight.is_contiguous()
    assert "torch.compile" not in prog.source
    compiled = functions.program(compile_text(_spec("{steps: 1, compile: true}")).spec, "<t>")
    assert "    net = torch.compile(net)" in compiled
    plain = program.load(compile_text(_spec("{steps: 1}")).spec, "<test>")
    assert plain.prepare is None and "def prepare" not in plain.source  # the net itself trains


def test_channels_last_and_bf16_train_to_the_end(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(_spec("{steps: 4, amp: bf16, channels_last: true}"))
    res = run_cli(path, "--no-plots", runs=tmp_path / "runs")
    assert res.code == 0, res.err
    assert meta(res.run_dir)["status"] == "finished"
