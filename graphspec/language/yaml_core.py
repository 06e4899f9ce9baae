"""The YAML 1.2 core schema: what a plain scalar means (graphspec.language.load's resolver).

Only these plain scalars are typed; everything else (yes/no/on/off, 1:30, 2001-12-14, 1_000,
0b1, 0X1F) stays a string for the strict schema to reject with a hint. Decimal integers with a
leading zero ("010") are deliberately left as strings too: YAML 1.1 reads them as octal 8,
YAML 1.2 as decimal 10, and a spec should not mean different things to different tools.
"""

from __future__ import annotations

import math
import re
from typing import Any

from graphspec.core.errors import Pos, fail

MAX_INT_DIGITS = 100  # well past any real size, far below Python's int/str conversion limit


def type_name(value: Any) -> str:
    """How an error message names the YAML type of `value`: 'an integer', 'null'..."""
    names = {type(None): "null", bool: "a boolean", int: "an integer", float: "a float"}
    names |= {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


_NULL = re.compile(r"null|Null|NULL|~|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_DEC = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")  # would otherwise match _FLOAT
_OCT = re.compile(r"0o([0-7]+)")
_HEX = re.compile(r"0x([0-9a-fA-F]+)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"([-+]?)\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


# Every typed plain scalar starts with one of these; most names and keys do not (a fast path).
_TYPED_START = frozenset("0123456789+-.~nNtTfF")


def resolve(text: str, pos: Pos) -> Any:
    """The value of a plain (unquoted, untagged) scalar; `pos` locates an E-NUMBER."""
    if text and text[0] not in _TYPED_START:
        return text
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text) or _FALSE.fullmatch(text):
        return text[0] in "tT"
    for pattern, base in ((_DEC, 10), (_OCT, 8), (_HEX, 16)):
        match = pattern.fullmatch(text)
        if match:
            digits = match.group(match.lastindex or 0)
            _check_digits(digits, pos)
            return int(text if base == 10 else digits, base)
    if _FLOAT.fullmatch(text) and not _LEADING_ZERO.fullmatch(text):
        return float(text)  # no digit limit here; huge values become inf, rejected later
    inf = _INF.fullmatch(text)
    if inf:
        return -math.inf if inf.group(1) == "-" else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


def _check_digits(digits: str, pos: Pos) -> None:
    # before int(): Python refuses > 4300 decimal digits with a bare ValueError
    if len(digits) > MAX_INT_DIGITS:
        raise fail(
            "E-NUMBER",
            f"integer literal too large ({len(digits)} digits; at most {MAX_INT_DIGITS})",
            pos,
        )
