"""Sources made of tensors in memory: random draws (the seed's LeNet) and a linspace with a
target expression (the sin fit and the x² regression).

Both are drawn from the global torch RNG, which the run seeds before the weights (data first,
then weights: the regression seed's order), so a script and a run draw the same numbers.
"""

from __future__ import annotations

import keyword
from math import prod
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.codetext import literal
from graphspec.core.fields import Float, Size
from graphspec.data.base import Source, count

ShapeList = Annotated[list[Size], Field(min_length=1, max_length=8)]


class RandomData(Source):
    """Random tensors made once with `randn` (the seed's LeNet example). The first dimension of
    each shape is the number of samples."""

    source: Literal["random"]
    inputs: dict[str, ShapeList] = Field(min_length=1)
    target: ShapeList | None = None
    """Shape of a `randn` target (regression)."""
    num_classes: Size | None = None
    """Instead of `target`: integer labels in [0, num_classes) (classification)."""
    batch_size: Size | None = None  # type: ignore[assignment]
    """Default: the whole set as one batch."""

    @model_validator(mode="after")
    def _one_target(self) -> RandomData:
        if (self.target is None) == (self.num_classes is None):
            raise ValueError("random data needs exactly one of 'target' and 'num_classes'")
        firsts = {name: shape[0] for name, shape in self.inputs.items()}
        if self.target is not None:
            firsts["target"] = self.target[0]
        if len(set(firsts.values())) > 1:
            shown = ", ".join(f"{k} {v}" for k, v in firsts.items())
            raise ValueError(f"the first size of every shape is the number of samples: {shown}")
        return self

    def _samples(self) -> int:
        return next(iter(self.inputs.values()))[0]

    def class_count(self) -> tuple[int | None, str]:
        return (self.num_classes, "data.num_classes") if self.num_classes else (None, "")

    def target_shape(self) -> tuple[int, ...] | None:
        return tuple(self.target) if self.target is not None else None

    def sample_count(self) -> tuple[int | None, str]:
        return self._samples(), "data.inputs"

    def whole_batch(self) -> int | None:
        return self._samples()

    def memory_parts(self) -> list[tuple[str, int, tuple]]:
        parts = [  # float32 from randn
            (f"random data input '{name}' {list(shape)}", 4 * prod(shape), ("data", "inputs", name))
            for name, shape in self.inputs.items()
        ]
        if self.target is not None:
            parts.append((f"random data target {self.target}", 4 * prod(self.target),
                          ("data", "target")))  # fmt: skip
        return parts

    def make_data(self) -> list[str]:
        names = [
            n if n.isidentifier() and not keyword.iskeyword(n) else f"input_{i}"
            for i, n in enumerate(self.inputs)
        ]
        lines = ['    """Random tensors, drawn once (the seed\'s LeNet example)."""']
        for name, shape in zip(names, self.inputs.values(), strict=True):
            lines.append(f"    {name} = torch.randn({', '.join(map(str, shape))})")
        if self.num_classes is not None:
            lines.append(f"    target = torch.randint({self.num_classes}, ({self._samples()},))")
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
            f'{_doc(self.target)}."""',
            f"    x = {x}",
            f"    y = {target}",
            "    return ((x,), y), None",
        ]

    def describe(self, train: int, test: int | None) -> str:
        return f"linspace({self.start:g}, {self.end:g}, {self.steps}), target {_doc(self.target)}"


def _doc(text: str) -> str:
    """The user's expression inside a docstring or a line: one line, no quote to close it."""
    from graphspec.core.codetext import one_line

    return one_line(text).replace('"', "'").replace("\\", "/")
