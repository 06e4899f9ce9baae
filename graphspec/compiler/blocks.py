"""Blocks with arguments: each distinct call is typed once, as a specialization of its block.

A block's fields may use its arguments (`planes`, `stride`), the spec's constants and the sizes
of its inputs (`C` in `x: [N, C, H, W]`), and a node may exist only for some arguments (`if:`).
So a block body is validated and typed per specialization: one per distinct set of argument
values and concrete input sizes that its fields name. Sizes no field names (`N`, `H`) stay
symbols, so one specialization still serves every batch size and resolution. A block without
arguments whose fields name no input size has exactly one specialization, as before.

Errors inside a specialization are collected here (located inside the block, naming its
callers), so every block's errors are reported together with the model's.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from typing import Any

import networkx as nx
from pydantic import ConfigDict, ValidationError

from graphspec.compiler.graph import build_graph, find_cycle
from graphspec.compiler.infer import BlockFailed, TypedGraph, infer
from graphspec.compiler.positions import field_positions, node_positions
from graphspec.core import exprs
from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.core.fields import StrictModel
from graphspec.core.shapes import Dim, DimError, TensorType
from graphspec.language import locate
from graphspec.language.load import Document
from graphspec.language.spec import ArgDecl, Block, Call, Identifier
from graphspec.ops.base import ShapeError


class _Holder(StrictModel):
    """Validates one block body at its place in the document, so errors keep their positions."""

    blocks: dict[Identifier, Block]


class _Header(StrictModel):
    """A block's argument declarations, checked before any call needs them."""

    model_config = ConfigDict(extra="ignore")
    args: dict[Identifier, ArgDecl] = {}


class _Headers(StrictModel):
    model_config = ConfigDict(extra="ignore")
    blocks: dict[str, _Header]


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_ARITHMETIC = frozenset({"in", "share", "block", "op", "tie"})


# ---- `if:` conditions --------------------------------------------------------------------------


