"""Shape-only ops: `nn.Flatten`, `torch.flatten`, `Tensor.view`, `Tensor.reshape`, `nn.Identity`."""

from typing import Literal

from pydantic import Field, PrivateAttr

from graphspec.core.fields import Int, Symbol, SymbolicSize
from graphspec.core.shapes import Dim, TensorType, dims_product, normalize_dim
from graphspec.ops import layout
from graphspec.ops.base import (
    Op,
    ShapeError,
    SizeSource,
    View,
    dim_code,
    literal,
    size_code,
    size_source,
)


def flatten_shape(x: TensorType, start_dim: int, end_dim: int, what: str) -> TensorType:
    # torch wraps dims of a scalar as if it had rank 1: only 0 and -1 are in range.
    rank = max(x.rank, 1)
    start, end = normalize_dim(start_dim, rank), normalize_dim(end_dim, rank)
    if start is None or end is None:
        raise ShapeError(
            f"{what}: dims ({start_dim}, {end_dim}) out of range for rank {x.rank} {x}",
            field="start_dim" if start is None else "end_dim",
        )
    if start > end:
        raise ShapeError(
            f"{what}: start_dim {start_dim} comes after end_dim {end_dim}", field="start_dim"
        )
    if x.rank == 0:
        return x.with_shape((Dim(1),))
    merged = dims_product(x.shape[start : end + 1])
    return x.with_shape((*x.shape[:start], merged, *x.shape[end + 1 :]))


class Flatten(View, Op):
    """torch.nn.Flatten (flattens from dim 1 by default, keeping the batch)."""

    op: Literal["Flatten"]
    start_dim: Int = 1
    """The first dim merged."""
    end_dim: Int = -1
    """The last dim merged (-1: the last one)."""
    kind = "module"
    torch_name = "nn.Flatten"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return flatten_shape(inputs[0], self.start_dim, self.end_dim, "Flatten")

    def emit_init(self) -> str:
        return self.torch_call("nn.Flatten", ("start_dim", "end_dim"))


class flatten(View, Op):  # noqa: N801 - op names are torch's own
    """torch.flatten (flattens everything by default: write start_dim: 1 to keep the batch)."""

    op: Literal["flatten"]
    start_dim: Int = 0
    """The first dim merged."""
    end_dim: Int = -1
    """The last dim merged (-1: the last one)."""
    torch_name = "torch.flatten"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return flatten_shape(inputs[0], self.start_dim, self.end_dim, "flatten")

    def emit_call(self, node: str, args: list[str]) -> str:
        return self.torch_call("torch.flatten", ("start_dim", "end_dim"), leading=(args[0],))


SizeEntry = Int | Symbol | SymbolicSize
"""A number, a symbol of the input (`N`), or arithmetic over them (`2*H`, `H*W`)."""


class view(View, Op):  # noqa: N801
    """Tensor.view: sizes may be integers, one -1, symbols of the input (`N`), or arithmetic
    over them (`2*H`, `N*H`)."""

    op: Literal["view"]
    size: list[SizeEntry] = Field(min_length=0, max_length=16)
    """The new shape, as in `x.view(N, -1, 12, 64)`; `-1` is inferred."""
    torch_name = "Tensor.view"
    _axes: dict[str, SizeSource] = PrivateAttr(default_factory=dict)
    """Where each symbol of `size` is read at run time: the input, or one of the body's."""

    def resolve(self, inputs: list[TensorType]) -> "view":
        (x,) = inputs
        axes = {}
        for entry in self.size:
            if isinstance(entry, str):
                for symbol in Dim.of(entry).syms:
                    axes[symbol] = size_source(symbol, x, self.op)
        resolved = self.model_copy()
        resolved._axes = axes
        return resolved

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        dims = [self._dim(entry) for entry in self.size]
        total = x.numel()
        known = dims_product([d for d in dims if d is not None])
        holes = [i for i, d in enumerate(dims) if d is None]
        if len(holes) > 1:
            raise ShapeError(f"{self.op}: only one -1 is allowed, got {len(holes)}", field="size")
        if holes:
            quotient = total.divide(known)
            if quotient is None:
                raise self._bad(x, dims)
            dims[holes[0]] = quotient
        elif known != total:
            raise self._bad(x, dims)
        out = x.with_shape(tuple(dims))
        strides = layout.view_strides(x, out.shape)
        if strides is None and self.op == "view":  # reshape copies instead
            raise ShapeError(
                f"view: {x} is laid out non-contiguously (by a transpose, permute or expand "
                f"before it) and cannot be viewed as {out}",
                field="size",
                hint="add a contiguous node before the view, or use reshape (which copies)",
            )
        return layout.with_strides(out, strides) if strides else out

    def _dim(self, entry: int | str) -> Dim | None:
        if isinstance(entry, str):
            return Dim.of(entry)
        if entry == -1:
            return None
        if entry < 0:
            raise ShapeError(f"{self.op}: invalid size {entry}", field="size", code="E-RANGE")
        return Dim(entry)

    def _bad(self, x: TensorType, dims: list[Dim | None]) -> ShapeError:
        want = ", ".join("-1" if d is None else str(d) for d in dims)
        return ShapeError(
            f"{self.op}: cannot view {x} ({x.numel()} elements) as ({want})",
            field="size",
            hint="the sizes must multiply to the input's element count",
        )

    def emit_call(self, node: str, args: list[str]) -> str:
        sizes = ", ".join(self._size_code(entry, args[0]) for entry in self.size)
        return f"{args[0]}.{self.op}({sizes or '()'})"  # x.view() is an error, x.view(()) is not

    def _size_code(self, entry: int | str, arg: str) -> str:
        # A symbol is read off the input at run time, where the builder recorded its axis.
        if isinstance(entry, str):
            return dim_code(Dim.of(entry), lambda symbol: size_code(self._axes[symbol], arg))
        return literal(entry)


class reshape(view):  # noqa: N801
    """Tensor.reshape: like view, copying when the memory layout requires it."""

    op: Literal["reshape"]
    torch_name = "Tensor.reshape"
    shares_input = "view"  # where the layout allows (the usual case); else a copy
    _settle: bool = PrivateAttr(default=False)
    """The rule says "a copy" over symbolic sizes, but at some sizes (a symbol of 1) torch
    views instead, with a layout a later `view` may refuse: the code then asks for the copy."""

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        out = super().infer(inputs)
        copies = "strides" in x.meta and layout.view_strides(x, out.shape) is None
        self._settle = copies and not all(d.is_static for d in x.shape)
        return out

    def emit_call(self, node: str, args: list[str]) -> str:
        code = super().emit_call(node, args)
        return f"{code}.contiguous()" if self._settle else code


class Identity(View, Op):
    """torch.nn.Identity: returns its input (a placeholder, e.g. a classifier head removed)."""

    op: Literal["Identity"]
    kind = "module"
    torch_name = "nn.Identity"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return inputs[0]
