"""One check of one editor buffer: the same load and compile `graphspec validate` runs, kept.

`analyze` never raises. A user's mistakes are the compiler's problems, exactly as validate
prints them; anything else is a bug in graphspec, logged with its traceback and shown as one
diagnostic that says so (never as an E- code: a bug is not the user's error).
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.compiler.pipeline import Compiled, compile_document
from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.language import load
from graphspec.lsp import text as tx

log = logging.getLogger(__name__)

PLANT_ENV = "GRAPHSPEC_LSP_PLANT_CRASH"
"""Tests only: a buffer whose text holds this variable's value makes the compile step and every
request on it raise, as a bug would (tests/lsp/test_lsp_server.py)."""


_SPEC = re.compile(r"^model\s*:", re.MULTILINE)


def looks_like_spec(text: str) -> bool:
    """A graphspec spec has a top-level `model:`; editors hand the server every YAML file, and
    the others (CI configs, compose files) get no diagnostics."""
    return _SPEC.search(text) is not None


class PlantedCrash(RuntimeError):
    """The tests' stand-in for a bug in a stage."""


def planted(text: str) -> None:
    marker = os.environ.get(PLANT_ENV)
    if marker and marker in text:
        raise PlantedCrash(f"planted crash ({PLANT_ENV})")


@dataclass
class Analysis:
    """A buffer's text, what the compiler said about it, and what it typed."""

    file: str
    text: str
    version: int | None = None
    problems: list[Problem] = field(default_factory=list)
    doc: load.Document | None = None
    compiled: Compiled | None = None
    typed: TypedGraph | None = None
    """The model's typed graph: whole when the spec is fine, as far as it got otherwise."""
    crash: str | None = None
    """A bug's one-line description, when the compiler raised something other than SpecError."""
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """What features compute once per check (the index, the costs)."""

    @cached_property
    def lines(self) -> list[str]:
        return tx.lines_of(self.text)

    def lines_of(self, file: str) -> list[str]:
        """The text lines of `file` (this buffer or a file its model came `from:`)."""
        if file == self.file:
            return self.lines
        texts = self.doc.texts if self.doc is not None else {}
        return tx.lines_of(texts.get(file, ""))

    @cached_property
    def typed_nodes(self) -> dict[Pos, TypedNode]:
        """Every typed node by the position of its name: the model's, and each block's from its
        first specialization (a block's own symbols)."""
        found: dict[Pos, TypedNode] = {}
        graphs = [self.typed] if self.typed is not None else []
        typer = getattr(self.typed, "blocks", None)
        graphs += [g for g in getattr(typer, "typed", {}).values() if g is not None]
        for graph in graphs:
            _collect(graph, found)
        return found

    @property
    def data(self) -> Any:
        return self.doc.data if self.doc is not None else None


def _collect(graph: TypedGraph, found: dict[Pos, TypedNode]) -> None:
    for t in graph.nodes.values():
        found.setdefault(t.node.pos, t)
        for inner in (t.inner, *t.copies):
            if inner is not None:
                _collect(inner, found)


def analyze(text: str, file: str, version: int | None = None) -> Analysis:
    """Load and compile `text` as the spec at `file` (its `from:` files read from disk)."""
    result = Analysis(file, text, version)
    try:
        planted(text)
        result.doc = load.load_text(text, file)
        result.compiled = compile_document(result.doc)
        result.typed = result.compiled.graph
    except SpecError as err:
        result.problems = list(err.problems)
        result.typed = err.partial if isinstance(err.partial, TypedGraph) else None
        if result.typed is not None and result.typed.spec_key:
            result.typed = None  # a block's partial graph, not the model's
    except Exception as err:  # a bug: logged, shown as one, and the server goes on
        log.error("checking %s crashed:\n%s", file, traceback.format_exc())
        result.crash = f"{type(err).__name__}: {err}"
    return result
