"""The contract every op fulfils, in one class per op.

An op is a pydantic model whose fields are named as torch names its arguments. The same class
holds the op's static shape rule (`resolve` + `infer`), its parameter count, and the code it
emits, so adding an op touches its own class and one registry line.

Ops come in two kinds:
- "module" ops are `torch.nn` modules: they are built in `__init__`, own parameters, and show in
  `print(model)`; sizes the user omits (`in_features`) are inferred by `resolve`.
- "function" ops are torch functions or tensor methods called in `forward`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from math import prod
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BeforeValidator, Field

from graphspec.core import codetext
from graphspec.core.fields import Int, NonNeg, Size, StrictModel, Symbol, named_source
from graphspec.core.shapes import FLOAT_DTYPES, Dim, TensorType


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


def numbers_as_names(value: Any) -> Any:
    """`in: [0, x]` reads the node named `0` (a YAML number where a node name goes, as
    nn.ModuleList numbers its children): plain non-negative integers become their names."""

    def one(v: Any) -> Any:
        return str(v) if type(v) is int and v >= 0 else v

    if isinstance(value, list):
        return [one(v) for v in value]
    if isinstance(value, dict):
        return {k: one(v) for k, v in value.items()}
    return one(value)


Wiring = Annotated[
    str | list[str] | dict[str, str],
    BeforeValidator(numbers_as_names, json_schema_input_type=int | str | list[int | str] | dict),
]

Sizes = Size | Annotated[list[Size], Field(min_length=1, max_length=3)]
"""A size per spatial dim, or one for all (torch's `_single`/`_pair`/`_triple`)."""
NonNegs = NonNeg | Annotated[list[NonNeg], Field(min_length=1, max_length=3)]


def per_axis(
    op: "Op", field: str, n: int, value: int | list[int] | None = None, single: bool = True
) -> tuple[int, ...]:
    """`field` (or `value`) as n numbers, one per spatial dim: 3 -> (3, 3); a list has n, or
    one that torch repeats (`single`; not a conv's kernel_size, which shapes its weight)."""
    value = getattr(op, field) if value is None else value
    if isinstance(value, int):
        return (value,) * n
    if single and len(value) == 1:
        return (value[0],) * n
    if len(value) != n:
        raise ShapeError(
            f"{op.op}: {field} has {len(value)} values for {n} spatial dim(s)",
            field=field,
            hint=f"give one number, or a list of {n}",
        )
    return tuple(value)


State = tuple[tuple[int, ...], str, bool]
"""One `state_dict()` entry of a module: (shape, dtype, trainable: a parameter, not a buffer)."""


def params_state(**shapes: tuple[int, ...] | None) -> dict[str, State]:
    """float32 parameters by name; a None shape is left out (a bias turned off)."""
    return {k: (shape, "float32", True) for k, shape in shapes.items() if shape is not None}


class Cost(NamedTuple):
    """What one call of an op costs in the forward pass of a training step (concrete shapes).

    `macs` are the multiply-accumulates of matrix products and convolutions (torch's
    FlopCounterMode counts 2 flops per MAC, and only these); `flops` add one per element of
    every other arithmetic (an activation, an add, a norm). `saved` names what autograd keeps
    for backward: "in0", "in1", ... (an input, shared with whoever else keeps it), "out0", ...
    (a result), or (numel, dtype) for a tensor only this op holds (a mask, indices, statistics).
    """

    macs: int = 0
    flops: int = 0
    saved: tuple[str | tuple[int, str], ...] = ()


def needs_grad(t: TensorType) -> bool:
    """Whether a gradient flows into `t` (compiler/cost.py marks it in `meta["grad"]`; an op
    costed alone takes every floating-point input as needing one)."""
    return bool(t.meta.get("grad", t.dtype in FLOAT_DTYPES))


def numel(t: TensorType) -> int:
    """Elements of a concretely shaped tensor type (see compiler/cost.py: `concrete`)."""
    return prod(d.value for d in t.shape)


WEIGHTS_HINT = (
    "the weights are built with this size: give it as a number in the input's shape (for a "
    "block, the caller's), or set {field} from a block argument"
)
"""The hint of every refusal of a symbolic size that a module's weights need."""


TIE_PATH = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$"
"""A module's path from the body that holds it: names, and numbers for repeat copies."""


class NodeFields(StrictModel):
    """Fields every node accepts, whatever its op."""

    in_: Wiring | None = Field(None, alias="in")
    """The node(s) this one reads; default: the node declared just before it."""
    shape: list[Int | Symbol] | None = None
    """The output shape this node must have, checked like a type annotation."""
    if_: str | bool | None = Field(None, alias="if")
    """Keep this node only when the condition holds (`stride != 1 or C != planes`); a node left
    out passes its first input on to the nodes that read it."""
    tie: Annotated[str, Field(pattern=TIE_PATH, max_length=200)] | None = None
    """Another module whose `weight` this module's weight is (GPT-2's head and its token
    embedding): a node of the same body, or a path into a block call (`transformer.wte`,
    `h.0.mlp`). Both keys stay in `state_dict`; the parameter counts once."""


class Op(NodeFields):
    op: str
    kind: ClassVar[Literal["module", "function"]] = "function"
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    """Minimum and maximum number of inputs (None: unbounded)."""
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    """Names of the op's results; an op with several returns a tuple from `infer`, in this
    order, and a later node reads one as `node.name` (`attn.weights`)."""
    shares_input: ClassVar[Literal["never", "view", "layout", "eval"]] = "never"
    """Whether the result may be its input's storage, so that an in-place change to either is a
    change to both: "view" in every mode (transpose, view, expand, Identity; reshape where the
    layout allows, the usual case), "layout" when the input's layout makes it a no-op
    (contiguous), "eval" when not training (the dropouts return their input itself, as they do
    at p=0 in training too). compiler/hazards.py reads it through `shares()`."""
    torch_name: ClassVar[str] = ""
    """What the op is in torch (`nn.Conv2d`, `F.relu`, `torch.cat`, `Tensor.squeeze`): for
    messages and docs, and the callable the default `emit_init`/`emit_call` write."""
    positional: ClassVar[tuple[str, ...]] = ()
    """Fields the default emitters write without their keyword, as a torch user would."""

    def fits_sequential(self) -> bool:
        """Whether the module does all of the node's work when called alone, as a group's
        `nn.Sequential` calls it (a module op whose `emit_call` adds code around it does not)."""
        return True

    @property
    def aliases_input(self) -> bool:
        """A view in every mode: no storage of its own (the cost model's question)."""
        return self.shares_input == "view"

    def shares(self) -> Literal["never", "view", "layout", "eval"]:
        """`shares_input` for this node (an `expr` that is one bare name is its input)."""
        return self.shares_input

    def saves_result(self) -> bool:
        """Whether autograd keeps this op's result to compute its gradient (tanh, sigmoid,
        relu, softmax, sqrt, amax; an in-place activation): an in-place change to the result
        before backward makes backward fail ("modified by an inplace operation")."""
        return False

    def saves_inputs(self) -> bool:
        """Whether autograd keeps an input of this op for backward (Linear, mul, a pool):
        an in-place change to it after this op ran makes backward fail. True unless the op
        says otherwise: add, cat, a sum and a view keep only sizes; tanh keeps its result."""
        return True

    def least_sizes(self, inputs: list[TensorType]) -> list[tuple[Dim, int]]:
        """(size, minimum) pairs a run must meet beyond the output formula (3-D average
        pooling's input >= its kernel, `narrow`'s slice inside the dim). A symbolic size is
        taken to meet them, as it is taken to be large enough for every kernel; torch refuses
        a smaller one when it runs."""
        return []

    def most_sizes(self) -> list[tuple[int, int, str, str]]:
        """(axis of the first output, the most it may be, why, hint) that a run must meet: a
        position table of 1024 rows takes sequences of at most 1024 ids. Checked where sizes
        are numbers (`summary --input`); a number past it is refused when the op is typed."""
        return []

    def grad_problem(self, needs_grad: list[bool]) -> str | None:
        """Why backward cannot pass through this op when the inputs flagged in `needs_grad`
        need a gradient (an op torch has no derivative for), or None."""
        return None

    # -- shape rule -------------------------------------------------------------------------
    def resolve(self, inputs: list[TensorType]) -> "Op":
        """Fill in sizes the user left out, checking the ones given; default: nothing to fill."""
        return self

    def infer(self, inputs: list[TensorType]) -> TensorType | tuple[TensorType, ...]:
        raise NotImplementedError

    def param_count(self) -> int:
        return 0

    def buffer_count(self) -> int:
        """Elements of non-trainable state (BatchNorm's running statistics)."""
        return 0

    def state(self) -> dict[str, State]:
        """The module's own `state_dict()` entries, as torch names them: name -> (shape,
        dtype, trainable). Floating entries say float32, the dtype torch builds them in."""
        return {}

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        """The forward cost at concrete shapes. Default: an elementwise op that needs its
        input for backward, one flop per result element; ops that differ say so."""
        floating = inputs and inputs[0].dtype in FLOAT_DTYPES
        return Cost(flops=sum(numel(o) for o in outputs), saved=("in0",) if floating else ())

    # -- code -------------------------------------------------------------------------------
    def emit_init(self) -> str | None:
        """Constructor expression for module ops (`nn.Linear(400, 120)`); None for functions."""
        if self.kind != "module":
            return None
        return self.torch_call(self.torch_name, self.positional)

    def emit_call(self, node: str, args: list[str]) -> str:
        """The expression computing this node in `forward`: the module called, or the torch
        function (`F.relu6(x)`) or tensor method (`x.squeeze(1)`) with this op's fields."""
        if self.kind == "module":
            return f"self.{node}({', '.join(args)})"
        if self.torch_name.startswith("Tensor."):
            method = self.torch_name.removeprefix("Tensor.")
            return self.torch_call(f"{args[0]}.{method}", self.positional, leading=tuple(args[1:]))
        return self.torch_call(self.torch_name, self.positional, leading=tuple(args))

    def unpack(self, targets: list[str]) -> str:
        """The assignment targets of `emit_call`'s result, one variable per output: `a, b` for
        a flat tuple; an op whose torch call nests its results says how (LSTM's
        `out, (h_n, c_n)`)."""
        return ", ".join(targets)

    # -- helpers for subclasses -------------------------------------------------------------
    def torch_call(
        self, name: str, positional: tuple[str, ...] = (), leading: tuple[str, ...] = ()
    ) -> str:
        """`name(leading..., pos..., kw=value...)` from this op's fields, leaving out defaults.

        `leading` holds code (the input variables); `positional` names fields written without
        their keyword, as a PyTorch user would (`nn.Conv2d(1, 6, 5)`), up to the first absent one.
        """
        values = self.op_args()
        parts = list(leading)
        for key in positional:
            if key not in values:
                break
            parts.append(literal(values.pop(key)))
        parts += [f"{key}={literal(value)}" for key, value in values.items()]
        return f"{name}({', '.join(parts)})"

    def op_args(self) -> dict[str, Any]:
        """torch arguments that are required, set by the user, or inferred, in field order."""
        fields = type(self).model_fields
        return {
            key: getattr(self, key)
            for key, info in fields.items()
            if key not in _NODE_KEYS and (info.is_required() or getattr(self, key) != info.default)
        }


_NODE_KEYS = frozenset({"op", "in_", "shape", "if_", "tie"})


class View:
    """Mixin for an op whose result is a view of its input (narrow, split, squeeze, Identity):
    no arithmetic, and nothing kept for backward."""

    shares_input: ClassVar[Literal["never", "view", "layout", "eval"]] = "view"

    def saves_inputs(self) -> bool:
        return False  # backward reshapes the gradient: sizes only

    def cost(self, inputs: list[TensorType], outputs: list[TensorType]) -> Cost:
        return Cost()


class Functional:
    """Mixin for the function form of a module op (`F.max_pool1d` beside `nn.MaxPool1d`): the
    same fields and rule, called in `forward` instead of built in `__init__`. List it first:
    `class max_pool1d(Functional, MaxPool1d)`."""

    kind: ClassVar[Literal["module", "function"]] = "function"


def literal(value: Any) -> str:
    """A field's value as generated code writes it: a number the spec wrote over its constants
    by their names (`d_k * n_heads`), a list as a tuple, anything else as its repr."""
    if isinstance(value, list):
        if not any(named_source(v) or isinstance(v, str) for v in value):
            return repr(tuple(value))
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, str):
        return codetext.literal(value)  # in double quotes, as ruff's formatter writes it
    source = named_source(value)
    return repr(value) if source is None else source