def prepare_body(raw: Any, names: dict[str, Any], path: tuple, doc: Document) -> tuple[Any, list]:
    """The body with every `if:` decided: false nodes dropped (readers read the dropped node's
    first input instead), false group children set to None (so later children keep their
    place in the document), and every `if:` key removed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("layers"), dict):
        return raw, []
    problems: list[Problem] = []
    inputs = raw.get("inputs")
    previous = next(iter(inputs)) if isinstance(inputs, dict) and len(inputs) == 1 else None
    replaced: dict[str, str | None] = {}
    layers: dict[str, Any] = {}
    for name, node in raw["layers"].items():
        where = (*path, "layers", name)
        node = _renamed(node, replaced)
        if isinstance(node, dict) and "in" not in node and node.get("op") != "expr":
            if previous in replaced and replaced[previous] is not None:
                node = {**node, "in": replaced[previous]}
        keep, node = _decide(node, names, where, doc, problems)
        if keep:
            layers[name] = node
        else:
            replaced[name] = _first_input(node, previous, replaced)
        previous = name
    out = {**raw, "layers": layers}
    if "outputs" in raw:
        out["outputs"] = _renamed_refs(raw["outputs"], replaced)
    return out, problems


def _decide(node: Any, names: dict, where: tuple, doc: Document, problems: list) -> tuple:
    """(keep, node without `if:`), group children decided too."""
    if not isinstance(node, dict):
        return True, node
    keep = True
    layer = str(where[where.index("layers") + 1])
    if "if" in node:
        try:
            keep = exprs.evaluate_condition(node["if"], names)
        except exprs.ExprError as err:
            pos = doc.pos((*where, "if"))
            col = pos.col + locate.quote_width(doc, (*where, "if")) + err.offset
            problems.append(
                Problem(err.code, err.message, Pos(pos.file, pos.line, col), layer, err.hint)
            )
        node = {k: v for k, v in node.items() if k != "if"}
    if isinstance(node.get("group"), list):
        children = []
        for i, child in enumerate(node["group"]):
            kept, child = _decide(child, names, (*where, "group", i), doc, problems)
            children.append(child if kept else None)
        node = {**node, "group": children}
    return keep, node


def _first_input(node: Any, previous: str | None, replaced: dict) -> str | None:
    wiring = node.get("in") if isinstance(node, dict) else None
    if isinstance(wiring, str):
        return wiring
    if isinstance(wiring, list) and wiring and isinstance(wiring[0], str):
        return wiring[0]
    if isinstance(wiring, dict) and wiring:
        first = next(iter(wiring.values()))
        return first if isinstance(first, str) else None
    return replaced.get(previous, previous) if previous in replaced else previous


def _renamed(node: Any, replaced: dict[str, str | None]) -> Any:
    if not replaced or not isinstance(node, dict) or "in" not in node:
        return node
    return {**node, "in": _renamed_refs(node["in"], replaced)}


def _renamed_refs(value: Any, replaced: dict[str, str | None]) -> Any:
    def one(ref: Any) -> Any:
        if isinstance(ref, str) and replaced.get(ref.partition(".")[0]) is not None:
            return replaced[ref.partition(".")[0]]
        return ref

    if isinstance(value, list):
        return [one(r) for r in value]
    if isinstance(value, dict):
        return {k: one(r) for k, r in value.items()}
    return one(value)


# ---- templates and calls -----------------------------------------------------------------------


@dataclasses.dataclass
class Template:
    name: str
    raw: dict
    args: dict[str, Any]
    """Validated declarations (`Arg`)."""
    field_names: frozenset[str]
    """Names used in the arithmetic of its fields: the input sizes among them become concrete."""


def _arithmetic_names(value: Any, key: str = "", in_list: bool = False) -> Iterator[str]:
    """Identifiers in the arithmetic of a body's fields (not in wiring or op names). A bare name
    in a list (`size: [N, L, 12, 64]`) is a symbol to match, not arithmetic; `C // 2` there is."""
    if isinstance(value, str) and key not in _NOT_ARITHMETIC:
        if not (in_list and _NAME.fullmatch(value.strip())):
            yield from _NAME.findall(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _arithmetic_names(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _arithmetic_names(v, key, in_list=True)


def raw_calls(body: Any) -> Iterator[tuple[str, Any]]:
    """(layer name, called block name) for every `block:` in a raw body, groups included."""
    layers = body.get("layers") if isinstance(body, dict) else None
    for name, node in layers.items() if isinstance(layers, dict) else ():
        for found in _calls_in(node):
            yield str(name), found


def _calls_in(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        if "block" in node and "op" not in node:
            yield node["block"]
        for child in node.get("group", []) if isinstance(node.get("group"), list) else []:
            yield from _calls_in(child)


class Blocks:
    """Types block calls on demand; `problems` collects every block's errors."""

    def __init__(
        self,
        data: Any,
        doc: Document,
        constants: dict[str, Any],
        names: set[str],
        named: frozenset[str] = frozenset(),
    ):
        self.doc, self.constants, self.names = doc, constants, names
        self.named = named
        """Constants the generated code holds by name (see pipeline.nameable_constants)."""
        self.raw = data.get("blocks") if isinstance(data, dict) else None
        self.raw = self.raw if isinstance(self.raw, dict) else {}
        self.model_raw = data.get("model") if isinstance(data, dict) else None
        self.templates: dict[str, Template] = {}
        self.problems: list[Problem] = []
        self.typed: dict[tuple, TypedGraph | None] = {}
        self.partial: TypedGraph | None = None
        self.deferred: dict[tuple, list[Problem]] = {}
        """Keys whose symbolic typing failed, with its errors: such calls are typed with their
        concrete sizes, and only a call without any gets these errors."""
        for name, raw in self.raw.items():
            self._template(name, raw)

    def _template(self, name: Any, raw: Any) -> None:
        if not isinstance(name, str) or not isinstance(raw, dict):
            return  # the Spec's own validation reports a bad block entry
        try:
            holder = {"blocks": {name: raw}}
            context = {"constants": self.constants}
            args = _Headers.model_validate(holder, context=context).blocks[name].args
        except ValidationError as err:
            self._add(locate.problems_from(err, self.doc))
            return
        arith = frozenset(
            _arithmetic_names({k: raw.get(k) for k in ("layers", "params", "buffers")})
        )
        self.templates[name] = Template(name, raw, dict(args), arith)

    def _add(self, problems: list[Problem]) -> None:
        seen = {(p.pos, p.code, p.message) for p in self.problems}
        for p in problems:
            if (p.pos, p.code, p.message) not in seen:
                seen.add((p.pos, p.code, p.message))
                self.problems.append(p)

    # -- checks over the raw document ------------------------------------------------------
    def check_calls(self) -> list[Problem]:
        """Unknown block names and blocks that call each other in a cycle."""
        g = nx.DiGraph()
        g.add_nodes_from(self.raw)
        problems = []
        bodies = [(("model",), self.model_raw)] + [(("blocks", n), b) for n, b in self.raw.items()]
        for path, body in bodies:
            for layer, called in raw_calls(body):
                if not isinstance(called, str):
                    continue
                if called not in self.raw:
                    problems.append(
                        _unknown(called, list(self.raw), self.doc, (*path, "layers", layer))
                    )
                elif path[0] == "blocks" and called in self.raw:
                    g.add_edge(path[1], called)
        cycle = find_cycle(g) if not problems else None
        if cycle is not None:
            names = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
            hint = "a block cannot call itself, directly or through other blocks; to stack "
            hint += "copies, call it once with `repeat: N`"
            pos = self.doc.key_pos(("blocks", cycle[0][0]))
            problems.append(Problem("E-CYCLE", f"blocks call each other: {names}", pos, hint=hint))
        return problems

    # -- one call --------------------------------------------------------------------------
    def call(self, call: Call, given: dict[str, Any], actual: list[TensorType]) -> TypedGraph:
        """The typed specialization for one copy of a call (ShapeError for a bad call)."""
        template = self.templates.get(call.block)
        if template is None:
            raise ShapeError(
                f"block '{call.block}' could not be typed", code="E-REF", field="block"
            )
        args = _arguments(template, given)
        names = {**self.constants, **args}
        declared = _declared_inputs(template.raw, names)
        if len(declared) != len(actual):
            raise ShapeError(
                f"block '{call.block}' takes {len(declared)} input(s), got {len(actual)}",
                code="E-ARITY",
                field="in_",
            )
        concrete = _concrete_sizes(template, declared, actual)
        key = (template.name, tuple(sorted(args.items())), tuple(sorted(concrete.items())))
        if key not in self.typed:
            self.typed[key] = self._symbolic_first(template, names, concrete, declared, actual, key)
        if key in self.deferred:  # typed over its symbols it failed: this call's sizes decide
            more = {**_static_sizes(declared, actual), **concrete}
            if more == concrete:  # nothing more to give: the symbolic errors are this call's
                self._add(self.deferred[key])
                raise BlockFailed()
            key = (key[0], key[1], tuple(sorted(more.items())))
            if key not in self.typed:
                self.typed[key] = self._specialize(template, {**names, **more}, key)
        typed = self.typed[key]
        if typed is None:
            raise BlockFailed()
        return typed

    def _symbolic_first(
        self, template: Template, names: dict, concrete: dict, declared: list, actual: list, key
    ) -> Any:
        """Typed over its symbols where it can be. Where that fails and the call has concrete
        sizes the typing did not use (Conv2d's channel count of an `[N, C, H, W]` input), its
        errors are kept aside in `deferred` and each call is typed with its own sizes."""
        mark, partial = len(self.problems), self.partial
        typed = self._specialize(template, {**names, **concrete}, key)
        if typed is not None:
            return typed
        # kept aside even when this call has no more sizes to give: a later call of the same
        # key may have them (a block called by a block that a concrete call specializes)
        self.deferred[key] = self.problems[mark:]
        del self.problems[mark:]
        if set(_static_sizes(declared, actual)) - set(concrete):
            self.partial = partial  # this call's own sizes may type it: draw that instead
        return None

    def _specialize(self, template: Template, names: dict[str, Any], key: tuple) -> Any:

        path = ("blocks", template.name)
        raw, problems = prepare_body(template.raw, names, path, self.doc)
        try:
            if problems:
                raise SpecError(problems)
            # an argument that shadows a constant with another value is written as its number
            named = {k for k in self.named if names.get(k) == self.constants[k]}
            context = {"constants": names, "names": self.names, "named": named}
            try:
                holder = _Holder.model_validate({"blocks": {template.name: raw}}, context=context)
            except ValidationError as err:
                raise SpecError(locate.problems_from(err, self.doc)) from None
            body = holder.blocks[template.name]
            inputs = self.input_names()
            graph = build_graph(body, node_positions(path, body, self.doc), inputs)
            field_pos = field_positions(path, self.doc.data, self.doc)
            typed = infer(graph, template.name, field_pos, self, f"{template.name}.")
        except SpecError as err:
            self._add([self.inside(p, template.name) for p in err.problems])
            if self.partial is None and err.partial is not None:
                self.partial = err.partial  # what `render` draws: the first failing block
            return None
        typed.spec_key = key
        return typed

    def input_names(self) -> dict[str, list[str]]:
        """Each block's declared input names, for wiring `in: {x: ..., mask: ...}`."""
        out = {}
        for name, t in self.templates.items():
            inputs = t.raw.get("inputs")
            out[name] = list(inputs) if isinstance(inputs, dict) else []
        return out

    # -- after the model -------------------------------------------------------------------
    def type_uncalled(self) -> None:
        """Blocks no call reached are still checked, where their defaults allow it."""
        called = {key[0] for key in self.typed}
        for name, template in self.templates.items():
            if name in called or any(a.default is None for a in template.args.values()):
                continue
            args = {k: a.default for k, a in template.args.items()}
            names = {**self.constants, **args}
            declared = _declared_inputs(template.raw, names)
            if template.field_names & {s for t in declared for d in t.shape for s in d.syms}:
                continue  # its fields need concrete input sizes that only a call gives
            key = (name, tuple(sorted(args.items())), ())
            self.typed[key] = self._specialize(template, names, key)

    def name_classes(self) -> None:
        """One class per specialization: the block's name, suffixed by the values that tell its
        specializations apart when it has several (`BasicBlock_C64_planes128_stride2`)."""
        by_block: dict[str, list[TypedGraph]] = {}
        unique = {id(t): t for t in self.typed.values() if t is not None}
        for typed in unique.values():
            by_block.setdefault(typed.spec_key[0], []).append(typed)
        for name, graphs in by_block.items():
            if len(graphs) == 1:
                continue
            values = [dict(g.spec_key[1] + g.spec_key[2]) for g in graphs]
            keys = sorted({k for v in values for k in v})
            differ = [k for k in keys if len({repr(v.get(k)) for v in values}) > 1]
            for g, v in zip(graphs, values, strict=True):
                g.class_name = name + "".join(f"_{k}{_short(v.get(k))}" for k in differ)

    def inside(self, problem: Problem, block: str) -> Problem:
        """Name the node `Block.node` and say which nodes call the block: blocks are typed apart
        from their calls, so the calling node would otherwise go unmentioned."""
        node = problem.node
        if node is not None and not node.startswith(f"{block}."):
            node = f"{block}.{node}"
        if "; in block '" in problem.message:
            return problem._replace(node=node)
        bodies = [(("model",), "", self.model_raw)]
        bodies += [(("blocks", n), f"{n}.", b) for n, b in self.raw.items()]
        callers = [
            f"'{prefix}{layer}' (line {self.doc.key_pos((*path, 'layers', layer)).line})"
            for path, prefix, body in bodies
            for layer, called in raw_calls(body)
            if called == block
        ]
        callers = list(dict.fromkeys(callers))
        note = f"; in block '{block}', called by {', '.join(callers)}" if callers else ""
        return problem._replace(message=problem.message + note, node=node)


