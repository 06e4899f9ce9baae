"""`expr`: an elementwise expression over inputs, params and constants (`a*x + b*x**3`).

The expression is parsed and checked by `core.exprs` (a closed AST whitelist), and the code
in `forward` is re-rendered from that checked tree, never pasted from the spec's string.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.shapes import FLOAT_DTYPES, TensorType
from graphspec.ops.base import Op, ShapeError
from graphspec.ops.combine import broadcast, result_dtype


def _context(info: ValidationInfo) -> tuple[dict[str, Any], set[str]]:
    ctx = info.context or {}
    return ctx.get("constants", {}), set(ctx.get("names", ()))


def _default_hint(code: str) -> str:
    """Every refusal gets a hint: say what an expr may contain."""
    if code == "E-REF":
        return "an expr may name its body's inputs, params and layers, constants, and pi"
    return (
        "an expr is arithmetic (+ - * / // % **) on numbers, inputs, params and constants, "
        f"calling only {', '.join(exprs.FUNCTIONS)}"
    )


class expr(Op):  # noqa: N801 - op names are torch-style
    """Elementwise expression; its inputs are the node and param names it mentions."""

    op: Literal["expr"]
    expr: str
    """e.g. `a*x + b*x**3 + c*x**5 + d*x**7`; functions: sin, cos, tan, exp, log, sqrt, tanh,
    sigmoid, abs, relu, min(a, b), max(a, b), clamp(x, low, high)."""
    arity = (1, None)
    torch_name = "torch (elementwise)"
    _parsed: exprs.Elementwise = PrivateAttr()
    _constants: dict[str, int | float] = PrivateAttr(default_factory=dict)

    @field_validator("expr")
    @classmethod
    def _check(cls, text: str, info: ValidationInfo) -> str:
        constants, names = _context(info)
        try:
            exprs.parse_elementwise(text, names | set(constants))
        except exprs.ExprError as err:
            raise PydanticCustomError(
                "expr",
                "{message}",
                {
                    "message": err.message,
                    "code": err.code,
                    "offset": err.offset,
                    "hint": err.hint or _default_hint(err.code),
                },
            ) from None
        return text

    @model_validator(mode="after")
    def _keep_parsed(self, info: ValidationInfo) -> expr:
        constants, names = _context(info)
        self._parsed = exprs.parse_elementwise(self.expr, names | set(constants))
        self._constants = {k: v for k, v in constants.items() if k in self._parsed.names}
        return self

    def referenced_names(self) -> list[str]:
        """The nodes this expression reads, in a stable order: its graph inputs."""
        return sorted(self._parsed.names - set(self._constants))

    def infer(self, inputs: list[TensorType]) -> TensorType:
        for t in inputs:
            if t.dtype not in FLOAT_DTYPES:
                raise ShapeError(
                    f"expr works on floating-point tensors, got {t.dtype}",
                    code="E-DTYPE",
                    field="expr",
                )
        return TensorType(broadcast(inputs, "expr"), result_dtype(inputs))

    def emit_call(self, node: str, args: list[str]) -> str:
        mapping: dict[str, str | int | float] = dict(
            zip(self.referenced_names(), args, strict=True)
        )
        mapping.update(self._constants)
        return self._parsed.render(mapping)
