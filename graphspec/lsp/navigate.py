"""Go to definition, find references, the outline (document symbols) and folding ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphspec.core.errors import Pos
from graphspec.lsp import text as tx
from graphspec.lsp.analysis import Analysis
from graphspec.lsp.index import SECTIONS, Index, get


def definition(index: Index, line: int, col: int) -> tuple[str, tx.Span] | None:
    """(file, span of the defining name) for the name at (line, col)."""
    hit = index.hit(line, col)
    if hit is None or hit.target.kind in ("op", "field"):
        return None
    pos = index.definition(hit.target)
    if pos is None:
        return None
    if hit.target.kind == "file":
        return pos.file, tx.Span(0, 0, 0)
    return pos.file, tx.token_at(index.a.lines_of(pos.file), pos)


def references(
    index: Index, line: int, col: int, declaration: bool
) -> list[tuple[str, tx.Span]] | None:
    hit = index.hit(line, col)
    if hit is None or hit.target.kind in ("op", "field", "file"):
        return None
    found = [(index.a.file, span) for span in index.references(hit.target)]
    pos = index.definition(hit.target)
    if declaration and pos is not None:
        found.insert(0, (pos.file, tx.token_at(index.a.lines_of(pos.file), pos)))
    return found


# -- outline -------------------------------------------------------------------------------


@dataclass
class Symbol:
    name: str
    kind: str  # "namespace", "constant", "class", "field", "variable", "function"
    detail: str
    span: tx.Span  # the name
    last_line: int  # where its block ends
    children: list[Symbol] = field(default_factory=list)


def symbols(a: Analysis) -> list[Symbol]:
    """constants, blocks (with their inputs, params and layers), the model (the same)."""
    doc = a.doc
    if doc is None or not isinstance(doc.data, dict):
        return []
    out = []
    for top, value in doc.data.items():
        sym = _symbol(a, (top,), top, "namespace", "")
        if sym is None:
            continue
        if top == "constants" and isinstance(value, dict):
            sym.children = _each(a, (top,), value, "constant", lambda v: str(v))
        elif top == "blocks" and isinstance(value, dict):
            for name in value:
                block = _symbol(a, (top, name), name, "class", "block")
                if block is not None:
                    block.children = _body(a, (top, name))
                    sym.children.append(block)
        elif top == "model":
            sym.children = _body(a, (top,))
        out.append(sym)
    return out


def _body(a: Analysis, scope: tuple) -> list[Symbol]:
    out = []
    for section in SECTIONS:
        part = get(a.data, (*scope, section))
        sym = _symbol(a, (*scope, section), section, "namespace", "") if part else None
        if sym is None or not isinstance(part, dict):
            continue
        kind = "field" if section != "layers" else "function"
        sym.children = _each(a, (*scope, section), part, kind, lambda v: _op_of(v))
        out.append(sym)
    return out


def _op_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("op", "block", "share"):
            if isinstance(value.get(key), str):
                return value[key] if key == "op" else f"{key} {value[key]}"
        if "group" in value:
            return "group"
    return str(value) if isinstance(value, list) else ""


def _each(a: Analysis, path: tuple, part: dict, kind: str, detail: Any) -> list[Symbol]:
    out = []
    for name, value in part.items():
        sym = _symbol(a, (*path, name), name, kind, detail(value))
        if sym is not None:
            out.append(sym)
    return out


def _symbol(a: Analysis, path: tuple, name: str, kind: str, detail: str) -> Symbol | None:
    pos: Pos | None = a.doc.key_positions.get(path) if a.doc is not None else None
    if pos is None or pos.file != a.file:
        return None
    span = tx.token_at(a.lines, pos)
    return Symbol(name, kind, detail, span, tx.block_end(a.lines, span.line))


# -- folding -------------------------------------------------------------------------------


def folding(lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line of every block of two lines or more, by indentation; works on text the
    loader refuses too, so a half-typed spec still folds."""
    out = []
    for i, line in enumerate(lines):
        if tx.blank(line):
            continue
        last = tx.block_end(lines, i)
        if last > i:
            out.append((i, last))
    return out
