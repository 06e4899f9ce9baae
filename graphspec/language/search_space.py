"""Search spaces for `graphspec sweep`, written as overrides in the grammar of Hydra's sweepers.

    --set 'optimizer.lr=tag(log, interval(1e-4, 1e-1))'     a float, sampled on a log scale
    --set 'data.batch_size=choice(16, 32, 64)'              one of the listed values
    --set 'model.layers.fc1.out_features=range(32, 257, 32)'  32, 64, ..., 256 (stop excluded)

An override whose value starts with one of these functions is a space; any other stays a plain
override, the same for every trial. Parsing is torch-free and exact about positions: a malformed
space is an E-SWEEP error at the column of the override's text where it goes wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from graphspec.core.errors import Pos, fail
from graphspec.language import load

FUNCTIONS = ("choice", "range", "interval", "tag")
CALL = re.compile(r"\s*(\w+)\s*\(")
MAX_CHOICES = 1000


@dataclass(frozen=True)
class Space:
    """One searched field: its dotted key and the distribution of its values."""

    key: str
    kind: str  # "choice", "int", "float"
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    text: str = ""  # the override as given, for messages

    def extremes(self) -> list[Any]:
        """Values that, when each one validates, show the whole space fits the field."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]

    def describe(self) -> str:
        if self.kind == "choice":
            return f"choice({', '.join(map(repr, self.choices))})"
        scale = ", log" if self.log else ""
        step = f", step {self.step:g}" if self.step is not None else ""
        return f"{self.kind} in [{self.low:g}, {self.high:g}]{step}{scale}"


def is_space(item: str) -> bool:
    """Whether an override `key=value` gives a search space rather than one value."""
    _, eq, value = item.partition("=")
    match = CALL.match(value)
    return bool(eq) and match is not None and match.group(1) in FUNCTIONS


def parse(item: str) -> Space:
    """`key=space` into a Space; E-SWEEP at the override's column for anything malformed."""
    key, _, value = item.partition("=")
    parser = _Parser(item, len(key) + 1)
    space = parser.space()
    parser.end()
    return _checked(Space(key=key.strip(), text=item, **space), parser)


