"""The pipeline up to generated source: load, resolve constants, validate, wire, infer, emit.

Nothing here imports torch. `Compiled.build()` is the first step that does (through build.py).
"""

from __future__ import annotations

import builtins
import keyword
import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from graphspec.compiler import blocks, checks, codegen
from graphspec.compiler.graph import build_graph
from graphspec.compiler.infer import TypedGraph, infer
from graphspec.compiler.positions import field_positions, node_positions
from graphspec.core import exprs
from graphspec.core.codetext import BANNED_NAMES
from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.core.names import FORWARD_NAMES, SCRIPT_GLOBALS, class_name_problem
from graphspec.language import includes, load, paths
from graphspec.language import locate as report
from graphspec.language.spec import Spec

if TYPE_CHECKING:
    import torch

MAX_GRAPH_NODES = 20_000  # inputs + params + layers over the model and all blocks


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
        return codegen.generate(self.graph, self.file, self.spec.constants)

    def model_class(self) -> type[torch.nn.Module]:
        from graphspec.compiler.build import load_class

        return load_class(self.source, self.graph.class_name, self.file)

    def build(self) -> torch.nn.Module:
        return self.model_class()()

    def to_networkx(self) -> Any:
        """The typed graph as a `networkx.DiGraph` (see `summary.as_networkx`)."""
        from graphspec.compiler.summary import as_networkx

        return as_networkx(self.graph)


@load.gc_paused()
def compile_file(path: str | os.PathLike) -> Compiled:
    """Load, validate and type the spec at `path`; errors are a SpecError with positions."""
    return compile_document(load.load_file(path))


@load.gc_paused()
def compile_text(text: str, file: str = "<spec>") -> Compiled:
    """The same for YAML held in a string (a notebook cell); `file` names it in errors."""
    return compile_document(load.load_text(text, file))


@load.gc_paused()  # about a third faster at 10,000 layers, and linear (bench/scale.py)
def compile_document(doc: load.Document, data: Any = None) -> Compiled:
    """`data` replaces `doc.data` (after --set overrides); positions still come from `doc`."""
    try:
        data = paths.resolve(doc.data if data is None else data, doc.file)  # beside the spec
        return _compile(doc, data)
    except SpecError as err:
        if not err.problems:  # a refusal must say why; one that cannot is a bug, not the user's
            raise RuntimeError("a SpecError without a problem: a compiler bug") from err
        raise


def _compile(doc: load.Document, data: Any) -> Compiled:
    _check_unresolved_from(data, doc)
    _check_graph_size(data, doc)
    constants = _constants(data, doc)
    named = nameable_constants(data, constants)
    typer = blocks.Blocks(data, doc, constants, _all_names(data), named)
    problems = typer.check_calls()
    model_data, conditions = _model_data(data, constants, doc)
    context = {"constants": constants, "names": typer.names, "named": named}
    try:
        spec = Spec.model_validate(model_data, context=context)
    except ValidationError as err:
        raise SpecError(conditions + typer.problems + report.problems_from(err, doc)) from None
    problems += _class_name_problems(spec, data, doc)
    if problems or conditions or typer.problems:
        raise SpecError(conditions + typer.problems + problems)
    model = spec.model
    graph = build_graph(model, node_positions(("model",), model, doc), typer.input_names())
    try:
        typed = infer(graph, model.class_, field_positions(("model",), data, doc), typer)
    except SpecError as err:  # every block's errors beside the model's (README: all at once)
        typer.type_uncalled()
        err.problems = typer.problems + err.problems
        err.partial = typer.partial or err.partial
        raise
    typer.type_uncalled()
    if typer.problems:
        err = SpecError(list(typer.problems))
        err.partial = typer.partial or typed
        raise err
    typer.name_classes()
    checks.check(spec, typed, doc)  # loss vs output vs data, loader sizes
    return Compiled(spec, typed, doc)


def _class_name_problems(spec: Spec, data: Any, doc: load.Document) -> list[Problem]:
    """The model's and each block's class name must fit the generated file (E-NAME)."""
    named = [(spec.model.class_, doc.pos(("model", "class")))]
    raw = data.get("blocks") if isinstance(data, dict) else None
    if isinstance(raw, dict):
        named += [(name, doc.key_pos(("blocks", name))) for name in raw if isinstance(name, str)]
    return [
        Problem("E-NAME", why, pos, hint="pick another class name")
        for name, pos in named
        if (why := class_name_problem(name))
    ]


