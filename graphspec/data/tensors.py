"""Sources made of tensors in memory: random draws (the seed's LeNet) and a linspace with a
target expression (the sin fit and the x² regression).

Both are drawn from the global torch RNG, which the run seeds before the weights (data first,
then weights: the regression seed's order), so a script and a run draw the same numbers.
"""

from __future__ import annotations

import keyword
from math import prod
from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.codetext import in_docstring, literal
from graphspec.core.fields import Float, Size, StrictModel
from graphspec.data.base import Source, count

ShapeList = Annotated[list[Size], Field(min_length=1, max_length=8)]


INT_DTYPES = ("int64", "int32")
BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4}


class RandomInput(StrictModel):
    """A random input of a dtype and a range: integer ids in [low, high) (what an Embedding
    takes), or floats uniform in [low, high) (`randn` when no range is given)."""

    shape: ShapeList
    dtype: Literal["float32", "float64", "float16", "bfloat16", "int64", "int32"] = "float32"
    low: Float = 0
    high: Float | None = None
    """Integers: one past the largest id (required). Floats: uniform in [low, high)."""

    @model_validator(mode="after")
    def _range(self) -> RandomInput:
        integer = self.dtype in INT_DTYPES
        if integer and self.high is None:
            raise ValueError(f"{self.dtype} random data needs 'high': ids are drawn in [low, high)")
        if integer and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("integer random data needs whole numbers for 'low' and 'high'")
        if self.high is not None and self.high <= self.low:
            raise ValueError(f"'high' ({self.high:g}) must be above 'low' ({self.low:g})")
        return self

    def code(self) -> str:
        dims = ", ".join(map(str, self.shape))
        if self.dtype in INT_DTYPES:
            return (f"torch.randint({int(self.low)}, {int(self.high)}, ({dims},), "
                    f"dtype=torch.{self.dtype})")  # fmt: skip
        kind = "" if self.dtype == "float32" else f", dtype=torch.{self.dtype}"
        if self.high is None:
            return f"torch.randn({dims}{kind})"
        width = literal(self.high - self.low)
        return f"torch.rand({dims}{kind}) * {width} + {literal(self.low)}"


def _kind(value: object) -> str:
    return "input" if isinstance(value, dict | RandomInput) else "shape"


# A list is a shape, a mapping a RandomInput: each reports its own errors, never both.
RandomSpec = Annotated[
    Annotated[ShapeList, Tag("shape")] | Annotated[RandomInput, Tag("input")],
    Discriminator(_kind),
]