class _Parser:
    """A small recursive-descent reader of one space expression (no eval, no imports)."""

    def __init__(self, item: str, start: int) -> None:
        self.item, self.i = item, start

    def error(self, message: str, hint: str | None = None, at: int | None = None) -> Exception:
        col = (self.i if at is None else at) + 1
        return fail("E-SWEEP", message, Pos(f"--set {self.item}", 1, col), hint=hint)

    def skip(self) -> None:
        while self.i < len(self.item) and self.item[self.i].isspace():
            self.i += 1

    def expect(self, char: str) -> None:
        self.skip()
        if not self.item.startswith(char, self.i):
            found = repr(self.item[self.i]) if self.i < len(self.item) else "the end"
            raise self.error(f"expected '{char}', found {found}")
        self.i += 1

    def end(self) -> None:
        self.skip()
        if self.i != len(self.item):
            raise self.error(f"unexpected text after the space: {self.item[self.i :]!r}")

    def name(self) -> str:
        self.skip()
        match = re.compile(r"\w+").match(self.item, self.i)
        if not match:
            raise self.error("expected choice(...), range(...), interval(...) or tag(log, ...)")
        self.i = match.end()
        return match.group(0)

    def space(self) -> dict[str, Any]:
        self.skip()
        at = self.i
        fn = self.name()
        if fn not in FUNCTIONS:
            raise self.error(
                f"unknown search function '{fn}'", f"use one of {', '.join(FUNCTIONS)}", at
            )
        self.expect("(")
        if fn == "tag":
            return self._tag(at)
        args = self.arguments()
        self.expect(")")
        space: dict[str, Any] = getattr(self, f"_{fn}")(args, at)
        return space

    def arguments(self) -> list[tuple[int, Any]]:
        """Comma-separated YAML values up to the closing parenthesis, with their columns."""
        args: list[tuple[int, Any]] = []
        self.skip()
        while self.i < len(self.item) and self.item[self.i] != ")":
            start = self.i
            text = self._one_argument()
            if not text.strip():
                raise self.error("an empty argument", at=start)
            args.append((start, self._value(text, start)))
            self.skip()
            if self.item.startswith(",", self.i):
                self.i += 1
                self.skip()
        return args

    def _one_argument(self) -> str:
        depth, quote, start = 0, "", self.i
        while self.i < len(self.item):
            c = self.item[self.i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c == "," and depth == 0:
                break
            self.i += 1
        return self.item[start : self.i]

    def _value(self, text: str, at: int) -> Any:
        try:  # the same safe YAML 1.2 reader as spec files and --set values
            return load.load_text(f"value: {text.strip()}\n", f"--set {self.item}").data["value"]
        except Exception as err:  # noqa: BLE001 - any reader complaint is this argument's
            raise self.error(f"cannot read {text.strip()!r} as a value ({err})", at=at) from None

    def _tag(self, at: int) -> dict[str, Any]:
        tag = self.name()
        if tag != "log":
            raise self.error(f"unknown tag '{tag}'", "the only tag is log: tag(log, interval(...))")
        self.expect(",")
        self.skip()
        inner_at = self.i
        inner = self.space()
        self.expect(")")
        if inner["kind"] == "choice":
            raise self.error(
                "tag(log, ...) takes an interval or a range, not a choice", at=inner_at
            )
        if inner["low"] <= 0:
            raise self.error(
                f"a log scale needs bounds > 0, got {inner['low']:g}",
                "start the interval above 0, e.g. interval(1e-5, 1e-1)",
                inner_at,
            )
        if inner.get("step") not in (None, 1):
            raise self.error("a log-scaled range takes no step other than 1", at=inner_at)
        return {**inner, "log": True, "step": None if inner["kind"] == "float" else 1}

    def _choice(self, args: list[tuple[int, Any]], at: int) -> dict[str, Any]:
        if not args:
            raise self.error("choice() needs at least one value", "e.g. choice(16, 32, 64)", at)
        if len(args) > MAX_CHOICES:
            raise self.error(f"choice() takes at most {MAX_CHOICES} values", at=at)
        values = tuple(v for _, v in args)
        for col, v in args:
            if isinstance(v, (dict, list)) or v is None:
                raise self.error(
                    f"choice values must be numbers, strings or booleans, got {v!r}", at=col
                )
        return {"kind": "choice", "choices": values}

    def _numbers(
        self, args: list[tuple[int, Any]], fn: str, at: int, n: tuple[int, ...]
    ) -> list[Any]:
        if len(args) not in n:
            want = " or ".join(map(str, n))
            example = "interval(1e-4, 1e-1)" if fn == "interval" else "range(32, 257, 32)"
            raise self.error(f"{fn}() takes {want} numbers, got {len(args)}", f"e.g. {example}", at)
        for col, v in args:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise self.error(f"{fn}() takes finite numbers, got {v!r}", at=col)
        return [v for _, v in args]

    def _interval(self, args: list[tuple[int, Any]], at: int) -> dict[str, Any]:
        low, high = self._numbers(args, "interval", at, (2,))
        if not low < high:
            raise self.error(
                f"interval({low:g}, {high:g}): the low bound must be below the high", at=at
            )
        return {"kind": "float", "low": float(low), "high": float(high)}

    def _range(self, args: list[tuple[int, Any]], at: int) -> dict[str, Any]:
        nums = self._numbers(args, "range", at, (2, 3))
        start, stop, step = (*nums, 1)[:3]
        if step <= 0:
            raise self.error(f"range(): the step must be > 0, got {step:g}", at=at)
        count = math.ceil((stop - start) / step)
        if count < 1:
            raise self.error(
                f"range({start:g}, {stop:g}): holds no value (the stop is excluded)", at=at
            )
        last = start + (count - 1) * step
        integral = all(isinstance(v, int) for v in (start, stop, step))
        kind = "int" if integral else "float"
        return {"kind": kind, "low": start, "high": last, "step": step}


def _checked(space: Space, parser: _Parser) -> Space:
    if not space.key:
        raise parser.error("a search space needs a field: key=choice(...)", at=0)
    return space
