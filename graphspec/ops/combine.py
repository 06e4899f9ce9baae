"""Ops over several inputs: `add` (broadcasting), `cat` and `stack`."""

from typing import Literal

from graphspec.core.fields import Int
from graphspec.core.shapes import FLOAT_DTYPES, Dim, TensorType, normalize_dim
from graphspec.ops.base import Cost, Op, ShapeError, numel


def broadcast(shapes: list[TensorType], what: str) -> tuple[Dim, ...]:
    """torch's broadcasting, right-aligned; symbolic sizes must match exactly."""
    rank = max(t.rank for t in shapes)
    out: list[Dim] = []
    for axis in range(-rank, 0):
        sizes = {t.shape[axis] for t in shapes if t.rank >= -axis} - {Dim(1)}
        if len(sizes) > 1:
            listed = " and ".join(str(t) for t in shapes)
            raise ShapeError(f"{what}: shapes {listed} do not broadcast at dim {axis}")
        out.append(sizes.pop() if sizes else Dim(1))
    return tuple(out)


_ORDER = ("bool", "int32", "int64", "float16", "bfloat16", "float32", "float64")


def _category(dtype: str) -> int:
    return 0 if dtype == "bool" else 2 if dtype in FLOAT_DTYPES else 1


def _promote(dtypes: list[str]) -> str | None:
    if not dtypes:
        return None
    if {"float16", "bfloat16"} <= set(dtypes) and max(dtypes, key=_ORDER.index) == "bfloat16":
        return "float32"  # neither half type holds the other
    return max(dtypes, key=_ORDER.index)


def _combine(higher: str | None, lower: str | None) -> str | None:
    """c10's combine_categories: a lower-priority group only counts from a higher category."""
    if higher is None or lower is None:
        return higher or lower
    if _category(lower) > _category(higher) or higher == "bool":
        return _promote([higher, lower])
    return higher


def result_dtype(inputs: list[TensorType], scalars: tuple[int | float, ...] = ()) -> str:
    """torch's type promotion: tensors with dimensions first, then 0-d tensors, then Python
    scalars (an int counts as int64, a float as the default float32)."""
    dims = _promote([t.dtype for t in inputs if t.rank])
    zero = _promote([t.dtype for t in inputs if not t.rank])
    wrapped = _promote(["float32" if isinstance(s, float) else "int64" for s in scalars])
    return _combine(dims, _combine(zero, wrapped))


class add(Op):  # noqa: N801 - op names are torch's own
    """torch.add, written `a + b + ...` for two or more inputs."""

    op: Literal["add"]
    arity = (2, None)
    torch_name = "torch.add"

    def saves_inputs(self) -> bool:
        return False  # the gradient passes through unchanged

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]))  # backward needs nothing kept

    def infer(self, inputs: list[TensorType]) -> TensorType:
        return TensorType(broadcast(inputs, "add"), result_dtype(inputs))

    def emit_call(self, node: str, args: list[str]) -> str:
        return " + ".join(args)


class cat(Op):  # noqa: N801
    """torch.cat along `dim`: all other sizes must agree."""

    op: Literal["cat"]
    dim: Int = 0
    """The dim the inputs are joined along; every other size must agree."""
    arity = (1, None)
    torch_name = "torch.cat"

    def saves_inputs(self) -> bool:
        return False  # backward slices the gradient by sizes

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy or a constant: no arithmetic, nothing kept

    def infer(self, inputs: list[TensorType]) -> TensorType:
        first = inputs[0]
        axis = normalize_dim(self.dim, first.rank) if first.rank else None
        if axis is None:
            raise ShapeError(f"cat: dim {self.dim} out of range for rank {first.rank}", field="dim")
        for other in inputs[1:]:
            if other.rank != first.rank or any(
                a != b
                for i, (a, b) in enumerate(zip(first.shape, other.shape, strict=True))
                if i != axis
            ):
                raise ShapeError(
                    f"cat: sizes of {first} and {other} must match except in dim {self.dim}",
                )
        joined = _sum_dims([t.shape[axis] for t in inputs])
        shape = list(first.shape)
        shape[axis] = joined
        return TensorType(tuple(shape), result_dtype(inputs))

    def emit_call(self, node: str, args: list[str]) -> str:
        return tensors_call(self.torch_name, args, self.dim)


def tensors_call(name: str, args: list[str], dim: int) -> str:
    """`torch.cat((a, b), dim=1)`: a sequence of tensors, a one-tuple written `(a,)`."""
    items = ", ".join(args) + ("," if len(args) == 1 else "")
    return f"{name}(({items}), dim={dim})"


def _sum_dims(dims: list[Dim]) -> Dim:
    """The joined size: a polynomial, so `H + 16` and `2*N + 1` are sizes like any other."""
    total = Dim(0)
    for d in dims:
        total = total + d
    return total


class stack(Op):  # noqa: N801
    """torch.stack along a new `dim`: inputs of one shape, (…) x k -> (…, k, …)."""

    op: Literal["stack"]
    dim: Int = 0
    """Where the new dim goes, from -(rank + 1) to rank."""
    arity = (1, None)
    torch_name = "torch.stack"

    def saves_inputs(self) -> bool:
        return False  # backward slices the gradient by sizes

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()  # a copy: backward slices the gradient

    def infer(self, inputs: list[TensorType]) -> TensorType:
        first = inputs[0]
        axis = normalize_dim(self.dim, first.rank + 1)
        if axis is None:
            raise ShapeError(
                f"stack: dim {self.dim} is out of range for rank-{first.rank} inputs "
                f"(valid: {-first.rank - 1} to {first.rank})",
                field="dim",
            )
        for other in inputs[1:]:
            if other.shape != first.shape:
                raise ShapeError(f"stack: inputs {first} and {other} must have the same shape")
        shape = (*first.shape[:axis], Dim(len(inputs)), *first.shape[axis:])
        return TensorType(shape, result_dtype(inputs))

    def emit_call(self, node: str, args: list[str]) -> str:
        return tensors_call(self.torch_name, args, self.dim)
