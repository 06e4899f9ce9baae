"""The contract every op fulfils, in one class per op.

An op is a pydantic model whose fields are named as torch names its arguments. The same class
holds the op's static shape rule (`resolve` + `infer`), its parameter count, and the code it
emits, so adding an op touches its own class and one registry line.

Ops come in two kinds:
- "module" ops are `torch.nn` modules: they are built in `__init__`, own parameters, and show in
  `print(model)`; sizes the user omits (`in_features`) are inferred by `resolve`.
- "function" ops are torch functions or tensor methods called in `forward`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from graphspec.core.fields import Int, StrictModel, Symbol
from graphspec.core.shapes import FLOAT_DTYPES, TensorType


class ShapeError(Exception):
    """A static rule refused its inputs; `field` names the spec field to point at."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "E-SHAPE",
        hint: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.hint, self.field = message, code, hint, field


Wiring = str | list[str] | dict[str, str]


class NodeFields(StrictModel):
    """Fields every node accepts, whatever its op."""

    in_: Wiring | None = Field(None, alias="in")
    """The node(s) this one reads; default: the node declared just before it."""
    shape: list[Int | Symbol] | None = None
    """The output shape this node must have, checked like a type annotation."""
    if_: str | bool | None = Field(None, alias="if")
    """Keep this node only when the condition holds (`stride != 1 or C != planes`); a node left
    out passes its first input on to the nodes that read it."""


class Op(NodeFields):
    op: str
    kind: ClassVar[Literal["module", "function"]] = "function"
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    """Minimum and maximum number of inputs (None: unbounded)."""
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    """Names of the op's results; an op with several returns a tuple from `infer`, in this
    order, and a later node reads one as `node.name` (`attn.weights`)."""
    torch_name: ClassVar[str] = ""
    """What the op is in torch (`nn.Conv2d`, `F.relu`, `torch.cat`), for messages and docs."""

    # -- shape rule -------------------------------------------------------------------------
    def resolve(self, inputs: list[TensorType]) -> Op:
        """Fill in sizes the user left out, checking the ones given; default: nothing to fill."""
        return self

    def infer(self, inputs: list[TensorType]) -> TensorType | tuple[TensorType, ...]:
        raise NotImplementedError

    def param_count(self) -> int:
        return 0

    # -- code -------------------------------------------------------------------------------
    def emit_init(self) -> str | None:
        """Constructor expression for module ops (`nn.Linear(400, 120)`); None for functions."""
        return None

    def emit_call(self, node: str, args: list[str]) -> str:
        """The expression computing this node in `forward`."""
        if self.kind == "module":
            return f"self.{node}({', '.join(args)})"
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------
    def torch_call(self, name: str, positional: tuple[str, ...] = (), leading: tuple = ()) -> str:
        """`name(leading..., pos..., kw=value...)` from this op's fields, leaving out defaults.

        `leading` holds code (the input variables); `positional` names fields written without
        their keyword, as a PyTorch user would (`nn.Conv2d(1, 6, 5)`), up to the first absent one.
        """
        values = self.op_args()
        parts = list(leading)
        for key in positional:
            if key not in values:
                break
            parts.append(_literal(values.pop(key)))
        parts += [f"{key}={_literal(value)}" for key, value in values.items()]
        return f"{name}({', '.join(parts)})"

    def op_args(self) -> dict[str, Any]:
        """torch arguments that are required, set by the user, or inferred, in field order."""
        fields = type(self).model_fields
        return {
            key: getattr(self, key)
            for key, info in fields.items()
            if key not in _NODE_KEYS and (info.is_required() or getattr(self, key) != info.default)
        }


_NODE_KEYS = frozenset({"op", "in_", "shape", "if_"})


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return repr(tuple(value))
    return repr(value)


def expect_rank(x: TensorType, ranks: tuple[int, ...], what: str) -> None:
    if x.rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(
            f"{what} expects a rank-{want} input, got rank {x.rank} {x}",
            hint="check the node before it, or add a view/flatten",
        )


def expect_float(x: TensorType, what: str) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise ShapeError(
            f"{what} expects a floating-point input, got {x.dtype}",
            code="E-DTYPE",
        )


def expect_weights_dtype(x: TensorType, what: str) -> None:
    """A module's weights are built float32, and torch will not mix them with another dtype."""
    expect_float(x, what)
    if x.dtype != "float32":
        raise ShapeError(
            f"{what} has float32 weights but its input is {x.dtype}",
            code="E-DTYPE",
            hint="declare the input float32 (train: {amp: true} gives mixed precision)",
        )


def check_given(op: Op, field: str, inferred: int, source: str) -> None:
    """A size the user wrote must equal the inferred one: show both and where each came from."""
    given = getattr(op, field)
    if given is not None and given != inferred:
        raise ShapeError(
            f"{field} is {given} but the input has {inferred} ({source})",
            field=field,
            hint=f"write {field}: {inferred}, or leave it out to infer it",
        )
