"""Which fields a spec model accepts at a given place: for "did you mean" on unknown keys.

Walks pydantic's `loc` through the Spec's type annotations (models, dicts, lists, unions,
discriminated and lazy unions), using the data itself to pick a union member by its tag.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from graphspec.core.unions import LazyUnion, union_of


def fields_at(loc: tuple[Any, ...], data: Any) -> list[str]:
    from graphspec.language.spec import Spec

    tp: Any = Spec
    for seg in loc:
        tp = _pick(tp, data)
        if tp is None:
            return []
        tp, data = _step(tp, seg, data)
    tp = _pick(tp, data)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp: Any) -> list[Any]:
    lazy = union_of(tp)
    if lazy is not None:
        return [lazy]
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _pick(tp: Any, data: Any) -> Any:
    """The one member of a union that the data selects (by tag), or the only candidate."""
    members = [m for m in _members(tp) if m is not type(None)]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(members) == 1 and isinstance(members[0], LazyUnion):  # a layer, an optimizer, ...
        return members[0].member_for(data)
    if len(members) == 1:
        return members[0]
    if isinstance(data, dict):
        for m in models:
            if _tag_matches(m, data):
                return m
    containers = [m for m in members if typing.get_origin(m) in (dict, list)]
    return models[0] if len(models) == 1 else (containers[0] if containers else None)


def _tag_matches(model: type[BaseModel], data: dict[str, Any]) -> bool:
    for key in ("op", "source", "share"):
        field = model.model_fields.get(key)
        if field is None or key not in data:
            continue
        args = typing.get_args(field.annotation)
        if key == "share" or data[key] in args:
            return True
    return False


def _step(tp: Any, seg: Any, data: Any) -> tuple[Any, Any]:
    sub = data.get(seg) if isinstance(data, dict) else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, f in tp.model_fields.items():
            if seg in (name, f.alias):
                key = f.alias or name
                return f.annotation, data.get(key) if isinstance(data, dict) else None
        return tp, data  # a tag segment: stay on this model
    origin = typing.get_origin(tp)
    if origin is dict:
        return typing.get_args(tp)[1], sub
    if origin is list:
        item = (
            data[seg]
            if isinstance(data, list) and isinstance(seg, int) and seg < len(data)
            else None
        )
        return typing.get_args(tp)[0], item
    return tp, data
