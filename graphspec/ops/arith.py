"""Elementwise arithmetic and comparison: `sub`, `mul`, `div`, `pow`, `sqrt`, `eq`, `ne`, `clamp`.

The binary ops take two tensors, or one tensor and a Python scalar `other`, broadcasting as torch
does; result dtypes follow torch's promotion (`combine.result_dtype`), where a scalar is "weak":
`int64_ids * 2` stays int64, `int64_ids * 0.5` becomes float32.
"""

from typing import ClassVar, Literal

from graphspec.core.fields import Float, Int, named_source
from graphspec.core.shapes import FLOAT_DTYPES, TensorType
from graphspec.ops import layout
from graphspec.ops.base import Cost, Op, ShapeError, literal, needs_grad, numel
from graphspec.ops.combine import broadcast, result_dtype

Scalar = Int | Float
"""A Python number; an integer and a float promote differently (`x * 2` vs `x * 2.0`)."""


def scalar_code(value: int | float) -> str:
    """A number as a person writes it: `-1e9`, `0.125`, `2`, `2.0` (a float stays a float),
    or the spec's constants it was written over (`d_k**0.5`)."""
    if named_source(value) is not None:
        return literal(value)
    if isinstance(value, int):
        return str(value)
    text = f"{value:g}"
    if float(text) != value:
        text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e:
        return f"{mantissa}e{int(exponent)}"
    return text if "." in text else text + ".0"


class _Binary(Op):
    """`a <sym> b` for two tensors, or `x <sym> other` for a tensor and a scalar."""

    other: Scalar | None = None
    """The scalar operand when the op has one input (`x - 1.0`); leave out for two inputs."""
    arity = (1, 2)
    symbol: ClassVar[str] = ""

    def operands(self, inputs: list[TensorType]) -> tuple[int | float, ...]:
        """The scalar operands, after checking that exactly one of a tensor or `other` is given."""
        if len(inputs) == 2 and self.other is not None:
            raise ShapeError(
                f"{self.op} has two inputs and `other: {self.other}`: give one",
                code="E-ARITY",
                field="other",
                hint="drop `other`, or wire a single input",
            )
        if len(inputs) == 1 and self.other is None:
            raise ShapeError(
                f"{self.op} needs a second operand",
                code="E-ARITY",
                field="in_",
                hint="wire two inputs, or give a scalar `other:`",
            )
        return () if self.other is None else (self.other,)

    def infer(self, inputs: list[TensorType]) -> TensorType:
        scalars = self.operands(inputs)
        out = TensorType(broadcast(inputs, self.op), self.dtype(inputs, scalars))
        return layout.elementwise(inputs[0], out) if scalars else out

    def dtype(self, inputs: list[TensorType], scalars: tuple[int | float, ...]) -> str:
        return result_dtype(inputs, scalars)

    def emit_call(self, node: str, args: list[str]) -> str:
        right = args[1] if len(args) == 2 else scalar_code(self.other)
        if right.startswith("-"):
            right = f"({right})"
        return f"{args[0]} {self.symbol} {right}"


class sub(_Binary):  # noqa: N801 - op names are torch's own
    """torch.sub, written `a - b` (bool tensors are refused, as torch refuses them)."""

    op: Literal["sub"]
    symbol = "-"
    torch_name = "torch.sub"

    def saves_inputs(self) -> bool:
        return False  # the gradient passes through, negated

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]))  # backward needs nothing kept

    def dtype(self, inputs: list[TensorType], scalars: tuple[int | float, ...]) -> str:
        if any(t.dtype == "bool" for t in inputs):
            raise ShapeError(
                "sub: torch does not subtract bool tensors",
                code="E-DTYPE",
                hint="use logical_xor for masks, or convert to an integer dtype",
            )
        return result_dtype(inputs, scalars)


class mul(_Binary):  # noqa: N801
    """torch.mul, written `a * b`."""

    op: Literal["mul"]
    symbol = "*"
    torch_name = "torch.mul"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # each operand's gradient is the other operand: kept for the one that needs a gradient
        if len(inputs) == 1:
            return Cost(flops=numel(outputs[0]))
        a, b = inputs
        kept = (("in1",) if needs_grad(a) else ()) + (("in0",) if needs_grad(b) else ())
        return Cost(flops=numel(outputs[0]), saved=kept)


