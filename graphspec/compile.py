"""The pipeline up to generated source: load, resolve constants, validate, wire, infer, emit.

Nothing here imports torch. `Compiled.build()` is the first step that does (through build.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from graphspec import codegen, exprs, load, report
from graphspec.errors import Pos, Problem, SpecError
from graphspec.graph import build_graph
from graphspec.infer import TypedGraph, infer
from graphspec.spec import Spec

if TYPE_CHECKING:
    import torch


@dataclass
class Compiled:
    """A checked spec: the validated models, the typed graph, and the document it came from."""

    spec: Spec
    graph: TypedGraph
    doc: load.Document

    @property
    def file(self) -> str:
        return self.doc.file

    @cached_property
    def source(self) -> str:
        """The module's Python source: exactly what `graphspec emit` writes."""
        return codegen.generate(self.graph, self.file)

    def model_class(self) -> type[torch.nn.Module]:
        from graphspec.build import load_class

        return load_class(self.source, self.graph.class_name, self.file)

    def build(self) -> torch.nn.Module:
        return self.model_class()()


def compile_file(path: str) -> Compiled:
    return compile_document(load.load_file(path))


def compile_document(doc: load.Document, data: Any = None) -> Compiled:
    """`data` replaces `doc.data` (after --set overrides); positions still come from `doc`."""
    data = doc.data if data is None else data
    constants = _constants(data, doc)
    try:
        spec = Spec.model_validate(data, context={"constants": constants})
    except ValidationError as err:
        raise SpecError(report.problems_from(err, doc)) from None
    graph = build_graph(spec.model, _node_positions(spec, doc))
    typed = infer(graph, spec.model.class_, _field_positions(spec, doc))
    return Compiled(spec, typed, doc)


def _constants(data: Any, doc: load.Document) -> dict[str, int | float]:
    raw = data.get("constants") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return {}  # pydantic reports a wrong type
    values, errors = exprs.resolve_constants(raw)
    if errors:
        raise SpecError([_expr_problem(name, err, doc) for name, err in errors.items()])
    return values


def _expr_problem(name: str, err: exprs.ExprError, doc: load.Document) -> Problem:
    pos = doc.pos(("constants", name))
    return Problem(err.code, err.message, Pos(pos.file, pos.line, pos.col + err.offset), hint=err.hint)


def _node_positions(spec: Spec, doc: load.Document) -> dict[str, Pos]:
    where = {name: doc.key_pos(("model", "inputs", name)) for name in spec.model.inputs}
    where |= {name: doc.key_pos(("model", "layers", name)) for name in spec.model.layers}
    where["__outputs__"] = doc.pos(("model", "outputs"))
    return where


def _field_positions(spec: Spec, doc: load.Document) -> dict[tuple[str, str], Pos]:
    out: dict[tuple[str, str], Pos] = {}
    layers = doc.data.get("model", {}).get("layers", {}) if isinstance(doc.data, dict) else {}
    for name, raw in layers.items():
        if isinstance(raw, dict):
            for key in raw:
                out[(name, "in_" if key == "in" else key)] = doc.pos(("model", "layers", name, key))
    return out
