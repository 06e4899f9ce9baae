"""The spec language as pydantic models: what a YAML spec may say, strictly.

`Spec` is the whole file. Node entries under `model.layers` are a tagged union over the op
registry (`graphspec.ops.OPS`), so every op's fields are checked by that op's own model, and
`graphspec schema` is this module's JSON Schema with each tagged union spelled out.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from graphspec.core import exprs
from graphspec.core.fields import (
    Bool,
    Copies,
    Float,
    PosFloat,
    Seed,
    Size,
    StrictModel,
    Symbol,
    SymbolicSize,
)
from graphspec.core.shapes import DTYPES
from graphspec.core.unions import LazyUnion, add_unions
from graphspec.language import recipe as spec_train
from graphspec.language.recipe import Data, Device, Evaluate, Loss, Optimizer, Scheduler, Train
from graphspec.language.weights import Weights
from graphspec.ops import OPS
from graphspec.ops.base import NodeFields, numbers_as_names

MAX_COPIES = 4096
"""Copies one block call may make (`repeat:`), as many as a group may hold children."""

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
"""Block and constant names: they become Python identifiers in the generated code."""
NodeName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=64)]
"""Input, param and layer names: any `state_dict` key part PyTorch takes (`conv1`, `0`,
`block1-0`, `self`); the generated code names its locals and attributes apart from them
(compiler/pynames.py). A leading `_` is refused: nn.Module keeps its own state there."""
RunName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


_SPECIAL = {"share": "Share", "block": "Call", "group": "Group"}


def _node_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in _SPECIAL:
            if key in value and "op" not in value:
                return key
        return value.get("op")
    for key, cls in _SPECIAL.items():
        if type(value).__name__ == cls and isinstance(value, NodeFields):
            return key
    return getattr(value, "op", None)


def _shorthand(value: Any) -> Any:
    """`act1: relu` means `act1: {op: relu}`."""
    return {"op": value} if isinstance(value, str) else value


def _node_member(tag: str) -> type[NodeFields] | None:
    special: dict[str, type[NodeFields]] = {"share": Share, "block": Call, "group": Group}
    return special.get(tag) or OPS.get(tag)


Layer = LazyUnion(
    "Layer",
    tags=lambda: [*OPS, *_SPECIAL],
    member=_node_member,
    tag_of=_node_tag,
    shorthand=_shorthand,
)
"""A layer entry, validated by its own op's model only (the op's family imported on first use).

