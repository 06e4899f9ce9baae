"""Movement and indexing ops, as tensor methods: `unsqueeze`, `expand`, `repeat`, `transpose`,
`permute`, `contiguous`, `masked_fill`.

Dims follow torch: negative dims count from the end, and a dim out of range is an error that
names the input's rank.
"""

from typing import Literal

from pydantic import Field, PrivateAttr

from graphspec.core.fields import Int, NonNeg, Symbol, SymbolicSize
from graphspec.core.shapes import Dim, TensorType, normalize_dim
from graphspec.ops import layout
from graphspec.ops.arith import Scalar, scalar_code
from graphspec.ops.base import (
    Cost,
    Op,
    ShapeError,
    SizeSource,
    dim_code,
    literal,
    numel,
    size_code,
    size_source,
)
from graphspec.ops.combine import broadcast


def check_dim(dim: int, rank: int, x: TensorType, what: str, field: str = "dim") -> int:
    """The non-negative form of `dim` among `rank` dims, or an error naming the valid range."""
    axis = normalize_dim(dim, rank)
    if axis is None:
        raise ShapeError(
            f"{what}: dim {dim} is out of range for the rank-{x.rank} input {x} "
            f"(valid: {-rank} to {rank - 1})",
            field=field,
        )
    return axis


def _sizes(items: list[str]) -> str:
    """Sizes as torch's varargs (`x.permute(0, 2, 1)`); none at all is written `()`."""
    return ", ".join(items) if items else "()"


class unsqueeze(Op):  # noqa: N801 - op names are torch's own
    """Tensor.unsqueeze: a new size-1 dim at `dim` (`mask.unsqueeze(1)`: (N, L) -> (N, 1, L))."""

    op: Literal["unsqueeze"]
    dim: Int
    """Where the new dim goes, from -(rank + 1) to rank."""
    torch_name = "Tensor.unsqueeze"

    shares_input = "view"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        axis = check_dim(self.dim, x.rank + 1, x, "unsqueeze")
        return layout.unsqueezed(x, x.with_shape((*x.shape[:axis], Dim(1), *x.shape[axis:])), axis)

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.unsqueeze({self.dim})"


class expand(Op):  # noqa: N801
    """Tensor.expand: size-1 dims grow to `size` without copying; -1 keeps a dim as it is.

    A symbol (`L`) is a dim of the input or a size of the model's (block's) inputs (`N`: a
    `[1, 1, D]` param expanded to the batch), which the code reads at run time.
    """

    op: Literal["expand"]
    size: list[Int | Symbol] = Field(max_length=16)
    """The new shape: sizes, -1 to keep a dim, or symbols of the input or of the model's
    inputs."""
    torch_name = "Tensor.expand"

    shares_input = "view"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()

    _axes: dict[str, SizeSource] = PrivateAttr(default_factory=dict)
    _keep: set[int] = PrivateAttr(default_factory=set)

    def resolve(self, inputs: list[TensorType]) -> "expand":
        (x,) = inputs
        resolved = self.model_copy()
        resolved._axes = {s: size_source(s, x, "expand") for s in self.size if isinstance(s, str)}
        lead = len(self.size) - x.rank
        # A symbol naming the size a dim already has is written -1, as a person would.
        resolved._keep = {
            i
            for i, s in enumerate(self.size)
            if isinstance(s, str) and i >= lead and x.shape[i - lead] == Dim.of(s)
        }
        return resolved

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        lead = len(self.size) - x.rank
        if lead < 0:
            raise ShapeError(
                f"expand: {len(self.size)} sizes for a rank-{x.rank} input {x}",
                field="size",
                hint="give at least one size per input dim",
            )
        out = [self._target(entry, i, x, lead) for i, entry in enumerate(self.size)]
        return layout.expanded(x, x.with_shape(tuple(out)))

    def _target(self, entry: int | str, i: int, x: TensorType, lead: int) -> Dim:
        have = x.shape[i - lead] if i >= lead else Dim(1)
        if entry == -1:
            if i < lead:
                raise ShapeError(
                    f"expand: -1 at position {i} is a new leading dim, with no size to keep",
                    field="size",
                    hint="give the new dim's size",
                )
            return have
        if isinstance(entry, int) and entry < 0:
            raise ShapeError(f"expand: invalid size {entry}", field="size", code="E-RANGE")
        want = Dim.of(entry)
        if have not in (want, Dim(1)):
            raise ShapeError(
                f"expand: cannot expand {x} to ({self._listed()}): dim {i - lead} has size {have}, "
                f"not 1",
                field="size",
                hint="only size-1 dims can grow; use repeat to copy",
            )
        return want

    def _listed(self) -> str:
        return ", ".join(map(str, self.size))

    def emit_call(self, node: str, args: list[str]) -> str:
        sizes = [self._code(e, i, args[0]) for i, e in enumerate(self.size)]
        return f"{args[0]}.expand({_sizes(sizes)})"

    def _code(self, entry: int | str, i: int, arg: str) -> str:
        if i in self._keep:
            return "-1"
        if isinstance(entry, int):
            return literal(entry)
        # An unresolved op (never emitted by codegen) reads the name, which torch refuses.
        src = self._axes.get(entry)
        return size_code(src, arg) if src else f"{arg}.size({entry!r})"


