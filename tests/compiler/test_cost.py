"""The static cost model (compiler/cost.py) against torch (tests/helpers/cost_oracle.py).

What is compared, and how closely:
- FLOPs: `2 * macs` equals `torch.utils.flop_counter.FlopCounterMode`'s total exactly, for every
  shipped spec at several sizes and for every registered op over its oracle cases;
- activation memory: the bytes autograd saves for backward, measured with
  `torch.autograd.graph.saved_tensors_hooks` (each storage once, parameters and buffers out),
  within `cost_oracle.TOLERANCE` (10 %) for every shipped spec and every op case;
- parameters: trainable ones equal `sum(p.numel())`, non-trainable ones the buffers' elements.

Every registered op must have cases here (through tests/ops/test_ops_meta.py's CASES), and an op
whose cost method is wrong fails `test_every_op_cost_matches_torch` (see the negative controls).
"""

from __future__ import annotations

import glob
import warnings
from pathlib import Path

import pytest
import torch
from helpers.cost_oracle import TOLERANCE, close, inputs_for, measure
from helpers.op_cases import CASES
from helpers.op_oracle import bindings, module_source, run_static
from torch.utils.flop_counter import FlopCounterMode

from graphspec.compiler.build import load_class
from graphspec.compiler.cost import BYTES, cost_of, nbytes
from graphspec.compiler.pipeline import compile_file
from graphspec.core.shapes import FLOAT_DTYPES, Dim, TensorType
from graphspec.ops import OPS
from graphspec.ops.base import Cost, numel

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted(glob.glob(str(ROOT / "specs" / "**" / "*.yaml"), recursive=True))
SIZES = [
    {"N": 1, "L": 8, "T": 8, "S": 8, "H": 64, "W": 64, "h": 4, "w": 4},
    {"N": 2, "L": 16, "T": 16, "S": 16, "H": 32, "W": 32, "h": 2, "w": 3},
]
"""Values for the symbols specs use (N batch, L/T/S sequence lengths, H/W image sizes)."""
BATCH_OF_TWO = {"deeplabv3_resnet50"}
"""Specs torch cannot train at N = 1, as torchvision's own model cannot: ASPP's image pooling
feeds its BatchNorm one value per channel and sample."""

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: Path(p).stem)
def test_spec_cost_matches_torch(path):
    compiled = compile_file(path)
    model = compiled.build()
    assert sum(p.numel() for p in model.parameters()) == cost_of(compiled.graph).total("params")
    assert sum(b.numel() for b in model.buffers()) == cost_of(compiled.graph).total("buffers")
    for sizes in SIZES:
        if Path(path).stem in BATCH_OF_TWO:
            sizes = {**sizes, "N": 2}
        static = cost_of(compiled.graph, sizes)
        torch.manual_seed(0)
        flops, saved = measure(model, inputs_for(compiled.graph, static.sizes))
        assert 2 * static.total("macs") == flops, (sizes, static.total("macs"), flops)
        assert close(static.activation_bytes, saved), (sizes, static.activation_bytes, saved)


def test_the_named_seeds_exactly():
    """LeNet, the CIFAR net and the BERT block: the numbers themselves, at N=4 (L=16)."""
    want = {
        "lenet": (61_706, 1_666_080, 196_160),
        "cifar": (62_006, 2_606_880, 228_928),
        "bert_attention": (26_201_088, 152_567_808, 1_428_992),
    }
    for name, (params, macs, saved) in want.items():
        c = cost_of(compile_file(str(ROOT / "specs" / f"{name}.yaml")).graph, {"N": 4, "L": 16})
        assert (c.total("params"), c.total("macs"), c.activation_bytes) == (params, macs, saved)


# -- every op -------------------------------------------------------------------------------------


def static_op_cost(op, inputs: list[TensorType], outs: list[TensorType]) -> tuple[int, int]:
    """(2 * macs, saved bytes) of one op alone, every float input a distinct tensor needing
    grad (autograd keeps nothing for an op no gradient flows through)."""
    c: Cost = op.cost(inputs, outs)
    if not op.param_count() and not any(t.dtype in FLOAT_DTYPES for t in inputs):
        return 2 * c.macs, 0
    saved = 0
    for item in c.saved:
        if isinstance(item, tuple):
            saved += item[0] * BYTES[item[1]]
        elif item.startswith("in"):
            saved += nbytes(inputs[int(item[2:])])
        else:
            saved += nbytes(outs[int(item[3:])])
    return 2 * c.macs, saved


def concrete(t: TensorType, sizes: dict[str, int]) -> TensorType:
    return TensorType(tuple(Dim(v) for v in t.bind(sizes)), t.dtype)


def measured_op_cost(op, case, sizes) -> tuple[int, int] | None:
    source = module_source(op, case.arg_names)
    model = load_class(source, "OpModule", "cost_oracle")()
    xs = []
    for t in case.inputs:
        x = torch.zeros(t.bind(sizes), dtype=getattr(torch, t.dtype))
        if x.is_floating_point():
            x = x.normal_().requires_grad_(True)  # as inside a network: its gradient is needed
        elif x.dtype == torch.int64:
            x = x.random_(0, 2)
        xs.append(x)
    try:
        return measure(model, xs)
    except (RuntimeError, ValueError, TypeError, IndexError):
        return None  # a case torch refuses on the CPU (the meta oracle covers those)


