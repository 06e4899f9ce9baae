"""train.clip_grad_norm / clip_grad_value and a loss's weight / pos_weight: the generated
training step against the same step written by hand with torch, a run against its
`emit --train` script, and the checks `validate` makes."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from helpers.runhelp import python_child, run_cli

from graphspec.cli import main
from graphspec.compiler.pipeline import compile_text
from graphspec.training import program
from graphspec.training.job import make_loss

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

SPEC = """
name: clip
model:
  class: Net
  inputs: {x: [N, 4]}
  layers:
    hidden: {op: Linear, out_features: 8}
    act: tanh
    out: {op: Linear, out_features: 3}
data: {source: random, inputs: {x: [32, 4]}, num_classes: 3, batch_size: 8}
loss: {op: CrossEntropyLoss, weight: [1.0, 3.0, 0.5]}
optimizer: {op: SGD, lr: 0.5}
train: {steps: 3, TRAIN}
"""


def _compiled(train: str):
    return compile_text(SPEC.replace("TRAIN", train))


def _one_step(compiled, clip=None):
    """(weights after the generated step, after the step written here) from the same start."""
    torch.manual_seed(0)
    net = compiled.build()
    ref = compiled.build()
    ref.load_state_dict(net.state_dict())
    x, y = torch.randn(32, 4) * 10, torch.randint(0, 3, (32,))
    criterion = make_loss(compiled.spec.loss)
    code = program.load(compiled.spec, "test")
    code.use_device(torch.device("cpu"))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    code.train_step(net, criterion, opt, (x,), y)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    ref_opt.zero_grad()
    criterion(ref(x), y).backward()
    if clip is not None:
        clip(ref.parameters())
    ref_opt.step()
    return net.state_dict(), ref.state_dict()


@pytest.mark.parametrize(
    ("train", "clip"),
    [
        ("clip_grad_norm: 0.05", lambda p: torch.nn.utils.clip_grad_norm_(p, 0.05)),
        ("clip_grad_value: 0.01", lambda p: torch.nn.utils.clip_grad_value_(p, 0.01)),
    ],
)
def test_clipping_is_torchs(train, clip):
    got, want = _one_step(_compiled(train), clip)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    _, unclipped = _one_step(_compiled(train), None)  # negative control: clipping mattered
    assert any(not torch.equal(got[k], unclipped[k]) for k in want)


def test_class_weights_reach_the_loss():
    loss = make_loss(_compiled("log_every: 1").spec.loss)
    out, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 1, 1, 0])
    w = torch.tensor([1.0, 3.0, 0.5])
    assert torch.allclose(loss(out, y), torch.nn.functional.cross_entropy(out, y, weight=w))
    assert not torch.allclose(loss(out, y), torch.nn.functional.cross_entropy(out, y))


def test_pos_weight_reaches_bce():
    compiled = compile_text(
        SPEC.replace("TRAIN", "log_every: 1")
        .replace("num_classes: 3", "target: [32, 3]")
        .replace("{op: CrossEntropyLoss, weight: [1.0, 3.0, 0.5]}",
                 "{op: BCEWithLogitsLoss, pos_weight: [2.0, 1.0, 4.0]}")
    )  # fmt: skip
    loss = make_loss(compiled.spec.loss)
    out, y = torch.randn(5, 3), torch.rand(5, 3).round()
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        out, y, pos_weight=torch.tensor([2.0, 1.0, 4.0])
    )
    assert torch.allclose(loss(out, y), want)


def test_weight_count_must_match_the_classes():
    from graphspec.core.errors import SpecError

    with pytest.raises(SpecError) as err:
        compile_text(SPEC.replace("TRAIN", "log_every: 1").replace("3.0, 0.5]", "3.0]"))
    text = err.value.problems[0].format()
    assert "E-LOSS" in text and "weight has 2 value(s), the data has 3 classes" in text


def test_run_and_script_agree_with_weights_clipping_and_a_scheduler(tmp_path):
    spec = tmp_path / "clip.yaml"
    spec.write_text(
        SPEC.replace("TRAIN", "log_every: 1, clip_grad_norm: 0.5")
        .replace("steps: 3", "steps: 12")
        .replace("train:", "scheduler: {op: OneCycleLR, max_lr: 1.0, warmup: {iters: 2}}\ntrain:")
    )
    run = run_cli(spec, "--set", "seed=3", "--no-plots", runs=tmp_path / "runs")
    assert run.code == 0, run.err
    script = tmp_path / "train.py"
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["emit", str(run.run_dir / "spec.yaml"), "--train", "-o", str(script)]) == 0
    proc = python_child(script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    steps = [line for line in run.out.splitlines() if line.startswith("step ")]
    assert len(steps) == 12
    assert [x for x in proc.stdout.splitlines() if x.startswith("step ")] == steps


def _unweighted(train: str):
    """A class-weighted mean is not a mean over samples: accumulate's parts weigh by samples."""
    return compile_text(SPEC.replace("TRAIN", train).replace(", weight: [1.0, 3.0, 0.5]", ""))


def _steps(compiled, steps: int = 3):
    torch.manual_seed(0)
    net = compiled.build()
    x, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    code = program.load(compiled.spec, "test")
    code.use_device(torch.device("cpu"))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    values = [code.train_step(net, make_loss(compiled.spec.loss), opt, (x,), y)[0]
              for _ in range(steps)]  # fmt: skip
    return values, net.state_dict()


def test_accumulation_equals_one_large_batch():
    """30 samples in 4 unequal parts (8, 8, 7, 7): the same losses and weights as one batch."""
    whole_losses, whole = _steps(_unweighted("log_every: 1"))
    parts_losses, parts = _steps(_unweighted("log_every: 1, accumulate: 4"))
    assert parts_losses == pytest.approx(whole_losses, rel=1e-5)
    for key in whole:
        assert torch.allclose(parts[key], whole[key], rtol=1e-5, atol=1e-6), key
    assert whole_losses[0] != whole_losses[-1]  # it trained: the comparison could fail


def test_accumulation_with_a_closure_optimizer_is_refused():
    from graphspec.core.errors import SpecError

    with pytest.raises(SpecError) as err:
        compile_text(SPEC.replace("TRAIN", "accumulate: 2").replace("{op: SGD, lr: 0.5}", "LBFGS"))
    assert "train.accumulate with LBFGS" in err.value.problems[0].format()
