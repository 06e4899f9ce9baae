"""One equivalence test per seed program: the generated module against the hand-written one.

For specs/lenet.yaml, cifar.yaml and regression.yaml: `print(model)` equals the seed's text, the
reference's `state_dict` loads with strict=True, and with those weights the outputs and the
gradients of the same loss are bit-for-bit equal (same ops in the same order on the CPU). Every
statically inferred shape is checked against torch itself (torch.fx shape propagation).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import seed_programs as sp
from torch import nn
from torch.fx import symbolic_trace
from torch.fx.passes.shape_prop import ShapeProp

from graphspec import cli
from graphspec.compiler.pipeline import compile_file

SPECS = Path(__file__).resolve().parents[2] / "specs"

# spec name -> (reference class, an input batch shape, the loss the seed trains with)
CASES = {
    "lenet": (sp.Net, (1, 1, 32, 32), "mse"),
    "cifar": (sp.CifarNet, (4, 3, 32, 32), "cross_entropy"),
    "regression": (sp.RegressionNet, (100, 1), "mse"),
}

# The six shapes the seed's LeNet prints from inside forward (batch 1), by the node computing each.
LENET_PRINTED = {
    "pool1": ["N", "6", "14", "14"],
    "pool2": ["N", "16", "5", "5"],
    "flat": ["N", "400"],
    "act3": ["N", "120"],
    "act4": ["N", "84"],
    "fc3": ["N", "10"],
}


@pytest.fixture(scope="module")
def compiled():
    return {name: compile_file(str(SPECS / f"{name}.yaml")) for name in CASES}


def _pair(compiled, name: str, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The reference with fresh weights, and the generated module holding a copy of them."""
    torch.manual_seed(seed)
    ref = CASES[name][0]()
    model = compiled[name].build()
    model.load_state_dict(ref.state_dict(), strict=True)
    return ref, model


def _loss(kind: str, out: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if kind == "cross_entropy":
        labels = torch.randint(0, out.shape[1], (out.shape[0],), generator=gen)
        return nn.functional.cross_entropy(out, labels)
    return nn.functional.mse_loss(out, torch.randn(out.shape, generator=gen))


@pytest.mark.parametrize("name", list(CASES))
def test_print_equals_reference(compiled, name):
    model = compiled[name].build()
    assert str(model) == str(CASES[name][0]())


def test_lenet_print_is_the_seed_text(compiled):
    assert str(compiled["lenet"].build()) == sp.LENET_PRINT


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_keys_and_parameter_count(compiled, name):
    ref, model = _pair(compiled, name)
    assert list(model.state_dict()) == list(ref.state_dict())
    count = sum(p.numel() for p in ref.parameters())
    assert compiled[name].graph.total_params == count


@pytest.mark.parametrize("name", list(CASES))
def test_outputs_and_gradients_equal(compiled, name):
    ref, model = _pair(compiled, name, seed=1)
    _, shape, loss_kind = CASES[name]
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    outs = []
    for net in (ref, model):
        out = net(x)
        _loss(loss_kind, out, torch.Generator().manual_seed(3)).backward()
        outs.append(out.detach())
    assert torch.equal(outs[0], outs[1])
    grads = {n: p.grad for n, p in model.named_parameters()}
    for n, p in ref.named_parameters():
        assert torch.equal(p.grad, grads[n]), n


def test_regression_trains_identically(compiled):
    """A few SGD steps of the seed's loop: the same loss values, bit for bit."""
    x, y = sp.regression_data(torch.Generator().manual_seed(0))
    ref, model = _pair(compiled, "regression")
    assert sp.regression_loop(ref, x, y, steps=5) == sp.regression_loop(model, x, y, steps=5)


def test_lenet_summary_json_shows_seed_shapes(capsys):
    assert cli.main(["summary", "--json", str(SPECS / "lenet.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    shapes = {node["name"]: node["shape"] for node in report["nodes"]}
    assert {name: shapes[name] for name in LENET_PRINTED} == LENET_PRINTED
    assert report["total_params"] == 61_706
    assert report["outputs"] == {"fc3": ["N", "10"]}


@pytest.mark.parametrize("name", list(CASES))
def test_inferred_shapes_match_torch(compiled, name):
    """Each forward statement is one traced call, in order: compare every shape with N bound."""
    c = compiled[name]
    batch = 3
    shape = (batch, *CASES[name][1][1:])
    traced = symbolic_trace(c.build())
    ShapeProp(traced).propagate(torch.randn(shape))
    actual = [
        tuple(n.meta["tensor_meta"].shape) for n in traced.graph.nodes if n.op.startswith("call")
    ]
    typed = [t for t in c.graph.nodes.values() if not t.node.is_input]
    assert actual == [t.out.bind({"N": batch}) for t in typed]


def test_cifar_pool_is_one_module_called_twice(compiled):
    model = compiled["cifar"].build()
    pools = [name for name, m in model.named_modules() if isinstance(m, nn.MaxPool2d)]
    assert pools == ["pool"]
    assert str(model).count("MaxPool2d") == 1
    calls = []
    model.pool.register_forward_hook(lambda mod, args, out: calls.append(tuple(out.shape)))
    model(torch.randn(2, 3, 32, 32))
    assert calls == [(2, 6, 14, 14), (2, 16, 5, 5)]
    summary = {t.name: t for t in compiled["cifar"].graph.nodes.values()}
    assert summary["pool2"].params == 0 and summary["pool2"].op is summary["pool"].op
