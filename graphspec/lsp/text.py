"""What the editor features need from the raw text: where a token ends, where a line's content
ends, and indentation. Positions are 0-based (line, code-point column); the loader's are 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphspec.core.errors import Pos

_CLOSE = {"[": "]", "{": "}"}
_STOP_IN_FLOW = ",]}"


@dataclass(frozen=True, order=True)
class Span:
    """A range on one line: [start, end) in code points."""

    line: int
    start: int
    end: int

    def holds(self, line: int, col: int) -> bool:
        return line == self.line and self.start <= col <= self.end


def lines_of(text: str) -> list[str]:
    """The lines as the YAML reader counts them (no line-break characters kept)."""
    return text.splitlines()


def token_at(lines: list[str], pos: Pos) -> Span:
    """The extent of the token that starts at the loader's `pos`: a quoted string, a flow
    collection, a key or a plain scalar (to its `,`, `]`, `}` in flow context, its `: ` or its
    comment). At least one character where the line has one."""
    line, col = pos.line - 1, pos.col - 1
    text = lines[line] if 0 <= line < len(lines) else ""
    col = max(0, min(col, len(text)))
    return Span(line, col, max(col + min(1, len(text) - col), _token_end(text, col)))


def _token_end(text: str, col: int) -> int:
    first = text[col : col + 1]
    if first in ("'", '"'):
        end = text.find(first, col + 1)
        return len(text) if end < 0 else end + 1
    if first in _CLOSE:
        return _match(text, col)
    flow = in_flow(text, col)
    i = col
    while i < len(text):
        c = text[i]
        if flow and c in _STOP_IN_FLOW:
            break
        if c == ":" and text[i + 1 : i + 2] in ("", " "):
            break
        if c == "#" and i > col and text[i - 1] == " ":
            break
        i += 1
    return len(text[:i].rstrip())


def _match(text: str, col: int) -> int:
    depth, quote = 0, ""
    for i in range(col, len(text)):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in ("'", '"'):
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(content_end(text))


def in_flow(text: str, col: int) -> bool:
    """Whether `col` sits inside a `[...]` or `{...}` opened earlier on its line."""
    depth, quote = 0, ""
    for c in text[:col]:
        if quote:
            quote = "" if c == quote else quote
        elif c in ("'", '"'):
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
    return depth > 0


def content_end(text: str) -> str:
    """The line without its comment and trailing spaces."""
    quote = ""
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in ("'", '"'):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i].rstrip()
    return text.rstrip()


def indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def blank(text: str) -> bool:
    """Empty, spaces only, or only a comment."""
    rest = text.lstrip()
    return not rest or rest[0] == "#"


def block_end(lines: list[str], line: int) -> int:
    """The last line of the block that `line` opens: following lines indented deeper (blank and
    comment lines inside count), or `line` itself. A key's list may sit at the key's own
    indentation (`group:` then `- Conv2d`), so those items count too."""
    own = indent(lines[line])
    item = lines[line].lstrip().startswith("- ")
    last = line
    for i in range(line + 1, len(lines)):
        if blank(lines[i]):
            continue
        deeper = indent(lines[i]) > own
        same_list = indent(lines[i]) == own and not item and lines[i].lstrip().startswith("- ")
        if not (deeper or same_list):
            break
        last = i
    return last
