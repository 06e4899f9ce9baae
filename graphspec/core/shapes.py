"""Tensor types for static inference: shapes over symbolic sizes, and dtypes.

A size is a `Dim`: an integer coefficient times a product of named symbols (`N`, `12*L`).
Products and exact divisions of such monomials stay monomials, which is all that flatten, view
and reshape need; a rule that would need a sum of symbols (a convolution over a symbolic height)
asks for a concrete size instead. This keeps inference exact without a computer-algebra import.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool")
FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")


@dataclass(frozen=True, order=True)
class Dim:
    """coeff * product(syms); syms is sorted, with repeats for powers."""

    coeff: int
    syms: tuple[str, ...] = ()

    @staticmethod
    def of(value: int | str | Dim) -> Dim:
        if isinstance(value, Dim):
            return value
        if isinstance(value, str):
            return Dim(1, (value,))
        return Dim(value)

    @property
    def is_static(self) -> bool:
        return not self.syms

    @property
    def value(self) -> int:
        """The concrete size; only valid when `is_static`."""
        assert self.is_static, f"{self} is symbolic"
        return self.coeff

    def __mul__(self, other: Dim | int) -> Dim:
        other = Dim.of(other)
        return Dim(self.coeff * other.coeff, tuple(sorted(self.syms + other.syms)))

    def divide(self, other: Dim) -> Dim | None:
        """Exact quotient, or None when `other` does not divide `self`."""
        mine, theirs = Counter(self.syms), Counter(other.syms)
        if other.coeff == 0 or self.coeff % other.coeff or theirs - mine:
            return None
        return Dim(self.coeff // other.coeff, tuple(sorted((mine - theirs).elements())))

    def __str__(self) -> str:
        if not self.syms:
            return str(self.coeff)
        body = "*".join(self.syms)
        return body if self.coeff == 1 else f"{self.coeff}*{body}"


def dims_product(dims: list[Dim] | tuple[Dim, ...]) -> Dim:
    out = Dim(1)
    for d in dims:
        out = out * d
    return out


@dataclass(frozen=True)
class TensorType:
    """The static type of one tensor: its shape and dtype."""

    shape: tuple[Dim, ...]
    dtype: str = "float32"
    meta: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @staticmethod
    def of(shape: list[int | str | Dim] | tuple, dtype: str = "float32") -> TensorType:
        return TensorType(tuple(Dim.of(d) for d in shape), dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def numel(self) -> Dim:
        return dims_product(self.shape)

    def with_shape(self, shape: list[Dim] | tuple[Dim, ...]) -> TensorType:
        return TensorType(tuple(shape), self.dtype)

    def bind(self, sizes: dict[str, int]) -> tuple[int, ...]:
        """Concrete shape once every symbol has a value (used when running)."""
        return tuple(d.coeff * prod(sizes[s] for s in d.syms) for d in self.shape)

    def __str__(self) -> str:
        inner = ", ".join(str(d) for d in self.shape)
        if len(self.shape) == 1:
            inner += ","
        return f"({inner})"


def normalize_dim(dim: int, rank: int) -> int | None:
    """Python-style negative dims, as torch accepts them; None when out of range."""
    if -rank <= dim < rank:
        return dim % rank
    return None
