"""Static shape inference: one pass over the graph in topological order, no torch.

Each op's own rule (`resolve` then `infer`) gives its output type; this module only walks the
graph, checks `shape:` annotations and budgets, and turns `ShapeError`s into located problems.
A node whose input already failed is skipped, so one mistake gives one error, not a cascade.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphspec.errors import Pos, Problem, SpecError
from graphspec.graph import Graph, GraphNode
from graphspec.ops.base import Op, ShapeError
from graphspec.shapes import Dim, TensorType
from graphspec.spec import Share, TensorInput

MAX_PARAMS = 2_000_000_000
"""About 8 GB of float32 weights: beyond that, refuse before torch tries to allocate."""
MAX_DIM = 2**31 - 1


@dataclass
class TypedNode:
    node: GraphNode
    op: Op | None
    """The resolved op (inferred sizes filled in); for a `share:` node, the shared module's."""
    out: TensorType
    params: int

    @property
    def name(self) -> str:
        return self.node.name


@dataclass
class TypedGraph:
    class_name: str
    graph: Graph
    nodes: dict[str, TypedNode]
    """In topological order."""

    @property
    def outputs(self) -> list[TypedNode]:
        return [self.nodes[name] for name in self.graph.outputs]

    @property
    def inputs(self) -> list[TypedNode]:
        return [t for t in self.nodes.values() if t.node.is_input]

    @property
    def total_params(self) -> int:
        return sum(t.params for t in self.nodes.values())


FieldPos = dict[tuple[str, str], Pos]
"""(node, field) -> position of that field's value, for errors about one argument."""


def infer(graph: Graph, class_name: str, field_pos: FieldPos) -> TypedGraph:
    typed: dict[str, TypedNode] = {}
    problems: list[Problem] = []
    for node in graph.order():
        if any(src not in typed for src in node.inputs):
            continue  # an input failed already; its error is reported
        try:
            typed[node.name] = _infer_node(node, typed)
        except ShapeError as err:
            pos = field_pos.get((node.name, err.field or ""), node.pos)
            problems.append(Problem(err.code, err.message, pos, node.name, err.hint))
    result = TypedGraph(class_name, graph, typed)
    if not problems:
        problems += _budget(result)
    if problems:
        raise SpecError(problems)
    return result


def _infer_node(node: GraphNode, typed: dict[str, TypedNode]) -> TypedNode:
    spec = node.spec
    if isinstance(spec, TensorInput):
        return TypedNode(node, None, TensorType.of(spec.shape, spec.dtype), 0)
    args = [typed[src].out for src in node.inputs]
    if isinstance(spec, Share):
        return _infer_share(node, spec, args, typed)
    _check_arity(spec, len(args))
    op = spec.resolve(args)
    out = op.infer(args)
    _check_annotation(spec, out)
    return TypedNode(node, op, out, op.param_count())


def _infer_share(node: GraphNode, spec: Share, args: list[TensorType], typed: dict) -> TypedNode:
    owner = typed.get(spec.share)
    if owner is None or owner.op is None:
        raise ShapeError(f"shared module '{spec.share}' could not be typed", code="E-REF")
    op = owner.op
    _check_arity(op, len(args))
    if op.resolve(args) != op:
        raise ShapeError(
            f"'{spec.share}' was built for {typed[owner.node.inputs[0]].out} and cannot take "
            f"{args[0]}",
            hint="a shared module's inferred sizes must fit every call",
        )
    out = op.infer(args)
    _check_annotation(spec, out)
    return TypedNode(node, op, out, 0)  # its parameters are counted once, at the owner


def _check_arity(op: Op, n: int) -> None:
    low, high = op.arity
    if n < low or (high is not None and n > high):
        want = f"{low}" if low == high else f"{low} or more" if high is None else f"{low} to {high}"
        raise ShapeError(f"{op.op} takes {want} input(s), got {n}", code="E-ARITY", field="in_")


def _check_annotation(spec: Op | Share, out: TensorType) -> None:
    if spec.shape is None:
        return
    want = tuple(Dim.of(d) for d in spec.shape)
    if want != out.shape:
        stated = "(" + ", ".join(map(str, want)) + ")"
        raise ShapeError(
            f"the stated shape {stated} differs from the inferred {out}",
            field="shape",
            hint=f"write shape: [{', '.join(map(str, out.shape))}], or fix the layers before it",
        )


def _budget(graph: TypedGraph) -> list[Problem]:
    problems = []
    total = graph.total_params
    if total > MAX_PARAMS:
        biggest = max(graph.nodes.values(), key=lambda t: t.params)
        problems.append(
            Problem("E-BUDGET", f"the model has {total:,} parameters (limit {MAX_PARAMS:,}; "
                    f"about {total * 4 / 1e9:.0f} GB in float32)", biggest.node.pos, biggest.name,
                    hint="check the sizes of the largest layer")
        )
    for t in graph.nodes.values():
        big = [d for d in t.out.shape if d.is_static and d.value > MAX_DIM]
        if big:
            problems.append(Problem("E-BUDGET", f"dimension {big[0]} exceeds {MAX_DIM:,}",
                                    t.node.pos, t.name))
    return problems
