"""`expr`: an elementwise expression over inputs, params and constants (`a*x + b*x**3`).

The expression is parsed and checked by `core.exprs` (a closed AST whitelist), and the code
in `forward` is re-rendered from that checked tree, never pasted from the spec's string.
"""

import ast
from math import prod
from typing import Any, Literal

from pydantic import PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.shapes import FLOAT_DTYPES, TensorType
from graphspec.ops.base import Cost, Op, ShapeError, numel
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
    def _keep_parsed(self, info: ValidationInfo) -> "expr":
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

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        """One flop per operator or call per element; kept for backward: what each step's
        gradient reads (see `_kept`): inputs once each, intermediates at their own size."""
        tree = ast.parse(self.expr, mode="eval").body
        steps = sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) for n in ast.walk(tree))
        order = self.referenced_names()
        shapes = {name: [d.value for d in t.shape] for name, t in zip(order, inputs, strict=True)}
        names, fresh = _kept(tree, shapes)
        saved = [f"in{order.index(n)}" for n in sorted(names)]
        saved += [(n, outputs[0].dtype) for n in fresh]
        return Cost(flops=numel(outputs[0]) * max(steps, 1), saved=tuple(saved))

    def shares(self) -> Literal["never", "view", "layout", "eval"]:
        return "view" if isinstance(self._tree(), ast.Name) else "never"  # `y = x`: x itself

    def saves_result(self) -> bool:
        top = self._tree()
        return isinstance(top, ast.Call) and getattr(top.func, "id", "") in _KEEPS_RESULT

    def saves_inputs(self) -> bool:
        names = self.referenced_names()
        return bool(_kept(self._tree(), {n: [1] for n in names})[0])  # the cost model's rule

    def grad_problem(self, needs_grad: list[bool]) -> str | None:
        """torch has no derivative for floor division (`//`): refuse it on a tensor that needs
        a gradient, rather than fail at the first backward."""
        grad = {n for n, g in zip(self.referenced_names(), needs_grad, strict=True) if g}
        for n in ast.walk(self._tree()):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.FloorDiv):
                names = {m.id for m in ast.walk(n) if isinstance(m, ast.Name)} & grad
                if names:
                    return (
                        f"'//' (torch.floor_divide) has no derivative, and '{min(names)}' "
                        "needs a gradient: backward would fail"
                    )
        return None

    def _tree(self) -> ast.expr:
        return ast.parse(self.expr, mode="eval").body

    def emit_call(self, node: str, args: list[str]) -> str:
        mapping: dict[str, str | int | float] = dict(
            zip(self.referenced_names(), args, strict=True)
        )
        mapping.update(self._constants)
        return self._parsed.render(mapping)


_KEEPS_RESULT = {"exp", "tanh", "sqrt", "sigmoid", "relu"}  # d/dx is written with the result


def _kept(node: ast.AST, shapes: dict[str, list[int]]) -> tuple[set[str], list[int]]:
    """(input names kept, element counts of intermediates kept) by autograd for one tree."""
    names: set[str] = set()
    fresh: list[int] = []

    def leaves(n: ast.AST) -> list[str]:
        return [m.id for m in ast.walk(n) if isinstance(m, ast.Name) and m.id in shapes]

    def size(n: ast.AST) -> int:
        """Elements of a subexpression: its inputs broadcast together."""
        dims: list[int] = []
        for shape in (shapes[name] for name in leaves(n)):
            pad = [1] * (len(shape) - len(dims)) + dims
            dims = [
                max(a, b) for a, b in zip(pad, [1] * (len(pad) - len(shape)) + shape, strict=True)
            ]
        return prod(dims)

    def keep(n: ast.AST) -> None:
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif leaves(n):
            fresh.append(size(n))

    for n in ast.walk(node):
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Mult, ast.Div, ast.Pow)):
            left, right = bool(leaves(n.left)), bool(leaves(n.right))
            if isinstance(n.op, ast.Pow):
                if left:
                    keep(n.left)
                if right:
                    keep(n.right)
                    fresh.append(size(n))  # a tensor exponent's gradient needs the result too
            elif left and right:
                keep(n.left)
                keep(n.right)
            elif isinstance(n.op, ast.Div) and right:
                keep(n.right)
        elif isinstance(n, ast.Call) and getattr(n.func, "id", "") in exprs.ARITY:
            # torch.maximum keeps both tensors, torch.clamp the one it bounds; a tensor bound
            # of clamp goes through torch.maximum, whose result clamp then keeps
            tensors = [a for a in n.args if leaves(a)]
            for arg in tensors:
                keep(arg)
            if getattr(n.func, "id", "") == "clamp" and len(tensors) > 1:
                fresh.append(size(n))
        elif isinstance(n, ast.Call) and n.args and leaves(n.args[0]):
            if getattr(n.func, "id", "") in _KEEPS_RESULT:
                fresh.append(size(n))
            else:
                keep(n.args[0])
    return names, fresh
