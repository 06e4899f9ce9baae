"""What the name under the cursor is: read from the loader's record of where every key and value
of the document sits (`Document.positions`, `Document.key_positions`), never by re-parsing.

A `Target` is something a name can point at: a node of a body, a block, a constant, a file. A
`Hit` is the name under the cursor with its span and the target it means.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphspec.compiler.graph import split_ref
from graphspec.core.errors import Pos
from graphspec.lsp import context
from graphspec.lsp import text as tx
from graphspec.lsp.analysis import Analysis

SECTIONS = ("inputs", "params", "layers")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Target:
    kind: str  # "node", "block", "constant", "arg", "file", "op", "field"
    name: str
    scope: tuple = ()
    """For a node: the body it lives in, ("model",) or ("blocks", B)."""


@dataclass(frozen=True)
class Hit:
    span: tx.Span
    target: Target
    path: tuple
    is_key: bool


def scope_of(path: tuple) -> tuple:
    if path[:1] == ("model",):
        return ("model",)
    if path[:1] == ("blocks",) and len(path) >= 2:
        return path[:2]
    return ()


def get(data: Any, path: tuple) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data


def body_names(data: Any, scope: tuple) -> dict[str, str]:
    """Each node name of a body -> its section, in declaration order."""
    body = get(data, scope)
    out: dict[str, str] = {}
    for section in SECTIONS:
        part = body.get(section) if isinstance(body, dict) else None
        for name in part if isinstance(part, dict) else ():
            out.setdefault(name, section)
    return out


class Index:
    """The document's keys and values by line, for this buffer's file only."""

    def __init__(self, a: Analysis) -> None:
        self.a = a
        self.by_line: dict[int, list[tuple[Pos, tuple, bool]]] = defaultdict(list)
        doc = a.doc
        if doc is None:
            return
        for table, is_key in ((doc.key_positions, True), (doc.positions, False)):
            for path, pos in table.items():
                if pos.file == a.file and path:
                    self.by_line[pos.line - 1].append((pos, path, is_key))

    def hit(self, line: int, col: int) -> Hit | None:
        """The name at (line, col), the innermost token holding the column."""
        best = None
        for pos, path, is_key in self.by_line.get(line, ()):
            span = tx.token_at(self.a.lines, pos)
            if span.holds(line, col) and (best is None or span.start >= best[0].start):
                if not is_key and isinstance(get(self.a.data, path), (dict, list)):
                    continue
                best = (span, path, is_key)
        if best is None:
            return self._from_hit(line, col)
        span, path, is_key = best
        target = self.meaning(path, is_key, span, col)
        return Hit(span, target, path, is_key) if target is not None else None

    def _from_hit(self, line: int, col: int) -> Hit | None:
        found = context.from_value(self.a.lines)
        if found is not None and found[0].holds(line, col):
            return Hit(found[0], Target("file", found[1]), ("model", "from"), False)
        return None

    def meaning(self, path: tuple, is_key: bool, span: tx.Span, col: int) -> Target | None:
        data = self.a.data
        scope = scope_of(path)
        rest = path[len(scope) :]
        if is_key:
            if len(path) == 2 and path[0] in ("constants", "blocks"):
                return Target("constant" if path[0] == "constants" else "block", path[1])
            if scope and len(rest) == 2 and rest[0] in SECTIONS:
                return Target("node", rest[1], scope)
            if scope[:1] == ("blocks",) and len(rest) == 2 and rest[0] == "args":
                return Target("arg", rest[1], scope)
            if scope and len(rest) == 3 and rest[0] == "layers":
                return Target("field", rest[2], path[:-1])  # scope: the layer's own path
            return None
        value = get(data, path)
        if not isinstance(value, str):
            return None
        if scope and _is_ref(rest):
            return Target("node", split_ref(value)[0], scope)
        if scope and rest[:1] == ("layers",) and rest[-1:] == ("block",):
            return Target("block", value)
        shorthand = len(rest) == 2 or (len(rest) == 4 and rest[2] == "group")
        if scope and rest[:1] == ("layers",) and (rest[-1:] == ("op",) or shorthand):
            return Target("op", value)
        return self._word(value, path, span, col)

    def _word(self, value: str, path: tuple, span: tx.Span, col: int) -> Target | None:
        """A constant or a block argument named inside an expression (`16 * 5 * 5`, `planes`)."""
        line = self.a.lines[span.line]
        for m in _WORD.finditer(line, span.start, span.end):
            if m.start() <= col <= m.end():
                word = m.group()
                scope = scope_of(path)
                args = get(self.a.data, (*scope, "args")) if scope[:1] == ("blocks",) else None
                if isinstance(args, dict) and word in args:
                    return Target("arg", word, scope)
                if isinstance(get(self.a.data, ("constants",)), dict) and word in get(
                    self.a.data, ("constants",)
                ):
                    return Target("constant", word)
        return None

    # -- where a target is defined and used ------------------------------------------------
    def definition(self, target: Target) -> Pos | None:
        doc = self.a.doc
        if doc is None:
            return None
        if target.kind == "node":
            section = body_names(doc.data, target.scope).get(target.name)
            return doc.key_pos((*target.scope, section, target.name)) if section else None
        if target.kind == "block" and isinstance(get(doc.data, ("blocks", target.name)), dict):
            return doc.key_pos(("blocks", target.name))
        if target.kind == "constant" and get(doc.data, ("constants",)) is not None:
            return doc.key_pos(("constants", target.name))
        if target.kind == "arg":
            return doc.key_pos((*target.scope, "args", target.name))
        if target.kind == "file":
            return Pos(self.from_file(target.name), 1, 1)
        return None

    def from_file(self, name: str) -> str:
        """The path a `from:` value names: relative to this buffer's folder."""
        base = os.path.dirname(self.a.file)
        return os.path.normpath(os.path.join(base, name))

    def references(self, target: Target) -> Iterator[tx.Span]:
        """Every use of `target` in this buffer (not its definition)."""
        for line, entries in self.by_line.items():
            for pos, path, is_key in entries:
                if is_key:
                    continue
                value = get(self.a.data, path)
                if not isinstance(value, str):
                    continue
                span = tx.token_at(self.a.lines, pos)
                if target.kind in ("constant", "arg"):
                    yield from self._word_uses(target, path, span)
                elif self.meaning(path, False, span, span.start) == target:
                    if target.kind == "node":  # `mha.weights` names mha: the name's own span
                        start = span.start + (self.a.lines[line][span.start] in "'\"")
                        span = tx.Span(line, start, start + len(target.name))
                    yield span

    def _word_uses(self, target: Target, path: tuple, span: tx.Span) -> Iterator[tx.Span]:
        line = self.a.lines[span.line]
        for m in _WORD.finditer(line, span.start, span.end):
            if m.group() == target.name and self._word(m.group(), path, span, m.start()) == target:
                yield tx.Span(span.line, m.start(), m.end())


def _is_ref(rest: tuple) -> bool:
    """A value that names a node: `in:` (one or a list), `share:`, `outputs:`."""
    if rest[:1] == ("outputs",):
        return True
    if rest[:1] == ("layers",) and len(rest) >= 3:
        field = rest[2]
        return field in ("in", "share") and len(rest) <= 4
    return False