class div(_Binary):  # noqa: N801
    """torch.div, written `a / b`: true division (integers give float32) unless `rounding_mode`."""

    op: Literal["div"]
    rounding_mode: Literal["trunc", "floor"] | None = None
    """None: true division; 'trunc' or 'floor': integer division, rounded so."""
    symbol = "/"
    torch_name = "torch.div"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        # d/da = 1/b keeps b; d/db = -a/b^2 keeps a too
        if len(inputs) == 1:
            return Cost(flops=numel(outputs[0]))
        a, b = inputs
        kept = ("in0", "in1") if needs_grad(b) else ("in1",) if needs_grad(a) else ()
        return Cost(flops=numel(outputs[0]), saved=kept)

    def dtype(self, inputs: list[TensorType], scalars: tuple[int | float, ...]) -> str:
        promoted = result_dtype(inputs, scalars)
        if self.rounding_mode is None:
            return promoted if promoted in FLOAT_DTYPES else "float32"
        if promoted == "bool":
            raise ShapeError(
                f"div: rounding_mode '{self.rounding_mode}' is not defined for bool",
                code="E-DTYPE",
                field="rounding_mode",
            )
        return promoted

    def emit_call(self, node: str, args: list[str]) -> str:
        if self.rounding_mode is None:
            return super().emit_call(node, args)
        right = args[1] if len(args) == 2 else scalar_code(self.other)
        return f"torch.div({args[0]}, {right}, rounding_mode={self.rounding_mode!r})"


class pow(Op):  # noqa: A001, N801 - torch.pow, shadowing the builtin only in this module
    """torch.pow with a scalar exponent, written `x.pow(2)`."""

    op: Literal["pow"]
    exponent: Scalar
    """The power each element is raised to."""
    torch_name = "torch.pow"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        if x.dtype not in FLOAT_DTYPES and isinstance(self.exponent, int) and self.exponent < 0:
            raise ShapeError(
                f"pow: torch refuses a negative integer exponent ({self.exponent}) on {x.dtype}",
                code="E-DTYPE",
                field="exponent",
                hint=f"write the exponent as a float ({float(self.exponent)}), or convert x",
            )
        return layout.elementwise(x, TensorType(x.shape, result_dtype([x], (self.exponent,))))

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"{args[0]}.pow({scalar_code(self.exponent)})"


class sqrt(Op):  # noqa: N801
    """torch.sqrt: integer and bool inputs give float32, as in torch."""

    op: Literal["sqrt"]
    torch_name = "torch.sqrt"

    def saves_result(self) -> bool:
        return True  # sqrt' = 1 / (2 sqrt)

    def saves_inputs(self) -> bool:
        return False

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]), saved=("out0",))  # backward uses the result

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        return layout.elementwise(
            x, TensorType(x.shape, x.dtype if x.dtype in FLOAT_DTYPES else "float32")
        )

    def emit_call(self, node: str, args: list[str]) -> str:
        return f"torch.sqrt({', '.join(args)})"  # one arg, unless arity already refused


class eq(_Binary):  # noqa: N801
    """torch.eq, written `ids.eq(0)`: a bool mask (True at padding), broadcast like arithmetic."""

    op: Literal["eq"]
    torch_name = "torch.eq"

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost(flops=numel(outputs[0]))  # a bool result: no gradient, nothing kept

    def dtype(self, inputs: list[TensorType], scalars: tuple[int | float, ...]) -> str:
        return "bool"

    def emit_call(self, node: str, args: list[str]) -> str:
        right = args[1] if len(args) == 2 else scalar_code(self.other)
        return f"{args[0]}.{self.op}({right})"


class ne(eq):  # noqa: N801
    """torch.ne, written `ids.ne(0)`: True at real tokens, as scaled_dot_product_attention's
    bool attn_mask wants (True = may attend)."""

    op: Literal["ne"]
    torch_name = "torch.ne"


class clamp(Op):  # noqa: N801
    """torch.clamp: each value limited to [min, max] (either bound may be left out)."""

    op: Literal["clamp"]
    min: Scalar | None = None  # noqa: A003 - torch's argument names
    """The lower bound; left out: none."""
    max: Scalar | None = None  # noqa: A003
    """The upper bound; left out: none."""
    torch_name = "torch.clamp"

    def infer(self, inputs: list[TensorType]) -> TensorType:
        (x,) = inputs
        bounds = tuple(b for b in (self.min, self.max) if b is not None)
        if not bounds:
            raise ShapeError("clamp needs min, max or both", code="E-MISSING", field="min")
        if x.dtype == "bool":
            raise ShapeError("clamp: torch does not clamp bool tensors", code="E-DTYPE")
        return layout.elementwise(x, TensorType(x.shape, result_dtype([x], bounds)))
