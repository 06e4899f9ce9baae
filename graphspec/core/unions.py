"""Tagged unions whose members are validated one at a time, each built on first use.

The spec language has several closed unions picked by a tag: layers by `op` (45 ops, plus
`share:` and `block:`), and losses, optimizers, schedulers and transforms by torch's class name.
As plain pydantic discriminated unions, every member's model and the union's validator are built
before the first spec is checked, which was most of `graphspec validate`'s own start-up. Here a
value is checked by the one member its tag names; the others are never built.

The full union still exists, for the JSON Schema: `full()` builds it, and `add_unions` turns each
union's placeholder in a schema into a `$ref` to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator,
    Discriminator,
    Strict,
    Tag,
    TypeAdapter,
    ValidationInfo,
    create_model,
)
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypedDict

from graphspec.core.fields import StrictModel

_MARK = "x-graphspec-union"


class LazyUnion:
    """Metadata for `Annotated[Any, LazyUnion(...)]`: validate a value by its tagged member.

    `tag_of` reads the tag of a value (after `shorthand`), `member` maps a tag to its model (or
    None), `tags` lists every tag in order. Errors keep pydantic's own types (`dict_type`,
    `union_tag_not_found`, `union_tag_invalid`) so they are reported like any other union's.
    """

    def __init__(
        self,
        name: str,
        *,
        tags: Callable[[], Iterable[str]],
        member: Callable[[str], type | None],
        tag_of: Callable[[Any], str | None],
        shorthand: Callable[[Any], Any],
        tag_key: str = "op",
        keyed: bool = False,
    ) -> None:
        self.name = name
        self.tags = tags
        self.tag_of = tag_of
        self.shorthand = shorthand
        self.tag_key = tag_key
        self.keyed = keyed
        """`shorthand` also reads `{Tag: {args}}` and `{Tag: arg}` (torchvision's spelling)."""
        self.member = member

    def member_for(self, value: Any) -> type | None:
        """The model that validates `value`, chosen by its tag; None when the tag is unknown."""
        tag = self.tag_of(self.shorthand(value))
        return self.member(tag) if isinstance(tag, str) else None

    def validate(self, value: Any, info: ValidationInfo) -> Any:
        value = self.shorthand(value)
        tag = self.tag_of(value)
        if tag is not None and not isinstance(tag, str):  # `op: [Linear]`: a name must be text
            _tag_adapter(self.tag_key).validate_python({self.tag_key: tag})
        cls = None if tag is None else self.member(tag)
        if not isinstance(value, dict):
            if cls is not None and isinstance(value, cls):  # already validated: `Model(field=x)`
                return value
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        if cls is None:
            expected = ", ".join(f"'{t}'" for t in self.tags())
            if tag is None:
                raise PydanticCustomError(
                    "union_tag_not_found",
                    f"missing '{self.tag_key}'",
                    {"expected_tags": expected},
                )
            raise PydanticCustomError(
                "union_tag_invalid",
                "unknown {tag}",
                {"tag": tag, "expected_tags": expected},
            )
        return _adapter(cls).validate_python(value, context=info.context)

    def full(self) -> Any:
        """The discriminated union over every member (building them all): for the schema."""
        members = [Annotated[self.member(t), Tag(t)] for t in self.tags()]
        union = Annotated[Union[tuple(members)], Discriminator(self.tag_of)]  # noqa: UP007
        return Annotated[union, BeforeValidator(self.shorthand)]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        return core_schema.with_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {_MARK: self.name}  # a $ref to full() once `add_unions` has run


@functools.cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


@functools.cache
def _tag_adapter(key: str) -> TypeAdapter:
    """Checks that a tag is a string, reporting the error at the tag's own key."""
    return TypeAdapter(TypedDict("Tag", {key: Annotated[str, Strict()]}))  # type: ignore[misc]


def union_of(tp: Any) -> LazyUnion | None:
    """The LazyUnion that `tp` (an `Annotated[...]` type) carries, if any."""
    for meta in getattr(tp, "__metadata__", ()):
        if isinstance(meta, LazyUnion):
            return meta
    return None


def add_unions(schema: dict[str, Any], unions: Iterable[LazyUnion]) -> dict[str, Any]:
    """`schema` with each union's placeholder made a `$ref`, and the unions under `$defs`.

    A union's definition lists the shorthands its validator reads too, so that an editor
    accepts what graphspec accepts: a bare name (`relu`, `MSELoss`) for a member whose fields
    all have defaults, and for keyed unions `{Normalize: {mean: .., std: ..}}`."""
    schema = _swap(schema)
    for union in unions:
        # _swap again: a member may hold a union itself (a group's children are layers).
        full = _swap(TypeAdapter(union.full()).json_schema(by_alias=True))
        defs = full.pop("$defs", {})
        clash = defs.keys() & schema["$defs"].keys()
        assert not clash or all(defs[k] == schema["$defs"][k] for k in clash), clash
        schema["$defs"] |= defs | {union.name: _with_shorthands(union, full, defs)}
    return schema


def _with_shorthands(union: LazyUnion, full: dict, defs: dict) -> dict:
    bare = [tag for tag in union.tags() if _all_defaulted(union.member(tag), union.tag_key)]
    forms = [{"enum": bare}, full] if bare else [full]
    if union.keyed:
        forms += [_keyed(tag, defs[tag], union.tag_key) for tag in union.tags()]
    return {"anyOf": forms} if len(forms) > 1 else full


def _all_defaulted(model: Any, tag_key: str) -> bool:
    fields = model.model_fields.items()
    return not any(f.is_required() for name, f in fields if name != tag_key)


def _keyed(tag: str, member: dict, tag_key: str) -> dict:
    """`{Tag: {args}}`, or `{Tag: arg}` for a member with one argument."""
    props = {k: v for k, v in member.get("properties", {}).items() if k != tag_key}
    args: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [k for k in member.get("required", []) if k != tag_key]
    if required:
        args["required"] = required
    value = {"anyOf": [args, *props.values()]} if len(props) == 1 else args
    return {
        "type": "object",
        "properties": {tag: value},
        "required": [tag],
        "additionalProperties": False,
    }


def _swap(node: Any) -> Any:
    if isinstance(node, dict):
        if _MARK in node:
            return {"$ref": f"#/$defs/{node[_MARK]}"}
        return {k: _swap(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_swap(v) for v in node]
    return node


# -- closed tables of torch names (losses, optimizers, schedulers, transforms) ----------------


def table_union(
    name: str,
    table: dict[str, dict[str, Any]],
    shorthand: Any,
    keyed: bool = False,
    extra: Any = None,
) -> Any:
    """One strict model per torch class, picked by `op`; each built the first time it is used.
    `extra(tag)` gives fields every row has beside its own (an optimizer's parameter groups)."""

    @functools.cache
    def member(tag: str) -> type | None:
        if tag not in table:
            return None
        more = extra(tag) if extra is not None else {}
        return create_model(tag, __base__=StrictModel, op=(Literal[tag], ...), **table[tag], **more)

    union = LazyUnion(
        name, tags=table.keys, member=member, tag_of=op_tag, shorthand=shorthand, keyed=keyed
    )
    return Annotated[Any, union]


def op_tag(value: Any) -> str | None:
    return value.get("op") if isinstance(value, dict) else getattr(value, "op", None)


def bare_name(value: Any) -> Any:
    """`MSELoss` alone means {op: MSELoss}."""
    return {"op": value} if isinstance(value, str) else value