The discriminated union over every op is what the spec language *is*, and what `graphspec
schema` prints (`Layer.full()`); building pydantic's validator for all of it cost about 0.08 s
of every `validate`."""
Node = Annotated[Any, Layer]


class Share(NodeFields):
    """Call a module declared by another node again (the CIFAR net's one `pool`, used twice)."""

    share: NodeName


def _eval_arg(value: Any, info: Any) -> Any:
    """An argument value may be arithmetic over the caller's names (`planes * 2`)."""
    if isinstance(value, str):
        from graphspec.core.fields import _eval_number

        return _eval_number(value, info)
    return value


ArgValue = Annotated[
    int | float | bool,
    # the schema admits the expression a caller writes (`base * 2`), as the validator does
    BeforeValidator(_eval_arg, json_schema_input_type=int | float | bool | str),
]
"""A block argument's value: a number, true/false, or an expression over the caller's names."""
ArgSet = dict[Identifier, ArgValue]
_COPY_NAME = re.compile(
    r"((?:[A-Za-z0-9][A-Za-z0-9_-]*)?)\{i(?:\s*\+\s*([0-9]{1,6}))?\}([A-Za-z0-9_-]*)"
)
CopyNames = Annotated[str, Field(pattern=f"^{_COPY_NAME.pattern}$", max_length=64)]
"""A pattern naming repeat copies: text around `{i}` (0, 1, ...) or `{i+1}` (1, 2, ...)."""


class Call(NodeFields):
    """Call a block declared under `blocks:`; `repeat: N` stacks N copies, each feeding the next."""

    block: Identifier
    repeat: Copies = 1
    """Copies in sequence: the block's first output feeds the next copy's first input."""
    args: Annotated[
        Annotated[ArgSet, Tag("one")]
        | Annotated[list[ArgSet], Field(min_length=1, max_length=MAX_COPIES), Tag("each")],
        Discriminator(lambda v: "each" if isinstance(v, list) else "one"),
    ] = {}
    """The block's arguments: one set for every copy, or a list with one set per copy (then
    `repeat` defaults to its length)."""
    first: ArgSet = {}
    """Arguments for the first copy only, over `args` (a stage that starts with stride 2)."""
    names: CopyNames | None = None
    """Name the copies from a pattern instead of numbering them: `encoder_layer_{i}` gives
    encoder_layer_0, encoder_layer_1, ...; `denselayer{i+1}` gives denselayer1, ... (held in
    an nn.ModuleDict: keys `denseblock1.denselayer1.conv1.weight`)."""

    def copy_args(self) -> list[dict[str, Any]]:
        """The arguments each copy is given, in order."""
        count = len(self.args) if isinstance(self.args, list) else self.repeat
        sets = self.args if isinstance(self.args, list) else [self.args] * count
        return [{**a, **(self.first if i == 0 else {})} for i, a in enumerate(sets)]

    def copy_names(self) -> list[str] | None:
        """Each copy's name from `names:`, in order; None when the copies are numbered."""
        if self.names is None:
            return None
        head, start, tail = _COPY_NAME.fullmatch(self.names).groups()  # type: ignore[union-attr]
        offset = int(start or 0)
        return [f"{head}{i + offset}{tail}" for i in range(len(self.copy_args()))]


class Group(NodeFields):
    """Modules in sequence, numbered as `nn.Sequential` numbers them (`features.0.weight`)."""

    group: Annotated[list[Node | None], Field(min_length=1, max_length=4096)]
    """Layers in order, each reading the one before: module ops, block calls (`repeat:` copies
    count one each) and nested groups; a child whose `if:` is false is left out of the count."""


Shape = Annotated[list[Size | Symbol | SymbolicSize], Field(max_length=16)]


class TensorInput(StrictModel):
    """A model input: its shape (sizes or symbols such as `N`) and dtype."""

    shape: Shape
    dtype: Literal[DTYPES] = "float32"  # type: ignore[valid-type]


def _input_shorthand(value: Any) -> Any:
    """`x: [N, 1, 32, 32]` means `x: {shape: [N, 1, 32, 32]}`."""
    return {"shape": value} if isinstance(value, list) else value


Input = Annotated[
    TensorInput, BeforeValidator(_input_shorthand, json_schema_input_type=Shape | TensorInput)
]


InitName = Literal["randn", "rand", "zeros", "ones", "uniform", "normal", "full"]


class Init(StrictModel):
    """How a learnable tensor starts: torch.randn/rand/zeros/ones, uniform/normal, or full (every
    element `value`: ConvNeXt's layer scale starts at 1e-6)."""

    fn: InitName = "randn"
    low: Float = 0.0
    """uniform: lower bound."""
    high: Float = 1.0
    """uniform: upper bound."""
    mean: Float = 0.0
    """normal: mean."""
    std: PosFloat = 1.0
    """normal: standard deviation."""
    value: Float = 0.0
    """full: the value of every element."""


def _init_shorthand(value: Any) -> Any:
    """`init: zeros` means `init: {fn: zeros}`."""
    return {"fn": value} if isinstance(value, str) else value


class Param(StrictModel):
    """A learnable tensor owned by the model (the sin fit's a, b, c, d), usable in `expr` nodes."""

    shape: Annotated[list[Size], Field(max_length=8)] = []
    """[] for a scalar."""
    init: Annotated[
        Init, BeforeValidator(_init_shorthand, json_schema_input_type=InitName | Init)
    ] = Field(default_factory=Init)  # built when first used, not at import (start-up)


INDEX_NAMES = ("i", "j", "k", "l")
"""The names of an element's index along dims 0-3 in a buffer's `value:`."""


def _zeros() -> Init:
    return Init(fn="zeros")


class Buffer(Param):
    """A tensor the module keeps but does not learn (`self.register_buffer`): Swin's saved
    relative-position index, a mask computed from sizes. Its elements are `init`'s (zeros by
    default) or `value:`, an integer-or-float expression over the element's index."""

    init: Annotated[
        Init, BeforeValidator(_init_shorthand, json_schema_input_type=InitName | Init)
    ] = Field(default_factory=_zeros)
    dtype: Literal[DTYPES] = "float32"  # type: ignore[valid-type]
    """The buffer's dtype (int64 for an index)."""
    value: str | None = None
    """Each element from its index: i, j, k, l along dims 0-3, constants, numbers,
    `+ - * / // % **`, abs, min, max, clamp (`(i // 7 - j // 7 + 6) * 13 + i % 7 - j % 7 + 6`)."""
    persistent: Bool = True
    """Saved in state_dict (and loaded from it); false: rebuilt by __init__, never saved."""
    _parsed: Any = PrivateAttr(default=None)
    _constants: dict[str, int | float] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _parse_value(self, info: ValidationInfo) -> Buffer:
        if self.value is None:
            return self
        constants = (info.context or {}).get("constants", {})
        allowed = set(INDEX_NAMES[: len(self.shape)])
        try:
            if len(self.shape) > len(INDEX_NAMES):
                raise exprs.ExprError("E-SHAPE", "a buffer with a value: has at most 4 dims", 0)
            parsed = exprs.parse_elementwise(self.value, allowed | set(constants))
            if not parsed.names & allowed:
                raise exprs.ExprError(
                    "E-EXPR",
                    "value: names no index (i, j, k, l), so every element is the same",
                    0,
                    "use init: {fn: full, value: V} for a constant",
                )
        except exprs.ExprError as err:
            raise PydanticCustomError(
                "expr",
                "{message}",
                {"message": err.message, "code": err.code, "offset": err.offset,
                 "hint": err.hint or f"index names for this shape: {', '.join(sorted(allowed))}"},
            ) from None  # fmt: skip
        self._parsed = parsed
        self._constants = {k: v for k, v in constants.items() if k in parsed.names}
        return self

    def value_code(self) -> str:
        """The `value:` expression as code over local index tensors named i, j, k, l."""
        mapping: dict[str, str | int | float] = {n: n for n in INDEX_NAMES}
        return str(self._parsed.render(mapping | self._constants))


Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)?$")]
"""A node, or one named output of it: `attn`, `attn.weights` or `convs.0`."""


