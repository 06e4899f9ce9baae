"""Pieces of a tensor: `split` and `chunk` (several outputs), `narrow`, `squeeze`, and the
triangles `tril`/`triu` (a causal mask is `tril` of a square of ones).

`split` and `chunk` return one output per piece, named `out0`, `out1`, ...: a later node reads
one as `qkv.out1`, and a plain `qkv` reads the first. The count follows from the input's size
along `dim`, so that size must be concrete (or, for `chunk`, divisible by `chunks`).
"""

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr

from graphspec.core.fields import Int, NonNeg, Size
from graphspec.core.shapes import Dim, TensorType, normalize_dim
from graphspec.ops.base import Cost, Op, ShapeError, View
from graphspec.ops.tensor import check_dim

MAX_PIECES = 64
"""More outputs than this would be unreadable as a spec; torch has no such limit."""


class _Pieces(View, Op):
    dim: Int = 0
    """The dim to cut along."""
    _sizes: tuple[Dim, ...] = PrivateAttr(default=())

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        """One per piece, once `resolve` has counted them."""
        return tuple(f"out{i}" for i in range(max(len(self._sizes), 1)))

    def resolve(self, inputs: list[TensorType]) -> "_Pieces":
        (x,) = inputs
        if x.rank == 0:
            raise ShapeError(f"{self.op} needs an input with at least one dim, got {x}")
        axis = check_dim(self.dim, x.rank, x, self.op)
        sizes = self.pieces(x.shape[axis])
        if len(sizes) > MAX_PIECES:
            raise ShapeError(
                f"{self.op}: {len(sizes)} pieces, more than the {MAX_PIECES} a spec may name",
                code="E-LIMIT",
            )
        resolved = self.model_copy()
        resolved._sizes = tuple(sizes)
        return resolved

    def pieces(self, size: Dim) -> list[Dim]:
        raise NotImplementedError

    def infer(self, inputs: list[TensorType]) -> tuple[TensorType, ...]:
        (x,) = inputs
        axis = check_dim(self.dim, x.rank, x, self.op)
        return tuple(
            x.with_shape((*x.shape[:axis], size, *x.shape[axis + 1 :])) for size in self._sizes
        )

    def emit_call(self, node: str, args: list[str]) -> str:
        call = super().emit_call(node, args)
        return call + "[0]" if len(self._sizes) == 1 else call  # one piece: a tensor, not a tuple


def _concrete(op: Op, size: Dim) -> int:
    if not size.is_static:
        raise ShapeError(
            f"{op.op} needs a concrete size along dim {op.dim}, got symbolic '{size}'",
            field="dim",
            hint="the number of outputs follows from that size",
        )
    return size.value


class split(_Pieces):  # noqa: N801 - op names are torch's own
    """torch.split: pieces of `split_size_or_sections` along `dim` (the last one may be
    smaller), or pieces of the sizes listed (`[768, 768, 768]` for q, k, v)."""

    op: Literal["split"]
    split_size_or_sections: Size | Annotated[list[NonNeg], Field(min_length=1, max_length=64)]
    """One size for equal pieces, or the size of each piece (they must add up to the dim)."""
    torch_name = "torch.split"
    positional = ("split_size_or_sections",)

    def pieces(self, size: Dim) -> list[Dim]:
        spec = self.split_size_or_sections
        if isinstance(spec, list):
            if size.is_static and sum(spec) == size.value:
                return [Dim(s) for s in spec]
            raise ShapeError(
                f"split: sections {spec} add up to {sum(spec)}, not the size {size} of dim "
                f"{self.dim}",
                field="split_size_or_sections",
            )
        total = _concrete(self, size)
        if total == 0:
            return [Dim(0)]
        return [Dim(min(spec, total - start)) for start in range(0, total, spec)]


