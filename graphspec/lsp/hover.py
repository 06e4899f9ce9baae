"""Hover text (Markdown) and inlay hints: what the compiler typed, said where it was written."""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any

from graphspec.compiler import cost, summary
from graphspec.compiler.infer import TypedNode
from graphspec.core import exprs
from graphspec.core.shapes import TensorType
from graphspec.language import schema_docs
from graphspec.lsp import text as tx
from graphspec.lsp.analysis import Analysis
from graphspec.lsp.index import Hit, Index, get
from graphspec.ops import OPS

ARROW = "→"


def hover(a: Analysis, index: Index, line: int, col: int) -> tuple[str, tx.Span] | None:
    hit = index.hit(line, col)
    if hit is None:
        return None
    text = describe(a, index, hit)
    return (text, hit.span) if text else None


def describe(a: Analysis, index: Index, hit: Hit) -> str | None:
    t = hit.target
    if t.kind == "node":
        where = index.definition(t)
        typed = a.typed_nodes.get(where) if where is not None else None
        return node_text(a, typed) if typed is not None else f"**{t.name}** (not typed yet)"
    if t.kind == "op":
        return op_text(t.name)
    if t.kind == "block":
        return block_text(a.data, t.name)
    if t.kind == "constant":
        return constant_text(a.data, t.name)
    if t.kind == "arg":
        decl = get(a.data, (*t.scope, "args", t.name))
        return f"argument **{t.name}** of block `{t.scope[1]}`: `{decl}`"
    if t.kind == "file":
        return f"model taken from `{index.from_file(t.name)}`"
    if t.kind == "field":
        return field_text(get(a.data, t.scope), t.name)
    return None


# -- nodes ---------------------------------------------------------------------------------


def node_text(a: Analysis, t: TypedNode) -> str:
    label = summary.op_label(t)
    torch = f" ({t.op.torch_name})" if t.op is not None and t.op.torch_name else ""
    lines = [f"**{t.name}**: `{label}`{torch}", ""]
    sizes = _sizes(a)
    for port, out in t.outs.items():
        name = "" if len(t.outs) == 1 else f"{port}: "
        lines.append(f"- output {name}`{out}` {out.dtype}{_concrete(out, sizes)}")
    lines.append(f"- parameters: {t.params:,}")
    macs = _macs(a, t)
    if macs is not None:
        at = ", ".join(f"{k}={v}" for k, v in sorted(sizes.items()))
        lines.append(f"- MACs: {macs:,} (at {at})")
    if t.op is not None:
        lines += ["", schema_docs.first_paragraph(type(t.op).__doc__)]
    return "\n".join(lines)


def _sizes(a: Analysis) -> dict[str, int]:
    """The sizes the spec itself gives: N is its data's batch (what `summary` costs at)."""
    return cost.default_sizes(a.compiled.spec) if a.compiled is not None else {}


def _concrete(out: TensorType, sizes: dict[str, int]) -> str:
    shown = out.subs(dict(sizes))
    if shown != out and all(d.is_static for d in shown.shape):
        return f", at {', '.join(f'{k}={v}' for k, v in sorted(sizes.items()))}: `{shown}`"
    return ""


def _macs(a: Analysis, t: TypedNode) -> int | None:
    costs = node_costs(a)
    if t.name in costs and a.typed is not None and a.typed.nodes.get(t.name) is t:
        own = costs[t.name]
        inside = sum(v for k, v in costs.items() if k.startswith(t.name + "."))
        return own + inside
    return None


MACS_MAX_NODES = 2_000
"""Above this many typed nodes the cost model takes longer than a hover may (1.4 s at 10,000
layers): hover leaves MACs out there, and `graphspec summary` gives them."""


def node_costs(a: Analysis) -> dict[str, int]:
    """MACs per node path at the spec's own sizes, computed once per analysis."""
    cached = a.cache.get("macs")
    if cached is None:
        cached = {}
        if a.compiled is not None and len(a.typed_nodes) <= MACS_MAX_NODES:
            try:
                found = cost.cost_of(a.compiled.graph, _sizes(a))
                cached = {n.path: n.macs for n in found.nodes}
            except Exception:  # a cost the model cannot give (a symbol left over) hides the line
                cached = {}
        a.cache["macs"] = cached
    return cached