def _short(value: Any) -> str:
    text = str(value).replace(".", "p").replace("-", "m")
    return {"True": "T", "False": "F"}.get(text, text)


def _arguments(template: Template, given: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments over the block's defaults, checked against the declarations."""
    declared = template.args
    for name in given:
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else (
                    f"its arguments: {', '.join(declared)}" if declared else "it takes no arguments"
                )
            )
            raise ShapeError(
                f"block '{template.name}' has no argument '{name}'",
                code="E-REF",
                field="args",
                hint=hint,
            )
    out = {}
    for name, decl in declared.items():
        value = given.get(name, decl.default)
        if value is None:
            raise ShapeError(
                f"block '{template.name}' needs the argument '{name}' ({decl.type})",
                code="E-MISSING",
                field="args",
                hint=f"pass it: args: {{{name}: ...}}",
            )
        out[name] = _typed_arg(template.name, name, decl.type, value)
    return out


def _typed_arg(block: str, name: str, kind: str, value: Any) -> Any:
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }[kind]
    if isinstance(value, float) and kind == "int" and value.is_integer():
        ok, value = True, int(value)
    if not ok:
        raise ShapeError(
            f"argument '{name}' of block '{block}' is {kind}, got {value!r}",
            code="E-TYPE",
            field="args",
        )
    return float(value) if kind == "float" else value


