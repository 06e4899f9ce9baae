"""One error hierarchy for everything graphspec reports about the user's input.

A `Problem` is one located message; a `SpecError` carries all the problems found in one spec so
they are reported together. Anything else that escapes is a bug (see `cli.main`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from graphspec.core.codetext import one_line


class Pos(NamedTuple):
    """A 1-based position in a source file.

    Value types made in bulk are NamedTuples rather than frozen dataclasses: the same fields,
    immutability and equality, at a fifth of the cost of defining the class (start-up)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Problem(NamedTuple):
    """One error: a stable code, a message, where it is, and what to do about it."""

    code: str
    message: str
    pos: Pos | None = None
    node: str | None = None
    hint: str | None = None

    def format(self) -> str:
        where = f"{self.pos}: " if self.pos else ""
        text = f"{where}error[{self.code}]: {self.message}"
        if self.node:
            text += f" (node '{self.node}')"
        if self.hint:
            text += f"; hint: {self.hint}"
        # One problem, one line: a newline inside a value or a path is shown escaped.
        return one_line(text)


@dataclass
class SpecError(Exception):
    """Raised with every problem found; the CLI prints one line each and exits 2."""

    problems: list[Problem] = field(default_factory=list)
    partial: object = field(default=None, compare=False)
    """What was typed before the failure (a TypedGraph), for drawing a graph up to an error."""

    def __str__(self) -> str:
        return "\n".join(p.format() for p in self.problems)


def fail(code: str, message: str, pos: Pos | None = None, **kw: str | None) -> SpecError:
    """Shorthand for a SpecError holding a single problem."""
    return SpecError([Problem(code, message, pos, **kw)])


class RunStopped(Exception):
    """A run that ended early on purpose with its folder complete (diverged, interrupted).

    The session writes its checkpoint and meta.json first, then raises this; the CLI's exit
    table (cli/exits.py) prints the error line, then the run folder last, and picks the code."""

    def __init__(
        self, code: str, message: str, hint: str | None, run_dir: str, quiet: bool = False
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.hint, self.run_dir = code, message, hint, run_dir
        self.quiet = quiet
        """Say nothing (a distributed run's other ranks: rank 0 tells the user)."""

    def line(self) -> str:
        return one_line(
            f"error[{self.code}]: {self.message}" + (f"; hint: {self.hint}" if self.hint else "")
        )


class Diverged(RunStopped):
    """The loss stopped being finite (exit 3)."""


class Interrupted(RunStopped):
    """SIGINT or SIGTERM arrived and a checkpoint was written (exit 130 or 143)."""

    def __init__(
        self, signum: int, message: str, hint: str | None, run_dir: str, quiet: bool = False
    ) -> None:
        super().__init__("E-INTERRUPTED", message, hint, run_dir, quiet)
        self.signum = signum


@contextlib.contextmanager
def warnings_after_success() -> Iterator[None]:
    """Warnings raised inside the block are shown only if it succeeds: a library's warning about
    a file (torch's "Detected pickle protocol 4") never precedes graphspec's one error line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:  # reached only without an exception
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
