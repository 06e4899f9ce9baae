"""Lookups by integer id: `nn.Embedding`, `embedding` (F.embedding over a table the spec holds,
for weight tying), and `positions` (the ids 0..L-1 of each sequence)."""

from typing import Literal

from pydantic import PrivateAttr

from graphspec.core.fields import Bool, Int, PosFloat, Size
from graphspec.core.shapes import Dim, TensorType
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, ShapeError, State, params_state

ID_DTYPES = ("int64", "int32")


class Embedding(Op):
    """torch.nn.Embedding: a table of `num_embeddings` rows; ids (..., ) -> (..., embedding_dim)."""

    op: Literal["Embedding"]
    num_embeddings: Size
    """How many ids the table holds (the vocabulary size)."""
    embedding_dim: Size
    """Size of each row: the vector an id becomes."""
    padding_idx: Int | None = None
    """This id's row stays zero and gets no gradient."""
    max_norm: PosFloat | None = None
    """Rows looked up are rescaled to at most this norm."""
    norm_type: PosFloat = 2.0
    """The p of the p-norm for max_norm."""
    scale_grad_by_freq: Bool = False
    """Scale gradients by the inverse frequency of each id in the batch."""
    sparse: Bool = False
    """Sparse gradients for the table (for optimizers that take them)."""
    kind = "module"
    torch_name = "nn.Embedding"
    _rows_axis: int | None = PrivateAttr(default=None)
    """The ids' axis whose length bounds them (ids from `positions`: 0 .. L - 1)."""

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(saved=("in0",))  # a gather; backward scatters by the kept ids

    def resolve(self, inputs: list[TensorType]) -> "Embedding":
        n, idx = self.num_embeddings, self.padding_idx
        if idx is not None and not -n <= idx < n:
            raise ShapeError(
                f"padding_idx {idx} is outside the table of num_embeddings {n}",
                code="E-CONSTRAINT",
                field="padding_idx",
                hint=f"use an id from {-n} to {n - 1}",
            )
        below = inputs[0].meta.get("below") if inputs else None
        if below is None:
            return self
        if below.is_static and below.value > n:
            raise ShapeError(
                f"the ids are positions 0 to {below.value - 1}, but the table has "
                f"num_embeddings {n} rows",
                code="E-SHAPE",
                field="num_embeddings",
                hint=f"give sequences of at most {n} positions, or write num_embeddings: "
                f"{below.value} (a longer position table)",
            )
        resolved = self.model_copy()
        resolved._rows_axis = next(
            (i for i, d in enumerate(inputs[0].shape) if d == below), None
        )  # the same axis of the output, which keeps the ids' dims first
        return resolved

    def most_sizes(self) -> list[tuple[int, int, str, str]]:
        if self._rows_axis is None:
            return []
        n = self.num_embeddings
        return [
            (
                self._rows_axis,
                n,
                f"positions 0 to {{last}} look up a table of num_embeddings {n} rows",
                f"give sequences of at most {n} positions, or a longer table (num_embeddings)",
            )
        ]

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (ids,) = inputs
        if ids.dtype not in ID_DTYPES:
            raise ShapeError(
                f"Embedding looks up integer ids, got a {ids.dtype} tensor {ids}",
                code="E-DTYPE",
                hint="declare the ids input with dtype: int64 (torch.long)"
                if ids.dtype != "bool"
                else "convert the mask to ids first",
            )
        return TensorType((*ids.shape, Dim(self.embedding_dim)), "float32")

    def param_count(self) -> int:
        return self.num_embeddings * self.embedding_dim

    def state(self) -> dict[str, State]:
        return params_state(weight=(self.num_embeddings, self.embedding_dim))

    def emit_init(self) -> str:
        return self.torch_call("nn.Embedding", ("num_embeddings", "embedding_dim"))


class embedding(Op):  # noqa: N801 - op names are torch's own
    """torch.nn.functional.embedding(ids, weight): rows of a (num, dim) table the spec declares
    under `params:`, so the same table can also be the output head (GPT's tied weights)."""

    op: Literal["embedding"]
    padding_idx: Int | None = None
    """The row for padding ids: its gradient is zero (negative counts from the end)."""
    arity = (2, 2)
    torch_name = "F.embedding"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(saved=("in0",))  # a gather; backward scatters by the kept ids

    def infer(self, inputs: list[TensorType]) -> TensorType:
        ids, weight = inputs
        if ids.dtype not in ID_DTYPES:
            raise ShapeError(
                f"embedding looks up integer ids, got a {ids.dtype} tensor {ids}",
                code="E-DTYPE",
                hint="declare the ids input with dtype: int64 (torch.long)",
            )
        if weight.rank != 2:
            raise ShapeError(
                f"embedding's table must be 2-d (num_embeddings, embedding_dim), got {weight}",
                hint="declare the table as a param with shape [num_embeddings, embedding_dim]",
            )
        if weight.dtype not in ("float32", "float64", "float16", "bfloat16"):
            raise ShapeError(
                f"embedding's table must be floating point, got {weight.dtype}", code="E-DTYPE"
            )
        rows = weight.shape[0]
        if self.padding_idx is not None and not rows.is_static:
            raise ShapeError(
                f"padding_idx needs a concrete table size, got symbolic '{rows}'",
                field="padding_idx",
            )
        if self.padding_idx is not None:
            n = rows.value
            if not -n <= self.padding_idx < n:
                raise ShapeError(
                    f"padding_idx {self.padding_idx} is outside the table of {n} rows",
                    code="E-CONSTRAINT",
                    field="padding_idx",
                )
        return TensorType((*ids.shape, weight.shape[1]), weight.dtype)

    def emit_call(self, node: str, args: list[str]) -> str:
        return self.torch_call("F.embedding", leading=tuple(args))


class positions(Op):  # noqa: N801 - named like the torch functions it stands for
    """The position of each id in its sequence, for a position embedding: (N, L) -> (N, L) int64.

    Emits `torch.arange(ids.size(1), device=ids.device).unsqueeze(0).expand_as(ids)`.
    """

    op: Literal["positions"]
    torch_name = "torch.arange"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy or a constant: no arithmetic, nothing kept

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (ids,) = inputs
        if ids.rank != 2:
            raise ShapeError(
                f"positions expects ids of shape (N, L), got rank {ids.rank} {ids}",
                hint="feed it the (batch, sequence) ids tensor",
            )
        # arange(L).unsqueeze(0).expand_as(ids): one row of positions, repeated with stride 0
        out = layout.with_strides(TensorType(ids.shape, "int64"), (Dim(0), Dim(1)))
        out.meta["below"] = ids.shape[1]  # every id is less than L: a position table's bound
        return out

    def emit_call(self, node: str, args: list[str]) -> str:
        ids = args[0]
        return f"torch.arange({ids}.size(1), device={ids}.device).unsqueeze(0).expand_as({ids})"
