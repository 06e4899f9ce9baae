"""`roll`, `pad` (every mode), the comparisons and StochasticDepth compute what torch computes:
each spec validates, builds, and its outputs equal torch's own calls on the same tensors (the
oracle in test_ops_meta.py checks their shapes and dtypes over many more cases)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from graphspec.compiler.pipeline import compile_text

SPEC = """\
name: shifts
model:
  inputs: {x: [N, 3, H, W], y: [N, 3, H, W]}
  layers:
    rolled: {op: roll, shifts: [1, -2], dims: [2, 3], in: x}
    flat_rolled: {op: roll, shifts: 5, in: x}
    zero: {op: pad, pad: [1, 2, 0, 1], in: x}
    filled: {op: pad, pad: [1, 1], value: -1.5, in: x}
    cropped: {op: pad, pad: [-1, 0, 0, -1], in: x}
    mirror: {op: pad, pad: [2, 1, 1, 2], mode: reflect, in: x}
    edge: {op: pad, pad: [2, 1, 1, 2], mode: replicate, in: x}
    wrap: {op: pad, pad: [2, 1, 1, 2], mode: circular, in: x}
    lt: {op: lt, in: [x, y]}
    le: {op: le, other: 0, in: x}
    gt: {op: gt, in: [x, y]}
    ge: {op: ge, other: 0.5, in: x}
  outputs: [rolled, flat_rolled, zero, filled, cropped, mirror, edge, wrap, lt, le, gt, ge]
"""


def test_each_op_equals_torch():
    model = compile_text(SPEC).build()
    x, y = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6)
    y[0, 0, 0, :3] = x[0, 0, 0, :3]  # ties, where lt and le differ
    want = [
        torch.roll(x, (1, -2), (2, 3)),
        torch.roll(x, 5),
        F.pad(x, (1, 2, 0, 1)),
        F.pad(x, (1, 1), value=-1.5),
        F.pad(x, (-1, 0, 0, -1)),
        F.pad(x, (2, 1, 1, 2), mode="reflect"),
        F.pad(x, (2, 1, 1, 2), mode="replicate"),
        F.pad(x, (2, 1, 1, 2), mode="circular"),
        x < y,
        x <= 0,
        x > y,
        x >= 0.5,
    ]
    got = model(x, y)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and torch.equal(g, w)
    assert got[8].dtype == torch.bool


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_is_torchvisions(mode):
    """Training: the same draws as torchvision.ops.stochastic_depth from the same seed (rows,
    or the whole batch, dropped and the rest scaled by 1/(1-p)); eval: the input itself."""
    from torchvision.ops import stochastic_depth

    spec = f"""\
name: sd
model:
  inputs: {{x: [N, 4, 3]}}
  layers:
    lin: {{op: Linear, out_features: 3}}
    sd: {{op: StochasticDepth, p: 0.5, mode: {mode}}}
"""
    model = compile_text(spec).build()
    x = torch.randn(16, 4, 3)
    with torch.no_grad():
        branch = model.lin(x)
        torch.manual_seed(3)
        got = model.train()(x)
        torch.manual_seed(3)
        want = stochastic_depth(branch, 0.5, mode, training=True)
        assert torch.equal(got, want)
        dropped = (got == 0).flatten(1).all(1)
        assert 0 < dropped.sum() < 16 if mode == "row" else dropped.all() or not dropped.any()
        assert torch.equal(model.eval()(x), branch)


def test_sizes_below_what_a_pad_takes_them_to_be_are_refused_where_they_are_given():
    """A symbolic size is taken as large enough for a circular pad (found by the differential
    soak: a pad of 2 over a dim that is N, at N = 1); `summary --input` and every check of
    concrete sizes refuse a smaller one, naming the node, as torch refuses it when it runs."""
    from graphspec.compiler.summary import check_sizes
    from graphspec.core.errors import SpecError

    spec = """\
name: circ
model:
  inputs: {x: [N, L, 8]}
  layers:
    t: {op: transpose, dim0: 0, dim1: 2}
    p: {op: pad, pad: [0, 2, 0, 1], mode: circular}
"""
    graph = compile_text(spec).graph
    check_sizes(graph, {"N": 2, "L": 5})
    with pytest.raises(SpecError, match="'p' \\(pad\\) gets a dim of 1, less than the 2"):
        check_sizes(graph, {"N": 1, "L": 5})
    F.pad(torch.zeros(8, 5, 2), (0, 2, 0, 1), mode="circular")
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(torch.zeros(8, 5, 1), (0, 2, 0, 1), mode="circular")