# -- ops, blocks, constants, fields ---------------------------------------------------------


@cache
def op_text(name: str) -> str | None:
    if name not in OPS:
        return None
    cls = OPS[name]
    torch = f" ({cls.torch_name})" if cls.torch_name else ""
    lines = [f"**{name}**{torch}: a {cls.kind} op", "", schema_docs.first_paragraph(cls.__doc__)]
    fields = [f"`{k}`" for k, _ in op_fields(cls)]
    if fields:
        lines += ["", "fields: " + ", ".join(fields)]
    return "\n".join(lines)


def op_fields(cls: Any) -> list[tuple[str, str]]:
    """(field as written in a spec, its type and default) for an op's own fields."""
    out = []
    for key, info in cls.model_fields.items():
        if key == "op":
            continue
        written = info.alias or key
        kind = _type_name(info.annotation)
        default = "" if info.is_required() else f" = {info.default!r}"
        out.append((written, f"{kind}{default}"))
    return out


def _type_name(annotation: Any) -> str:
    """A field's type as a spec writer reads it: `int | None`, `'zeros' | 'reflect'`, `list[int]`
    (an Annotated size is its base type: where an int goes, an expression over constants may)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(dict.fromkeys(_type_name(a) for a in args))
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def block_text(data: Any, name: str) -> str | None:
    block = get(data, ("blocks", name))
    if not isinstance(block, dict):
        return None
    args: dict[str, Any] = block["args"] if isinstance(block.get("args"), dict) else {}
    inputs: dict[str, Any] = block["inputs"] if isinstance(block.get("inputs"), dict) else {}
    signature = ", ".join(f"{k}: {v}" for k, v in args.items())
    lines = [f"block **{name}**({signature})", ""]
    lines += [f"- input `{k}`: `{v}`" for k, v in inputs.items()]
    outputs = block.get("outputs")
    if outputs is None:
        layers: dict[str, Any] = block["layers"] if isinstance(block.get("layers"), dict) else {}
        outputs = list(layers)[-1:] or "?"
    lines.append(f"- outputs: `{outputs}`")
    return "\n".join(lines)


def constant_text(data: Any, name: str) -> str | None:
    raw = get(data, ("constants",))
    if not isinstance(raw, dict) or name not in raw:
        return None
    values, _ = exprs.resolve_constants(raw)
    value = values.get(name)
    shown = f"**{name}** = `{raw[name]}`"
    if value is not None and str(value) != str(raw[name]):
        shown += f" = `{value}`"
    return "constant " + shown


def field_text(layer: Any, key: str) -> str | None:
    op = layer.get("op") if isinstance(layer, dict) else None
    if not isinstance(op, str) or op not in OPS:
        return None
    cls = OPS[op]
    name = schema_docs.field_name(cls, key)
    info = cls.model_fields.get(name)
    if info is None:
        return None
    docs = schema_docs.field_docs(cls).get(name, info.description or "")
    kind = dict(op_fields(cls)).get(key, "")
    return f"`{key}`: {kind}\n\n{docs}".strip()


# -- inlay hints ----------------------------------------------------------------------------


def inlay_hints(a: Analysis, first: int, last: int) -> list[tuple[int, int, str]]:
    """(line, column, label) after each typed layer line of this buffer between two lines."""
    out: dict[int, tuple[int, int, str]] = {}
    for pos, t in a.typed_nodes.items():
        line = pos.line - 1
        if pos.file != a.file or not first <= line <= last or line in out or t.node.is_input:
            continue
        if line >= len(a.lines):
            continue
        shapes = ", ".join(str(o) for o in t.outs.values())
        out[line] = (line, len(tx.content_end(a.lines[line])), f"{ARROW} {shapes}")
    return [out[k] for k in sorted(out)]