def op_cases(name: str, limit: int = 25):
    """Cases the static rule accepts, small enough for the CPU, float inputs only."""
    found = []
    for case in CASES[name](name):
        if any(t.dtype not in ("float32", "int64", "bool") or t.rank == 0 for t in case.inputs):
            continue  # 0-dim tensors are not counted (wrapped Python scalars look the same)
        static = run_static(case)
        if static.error is not None:
            continue
        for sizes in bindings(case)[:1]:
            if max(prod_of(t, sizes) for t in case.inputs) <= 1 << 14:
                found.append((case, static, sizes))
        if len(found) >= limit:
            break
    return found


def prod_of(t: TensorType, sizes: dict[str, int]) -> int:
    n = 1
    for d in t.bind(sizes):
        n *= d
    return n


def check_op(name: str) -> list[str]:
    wrong = []
    cases = op_cases(name)
    assert cases, f"no CPU-sized accepted cases for {name}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for case, static, sizes in cases:
            op = static.emit
            ins = [concrete(t, sizes) for t in case.inputs]
            outs = [concrete(t, sizes) for t in static.outs]
            got = measured_op_cost(op, case, sizes)
            if got is None:
                continue
            flops, saved = static_op_cost(op, ins, outs)
            if flops != got[0] or not close(saved, got[1]):
                wrong.append(f"{case} at {sizes}: static ({flops}, {saved}), torch {got}")
    return wrong


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_cost_matches_torch(name):
    wrong = check_op(name)
    assert not wrong, f"{len(wrong)} cases:\n" + "\n".join(wrong[:10])


class _ForgetsTheInput(OPS["Linear"]):
    def cost(self, inputs, outputs):
        c = super().cost(inputs, outputs)
        return Cost(macs=c.macs, flops=c.flops)


class _HalfTheMacs(OPS["Conv2d"]):
    def cost(self, inputs, outputs):
        c = super().cost(inputs, outputs)
        return Cost(macs=c.macs // 2, flops=c.flops, saved=c.saved)


class _KeepsNothing(OPS["relu"]):
    def cost(self, inputs, outputs):
        return Cost(flops=1)


class _OnlyTheInputProjection(OPS["LSTM"]):
    """Counts the input projection of every step but not the hidden one: what is left to
    count if the measurement saw the LSTM as one opaque kernel."""

    def cost(self, inputs, outputs):
        c = super().cost(inputs, outputs)
        rows = numel(inputs[0]) // inputs[0].shape[-1].value  # N * L steps
        return Cost(macs=c.macs - rows * 4 * self.hidden_size**2, flops=c.flops, saved=c.saved)


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("Linear", _ForgetsTheInput),
        ("Conv2d", _HalfTheMacs),
        ("relu", _KeepsNothing),
        ("LSTM", _OnlyTheInputProjection),
    ],
)
def test_a_wrong_cost_is_caught(monkeypatch, name, broken):
    """Negative controls: an op whose cost is wrong fails the comparison with torch."""
    broken.__name__ = name
    monkeypatch.setitem(OPS, name, broken)
    assert check_op(name)


def test_the_lstm_is_measured_through_torchs_own_kernel():
    """The CPU's fused mkldnn LSTM hides its matrix products from FlopCounterMode (0 FLOPs);
    the oracle measures a model holding an LSTM with mkldnn off, and only such a model."""
    lstm = torch.nn.LSTM(4, 5, batch_first=True)
    x = torch.randn(2, 3, 4, requires_grad=True)
    counter = FlopCounterMode(display=False)
    with counter:
        lstm(x)
    fused = counter.get_total_flops()
    flops, _ = measure(lstm, [x])
    assert flops == 2 * 2 * 3 * 4 * 5 * (4 + 5)  # the input and hidden projections, every step
    if torch.backends.mkldnn.is_available():
        assert fused == 0  # why the oracle turns mkldnn off for it
    assert torch.backends.mkldnn.enabled  # turned back on after measuring


def test_tolerance_is_what_the_docs_say():
    assert TOLERANCE == 0.10


def test_summary_shows_the_cost(capsys):
    from graphspec.cli import main

    assert main(["summary", str(ROOT / "specs" / "lenet.yaml"), "--json", "--batch-size", "4"]) == 0
    data = __import__("json").loads(capsys.readouterr().out)
    assert data["cost"]["sizes"] == {"N": 4}
    assert data["cost"]["total"]["macs"] == 1_666_080
    assert data["cost"]["nodes"]["conv1"]["saved_bytes"] == 4 * 32 * 32 * 4  # its input
    assert main(["summary", str(ROOT / "specs" / "bert_attention.yaml"), "--size", "L=16"]) == 0
    out = capsys.readouterr().out
    assert "cost of a training step at N=1, L=16" in out and "MACs" in out
    assert main(["summary", str(ROOT / "specs" / "bert_attention.yaml")]) == 0
    assert "assumed L = 1" in capsys.readouterr().out  # a symbol without a value is said so