def expect_rank(x: TensorType, ranks: tuple[int, ...], what: str) -> None:
    if x.rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(
            f"{what} expects a rank-{want} input, got rank {x.rank} {x}",
            hint="check the node before it, or add a view/flatten",
        )


def expect_batched(x: TensorType, spatial: int, what: str, family: str) -> None:
    """(N, C, *spatial) only. torch also reads one rank less as an unbatched sample, which would
    silently take a batch of 1-D signals (N, C, L) for one 2-D image; graphspec refuses it."""
    want = spatial + 2
    if x.rank == want:
        return
    sibling = {1: f"{family}1d", 2: f"{family}2d", 3: f"{family}3d"}.get(x.rank - 2)
    if x.rank == want - 1:
        message = (
            f"{what} takes a batched rank-{want} input (N, C, {_axes(spatial)}), got rank "
            f"{x.rank} {x}: graphspec does not read it as one unbatched sample"
        )
        hint = "add the batch dim with unsqueeze (dim: 0)"
        hint += f", or use {sibling} for a batch of rank-{x.rank} inputs" if sibling else ""
    else:
        message = (
            f"{what} takes a batched rank-{want} input (N, C, {_axes(spatial)}), got rank "
            f"{x.rank} {x}"
        )
        hint = f"use {sibling} for this rank" if sibling else "check the node before it"
    raise ShapeError(message, hint=hint)


