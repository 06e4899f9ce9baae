"""Completion by context: where the cursor is in the YAML is read from the text itself (a spec
being typed is often not valid YAML), what may go there from graphspec's own registries: the op
registry, each op's pydantic fields, the data sources, the loss/optimizer/scheduler tables, and
the names the last good check found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphspec.lsp.context import Where, where
from graphspec.lsp.hover import op_fields
from graphspec.lsp.index import body_names, get

_OP_IN = re.compile(r"\bop:\s*([A-Za-z_]\w*)")
NODE_KEYS = ("in", "shape", "if")
LAYER_KEYS = ("op", "block", "share", "group", *NODE_KEYS)


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "module", "function", "field", "node", "block", "name", "arg"
    detail: str = ""
    insert: str | None = None


# -- what goes there -------------------------------------------------------------------------


def complete(lines: list[str], line: int, col: int, data: Any) -> list[Item]:
    w = where(lines, line, col)
    items = _items(w, data)
    return (
        [i for i in items if i.label.lower().startswith(w.partial.lower())] if w.partial else items
    )


def _items(w: Where, data: Any) -> list[Item]:
    keys = w.keys
    scope = _scope(keys)
    rest = keys[len(scope) :]
    if w.value_of is None:
        return _key_items(w, data, scope, rest)
    key = w.value_of
    if not scope:
        return _top_values(keys, key)
    module_only = "group" in [k for k in rest if k is not None]
    layer_shorthand = rest == ["layers"] and not w.in_list
    if key == "op" or layer_shorthand or (key == "group" and w.in_list):
        return op_items(module_only)
    if key in ("in", "share", "outputs") or (rest[:1] == ["outputs"]):
        return _node_items(data, scope, rest)
    if key == "block":
        blocks = get(data, ("blocks",))
        return [Item(b, "block", "block") for b in blocks] if isinstance(blocks, dict) else []
    return []


def _scope(keys: list[str | None]) -> list[str | None]:
    if keys[:1] == ["model"]:
        return keys[:1]
    if keys[:1] == ["blocks"] and len(keys) >= 2:
        return keys[:2]
    return []


def _top_values(keys: list[str | None], key: str) -> list[Item]:
    tables = _tables()
    if keys == [] and key in ("loss", "optimizer", "scheduler"):
        return [Item(n, "name", key) for n in tables[key]]
    if keys[:1] and keys[0] in ("loss", "optimizer", "scheduler") and key == "op":
        return [Item(n, "name", keys[0]) for n in tables[keys[0]]]
    if keys[:1] == ["data"] and key == "source":
        return [Item(n, "name", "data source") for n in tables["source"]]
    return []


@cache
def _tables() -> dict[str, list[str]]:
    from graphspec.data import SOURCES
    from graphspec.language import recipe

    sources = [cls.model_fields["source"].annotation.__args__[0] for cls in SOURCES]
    return {
        "loss": list(recipe.LOSSES),
        "optimizer": list(recipe.OPTIMIZERS),
        "scheduler": list(recipe.SCHEDULERS),
        "source": sources,
    }


@cache
def op_items(module_only: bool) -> list[Item]:
    from graphspec.language import schema_docs
    from graphspec.ops import OPS

    items = []
    for name in OPS:
        cls = OPS[name]
        if module_only and cls.kind != "module":
            continue
        detail = f"{cls.torch_name}: {schema_docs.first_paragraph(cls.__doc__)}"
        items.append(Item(name, cls.kind, detail))
    return items


def _node_items(data: Any, scope: list, rest: list) -> list[Item]:
    names = body_names(data, tuple(scope))
    layer = rest[1] if rest[:1] == ["layers"] and len(rest) > 1 else None
    out = []
    for name, section in names.items():
        if name == layer:
            break  # a layer reads what is declared before it
        out.append(Item(name, "node", section))
    return out


def _key_items(w: Where, data: Any, scope: list, rest: list) -> list[Item]:
    if scope and len(rest) == 2 and rest[0] == "layers":
        layer = get(data, (*scope, *rest))
        m = _OP_IN.search(w.frame_text)
        op = m.group(1) if m else layer.get("op") if isinstance(layer, dict) else None
        call = layer.get("block") if isinstance(layer, dict) else None
        written = set(re.findall(r"([\w]+):", w.frame_text))
        items = _field_items(op) if op else _layer_keys(call, data)
        return [i for i in items if i.label not in written]
    if scope and len(rest) == 3 and rest[0] == "layers" and rest[2] == "args":
        call = get(data, (*scope, *rest[:2], "block"))
        args = get(data, ("blocks", call, "args")) if isinstance(call, str) else None
        if isinstance(args, dict):
            return [Item(k, "arg", str(v), f"{k}: ") for k, v in args.items()]
    return []


def _field_items(op: str) -> list[Item]:
    from graphspec.ops import OPS

    if op not in OPS:
        return []
    return [Item(k, "field", kind, f"{k}: ") for k, kind in op_fields(OPS[op])]


def _layer_keys(call: Any, data: Any) -> list[Item]:
    if isinstance(call, str):
        return [Item(k, "field", "block call", f"{k}: ") for k in ("repeat", "args", "first")]
    return [Item(k, "field", "layer", f"{k}: ") for k in LAYER_KEYS]