class chunk(_Pieces):  # noqa: N801
    """torch.chunk: `chunks` pieces along `dim`, of ceil(size / chunks) each (so possibly fewer
    pieces than asked, as in torch); `chunk: 3` cuts (N, L, 3*C) into q, k and v."""

    op: Literal["chunk"]
    chunks: Size
    """How many pieces to cut (fewer when the size does not allow them)."""
    torch_name = "torch.chunk"
    positional = ("chunks",)

    def pieces(self, size: Dim) -> list[Dim]:
        exact = size.divide(Dim(self.chunks))
        if not size.is_static and exact is not None:
            return [exact] * self.chunks
        total = _concrete(self, size)
        if total == 0:
            return [Dim(0)] * self.chunks
        step = -(-total // self.chunks)
        return [Dim(min(step, total - start)) for start in range(0, total, step)]


class narrow(View, Op):  # noqa: N801
    """Tensor.narrow: `length` entries of `dim` from `start` (negative counts from the end);
    the slice x[:, start:start + length] along dim 1, as a view."""

    op: Literal["narrow"]
    dim: Int
    """The dim to take the entries from."""
    start: Int
    """The first entry kept (negative: from the end)."""
    length: NonNeg
    """How many entries are kept."""
    torch_name = "Tensor.narrow"
    positional = ("dim", "start", "length")

    def least_sizes(self, inputs: list[TensorType]) -> list[tuple[Dim, int]]:
        x = inputs[0]
        axis = normalize_dim(self.dim, x.rank) if x.rank else None
        if axis is None:
            return []
        return [(x.shape[axis], -self.start if self.start < 0 else self.start + self.length)]

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if x.rank == 0:
            raise ShapeError(f"narrow needs an input with at least one dim, got {x}")
        axis = check_dim(self.dim, x.rank, x, "narrow")
        size = x.shape[axis]
        if not size.is_static:  # taken as long enough (least_sizes), as for a kernel
            if self.start < 0 and self.length > -self.start:
                raise ShapeError(
                    f"narrow: {self.length} entries from {self.start} (counted from the end) "
                    f"run past the end of dim {self.dim} of {x}",
                    field="length",
                    hint=f"a slice starting {-self.start} from the end has at most "
                    f"{-self.start} entries",
                )
            return x.with_shape((*x.shape[:axis], Dim(self.length), *x.shape[axis + 1 :]))
        start = self.start + size.value if self.start < 0 else self.start
        if not 0 <= start <= size.value or start + self.length > size.value:
            raise ShapeError(
                f"narrow: entries {self.start} to {self.start + self.length} are outside dim "
                f"{self.dim} of {x}",
                field="length",
                hint=f"start + length must be at most {size.value}",
            )
        return x.with_shape((*x.shape[:axis], Dim(self.length), *x.shape[axis + 1 :]))


class squeeze(View, Op):  # noqa: N801
    """Tensor.squeeze: drops size-1 dims (the ones listed in `dim`, or all of them); a listed
    dim of another size stays, as in torch."""

    op: Literal["squeeze"]
    dim: Int | Annotated[list[Int], Field(min_length=1, max_length=16)] | None = None
    """The dim(s) to drop if their size is 1; left out: every size-1 dim."""
    torch_name = "Tensor.squeeze"
    positional = ("dim",)

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if self.dim is None:
            axes = set(range(x.rank))
        else:
            listed = [self.dim] if isinstance(self.dim, int) else self.dim
            named = [check_dim(d, max(x.rank, 1), x, "squeeze") for d in listed]
            if len(set(named)) != len(named):
                raise ShapeError(f"squeeze: dims {self.dim} name a dim twice", field="dim")
            axes = set(named)
        for a in sorted(axes):
            if a < x.rank and not x.shape[a].is_static:
                raise ShapeError(
                    f"squeeze: dim {a} of {x} has symbolic size '{x.shape[a]}', which may or "
                    f"may not be 1",
                    field="dim",
                    hint="name only the size-1 dims in dim",
                )
        kept = [d for i, d in enumerate(x.shape) if not (i in axes and d == Dim(1))]
        return x.with_shape(tuple(kept))


class tril(Op):  # noqa: N801
    """torch.tril: zeroes above the `diagonal`-th diagonal of the last two dims."""

    op: Literal["tril"]
    diagonal: Int = 0
    """0: the main diagonal; 1 keeps one more above it, -1 one fewer."""
    torch_name = "torch.tril"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if x.rank < 2:
            raise ShapeError(
                f"{self.op} needs a matrix (rank 2 or more), got rank {x.rank} {x}",
                hint="unsqueeze or view the input to (..., rows, columns)",
            )
        return TensorType(x.shape, x.dtype)

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=0)  # a masked copy: backward masks the gradient the same way


class triu(tril):  # noqa: N801
    """torch.triu: zeroes below the `diagonal`-th diagonal of the last two dims."""

    op: Literal["triu"]
    torch_name = "torch.triu"
