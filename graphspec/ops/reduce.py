"""Reductions over dims: `mean`, `sum`, `amax`, `amin` (torch functions, `keepdim` as in torch).

`dim` is one dim, a list of dims, or left out for all of them. A reduced dim is dropped, or
kept with size 1 under `keepdim: true` (global average pooling is `mean` over [2, 3]).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from graphspec.core.fields import Bool, Int
from graphspec.core.shapes import FLOAT_DTYPES, Dim, TensorType
from graphspec.ops.base import Cost, Op, ShapeError, numel
from graphspec.ops.tensor import check_dim

Dims = Int | Annotated[list[Int], Field(min_length=1, max_length=16)]


def reduced_axes(op: Op, x: TensorType, dim: int | list[int] | None) -> set[int]:
    """The non-negative dims that `dim` names (all when None), each named once."""
    if dim is None:
        return set(range(x.rank))
    listed = [dim] if isinstance(dim, int) else dim
    rank = max(x.rank, 1)  # a 0-d tensor takes dim 0 or -1
    axes = [check_dim(d, rank, x, op.op) for d in listed]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op.op}: dims {dim} name a dim twice", field="dim")
    return {a for a in axes if a < x.rank}


class _Reduction(Op):
    dim: Dims | None = None
    """The dim(s) to reduce; left out: all of them."""
    keepdim: Bool = False
    """Keep each reduced dim, with size 1."""
    empty_ok: ClassVar[bool] = True
    """Whether a reduced dim may have size 0 (a sum of nothing is 0; a max is undefined)."""

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if self.dim is None and self.keepdim and self.op in ("mean", "sum"):
            raise ShapeError(
                f"{self.op}: keepdim needs dim (torch.{self.op} has no keepdim over all dims)",
                field="keepdim",
                hint="list the dims, e.g. dim: [0, 1, 2, 3]",
            )
        axes = reduced_axes(self, x, self.dim)
        if not self.empty_ok and any(x.shape[a] == Dim(0) for a in axes):
            raise ShapeError(f"{self.op}: cannot reduce an empty dim of {x}", field="dim")
        shape = [Dim(1) if i in axes else d for i, d in enumerate(x.shape)]
        if not self.keepdim:
            shape = [d for i, d in enumerate(x.shape) if i not in axes]
        return TensorType(tuple(shape), self.dtype(x))

    def dtype(self, x: TensorType) -> str:
        return x.dtype

    def saves_result(self) -> bool:
        return not self.empty_ok  # a max's backward compares the input with the result

    def saves_inputs(self) -> bool:
        return not self.empty_ok  # a sum's and a mean's backward spread the gradient by sizes

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # a sum's or a mean's backward spreads the gradient: it needs only the sizes; a max's
        # compares the input with the result
        saved = ("in0", "out0")[: 1 + bool(outputs[0].rank)] if not self.empty_ok else ()
        return Cost(flops=numel(inputs[0]), saved=saved)


class mean(_Reduction):  # noqa: N801 - op names are torch's own
    """torch.mean over `dim` (floating-point inputs, as in torch)."""

    op: Literal["mean"]
    torch_name = "torch.mean"

    def dtype(self, x: TensorType) -> str:
        if x.dtype not in FLOAT_DTYPES:
            raise ShapeError(
                f"mean needs a floating-point input, got {x.dtype}",
                code="E-DTYPE",
                hint="convert the input to float first",
            )
        return x.dtype


class sum(_Reduction):  # noqa: A001, N801 - torch.sum, shadowing the builtin only here
    """torch.sum over `dim`; integer and bool inputs sum to int64, as in torch."""

    op: Literal["sum"]
    torch_name = "torch.sum"

    def dtype(self, x: TensorType) -> str:
        return x.dtype if x.dtype in FLOAT_DTYPES else "int64"


class amax(_Reduction):  # noqa: N801
    """torch.amax over `dim`: the largest value (no indices; see torch.max for those)."""

    op: Literal["amax"]
    torch_name = "torch.amax"
    empty_ok = False


class amin(_Reduction):  # noqa: N801
    """torch.amin over `dim`: the smallest value."""

    op: Literal["amin"]
    torch_name = "torch.amin"
    empty_ok = False