def _axes(spatial: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}[spatial]


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


# -- sizes of the body's own inputs ---------------------------------------------------------
# A size field (`view`, `reshape`, `expand`, `repeat`) may name a symbol of the model's or the
# block's inputs (`N` of `x: [N, 3, H, W]`), not only one of the node's own input: ViT's class
# token is a `[1, 1, 768]` param expanded to the batch. While `compiler.infer` types a body it
# states where each input symbol can be read (`x`, axis 0); the op records it, and its code
# reads `x.size(0)` in `forward`, where the body's inputs are the arguments.

SizeSource = tuple[str | None, int]
"""Where a symbol is read: (None, axis) of the node's own input, (name, axis) of a body input."""

_BODY_SIZES: ContextVar[dict[str, tuple[str, int]] | None] = ContextVar("body_sizes", default=None)


@contextmanager
def body_sizes(inputs: dict[str, TensorType]) -> Iterator[None]:
    """While typing a body: each symbol of its inputs, at the first input and axis that has it."""
    table: dict[str, tuple[str, int]] = {}
    for name, t in inputs.items():
        for axis, d in enumerate(t.shape):
            if d.symbol is not None:
                table.setdefault(d.symbol, (name, axis))
    token = _BODY_SIZES.set(table)
    try:
        yield
    finally:
        _BODY_SIZES.reset(token)


