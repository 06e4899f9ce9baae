"""Memory layout (strides) through movement ops, so that `view` can refuse what torch refuses.

`x.transpose(1, 2).view(N, -1, 768)` fails in torch at run time ("view size is not compatible
with input tensor's size and stride"): the transposed tensor is not contiguous. To say so at
validation, `transpose`, `permute`, `unsqueeze`, `expand`, `positions` and `view` record their
output's strides (as `Dim`s, in `TensorType.meta["strides"]`), and `view` runs torch's own
stride computation (`computeStride` in ATen) over them. A tensor without recorded strides is
contiguous. One-input elementwise ops (relu, gelu, dropout, x * 2) keep a dense permuted layout
as torch does (`elementwise`); ops that write a new tensor (softmax, LayerNorm, matmul,
masked_fill, Linear) give a contiguous one (`fresh`). Where torch's choice is not followed (an
elementwise op over two differently laid out tensors), the output is taken as contiguous: that
can let an invalid view through, never refuse a valid one.
"""

from functools import cmp_to_key

from graphspec.core.shapes import Dim, TensorType

Strides = tuple[Dim, ...]


class _UndecidedError(Exception):
    """Two symbolic sizes whose order depends on their values: no verdict."""


def _mul(a: Dim, b: Dim) -> Dim:
    return Dim(0) if 0 in (a.coeff, b.coeff) else a * b


def contiguous_strides(shape: tuple[Dim, ...]) -> Strides:
    strides, step = [], Dim(1)
    for size in reversed(shape):
        strides.append(step)
        step = _mul(step, size)
    return tuple(reversed(strides))


def strides_of(x: TensorType) -> Strides:
    return x.meta.get("strides") or contiguous_strides(x.shape)


def fresh(x: TensorType) -> TensorType:
    """x's type as the output of an op that writes a new tensor: no recorded strides.

    Safe by construction: a contiguous tensor can always be viewed, so forgetting a layout can
    only let an invalid view through, never refuse a valid one.
    """
    return TensorType(x.shape, x.dtype)


def elementwise(x: TensorType, out: TensorType) -> TensorType:
    """A one-input elementwise op (relu, x * 2): torch keeps a dense permuted layout (a
    transposed input gives a transposed output) and writes an overlapping one (an expanded
    input) densely, taken here as contiguous."""
    strides = x.meta.get("strides")
    return with_strides(out, strides) if strides and _dense(x.shape, strides) else fresh(out)


def _dense(shape: tuple[Dim, ...], strides: Strides) -> bool:
    """No gaps and no overlap: sorted by stride, each dim steps over exactly the ones inside."""
    dims = [(st, size) for st, size in zip(strides, shape, strict=True) if size != Dim(1)]
    try:
        dims.sort(key=cmp_to_key(lambda a, b: -1 if _less(a[0], b[0]) else int(a[0] != b[0])))
    except _UndecidedError:
        return False
    step = Dim(1)
    for stride, size in dims:
        if stride != step:
            return False
        step = _mul(step, size)
    return True


def with_strides(x: TensorType, strides: Strides) -> TensorType:
    """`x` recording `strides`, or plain (contiguous) when they are the contiguous ones."""
    if strides == contiguous_strides(x.shape):
        return TensorType(x.shape, x.dtype)
    return TensorType(x.shape, x.dtype, {"strides": strides})


def _less(a: Dim, b: Dim) -> bool:
    """a < b for sizes (symbols taken as larger than 1)."""
    if a == b:
        return False
    if b.divide(a) is not None:
        return True
    if a.divide(b) is not None:
        return False
    if a.is_static and b.is_static:
        return a.value < b.value
    raise _UndecidedError


def view_strides(x: TensorType, shape: tuple[Dim, ...]) -> Strides | None:
    """The strides of `x.view(shape)`, or None where torch refuses the view."""
    old, strides = x.shape, strides_of(x)
    if not old or Dim(0) in old:
        return contiguous_strides(shape)
    try:
        return _compute_stride(old, strides, shape)
    except _UndecidedError:
        return contiguous_strides(shape)  # no verdict: let it pass, as before strides


def _compute_stride(
    old: tuple[Dim, ...], strides: Strides, shape: tuple[Dim, ...]
) -> Strides | None:
    """ATen's computeStride: walk the input's contiguous chunks from the back, and match each
    with a run of the new sizes whose product equals the chunk's."""
    new = [Dim(1)] * len(shape)
    view_d, base = len(shape) - 1, strides[-1]
    chunk, viewed = Dim(1), Dim(1)
    for d in range(len(old) - 1, -1, -1):
        chunk = chunk * old[d]
        if d > 0 and (old[d - 1] == Dim(1) or strides[d - 1] == _mul(chunk, base)):
            continue  # the chunk goes on
        while view_d >= 0 and (_less(viewed, chunk) or shape[view_d] == Dim(1)):
            new[view_d] = _mul(viewed, base)
            viewed = viewed * shape[view_d]
            view_d -= 1
        if viewed != chunk:
            return None
        if d > 0:
            base, chunk, viewed = strides[d - 1], Dim(1), Dim(1)
    return tuple(new) if view_d == -1 else None


def transposed(x: TensorType, out: TensorType, order: list[int]) -> TensorType:
    """`out` (x with its dims reordered as `order`) with x's strides reordered to match."""
    strides = strides_of(x)
    return with_strides(out, tuple(strides[a] for a in order))


def unsqueezed(x: TensorType, out: TensorType, axis: int) -> TensorType:
    strides = list(strides_of(x))
    step = _mul(x.shape[axis], strides[axis]) if axis < x.rank else Dim(1)
    strides.insert(axis, step)
    return with_strides(out, tuple(strides))


def expanded(x: TensorType, out: TensorType) -> TensorType:
    """ATen's inferExpandGeometry: a grown dim (or a new leading one) gets stride 0."""
    old = strides_of(x)
    lead = out.rank - x.rank
    strides: list[Dim] = [Dim(0)] * out.rank
    for i in range(out.rank - 1, -1, -1):
        have = x.shape[i - lead] if i >= lead else Dim(1)
        if i >= lead:
            stride = old[i - lead]
        else:
            stride = _mul(out.shape[i + 1], strides[i + 1]) if i + 1 < out.rank else Dim(1)
        strides[i] = stride if have == out.shape[i] else Dim(0)
    return with_strides(out, tuple(strides))