class repeat(Op):  # noqa: N801
    """Tensor.repeat: tiles the tensor `repeats[i]` times along each dim (copies, unlike expand).

    A count may be a size of the model's (block's) inputs, or arithmetic over them (`N`: one
    class token per sample), read at run time."""

    op: Literal["repeat"]
    repeats: list[NonNeg | Symbol | SymbolicSize] = Field(max_length=16)
    """Copies along each dim (new leading dims first): numbers, or sizes of the inputs."""
    torch_name = "Tensor.repeat"
    _axes: dict[str, SizeSource] = PrivateAttr(default_factory=dict)

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy or a constant: no arithmetic, nothing kept

    def resolve(self, inputs: list[TensorType]) -> "repeat":
        (x,) = inputs
        resolved = self.model_copy()
        resolved._axes = {
            symbol: size_source(symbol, x, "repeat", "repeats")
            for entry in self.repeats
            if isinstance(entry, str)
            for symbol in Dim.of(entry).syms
        }
        return resolved

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        lead = len(self.repeats) - x.rank
        if lead < 0:
            raise ShapeError(
                f"repeat: {len(self.repeats)} repeats for a rank-{x.rank} input {x}",
                field="repeats",
                hint="give at least one repeat count per input dim",
            )
        padded = (Dim(1),) * lead + x.shape
        out = tuple(_times(d, r) for d, r in zip(padded, self.repeats, strict=True))
        return x.with_shape(out)

    def emit_call(self, node: str, args: list[str]) -> str:
        counts = [
            dim_code(Dim.of(r), lambda symbol: size_code(self._axes[symbol], args[0]))
            if isinstance(r, str)
            else str(r)
            for r in self.repeats
        ]
        return f"{args[0]}.repeat({_sizes(counts)})"


def _times(dim: Dim, count: int | str) -> Dim:
    if isinstance(count, str):
        return dim * Dim.of(count)
    return Dim(0) if count == 0 else dim * count


class transpose(Op):  # noqa: N801
    """Tensor.transpose: swaps two dims (`q.transpose(1, 2)`: (N, L, H, D) -> (N, H, L, D))."""

    op: Literal["transpose"]
    dim0: Int
    """The first of the two dims swapped."""
    dim1: Int
    """The second of the two dims swapped."""
    torch_name = "Tensor.transpose"

    shares_input = "view"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        rank = max(x.rank, 1)  # torch lets a 0-d tensor name dim 0 or -1
        a = check_dim(self.dim0, rank, x, "transpose", "dim0")
        b = check_dim(self.dim1, rank, x, "transpose", "dim1")
        if x.rank == 0:
            return x
        order = list(range(x.rank))
        order[a], order[b] = b, a
        return layout.transposed(x, x.with_shape(tuple(x.shape[i] for i in order)), order)

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.transpose({self.dim0}, {self.dim1})"


