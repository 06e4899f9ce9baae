"""The spec language as pydantic models: what a YAML spec may say, strictly.

`Spec` is the whole file. Node entries under `model.layers` are a tagged union over the op
registry (`graphspec.ops.OPS`), so every op's fields are checked by that op's own model, and
`graphspec schema` is this module's JSON Schema with each tagged union spelled out.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from graphspec.core.fields import Float, Int, PosFloat, Size, StrictModel, Symbol
from graphspec.core.shapes import DTYPES
from graphspec.core.unions import LazyUnion, add_unions
from graphspec.language import recipe as spec_train
from graphspec.language.recipe import Data, Device, Evaluate, Loss, Optimizer, Scheduler, Train
from graphspec.ops import OPS
from graphspec.ops.base import NodeFields

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]
"""Node, block and constant names: they become Python identifiers in the generated code."""
RunName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Share(NodeFields):
    """Call a module declared by another node again (the CIFAR net's one `pool`, used twice)."""

    share: Identifier


class Call(NodeFields):
    """Call a block declared under `blocks:`; `repeat: N` stacks N copies, each feeding the next."""

    block: Identifier
    repeat: Size = 1
    """Copies in sequence: the block's first output feeds the next copy's first input."""


def _node_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        for key in ("share", "block"):
            if key in value and "op" not in value:
                return key
        return value.get("op")
    if isinstance(value, (Share, Call)):
        return "share" if isinstance(value, Share) else "block"
    return getattr(value, "op", None)


def _shorthand(value: Any) -> Any:
    """`act1: relu` means `act1: {op: relu}`."""
    return {"op": value} if isinstance(value, str) else value


def _node_member(tag: str) -> type[NodeFields] | None:
    return {"share": Share, "block": Call}.get(tag) or OPS.get(tag)


Layer = LazyUnion(
    "Layer",
    tags=lambda: [*OPS, "share", "block"],
    member=_node_member,
    tag_of=_node_tag,
    shorthand=_shorthand,
)
"""A layer entry, validated by its own op's model only (the op's family imported on first use).

The discriminated union over every op is what the spec language *is*, and what `graphspec
schema` prints (`Layer.full()`); building pydantic's validator for all of it cost about 0.08 s
of every `validate`."""
Node = Annotated[Any, Layer]


Shape = Annotated[list[Size | Symbol], Field(max_length=16)]


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


InitName = Literal["randn", "rand", "zeros", "ones", "uniform", "normal"]


class Init(StrictModel):
    """How a learnable tensor starts: torch.randn/rand/zeros/ones, or uniform/normal."""

    fn: InitName = "randn"
    low: Float = 0.0
    """uniform: lower bound."""
    high: Float = 1.0
    """uniform: upper bound."""
    mean: Float = 0.0
    """normal: mean."""
    std: PosFloat = 1.0
    """normal: standard deviation."""


def _init_shorthand(value: Any) -> Any:
    """`init: zeros` means `init: {fn: zeros}`."""
    return {"fn": value} if isinstance(value, str) else value


class Param(StrictModel):
    """A learnable tensor owned by the model (the sin fit's a, b, c, d), usable in `expr` nodes."""

    shape: Annotated[list[Size], Field(max_length=8)] = []
    """[] for a scalar."""
    init: Annotated[
        Init, BeforeValidator(_init_shorthand, json_schema_input_type=InitName | Init)
    ] = Init()


Ref = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")]
"""A node, or one named output of it: `attn` or `attn.weights`."""


class Block(StrictModel):
    """A subgraph with named inputs and outputs, emitted as its own nn.Module class."""

    inputs: dict[Identifier, Input] = Field(min_length=1)
    params: dict[Identifier, Param] = {}
    """Learnable tensors, created in __init__ as nn.Parameter."""
    layers: dict[Identifier, Node] = Field(min_length=1)
    """Nodes in order; each reads the node before it unless it says `in:`."""
    outputs: Ref | list[Ref] | None = None
    """Default: the last layer."""

    @property
    def output_names(self) -> list[str]:
        if self.outputs is None:
            return [list(self.layers)[-1]]
        return [self.outputs] if isinstance(self.outputs, str) else list(self.outputs)


class Model(Block):
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
    data: Data | None = None
    loss: Loss | None = None
    optimizer: Optimizer | None = None
    scheduler: Scheduler | None = None
    train: Train = Train()
    evaluate: Evaluate | None = None
    device: Device = "auto"
    seed: Int | None = None
    """torch.manual_seed for weights and data order; None picks one and records it."""


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec language, each tagged union spelled out under `$defs`."""
    unions = [Layer, *spec_train.UNIONS]
    return add_unions(Spec.model_json_schema(by_alias=True), unions)
