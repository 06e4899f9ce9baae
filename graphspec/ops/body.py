"""The sizes a body's own inputs give it, for fields that name them (`expand: [N, -1, -1]`).

A size field (`view`, `reshape`, `expand`, `repeat`) may name a symbol of the model's or the
block's inputs (`N` of `x: [N, 3, H, W]`), not only one of the node's own input: ViT's class
token is a `[1, 1, 768]` param expanded to the batch. While `compiler.infer` types a body it
states where each input symbol can be read (`x`, axis 0); the op records it, and its code reads
`x.size(0)` in `forward`, where the body's inputs are the arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from graphspec.core.shapes import Dim, TensorType

Source = tuple[str | None, int]
"""Where a symbol is read: (None, axis) of the node's own input, (name, axis) of a body input."""

_SIZES: ContextVar[dict[str, tuple[str, int]] | None] = ContextVar("body_sizes", default=None)


@contextmanager
def inputs_of(inputs: dict[str, TensorType]) -> Iterator[None]:
    """While typing a body: each symbol of its inputs, at the first input and axis that has it."""
    table: dict[str, tuple[str, int]] = {}
    for name, t in inputs.items():
        for axis, d in enumerate(t.shape):
            if d.symbol is not None:
                table.setdefault(d.symbol, (name, axis))
    token = _SIZES.set(table)
    try:
        yield
    finally:
        _SIZES.reset(token)


def source(symbol: str, x: TensorType, what: str, field: str = "size") -> Source:
    """Where `symbol` is read at run time: a dim of the node's own input `x` if it has one, else
    a dim of one of the body's inputs; a symbol neither has is refused."""
    from graphspec.ops.base import ShapeError  # base imports nothing of this module's users

    for axis, dim in enumerate(x.shape):
        if dim == Dim.of(symbol):
            return None, axis
    sizes = _SIZES.get() or {}
    if symbol in sizes:
        return sizes[symbol]
    known = sorted(sizes)
    raise ShapeError(
        f"{what}: symbol '{symbol}' is not a dimension of the input {x}, nor a size of this "
        f"body's inputs ({', '.join(known) or 'none is a symbol'})",
        field=field,
        hint="use -1 for the one size to infer, or a symbol that the input or the inputs of "
        "the model (or block) have",
    )


def code(src: Source, arg: str) -> str:
    """`arg.size(1)` or `x.size(0)`: the expression reading a size at run time."""
    name, axis = src
    return f"{name or arg}.size({axis})"