class RandomData(Source):
    """Random tensors made once (the seed's LeNet example): `randn` floats, or inputs with a
    dtype and a range (ids for an Embedding). The first dimension of each shape is the number
    of samples."""

    can_reconstruct = True
    source: Literal["random"]
    inputs: dict[str, RandomSpec] = Field(min_length=1)
    """Per model input: a shape (`randn` float32), or `{shape, dtype, low, high}`."""
    target: ShapeList | Literal["input"] | None = None
    """Shape of a `randn` target (regression); with `num_classes`, the labels' shape (one per
    token or pixel); `input`: the first input is the target (reconstruction)."""
    num_classes: Size | None = None
    """Integer labels in [0, num_classes) (classification), one per sample unless `target`
    gives their shape."""
    batch_size: Size | None = None  # type: ignore[assignment]
    """Default: the whole set as one batch."""

    @field_validator("inputs", mode="after")
    @classmethod
    def _as_inputs(cls, value: dict) -> dict:
        """A bare shape is float32 `randn`: one form for the code below."""
        return {k: RandomInput(shape=v) if isinstance(v, list) else v for k, v in value.items()}

    @model_validator(mode="after")
    def _one_target(self) -> RandomData:
        if self.target is None and self.num_classes is None:
            raise ValueError("random data needs 'target' (a shape, or input) or 'num_classes'")
        if self.target == "input" and self.num_classes is not None:
            raise ValueError("target: input reconstructs the input: it has no 'num_classes'")
        firsts = {name: spec.shape[0] for name, spec in self.inputs.items()}
        if isinstance(self.target, list):
            firsts["target"] = self.target[0]
        if len(set(firsts.values())) > 1:
            shown = ", ".join(f"{k} {v}" for k, v in firsts.items())
            raise ValueError(f"the first size of every shape is the number of samples: {shown}")
        return self

    def _samples(self) -> int:
        return next(iter(self.inputs.values())).shape[0]

    def _first(self) -> RandomInput:
        return next(iter(self.inputs.values()))

    def class_count(self) -> tuple[int | None, str]:
        return (self.num_classes, "data.num_classes") if self.num_classes else (None, "")

    def reconstructs(self) -> bool:
        return self.target == "input"

    def label_shape(self) -> tuple[int | str, ...] | None:
        if self.num_classes and isinstance(self.target, list) and len(self.target) > 1:
            return tuple(self.target[1:])
        return None

    def target_shape(self) -> tuple[int, ...] | None:
        if self.reconstructs():
            return tuple(self._first().shape)
        if self.num_classes is None and isinstance(self.target, list):
            return tuple(self.target)
        return None

    def sample_count(self) -> tuple[int | None, str]:
        return self._samples(), "data.inputs"

    def whole_batch(self) -> int | None:
        return self._samples()

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        parts = [
            (f"random data input '{name}' {list(spec.shape)}",
             BYTES[spec.dtype] * prod(spec.shape), ("data", "inputs", name))
            for name, spec in self.inputs.items()
        ]  # fmt: skip
        if isinstance(self.target, list):
            parts.append((f"random data target {self.target}", 8 * prod(self.target),
                          ("data", "target")))  # fmt: skip
        return parts

    def make_data(self) -> list[str]:
        names = [
            n if n.isidentifier() and not keyword.iskeyword(n) else f"input_{i}"
            for i, n in enumerate(self.inputs)
        ]
        lines = ['    """Random tensors, drawn once (the seed\'s LeNet example)."""']
        for name, spec in zip(names, self.inputs.values(), strict=True):
            lines.append(f"    {name} = {spec.code()}")
        if self.reconstructs():
            lines.append(f"    target = {names[0]}  # reconstruction: the target is the input")
        elif self.num_classes is not None:
            shape = self.target if isinstance(self.target, list) else [self._samples()]
            lines.append(
                f"    target = torch.randint({self.num_classes}, ({', '.join(map(str, shape))},))"
            )
        else:
            lines.append(f"    target = torch.randn({', '.join(map(str, self.target))})")
        lines.append(f"    return (({', '.join(names)},), target), None")
        return lines

    def describe(self, train: int, test: int | None) -> str:
        return f"random tensors, {count(train, 'sample')}"


class LinspaceData(Source):
    """x = linspace(start, end, steps) as a column, the target an expression of x (fitting)."""

    source: Literal["linspace"]
    start: Float
    end: Float
    steps: Size
    column: bool = True
    """Unsqueeze x to shape (steps, 1), as the regression seed does."""
    target: str
    """Elementwise expression of x, e.g. `x**2 + 0.2*rand_like(x)` or `sin(x)`."""
    batch_size: Size | None = None  # type: ignore[assignment]
    """Default: the whole set as one batch."""

    fit = True

    @field_validator("target")
    @classmethod
    def _expression(cls, value: str, info: ValidationInfo) -> str:
        try:
            exprs.parse_elementwise(value, {"x"})
        except exprs.ExprError as err:
            ctx = {"message": err.message, "code": err.code, "offset": err.offset, "hint": err.hint}
            raise PydanticCustomError("expr", "{message}", ctx) from None
        return value

    def target_shape(self) -> tuple[int, ...] | None:
        return (self.steps, 1) if self.column else (self.steps,)

    def sample_count(self) -> tuple[int | None, str]:
        return self.steps, "data.steps"

    def whole_batch(self) -> int | None:
        return self.steps

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        # x and the target, float32; the expression's temporaries are the same size again
        return [(f"linspace of {self.steps:,} steps (x and target)", 4 * 3 * self.steps,
                 ("data", "steps"))]  # fmt: skip

    def make_data(self) -> list[str]:
        # The target is re-rendered from graphspec's checked expression tree, never pasted.
        target = exprs.parse_elementwise(self.target, {"x"}).render({"x": "x"})
        x = f"torch.linspace({literal(self.start)}, {literal(self.end)}, {self.steps})"
        if self.column:
            x = f"torch.unsqueeze({x}, dim=1)  # shape ({self.steps}, 1)"
        return [
            f'    """x = linspace({self.start:g}, {self.end:g}, {self.steps}); the target is '
            f'{in_docstring(self.target)}."""',
            f"    x = {x}",
            f"    y = {target}",
            "    return ((x,), y), None",
        ]

    def describe(self, train: int, test: int | None) -> str:
        target = in_docstring(self.target)
        return f"linspace({self.start:g}, {self.end:g}, {self.steps}), target {target}"
