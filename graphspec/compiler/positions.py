"""Where each node and each field of a body is written in the spec, for errors that point there."""

from __future__ import annotations

from typing import Any

from graphspec.core.errors import Pos
from graphspec.language import load
from graphspec.language.spec import Body


def node_positions(path: tuple[Any, ...], body: Body, doc: load.Document) -> dict[str, Pos]:
    where = {}
    for section in ("inputs", "params", "buffers", "layers"):
        for name in getattr(body, section):
            where[name] = where[f"{section}.{name}"] = doc.key_pos((*path, section, name))
    where["__outputs__"] = doc.pos((*path, "outputs"))
    return where


def field_positions(
    path: tuple[Any, ...], data: Any, doc: load.Document
) -> dict[tuple[str, str], Pos]:
    out: dict[tuple[str, str], Pos] = {}
    body = data
    for key in path:
        body = body.get(key, {}) if isinstance(body, dict) else {}
    layers = body.get("layers", {}) if isinstance(body, dict) else {}
    for name, raw in layers.items() if isinstance(layers, dict) else ():
        if isinstance(raw, dict):
            for key in raw:
                out[(name, "in_" if key == "in" else key)] = doc.pos((*path, "layers", name, key))
    return out
