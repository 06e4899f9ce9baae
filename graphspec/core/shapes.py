"""Tensor types for static inference: shapes over symbolic sizes, and dtypes.

A size is a `Dim`: an integer polynomial over named symbols (`N`, `12*L`, `H + 2`) whose atoms
may also be floor divisions by a positive integer (`(H - 1)//2`). That is exactly the arithmetic
of torch's size formulas (convolution, pooling, upsampling, view), so one block typed over `H`
serves every resolution. Every `Dim` is kept in one canonical form, so two sizes are equal when
their canonical forms are: `(H - 1)//2 + 1 - 1` and `(H - 1)//2` are the same `Dim`, and an
equality that this cannot prove is reported with both expressions. No computer algebra import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool")
FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")


class DimError(ValueError):
    """An operation with no exact integer result (`H / 3`, a floor division by a symbol)."""


# A term is (monomial, coefficient); a monomial is a sorted tuple of atoms, repeats for powers;
# an atom is a symbol name or a `_Floor`. The constant term has the empty monomial.
Mono = tuple
Terms = tuple


@dataclass(frozen=True)
class _Floor:
    """floor(num / den), den >= 2, num not divisible by den (else it would have been reduced)."""

    num: Dim
    den: int

    def __str__(self) -> str:
        inner = str(self.num)
        if self.num.symbol is None:
            inner = f"({inner})"
        return f"{inner}//{self.den}"


def _atom_key(atom: str | _Floor) -> tuple:
    return (0, atom) if isinstance(atom, str) else (1, str(atom))


def _mono_key(mono: Mono) -> tuple:
    # Higher degree first, then by name: `N*L + 2*L + 3` reads the way one writes it.
    return (-len(mono), [_atom_key(a) for a in mono])


class Dim:
    """An integer size: a canonical polynomial over symbols and floor divisions."""

    __slots__ = ("terms", "_hash")
    terms: Terms
    """The polynomial's (monomial, coefficient) pairs, canonical: nonzero, in `_mono_key` order."""

    def __init__(self, coeff: int = 0, syms: tuple[str, ...] = ()) -> None:
        """`Dim(5)` is 5, `Dim(2, ("L", "N"))` is 2*L*N (the old monomial constructor)."""
        terms = (((tuple(sorted(syms)) if syms else ()), coeff),) if coeff else ()
        object.__setattr__(self, "terms", terms)
        object.__setattr__(self, "_hash", None)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Dim is immutable")

    @staticmethod
    def _make(terms: dict[Mono, int]) -> Dim:
        kept = [(m, c) for m, c in terms.items() if c]
        if len(kept) > 1:
            kept.sort(key=lambda mc: _mono_key(mc[0]))
        return Dim._of_terms(tuple(kept))

    @staticmethod
    def _of_terms(terms: Terms) -> Dim:
        """A Dim from terms already in canonical form (nonzero, in `_mono_key` order)."""
        d = Dim.__new__(Dim)
        object.__setattr__(d, "terms", terms)
        object.__setattr__(d, "_hash", None)
        return d

    def _static_value(self) -> int | None:
        """The integer when this size has no symbols (the common case), else None."""
        terms = self.terms
        if not terms:
            return 0
        if len(terms) == 1 and not terms[0][0]:
            return terms[0][1]
        return None

    @staticmethod
    def of(value: int | str | Dim) -> Dim:
        if isinstance(value, Dim):
            return value
        if isinstance(value, str):
            return Dim(1, (value,)) if value.isidentifier() else Dim.parse(value)
        return Dim(value)

    @staticmethod
    def parse(text: str, values: dict[str, int] | None = None) -> Dim:
        """A size written as arithmetic over symbols (`8*h`, `2*H + 1`, `(L - 1)//2`); names in
        `values` are numbers. DimError for anything else. The text is parsed and checked by
        core/exprs.py, the one expression parser (its caps on length and depth apply)."""
        from graphspec.core import exprs

        try:
            tree = exprs.checked_tree(text)
        except exprs.ExprError:
            raise DimError(f"'{text}' is not a size expression") from None
        return _dim_of(tree, values or {}, text, 0)

    # -- inspection -----------------------------------------------------------------------
    @property
    def is_static(self) -> bool:
        return all(not m for m, _ in self.terms)

    @property
    def value(self) -> int:
        """The concrete size; only valid when `is_static`."""
        assert self.is_static, f"{self} is symbolic"
        return self.terms[0][1] if self.terms else 0

    @property
    def coeff(self) -> int:
        """The coefficient of a single term; in general the gcd of all coefficients (0 for 0)."""
        if len(self.terms) == 1:
            return self.terms[0][1]
        out = 0
        for _, c in self.terms:
            out = gcd(out, c)
        return out

    @property
    def syms(self) -> tuple[str, ...]:
        """The symbols this size depends on, sorted (inside floor divisions too)."""
        return tuple(sorted(self.free_symbols()))

    @property
    def symbol(self) -> str | None:
        """The name when this size is one bare symbol (`N`), else None."""
        if len(self.terms) == 1:
            mono, c = self.terms[0]
            if c == 1 and len(mono) == 1 and isinstance(mono[0], str):
                return mono[0]
        return None

    def free_symbols(self) -> set[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for a in mono:
                if isinstance(a, str):
                    out.add(a)
                else:
                    out |= a.num.free_symbols()
        return out

    # -- arithmetic -----------------------------------------------------------------------
    def _dict(self) -> dict[Mono, int]:
        return dict(self.terms)

    def __add__(self, other: Dim | int) -> Dim:
        other = Dim.of(other)
        a, b = self._static_value(), other._static_value()
        if a is not None and b is not None:  # plain integers: no polynomial to merge
            return Dim(a + b)
        out = self._dict()
        for m, c in other.terms:
            out[m] = out.get(m, 0) + c
        return Dim._make(out)

    __radd__ = __add__

    def __neg__(self) -> Dim:
        return Dim._make({m: -c for m, c in self.terms})

    def __sub__(self, other: Dim | int) -> Dim:
        return self + (-Dim.of(other))

    def __rsub__(self, other: int) -> Dim:
        return Dim.of(other) - self

    def __mul__(self, other: Dim | int) -> Dim:
        other = Dim.of(other)
        a, b = self._static_value(), other._static_value()
        if b is not None or a is not None:  # a number times a size: scale the coefficients
            k, dim = (b, self) if b is not None else (a, other)
            if not k:
                return Dim(0)
            return Dim._of_terms(tuple((m, c * k) for m, c in dim.terms))
        out: dict[Mono, int] = {}
        for m1, c1 in self.terms:
            for m2, c2 in other.terms:
                mono = tuple(sorted(m1 + m2, key=_atom_key)) if m1 and m2 else (m1 or m2)
                out[mono] = out.get(mono, 0) + c1 * c2
        return Dim._make(out)

    __rmul__ = __mul__

    def __floordiv__(self, other: Dim | int) -> Dim:
        """Floor division by a positive integer (a static size counts); exact quotients by a
        symbolic size are allowed too (`(N*L)//L`), anything else raises DimError."""
        other = Dim.of(other)
        if not other.is_static:
            exact = self.divide(other)
            if exact is None:
                raise DimError(f"cannot floor-divide {self} by the symbolic size {other}")
            return exact
        den = other.value
        if den <= 0:
            raise DimError(f"floor division of {self} by {den}")
        return _floor(self, den)

    def __mod__(self, other: int) -> Dim:
        return self - (self // other) * other

    def divide(self, other: Dim | int) -> Dim | None:
        """Exact quotient, or None when `other` does not divide `self`."""
        other = Dim.of(other)
        if not other.terms:
            return None
        if not self.terms:
            return Dim(0)
        if len(other.terms) == 1:
            return _divide_by_term(self, *other.terms[0])
        # A sum divides only a multiple of itself by a single term: (H + 1)*N / (H + 1) = N.
        lead_m, lead_c = self.terms[0]
        quotient = _divide_by_term(Dim._make({lead_m: lead_c}), *other.terms[0])
        if quotient is not None and quotient * other == self:
            return quotient
        return None

    def subs(self, values: dict[str, Dim | int]) -> Dim:
        """Each symbol replaced by its value (a size or an int); floor divisions re-evaluated."""
        if self._static_value() is not None or not self.free_symbols() & values.keys():
            return self  # nothing to replace: already canonical, floors already reduced
        out = Dim(0)
        for mono, c in self.terms:
            term = Dim(c)
            for a in mono:
                if isinstance(a, str):
                    term = term * Dim.of(values[a]) if a in values else term * Dim.of(a)
                else:
                    term = term * (a.num.subs(values) // a.den)
            out = out + term
        return out

    # -- comparison -----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, int) and not isinstance(other, bool):
            other = Dim(other)
        if not isinstance(other, Dim):
            return NotImplemented
        return self.terms == other.terms

    def __hash__(self) -> int:
        if self._hash is None:
            h = hash(self.value) if self.is_static else hash(self.terms)
            object.__setattr__(self, "_hash", h)
        return self._hash

    def __lt__(self, other: Dim | int) -> bool:
        """Order two concrete sizes; a symbolic one has no order (is N < L?): TypeError, as
        Python's own unorderable values raise, rather than a guess."""
        that = Dim.of(other)
        if not (self.is_static and that.is_static):
            raise TypeError(f"cannot order sizes {self} and {that}: one is symbolic")
        return self.value < that.value

    # -- text -----------------------------------------------------------------------------
    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for i, (mono, c) in enumerate(self.terms):
            body = "*".join(_atom_text(a, len(mono) > 1) for a in mono)
            mag = abs(c)
            text = body if mag == 1 and body else (f"{mag}*{body}" if body else str(mag))
            if i == 0:
                parts.append(f"-{text}" if c < 0 else text)
            else:
                parts.append(f"{'-' if c < 0 else '+'} {text}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Dim({self})"


def _dim_of(node: object, values: dict[str, int], text: str, depth: int) -> Dim:
    import ast

    if depth > 32:
        raise DimError(f"'{text}' is nested too deeply")
    if isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) < 2**63:
        return Dim(node.value)
    if isinstance(node, ast.Name):
        return Dim(values[node.id]) if node.id in values else Dim.of(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_dim_of(node.operand, values, text, depth + 1)
    if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv):
        a = _dim_of(node.left, values, text, depth + 1)
        b = _dim_of(node.right, values, text, depth + 1)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            if not (a.is_static or b.is_static) and len(str(a)) + len(str(b)) > 200:
                raise DimError(f"'{text}' is too large")
            return a * b
        return a // b
    raise DimError(f"'{text}' is not a size expression: use integers, symbols, +, -, * and //")


def _atom_text(atom: str | _Floor, in_product: bool) -> str:
    if isinstance(atom, str):
        return atom
    return f"({atom})" if in_product else str(atom)


def _divide_by_term(d: Dim, mono: Mono, coeff: int) -> Dim | None:
    out: dict[Mono, int] = {}
    for m, c in d.terms:
        if c % coeff:
            return None
        rest = list(m)
        for a in mono:
            if a not in rest:
                return None
            rest.remove(a)
        out[tuple(rest)] = c // coeff
    return Dim._make(out)


def _floor(num: Dim, den: int) -> Dim:
    """floor(num / den) in canonical form: whole multiples leave the floor, nested floors merge
    (floor((floor(p/a) + q)/b) = floor((p + a*q)/(a*b)) for integer q), constants fold."""
    if den == 1:
        return num
    inner = [(m, c) for m, c in num.terms if len(m) == 1 and isinstance(m[0], _Floor) and c == 1]
    if len(inner) == 1 and all(
        not any(isinstance(a, _Floor) for a in m) for m, _ in num.terms if m != inner[0][0]
    ):
        floor = inner[0][0][0]
        rest = num - Dim._make({inner[0][0]: 1})
        return _floor(floor.num + rest * floor.den, floor.den * den)
    whole: dict[Mono, int] = {}
    remainder: dict[Mono, int] = {}
    for m, c in num.terms:
        q, r = divmod(c, den)
        if q:
            whole[m] = q
        if r:
            remainder[m] = r
    rem = Dim._make(remainder)
    if rem.is_static:
        return Dim._make(whole) + rem.value // den
    # Keep the remainder's constant in [0, den) so equal floors print and compare alike; a
    # remainder whose coefficients share a factor with den reduces: floor(2H+1 / 4) stays.
    return Dim._make(whole) + Dim._make({(_Floor(rem, den),): 1})


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
        return tuple(d.subs(sizes).value for d in self.shape)

    def subs(self, values: dict[str, Dim | int]) -> TensorType:
        """The same type with symbols replaced (a block's outputs at one call)."""
        return self.with_shape(tuple(d.subs(values) for d in self.shape))

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
