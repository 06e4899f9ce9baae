"""Quick fixes: a problem's hint, where it names the text to write, applied to the problem's span.

The compiler's hints are sentences for people; the ones that say exactly what to write are
`write FIELD: VALUE` (a size the compiler inferred, a shape), `write VALUE` (an integer written
as a float) and `did you mean 'NAME'?` (an op, a field, a name). Each replaces the token the
problem points at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graphspec.core.errors import Problem
from graphspec.lsp import text as tx

_WRITE_FIELD = re.compile(r"^write (?P<field>[A-Za-z_]\w*): (?P<value>.+?)(?:, or .*)?$")
_WRITE_VALUE = re.compile(r"^write (?P<value>-?\d+)$")
_MEAN = re.compile(r"did you mean '(?P<value>[^']+)'\?")


@dataclass(frozen=True)
class Fix:
    title: str
    span: tx.Span
    new_text: str


def fix_for(problem: Problem, lines: list[str]) -> Fix | None:
    """The edit a problem's hint asks for, or None where the hint is advice only."""
    if problem.pos is None or not problem.hint:
        return None
    span = tx.token_at(lines, problem.pos)
    old = lines[span.line][span.start : span.end] if span.line < len(lines) else ""
    hint = problem.hint
    m = _WRITE_FIELD.match(hint)
    before = lines[span.line][: span.start] if span.line < len(lines) else ""
    if m and re.search(rf"\b{re.escape(m['field'])}:\s*$", before):  # at that field's value
        return Fix(f"write {m['field']}: {m['value']}", span, m["value"])
    m = _WRITE_VALUE.match(hint)
    if m:
        return Fix(f"write {m['value']}", span, m["value"])
    m = _MEAN.search(hint)
    if m and old:
        quote = old[0] if old[0] in "'\"" and old[-1:] == old[0] else ""
        return Fix(f"did you mean '{m['value']}'?", span, f"{quote}{m['value']}{quote}")
    return None
