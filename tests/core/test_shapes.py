"""Symbolic sizes: canonical forms, floor division, substitution, against integer arithmetic."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphspec.core.shapes import Dim, DimError, TensorType
from graphspec.ops.conv import window_out

H, W, N = Dim.of("H"), Dim.of("W"), Dim.of("N")


def test_canonical_forms_compare_equal():
    assert (H + 2 - 2 - 1) // 1 + 1 == H  # 3x3 conv, stride 1, padding 1 keeps H
    assert ((H - 1) // 2 + 1) == (H + 1) // 2
    assert ((H + 1) // 2 + 1) // 2 == (H + 3) // 4  # nested floors merge
    assert H * N * 2 == N * 2 * H and str(2 * H * N + H - 3) == "2*H*N + H - 3"
    assert (3 * H + 1) // 3 == H and (H * 4 + 8) // 4 == H + 2
    assert H != W and H + 1 != H and Dim(5) == 5 and {Dim(1), Dim.of(1)} == {Dim(1)}


def test_divide_and_errors():
    assert (N * Dim.of("L")).divide(Dim.of("L")) == N
    assert ((H + 1) * N).divide(H + 1) == N
    assert (H + 1).divide(2) is None and H.divide(W) is None
    with pytest.raises(DimError):
        H // W


def test_subs_and_bind():
    out = (H - 1) // 2 + 1
    assert out.subs({"H": 224}) == 112 and out.subs({"H": 7}) == 4
    assert TensorType.of(["N", 3, "H"]).with_shape((N, Dim(3), out)).bind({"N": 2, "H": 9}) == (
        2,
        3,
        5,
    )


# A random polynomial with floor divisions, built twice: as a Dim and as a Python function.
_leaf = st.one_of(
    st.integers(-5, 9).map(lambda k: (Dim(k), lambda env, k=k: k)),
    st.sampled_from(["H", "W", "N"]).map(lambda s: (Dim.of(s), lambda env, s=s: env[s])),
)


def _combine(children):
    pair = st.tuples(children, children)
    add = pair.map(lambda p: (p[0][0] + p[1][0], lambda e, a=p[0][1], b=p[1][1]: a(e) + b(e)))
    sub = pair.map(lambda p: (p[0][0] - p[1][0], lambda e, a=p[0][1], b=p[1][1]: a(e) - b(e)))
    mul = pair.map(lambda p: (p[0][0] * p[1][0], lambda e, a=p[0][1], b=p[1][1]: a(e) * b(e)))
    div = st.tuples(children, st.integers(1, 7)).map(
        lambda p: (p[0][0] // p[1], lambda e, a=p[0][1], k=p[1]: a(e) // k)
    )
    return st.one_of(add, sub, mul, div)


_exprs = st.recursive(_leaf, _combine, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(_exprs, st.integers(1, 50), st.integers(1, 50), st.integers(1, 9))
def test_canonical_form_evaluates_like_integers(expr, h, w, n):
    dim, fn = expr
    env = {"H": h, "W": w, "N": n}
    assert dim.subs(env) == fn(env), str(dim)
    assert Dim.of(0) + dim == dim and dim * 1 == dim  # identities keep the canonical form


def test_window_out_symbolic_follows_torch_formula():
    assert window_out(H, 3, 1, 1, 1, False, "Conv2d") == H
    assert str(window_out(H, 3, 2, 1, 1, False, "Conv2d")) == "(H + 1)//2"
    stem = window_out(window_out(H, 7, 2, 3, 1, False, "c"), 3, 2, 1, 1, False, "p")
    for size in (224, 160, 33):
        conv = (size + 6 - 6 - 1) // 2 + 1
        assert stem.subs({"H": size}) == (conv + 2 - 2 - 1) // 2 + 1
    # ceil_mode where the last window may start past the input: still one floor division,
    # equal to torch's count at every size
    ceil = window_out(H, 2, 3, 1, 1, True, "MaxPool2d")
    for size in range(1, 20):
        pooled = torch.nn.functional.max_pool1d(torch.zeros(1, 1, size), 2, 3, 1, ceil_mode=True)
        assert ceil.subs({"H": size}).value == pooled.shape[-1]
    assert window_out(H, 3, 2, 1, 1, True, "MaxPool2d") == (H + 2) // 2