def _declared_inputs(raw: dict, names: dict[str, Any]) -> list[TensorType]:
    """The block's input types, its argument names evaluated (`[N, in_ch, H, W]`)."""
    out = []
    inputs = raw.get("inputs")
    for value in inputs.values() if isinstance(inputs, dict) else ():
        shape = value.get("shape") if isinstance(value, dict) else value
        dtype = value.get("dtype", "float32") if isinstance(value, dict) else "float32"
        dims = []
        for d in shape if isinstance(shape, list) else []:
            dims.append(_declared_dim(d, names))
        out.append(TensorType(tuple(dims), dtype if isinstance(dtype, str) else "float32"))
    return out


def _declared_dim(d: Any, names: dict[str, Any]) -> Dim:
    if isinstance(d, int) and not isinstance(d, bool):
        return Dim(d)
    if isinstance(d, str) and _NAME.fullmatch(d) and d not in names:
        return Dim.of(d)
    try:
        numbers = {k: v for k, v in names.items() if type(v) is int}
        return Dim.parse(str(d), numbers)
    except DimError:
        return Dim(1, ("?",))  # a placeholder symbol; the block's own validation reports it


def _static_sizes(declared: list[TensorType], actual: list[TensorType]) -> dict[str, int]:
    """Every input size the call gives as a number, by the symbol that declares it."""
    out: dict[str, int] = {}
    for want, got in zip(declared, actual, strict=True):
        for w, g in zip(want.shape, got.shape, strict=False):
            if w.symbol is not None and g.is_static and w.symbol not in out:
                out[w.symbol] = g.value
    return out


def _concrete_sizes(
    template: Template, declared: list[TensorType], actual: list[TensorType]
) -> dict[str, int]:
    """Input sizes that the block's fields name, as this call gives them."""
    out: dict[str, int] = {}
    for want, got in zip(declared, actual, strict=True):
        for w, g in zip(want.shape, got.shape, strict=False):
            name = w.symbol
            if name is None or name not in template.field_names or name in out:
                continue
            if not g.is_static:
                raise ShapeError(
                    f"block '{template.name}' uses its input size '{name}' in its fields, so "
                    f"each call must give it a concrete size; this call gives '{g}'",
                    field="in_",
                    hint="make that dimension concrete, or pass the size as an argument",
                )
            out[name] = g.value
    return out


def _unknown(name: str, known: list[str], doc: Document, path: tuple) -> Problem:
    close = difflib.get_close_matches(name, known, n=1)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else (f"declared blocks: {', '.join(known)}" if known else "declare it under `blocks:`")
    )
    return Problem("E-REF", f"unknown block '{name}'", doc.pos((*path, "block")), path[-1], hint)