ArgType = Literal["int", "float", "bool"]


class Arg(StrictModel):
    """A block argument: its type and, unless every call gives it, a default."""

    type: ArgType = "int"
    default: int | float | bool | None = None


def _arg_shorthand(value: Any) -> Any:
    """`planes: int` is a required int; `stride: 1` an int defaulting to 1."""
    if isinstance(value, str):
        return {"type": value}
    if isinstance(value, bool):
        return {"type": "bool", "default": value}
    if isinstance(value, int | float):
        return {"type": "int" if isinstance(value, int) else "float", "default": value}
    return value


ArgDecl = Annotated[
    Arg,
    BeforeValidator(_arg_shorthand, json_schema_input_type=ArgType | int | float | bool | Arg),
]


class Body(StrictModel):
    """What the model and a block both have: inputs, params, layers, outputs."""

    inputs: dict[NodeName, Input] = Field(min_length=1)
    params: dict[NodeName, Param] = {}
    """Learnable tensors, created in __init__ as nn.Parameter."""
    buffers: dict[NodeName, Buffer] = {}
    """Tensors kept but not learned, created in __init__ with register_buffer."""
    layers: dict[NodeName, Node] = Field(min_length=1)
    """Nodes in order; each reads the node before it unless it says `in:`."""
    outputs: Annotated[Ref | list[Ref] | None, BeforeValidator(numbers_as_names)] = None
    """Default: the last layer."""

    @property
    def output_names(self) -> list[str]:
        if self.outputs is None:
            return [list(self.layers)[-1]]
        return [self.outputs] if isinstance(self.outputs, str) else list(self.outputs)


class Block(Body):
    """A subgraph with named inputs and outputs, emitted as its own nn.Module class."""

    args: dict[Identifier, ArgDecl] = {}
    """Arguments every field, shape and `if:` inside may use (`planes: int`, `stride: 1`)."""


class Model(Body):
    """The network: inputs, params, layers in order, outputs."""

    class_: Identifier = Field("Net", alias="class")
    """Name of the emitted nn.Module class."""


class Spec(StrictModel):
    """A graphspec file."""

    name: RunName
    """Run name: runs are written under runs/<name>/."""
    constants: dict[Identifier, int | float | str] = {}
    """Numbers (or expressions over other constants) usable in any integer field."""
    blocks: dict[Identifier, Block] = {}
    """Reusable subgraphs, called from layers with `{block: Name}`."""
    model: Model
    weights: Weights | None = None
    """What the run starts from instead of random weights (a file, a run folder, a torchvision
    weights name), checked against the model before training."""
    data: Data | None = None
    loss: Loss | None = None
    optimizer: Optimizer | None = None
    scheduler: Scheduler | None = None
    train: Train = Field(default_factory=Train)  # built when first used, not at import
    evaluate: Evaluate | None = None
    device: Device = "auto"
    seed: Seed | None = None
    """torch.manual_seed for weights and data order; None picks one and records it."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec language, each tagged union spelled out under `$defs`."""
    from graphspec.language.schema_docs import document

    unions = [Layer, *(u for u in spec_train.UNIONS if u is not None)]
    return _model_from(document(add_unions(Spec.model_json_schema(by_alias=True), unions)))


def _model_from(schema: dict[str, Any]) -> dict[str, Any]:
    """`model: {from: FILE}` (language/includes.py) is resolved as the file is read, so the
    Spec never sees it; the schema names it for editors, beside the model written out."""
    defs = schema["$defs"]
    model = defs["Model"]
    where = "relative to this spec's folder, inside its git working tree (or its folder)"
    defs["ModelFrom"] = {
        "title": "ModelFrom",
        "description": "The model of another spec file, with its constants and blocks (this "
        "file's entries of the same name win); other keys replace the model's.",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "from": {"type": "string", "description": f"The spec file to take it from, {where}."},
            **model["properties"],
            # merged into the model's by name: a layer may give only the fields it changes
            **{
                key: {
                    "type": "object",
                    "description": f"{key.capitalize()} to change (the fields given replace the "
                    "model's) or to add (at the end).",
                }
                for key in ("params", "buffers", "layers")
            },
        },
        "required": ["from"],
    }
    schema["properties"]["model"] = {
        "anyOf": [{"$ref": "#/$defs/Model"}, {"$ref": "#/$defs/ModelFrom"}]
    }
    return schema
