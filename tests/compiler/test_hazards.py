"""Aliasing and autograd hazards: what `validate` refuses because torch would compute something
else than the spec says, or fail at the first backward; and what it accepts because torch runs
it. Each refusal has a torch control showing the failure is real, each acceptance runs."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn.functional as F

from graphspec.compiler.pipeline import compile_text
from graphspec.core.errors import SpecError


def _spec(layers: str, inputs: str = "{x: [N, 8]}", extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(layers).strip(), "    ")
    return f"name: t\n{extra}model:\n  inputs: {inputs}\n  layers:\n{body}\n"


def _refused(text: str) -> list:
    with pytest.raises(SpecError) as caught:
        compile_text(text)
    assert caught.value.problems, "a SpecError must carry its problems"
    return caught.value.problems


def _train_step(text: str, *shape: int, inplace: str = "") -> torch.Tensor:
    """Forward and backward in training mode; the output. `inplace` names a module made
    in-place after validation: what torch would do with the spec that was refused."""
    torch.manual_seed(0)
    model = compile_text(text).build().train()
    if inplace:
        getattr(model, inplace).inplace = True
    outs = model(torch.randn(*shape))
    out = outs[0] if isinstance(outs, tuple) else outs
    loss = out.float().sum() + sum(p.sum() for p in model.parameters()) * 0
    if loss.requires_grad:
        loss.backward()
    return out


# -- a dropout returns its input in eval mode ------------------------------------------------


@pytest.mark.parametrize("op", ["dropout", "Dropout", "dropout1d", "Dropout2d", "dropout3d"])
def test_inplace_write_through_a_dropout_into_a_tensor_read_elsewhere_is_refused(op):
    inputs = {"dropout": "{x: [N, 8]}", "Dropout": "{x: [N, 8]}"}.get(op, "{x: [N, 2, 4, 4, 4]}")
    inputs = "{x: [N, 2, 8]}" if op == "dropout1d" else inputs
    inputs = "{x: [N, 2, 4, 4]}" if op == "Dropout2d" else inputs
    text = _spec(
        f"""
        d: {{op: {op}, p: 0.5, in: x}}
        r: {{op: ReLU, inplace: true, in: d}}
        s: {{op: add, in: [x, r]}}
        """,
        inputs,
    )
    (problem,) = _refused(text)
    assert problem.code == "E-INPLACE" and problem.node == "r"
    assert "'s' also reads" in problem.message and "eval mode" in problem.message
    # out of place, the same graph is accepted
    compile_text(text.replace("inplace: true", "inplace: false"))


def test_torch_computes_twice_relu_there_the_wrong_result_refused():
    """The negative control: what the refused spec would compute in eval mode."""
    x = torch.randn(4, 8)
    expected = x + torch.relu(x)
    held = x.clone()
    got = held + F.relu(F.dropout(held, 0.5, training=False), inplace=True)
    assert torch.equal(got, 2 * torch.relu(x)) and not torch.allclose(got, expected)
    assert not torch.equal(held, x)  # and the caller's tensor was overwritten


def test_a_dropout_module_with_inplace_as_its_inputs_only_reader_is_accepted():
    text = _spec(
        """
        l: {op: Linear, out_features: 8}
        d: {op: Dropout, p: 0.5, inplace: true}
        m: {op: Linear, out_features: 3}
        """
    )
    assert _train_step(text, 4, 8).shape == (4, 3)


# -- an in-place write into a result that autograd saved -------------------------------------

SAVERS = {
    "tanh": "{op: tanh}",
    "Tanh": "{op: Tanh}",
    "sigmoid": "{op: sigmoid}",
    "relu": "{op: relu}",
    "softmax": "{op: softmax, dim: 1}",
    "LogSoftmax": "{op: LogSoftmax, dim: 1}",
    "exp": '{op: expr, expr: "exp(l)"}',
    "sqrt": "{op: sqrt}",
    "amax": "{op: amax, dim: 1, keepdim: true}",
    "ReLU inplace": "{op: ReLU, inplace: true}",
}


@pytest.mark.parametrize("saver", sorted(SAVERS))
def test_inplace_op_after_a_producer_that_saved_its_result_is_refused(saver):
    text = _spec(
        f"""
        l: {{op: Linear, out_features: 8}}
        p: {SAVERS[saver]}
        r: {{op: ReLU6, inplace: true}}
        """
    )
    (problem,) = _refused(text)
    assert problem.code == "E-INPLACE" and problem.node == "r"
    assert "'p'" in problem.message and "backward would fail" in problem.message
    # the control: torch does fail at backward, and the out-of-place graph trains
    out_of_place = text.replace("{op: ReLU6, inplace: true}", "{op: ReLU6}")
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _train_step(out_of_place, 4, 8, inplace="r")
    assert _train_step(out_of_place, 4, 8).shape[0] == 4


def _inplace_module(saver: torch.nn.Module) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(8, 8), saver, torch.nn.ReLU6(inplace=True))


def test_torch_backward_fails_after_an_inplace_write_into_a_saved_result():
    """The control, with hand-written modules (what the refused specs would build)."""
    for saver in (torch.nn.Tanh(), torch.nn.Sigmoid(), torch.nn.Softmax(1)):
        out = _inplace_module(saver)(torch.randn(4, 8))
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.sum().backward()
    _inplace_module(torch.nn.GELU())(torch.randn(4, 8)).sum().backward()  # GELU keeps its input


def test_a_saved_result_seen_through_a_view_a_group_and_a_block_is_refused():
    through_view = _spec(
        """
        l: {op: Linear, out_features: 8}
        t: {op: tanh}
        v: {op: view, size: [-1, 2, 4]}
        r: {op: ReLU, inplace: true}
        """
    )
    assert "'t' (tanh)" in _refused(through_view)[0].message
    in_group = _spec("g: {group: [{op: Linear, out_features: 8}, Tanh, {op: ReLU, inplace: true}]}")
    assert "group 'g'" in _refused(in_group)[0].message
    after_block = _spec(
        """
        b: {block: Act}
        r: {op: ReLU, inplace: true}
        """,
        extra="blocks:\n  Act:\n    inputs: {x: [N, 8]}\n    layers:\n"
        "      l: {op: Linear, out_features: 8}\n      t: {op: Tanh}\n",
    )
    (problem,) = _refused(after_block)
    assert problem.node == "r" and "'t' (Tanh)" in problem.message


def test_no_gradient_no_hazard():
    """Before any parameter, autograd saves nothing: torch runs it, and so it validates."""
    text = _spec(
        """
        t: {op: tanh}
        r: {op: ReLU, inplace: true}
        l: {op: Linear, out_features: 3}
        """
    )
    assert _train_step(text, 4, 8).shape == (4, 3)


def test_inplace_after_a_producer_that_keeps_its_input_is_accepted():
    text = _spec(
        """
        l: {op: Linear, out_features: 8}
        g: {op: GELU}
        r: {op: ReLU, inplace: true}
        n: {op: BatchNorm1d}
        s: {op: SiLU, inplace: true}
        """
    )
    assert _train_step(text, 4, 8).shape == (4, 8)


# -- ops without a derivative -------------------------------------------------------------


def test_floor_division_on_a_tensor_that_needs_a_gradient_is_refused():
    text = _spec(
        """
        l: {op: Linear, out_features: 8}
        e: {op: expr, expr: "l // 2 + l"}
        """
    )
    (problem,) = _refused(text)
    assert problem.code == "E-GRAD" and problem.node == "e"
    assert "'//'" in problem.message and "no derivative" in problem.message
    with pytest.raises(RuntimeError, match="floor_divide"):
        y = torch.nn.Linear(8, 8)(torch.randn(2, 8))
        (y // 2 + y).sum().backward()


def test_floor_division_where_no_gradient_flows_is_accepted():
    text = _spec(
        """
        e: {op: expr, expr: "x // 2"}
        l: {op: Linear, out_features: 3}
        """
    )
    assert _train_step(text, 4, 8).shape == (4, 3)


# -- layout rules at size 1 -----------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 2, 5])
def test_transpose_reshape_view_runs_at_every_size(length):
    text = _spec(
        """
        t: {op: transpose, dim0: 0, dim1: 2}
        r: {op: reshape, size: [-1, N]}
        v: {op: view, size: [-1]}
        """,
        "{x: [N, 6, L]}",
    )
    x = torch.randn(3, 6, length)
    assert torch.equal(compile_text(text).build()(x), x.transpose(0, 2).reshape(-1, 3).reshape(-1))


# -- readers that ran before the write ------------------------------------------------------


def test_a_reader_that_ran_before_and_keeps_the_tensor_for_backward_is_refused():
    text = _spec(
        """
        l: {op: Linear, out_features: 8}
        m: {op: Linear, out_features: 8, in: l}
        r: {op: ReLU6, inplace: true, in: l}
        s: {op: add, in: [m, r]}
        """
    )
    (problem,) = _refused(text)
    assert problem.node == "r" and "'m' read before it and keeps" in problem.message
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _train_step(text.replace("ReLU6, inplace: true", "ReLU6"), 4, 8, inplace="r")


def test_a_reader_that_ran_before_and_keeps_only_sizes_is_accepted():
    """cat keeps no input for backward: torch computes the spec's result, and trains."""
    text = _spec(
        """
        l: {op: Linear, out_features: 8}
        c: {op: cat, dim: 1, in: [x, l]}
        r: {op: ReLU6, inplace: true, in: l}
        s: {op: cat, dim: 1, in: [c, r]}
        """
    )
    model = compile_text(text).build()
    x = torch.randn(4, 8)
    l_out = model.l(x)
    expected = torch.cat([x, l_out, F.relu6(l_out)], 1)
    assert torch.allclose(model(x), expected)
    assert _train_step(text, 4, 8).shape == (4, 24)
