"""Completion by context: where the cursor is in the YAML is read from the text itself (a spec
being typed is often not valid YAML), what may go there from graphspec's own registries: the op
registry, each op's pydantic fields, the data sources, the loss/optimizer/scheduler tables, and
the names the last good check found."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphspec.lsp import text as tx
from graphspec.lsp.hover import op_fields
from graphspec.lsp.index import body_names, get

_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"{}\[\],][^#{}\[\],]*?):(?:\s|$)")
_VALUE_AT_END = re.compile(r"([A-Za-z_][\w]*):\s*([\w.\-]*)$")
_WORD_AT_END = re.compile(r"[\w.\-]*$")
_OP_IN = re.compile(r"\bop:\s*([A-Za-z_]\w*)")
NODE_KEYS = ("in", "shape", "if")
LAYER_KEYS = ("op", "block", "share", "group", *NODE_KEYS)


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "module", "function", "field", "node", "block", "name", "arg"
    detail: str = ""
    insert: str | None = None


@dataclass
class Where:
    keys: list[str | None]
    """Enclosing keys, outermost first: from indentation, then the flow collections open on
    the line (None for an unnamed one, a `- {` list item)."""
    value_of: str | None
    """The key whose value the cursor is typing, or None where a key goes."""
    in_list: bool
    partial: str
    frame_text: str
    """The text of the innermost open `{...}` so far (its `op:` tells the layer's op)."""


def where(lines: list[str], line: int, col: int) -> Where:
    current = lines[line] if line < len(lines) else ""
    prefix = current[:col]
    keys = _enclosing(lines, line, tx.indent(current) if current.strip() else col)
    frames: list[tuple[str, str | None, int]] = []  # (bracket, owner key, where it opened)
    quote, last_key = "", None
    for i, c in enumerate(prefix):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "{[":
            frames.append((c, last_key, i))
            last_key = None
        elif c in "}]" and frames:
            frames.pop()
        elif c == ",":
            last_key = None
        elif c == ":" and prefix[i + 1 : i + 2] in (" ", ""):
            m = re.search(r"([\w.\-]+)\s*$", prefix[:i])
            last_key = m.group(1) if m else None
    item = prefix.lstrip().startswith("- ") and not frames
    keys += [owner for _, owner, _ in frames]
    value = _VALUE_AT_END.search(prefix)
    in_list = bool(frames and frames[-1][0] == "[") or item
    if value and (not frames or value.start() > frames[-1][2]):
        value_of, partial = value.group(1), value.group(2)
    else:
        value_of, partial = None, _WORD_AT_END.search(prefix).group()
        if in_list:
            value_of = keys[-1] if frames else keys[-1] if keys else None
    frame_text = prefix[frames[-1][2] :] if frames else ""
    return Where(keys, value_of, in_list, partial, frame_text)


def _enclosing(lines: list[str], line: int, col: int) -> list[str | None]:
    """The keys of the lines above that enclose column `col` of `line`, by indentation."""
    keys: list[str | None] = []
    limit = col
    for i in range(min(line, len(lines)) - 1, -1, -1):
        text = lines[i]
        if tx.blank(text):
            continue
        m = _KEY_LINE.match(text)
        own = tx.indent(text)
        if own < limit and m:
            keys.append(m.group(2).strip().strip("'\""))
            limit = own
        elif own < limit:
            limit = own
        if limit == 0:
            break
    return keys[::-1]


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
        return _field_items(op) if op else _layer_keys(call, data)
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