def permuted(x: TensorType, dims: list[int], what: str) -> TensorType:
    """`x.permute(dims)`: each dim of x once, in a new order (a view: the strides move along)."""
    if len(dims) != x.rank:
        raise ShapeError(
            f"{what}: {len(dims)} dims for a rank-{x.rank} input {x}",
            field="dims",
            hint=f"list each of the {x.rank} dims once",
        )
    axes = [check_dim(d, x.rank, x, what, "dims") for d in dims]
    if len(set(axes)) != len(axes):
        raise ShapeError(
            f"{what}: dims {dims} repeat a dim",
            field="dims",
            hint=f"list each of the {x.rank} dims once",
        )
    return layout.transposed(x, x.with_shape(tuple(x.shape[a] for a in axes)), axes)


class permute(Op):  # noqa: N801
    """Tensor.permute: reorders all dims (`x.permute(0, 2, 1, 3)`)."""

    op: Literal["permute"]
    dims: list[Int] = Field(max_length=16)
    """The input's dims in their new order."""
    torch_name = "Tensor.permute"

    shares_input = "view"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return permuted(inputs[0], self.dims, self.op)

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.permute({_sizes(list(map(str, self.dims)))})"


class contiguous(Op):  # noqa: N801
    """Tensor.contiguous: same shape, laid out in memory so that `view` works after a transpose."""

    op: Literal["contiguous"]
    torch_name = "Tensor.contiguous"

    def saves_inputs(self) -> bool:
        return False  # a copy: the gradient passes through

    shares_input = "layout"  # the input itself when it is contiguous already

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy or a constant: no arithmetic, nothing kept

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return TensorType(inputs[0].shape, inputs[0].dtype)  # no strides recorded: contiguous

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.contiguous({', '.join(args[1:])})"  # extra args: arity refused


_RANGES = {
    "float16": (-65504.0, 65504.0),
    "bfloat16": (-3.3895313892515355e38, 3.3895313892515355e38),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
"""What a fill value must fit in; torch refuses others ("cannot be converted without overflow")."""


class masked_fill(Op):  # noqa: N801
    """Tensor.masked_fill: `value` where the bool mask is True (`scores.masked_fill(mask, -1e9)`).

    Inputs: the tensor, then the mask; the two broadcast together, as torch's out-of-place
    masked_fill does.
    """

    op: Literal["masked_fill"]
    value: Scalar
    """What the masked positions become (e.g. -1e9 before a softmax)."""
    arity = (2, 2)
    torch_name = "Tensor.masked_fill"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("in1",))  # backward masks by the kept mask

    def infer(self, inputs: list[TensorType]) -> TensorType:
        x, mask = inputs
        if mask.dtype != "bool":
            raise ShapeError(
                f"masked_fill needs a bool mask, got {mask.dtype} {mask}",
                code="E-DTYPE",
                hint="build the mask with a comparison (eq), so it is bool",
            )
        try:
            shape = broadcast([x, mask], "masked_fill")
        except ShapeError:
            raise ShapeError(
                f"masked_fill: the mask {mask} (rank {mask.rank}) does not broadcast to the tensor "
                f"{x} (rank {x.rank})",
                hint="size-1 dims repeat: unsqueeze the mask to the tensor's rank, e.g. "
                "(N, 1, 1, L) against (N, H, L, L)",
            ) from None
        self._check_value(x.dtype)
        return x.with_shape(shape)

    def _check_value(self, dtype: str) -> None:
        low, high = _RANGES.get(dtype, (float("-inf"), float("inf")))
        if not low <= self.value <= high:
            raise ShapeError(
                f"masked_fill: value {self.value} overflows {dtype}",
                code="E-RANGE",
                field="value",
                hint=f"use a value from {low:g} to {high:g} for {dtype}",
            )

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.masked_fill({args[1]}, {scalar_code(self.value)})"