def size_source(symbol: str, x: TensorType, what: str, field: str = "size") -> SizeSource:
    """Where `symbol` is read at run time: a dim of the node's own input `x` if it has one, else
    a dim of one of the body's inputs; a symbol neither has is refused."""
    for axis, dim in enumerate(x.shape):
        if dim == Dim.of(symbol):
            return None, axis
    sizes = _BODY_SIZES.get() or {}
    if symbol in sizes:
        return sizes[symbol]
    known = sorted(sizes)
    raise ShapeError(
        f"{what}: symbol '{symbol}' is not a dimension of the input {x}, nor a size of this "
        f"body's inputs ({', '.join(known) or 'none is a symbol'})",
        field=field,
        hint="use -1 for the one size to infer, or a symbol that the input or the inputs of "
        "the model (or block) have",
    )


def dim_code(d: Dim, symbol_code: Callable[[str], str]) -> str:
    """Python for a size expression (`2 * x.size(1)`, `(x.size(2) + 1) // 2`), each symbol
    written by `symbol_code`; only integers, names the builder chose and + * // appear."""
    if d.symbol is not None:
        return symbol_code(d.symbol)
    terms = []
    for mono, coeff in d.terms:
        factors = [
            symbol_code(atom)
            if isinstance(atom, str)
            else f"({dim_code(atom.num, symbol_code)}) // {atom.den}"
            for atom in mono
        ]
        terms.append(" * ".join(([str(coeff)] if coeff != 1 or not factors else []) + factors))
    return "(" + " + ".join(terms) + ")"


def size_code(src: SizeSource, arg: str) -> str:
    """`arg.size(1)` or `x.size(0)`: the expression reading a size at run time."""
    name, axis = src
    return f"{name or arg}.size({axis})"
