"""pydantic's validation errors, translated into located graphspec problems.

pydantic reports a `loc` path through the validated data; the loader recorded where every value of
that data sits in the YAML file. Union and tag segments in `loc` that are not keys of the data are
skipped while walking, which puts each error on the exact line and column of the value it is about.
"""

from __future__ import annotations

import difflib
import math
from typing import Any

from pydantic import ValidationError

from graphspec.core.errors import Problem
from graphspec.language import op_hints
from graphspec.language.load import Document
from graphspec.language.schema_walk import fields_at

_RANGE = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}
_TYPE_NAMES = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "int_from_float": "an integer",
}


def problems_from(err: ValidationError, doc: Document) -> list[Problem]:
    chosen: dict[tuple, tuple[tuple, dict]] = {}
    for e in err.errors(include_url=False):
        path = data_path(doc.data, e["loc"])
        if _key_error(e) and path:
            path = path + ("[key]",)
        # fields missing from one mapping all sit at its path: keep one problem per field
        key = (*path, ("[missing]", e["loc"][-1])) if e["type"] == "missing" else path
        kept = chosen.get(key)
        if kept is None or (_is_type_error(kept[1]) and not _is_type_error(e)):
            chosen[key] = (path, e)
    return [_problem(e, path, doc) for path, e in chosen.values()]


def data_path(data: Any, loc: tuple) -> tuple:
    """The part of `loc` that names real keys and indices of `data`, in order."""
    path: list = []
    for seg in loc:
        if isinstance(data, dict) and seg in data:
            path.append(seg)
            data = data[seg]
        elif isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data):
            path.append(seg)
            data = data[seg]
        elif isinstance(data, dict) and seg == "in_" and "in" in data:
            path.append("in")
            data = data["in"]
    return tuple(path)


def _key_error(e: dict) -> bool:
    return "[key]" in e["loc"]


def _is_type_error(e: dict) -> bool:
    return e["type"].endswith("_type") or e["type"] in ("union_tag_invalid", "literal_error")


def _problem(e: dict, path: tuple, doc: Document) -> Problem:
    real = tuple(p for p in path if p != "[key]")
    node = _node_name(real)
    code, message, hint = _translate(e, real, doc)
    pos = doc.key_pos(real) if path[-1:] == ("[key]",) or code == "E-UNKNOWN" else doc.pos(real)
    if e["type"] == "missing":
        pos = doc.pos(real)
    if e["type"] == "union_tag_invalid" and (*real, "op") in doc.positions:
        pos = doc.pos((*real, "op"))
    if e["type"] == "expr":
        pos = type(pos)(pos.file, pos.line, pos.col + quote_width(doc, real) + e["ctx"]["offset"])
    return Problem(code, message, pos, node, hint)


def quote_width(doc: Document, path: tuple) -> int:
    """A quoted scalar's text starts one column after its mark."""
    return 1 if doc.text_at(path)[:1] in ("'", '"') else 0


def _node_name(path: tuple) -> str | None:
    if len(path) >= 3 and path[:2] == ("model", "layers"):
        return str(path[2])
    return None


def _translate(e: dict, path: tuple, doc: Document) -> tuple[str, str, str | None]:
    kind, ctx, value = e["type"], e.get("ctx", {}), e.get("input")
    field = _field_name(e["loc"])
    if kind == "missing":
        return "E-MISSING", f"missing required field '{field}'", None
    if kind == "extra_forbidden":
        return _unknown(field, e["loc"], doc)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _bad_tag(kind, ctx, path)
    if kind == "literal_error":
        return _enum(value, ctx)
    if kind in _RANGE:
        bound = next(iter(ctx.values()))
        return "E-RANGE", f"'{field}' must be {_RANGE[kind]} {bound}, got {value!r}", None
    if kind == "too_short" and path[-1:] in (("inputs",), ("layers",)) and not value:
        return "E-GRAPH", f"the model has no {field}", f"declare at least one entry under {field}:"
    if kind in ("too_short", "too_long"):
        return (
            "E-RANGE",
            f"'{field}' has {ctx.get('actual_length')} items; {e['msg'].lower()}",
            None,
        )
    if kind == "finite_number" or (isinstance(value, float) and not math.isfinite(value)):
        return "E-FINITE", f"'{field}' must be a finite number, got {value!r}", None
    if kind == "expr":
        return ctx["code"], ctx["message"], ctx.get("hint")
    if kind == "quoted_number":
        want = ctx.get("want", "a number")
        return (
            "E-TYPE",
            f"'{field}' must be {want}, got the string {value!r}",
            "write the number without quotes",
        )
    if kind == "string_pattern_mismatch":
        return _pattern(field, value, path)
    if kind in ("value_error", "assertion_error"):
        code = "E-DEVICE" if path == ("device",) else "E-CONSTRAINT"
        return code, str(ctx.get("error", e["msg"])), None
    return _type_error(kind, field, value, e["msg"])


def _field_name(loc: tuple) -> str:
    names = [s for s in loc if isinstance(s, str) and not s.startswith(("[", "function-"))]
    return names[-1] if names else "spec"


