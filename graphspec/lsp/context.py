"""Where the cursor is in the YAML, read from the text alone: the enclosing keys (by indentation,
then the flow collections open on the line), and whether a key or a value is being typed. A spec
being edited is often not valid YAML, so completion cannot wait for the loader."""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphspec.core.errors import Pos
from graphspec.lsp import text as tx

_KEY_LINE = re.compile(r"^(\s*)(?:-\s+)?([^\s#'\"{}\[\],][^#{}\[\],]*?):(?:\s|$)")
_VALUE_AT_END = re.compile(r"([A-Za-z_][\w]*):\s*([\w.\-]*)$")
_WORD_AT_END = re.compile(r"[\w.\-]*$")
_FROM = re.compile(r"\bfrom:\s*")


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
        word = _WORD_AT_END.search(prefix)
        value_of, partial = None, word.group() if word else ""
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


def from_value(lines: list[str]) -> tuple[tx.Span, str] | None:
    """The span and text of the model's `from:` value, as written in this file (the loader's
    positions are those of the merged model, which no longer holds the key)."""
    for n, line in enumerate(lines):
        for m in _FROM.finditer(line):
            w = where(lines, n, m.end())
            if w.keys == ["model"] and w.value_of == "from":
                span = tx.token_at(lines, Pos("", n + 1, m.end() + 1))
                return span, line[span.start : span.end].strip("'\"")
    return None