def _model_data(data: Any, constants: dict, doc: load.Document) -> tuple[Any, list[Problem]]:
    """The data the Spec model validates: the model's `if:`s decided over the constants, and
    block bodies left to `blocks.Blocks`, which validates each per call (their fields may use
    arguments and input sizes that only a call gives). A `blocks:` that is not a mapping of
    mappings stays, for the Spec's own error."""
    if not isinstance(data, dict):
        return data, []
    out = dict(data)
    model, problems = blocks.prepare_body(data.get("model"), constants, ("model",), doc)
    if "model" in data:
        out["model"] = model
    raw = data.get("blocks")
    if isinstance(raw, dict) and all(isinstance(b, dict) for b in raw.values()):
        out["blocks"] = {}
    return out, problems


def _check_unresolved_from(data: Any, doc: load.Document) -> None:
    """`model.from` is resolved as the file is read (language/includes.py); one still here was
    added later, by --set or by a caller's data."""
    model = data.get("model") if isinstance(data, dict) else None
    if isinstance(model, dict) and includes.KEY in model:
        raise SpecError(
            [
                Problem(
                    "E-SCHEMA",
                    "model.from is read with the spec file and cannot be set afterwards",
                    doc.key_pos(("model", includes.KEY)),
                    hint="write `model: {from: FILE}` in the spec file itself",
                )
            ]
        )


def _check_graph_size(data: Any, doc: load.Document) -> None:
    """E-LIMIT at the first node past MAX_GRAPH_NODES, before pydantic sees them all."""
    data = data if isinstance(data, dict) else {}
    blocks = data.get("blocks") if isinstance(data.get("blocks"), dict) else {}
    bodies = [(("model",), data.get("model"))]
    bodies += [(("blocks", name), body) for name, body in blocks.items()]
    count = 0
    for path, body in bodies:
        for section in ("inputs", "params", "layers"):
            part = body.get(section) if isinstance(body, dict) else None
            names = list(part) if isinstance(part, dict) else []
            if count + len(names) > MAX_GRAPH_NODES:
                message = f"spec has more than {MAX_GRAPH_NODES:,} graph nodes (inputs, params "
                message += "and layers in the model and all blocks)"
                pos = doc.key_pos((*path, section, names[MAX_GRAPH_NODES - count]))
                hint = "write repeated structure once as a block and call it with `repeat:`"
                raise SpecError([Problem("E-LIMIT", message, pos, hint=hint)])
            count += len(names)


def _all_names(data: Any) -> set[str]:
    """Every input, param and layer name in the file: what an `expr` may mention."""
    bodies = [data.get("model")] if isinstance(data, dict) else []
    if isinstance(data, dict) and isinstance(data.get("blocks"), dict):
        bodies += list(data["blocks"].values())
    names: set[str] = set()
    for body in bodies:
        for section in ("inputs", "params", "layers"):
            part = body.get(section) if isinstance(body, dict) else None
            names |= set(part) if isinstance(part, dict) else set()
    return {n for n in names if isinstance(n, str)}


def nameable_constants(data: Any, constants: dict[str, int | float]) -> frozenset[str]:
    """Constants the generated code may hold as module-level values and write by name
    (`nn.Linear(d_model, d_k * n_heads)`): those whose name no node, input, param, class or
    name of the generated module and script shadows. Any other is written as its number."""
    taken = _all_names(data) | FORWARD_NAMES | SCRIPT_GLOBALS | BANNED_NAMES | set(dir(builtins))
    raw = data.get("blocks") if isinstance(data, dict) else None
    blocks = {str(b) for b in raw} if isinstance(raw, dict) else set()
    model = data.get("model") if isinstance(data, dict) else None
    taken |= blocks
    if isinstance(model, dict):
        taken.add(str(model.get("class", "Net")))
    # a node's other outputs (`attn_w`), a block's per-call classes (`ConvStage_C32_planes64`)
    locals_ = tuple(f"{name}_" for name in _all_names(data) | blocks)
    return frozenset(
        name
        for name in constants
        if name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in taken
        and not name.startswith(locals_)
    )


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
    col = pos.col + report.quote_width(doc, ("constants", name)) + err.offset
    return Problem(err.code, err.message, Pos(pos.file, pos.line, col), hint=err.hint)


def build_module(spec: str | os.PathLike | Compiled) -> torch.nn.Module:
    """The spec's model as a live nn.Module, from a path or a `Compiled` spec."""
    return (spec if isinstance(spec, Compiled) else compile_file(spec)).build()