def _unknown(field: str, loc: tuple, doc: Document) -> tuple[str, str, str | None]:
    allowed = fields_at(loc[:-1], doc.data)
    close = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else (f"allowed: {', '.join(sorted(allowed))}" if allowed else None)
    )
    misplaced = _belongs_elsewhere(field, loc[:-1], doc.data)
    if misplaced and not close:
        hint = f"indentation? '{field}' is a field of {misplaced}, not of this section"
    return "E-UNKNOWN", f"unknown field '{field}'", hint


def _belongs_elsewhere(field: str, section: tuple, data: Any) -> str | None:
    """Where an unknown key is known: an enclosing section (`loss:` indented under `data:`)
    or a sibling of this one (`lr:` under `loss:` instead of `optimizer:`)."""
    for up in range(len(section) - 1, -1, -1):
        outer = section[:up]
        if field in fields_at(outer, data):
            names = [s for s in outer if isinstance(s, str)]
            return f"'{'.'.join(names)}'" if names else "the top level"
    if section:
        parent = _value_at(data, section[:-1])
        for sibling in parent if isinstance(parent, dict) else ():
            if sibling != section[-1] and field in fields_at((*section[:-1], sibling), data):
                return f"'{sibling}'"
    return None


def _value_at(data: Any, path: tuple) -> Any:
    for seg in path:
        if isinstance(data, dict) and seg in data:
            data = data[seg]
        else:
            return None
    return data


def _bad_tag(kind: str, ctx: dict, path: tuple) -> tuple[str, str, str | None]:
    tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
    if kind == "union_tag_not_found":
        return "E-MISSING", "missing 'op'", f"one of: {', '.join(tags[:12])}, ..."
    tag = str(ctx.get("tag"))
    what = path[0] if path and path[0] in ("loss", "optimizer", "scheduler") else "op"
    if "layers" in path:  # a layer's op: by meaning first (op_hints)
        ops = [t for t in tags if t not in ("share", "block")]
        return "E-OP", f"unknown op '{tag}'", op_hints.op_hint(tag, ops)
    close = _closest(tag, tags)
    hint = (
        f"did you mean {' or '.join(repr(c) for c in close)}?"
        if close
        else "run `graphspec schema` for the list"
    )
    if "." in tag:
        hint = "ops are names from graphspec's registry (torch's own names), not import paths"
    return "E-OP", f"unknown {what} '{tag}'", hint


def _closest(word: str, options: list[str], n: int = 3) -> list[str]:
    """Like difflib.get_close_matches, but case-blind first (`adamw2` finds AdamW, then Adam)."""

    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a, b).ratio()

    scored = [(ratio(word.lower(), o.lower()), ratio(word, o), o) for o in options]
    return [o for blind, _, o in sorted(scored, reverse=True) if blind >= 0.6][:n]


def _enum(value: Any, ctx: dict) -> tuple[str, str, str | None]:
    expected = str(ctx.get("expected", ""))
    options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip()]
    close = difflib.get_close_matches(str(value), options, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    if value == "none" and options == ["mean", "sum"]:  # a loss's reduction
        hint = "the training loop steps on one number per batch: reduce with mean or sum"
    return "E-ENUM", f"{value!r} is not one of {expected}", hint


def _pattern(field: str, value: Any, path: tuple) -> tuple[str, str, str | None]:
    if path == ("name",):
        return (
            "E-PATH",
            f"run name {value!r} is not a plain folder name",
            "use letters, digits, '_', '-' and '.', starting with a letter or digit",
        )
    if field == "names":
        return (
            "E-NAME",
            f"{value!r} is not a pattern for the copies' names",
            "put {i} (0, 1, ...) or {i+1} (1, 2, ...) where the number goes: "
            "names: denselayer{i+1}",
        )
    if any(part in ("layers", "inputs", "params") for part in path[-2:]):
        return (
            "E-NAME",
            f"{value!r} is not a valid name here",
            "node names use letters, digits, '_' and '-', starting with a letter or digit",
        )
    return (
        "E-NAME",
        f"{value!r} is not a valid name here",
        "names are Python identifiers: letters, digits and _, not starting with a digit",
    )


def _type_error(kind: str, field: str, value: Any, msg: str) -> tuple[str, str, str | None]:
    want = _TYPE_NAMES.get(kind, msg.lower())
    got = "null" if value is None else type(value).__name__
    hint = None
    if isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
        hint = "YAML 1.2 reads this as a string: write true or false"
    elif isinstance(value, str) and value.lstrip("-").isdigit():
        hint = "a leading zero is ambiguous in YAML: write the number without it, or quote it"
    elif isinstance(value, float) and kind in ("int_type", "int_from_float"):
        hint = f"write {int(value)}" if value.is_integer() else None
    elif isinstance(value, str) and kind in ("int_type", "float_type"):
        hint = "write the number without quotes"
    shown = "" if value is None or isinstance(value, (dict, list)) else f" {value!r}"
    return "E-TYPE", f"'{field}' must be {want}, got {got}{shown}", hint
