"""Aliasing and autograd hazards of a body, decided from what each op says about itself.

An in-place op (`inplace: true`) writes into the storage of its input. That storage is also
every tensor linked to it by an op whose result may share its input's (`Op.shares()`: a view,
a no-op `contiguous`, a dropout in eval mode). The write is refused (E-INPLACE), naming the
node that would break and why, when

- another node reads that storage after the write, or it is an output: that reader would see
  the new values, and the graph's result would differ from the spec's (`x + relu_(dropout(x))`
  is `2*relu(x)` in eval mode);
- a node that read it before the write keeps it for backward (`Op.saves_inputs()`: Linear,
  mul, a pool; not add, cat, a sum or a view) and a gradient flows through that node;
- the storage is an input or a param of the body: the caller's tensor would change;
- the op that produced it saved its result for backward (`Op.saves_result()`: tanh, sigmoid,
  relu, softmax, exp, amax, ...) and a gradient flows through that op: the first backward
  fails ("modified by an inplace operation").

An op torch has no derivative for, on a tensor that needs a gradient (`Op.grad_problem`: `//`
in an `expr`), is refused as E-GRAD. Whether a gradient flows is decided from the typed graph:
from params and ops with parameters; a block's inputs are taken to need one, since a block may be
called anywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from graphspec.compiler.graph import Graph, GraphNode, split_ref
from graphspec.core.errors import Problem, SpecError
from graphspec.core.shapes import FLOAT_DTYPES
from graphspec.language.spec import Group, Share
from graphspec.ops.base import Op

if TYPE_CHECKING:
    from graphspec.compiler.infer import TypedGraph, TypedNode

_HINT = "write inplace: false: the same result, without changing what others read"


def check_writes(graph: Graph) -> None:
    """Before typing: in-place writes that another reader, or the caller, would see."""
    nodes = graph.nodes
    problems = []
    for node in nodes.values():
        if not node.inputs or not _writes_input(node.spec, nodes):
            continue
        source = split_ref(node.inputs[0])[0]
        shared, read, readers, _ = _readers(graph, node.name, source)
        owners = sorted(s for s in shared if nodes[s].is_input or nodes[s].is_param)
        if readers:
            more = f" (and {len(readers) - 1} more)" if len(readers) > 1 else ""
            through = read[readers[0]]
            what = f"which '{readers[0]}'{more} also reads"
            what += f" (as '{through}')" if through not in (source, readers[0]) else ""
        elif owners and nodes[owners[0]].is_input:
            what = f"which is (a view of) the input '{owners[0]}' that the caller still holds"
        elif owners:
            kind = "buffer" if nodes[owners[0]].is_buffer else "param"
            what = f"which is (a view of) the {kind} '{owners[0]}' that the module keeps"
        else:
            continue
        what += _eval_note(nodes, shared)
        problems.append(
            Problem(
                "E-INPLACE",
                f"in-place op writes into '{source}', {what}",
                node.pos,
                node.name,
                _HINT,
            )  # fmt: skip
        )
    if problems:
        raise SpecError(problems)


def _readers(
    graph: Graph, writer: str, source: str
) -> tuple[set[str], dict[str, str], list[str], list[str]]:
    """(the storage group, reader -> the member it reads, readers that run after the write
    or are outputs, readers that run before it): in `forward`'s order, which is the graph's."""
    g, outputs = graph.g, {split_ref(r)[0] for r in graph.outputs}
    order = {n.name: i for i, n in enumerate(graph.order())}
    shared = _aliases(g, graph.nodes, source, writer)
    read = {r: s for s in shared for r in g.successors(s) if r != writer}
    read.update({s: s for s in shared & outputs})  # an output is read by the caller
    readers = [r for r in read if r not in shared or r in outputs]
    after = sorted(r for r in readers if r in shared or order[r] > order[writer])
    return shared, read, after, sorted(set(readers) - set(after))


def autograd_problems(typed: TypedGraph, in_block: bool, label: str = "") -> list[Problem]:
    """After typing: in-place writes into a result saved for backward, and ops without a
    derivative on a tensor that needs a gradient."""
    grad = _grad_flows(typed, in_block)
    problems = []
    for name, t in typed.nodes.items():
        node = t.node
        if node.inputs and _writes_input(node.spec, typed.graph.nodes):
            problems += _write_problems(typed, grad, node, label)
        if t.children is not None:
            problems += _group_problems(t, any(grad.get(split_ref(r)[0]) for r in node.inputs),
                                        label)  # fmt: skip
        if t.op is not None and node.kind == "op" and node.inputs:
            why = t.op.grad_problem([bool(grad.get(split_ref(r)[0])) for r in node.inputs])
            if why is not None:
                hint = "compute it from tensors that need no gradient, or without '//'"
                problems.append(Problem("E-GRAD", why, node.pos, label + name, hint))
    return problems


def _write_problems(
    typed: TypedGraph, grad: dict[str, bool], node: GraphNode, label: str
) -> list[Problem]:
    """An in-place write into a tensor an earlier reader keeps, or its producer saved."""
    source = split_ref(node.inputs[0])[0]
    problems = []
    for r in _readers(typed.graph, node.name, source)[3]:
        if grad.get(r) and _keeps_inputs(typed.nodes[r]):
            problems.append(_kept_problem(node, label, source, r))
            break
    for s in sorted(_aliases(typed.graph.g, typed.graph.nodes, source, node.name)):
        saver = _saver(typed, s) if grad.get(s) else None
        if saver is not None:
            through = f" (through '{source}')" if s != source else ""
            problems.append(_saved_problem(node, label, saver + through))
            break
    return problems


def _keeps_inputs(t: TypedNode) -> bool:
    """Whether this reader keeps what it reads for backward (a block or group: taken so)."""
    return t.op.saves_inputs() if t.op is not None else True


def _kept_problem(node: GraphNode, label: str, source: str, reader: str) -> Problem:
    return Problem(
        "E-INPLACE",
        f"in-place op writes into '{source}', which '{reader}' read before it and keeps for "
        'its gradient: the first backward would fail ("modified by an inplace operation")',
        node.pos,
        label + node.name,
        _HINT,
    )


def _saved_problem(node: GraphNode, label: str, saver: str) -> Problem:
    return Problem(
        "E-INPLACE",
        f"in-place op writes into the result of {saver}, which autograd keeps to compute "
        "that op's gradient: the first backward would fail (\"modified by an inplace "
        'operation")',
        node.pos,
        label + node.name,
        _HINT,
    )


def _group_problems(t: TypedNode, grad_in: bool, label: str) -> list[Problem]:
    """Inside a group: an in-place child right after children that saved their result."""
    children = t.children or []
    grad = grad_in
    for i, child in enumerate(children):
        op = child.op
        if op is not None and i > 0 and getattr(op, "inplace", False) is True:
            saver = _saved_back(children[:i]) if grad else None
            if saver is not None:
                return [_saved_problem(t.node, label, f"{saver} in group '{t.name}'")]
        grad = grad or child.params > 0
    return []


def _saved_back(children: list[TypedNode]) -> str | None:
    """The child whose saved result the last of `children` is (through views), or None."""
    for child in reversed(children):
        if child.op is None:
            return None
        if child.op.saves_result():
            return f"'{child.name}' ({child.op.op})"
        if child.op.shares() == "never":
            return None
    return None


def _saver(typed: TypedGraph, name: str) -> str | None:
    """'name' (op) when the node `name` produced its result with an op that saved it."""
    t = typed.nodes.get(name)
    if t is None:
        return None
    if t.op is not None:
        return f"'{name}' ({t.op.op})" if t.op.saves_result() else None
    if t.children:
        found = _saved_back(t.children)
        return f"'{name}', whose child {found}" if found else None
    if t.copies:  # a block call: its first output, inside the last copy
        inner = t.copies[-1]
        ref = split_ref(inner.graph.outputs[0])[0]
        for s in _aliases(inner.graph.g, inner.graph.nodes, ref, ""):
            found = _saver(inner, s)
            if found is not None:
                return f"'{name}', whose block's {found}"
    return None


def _grad_flows(typed: TypedGraph, in_block: bool) -> dict[str, bool]:
    """Node -> whether a gradient flows into its result."""
    grad: dict[str, bool] = {}
    for name, t in typed.nodes.items():
        node = t.node
        if not any(o.dtype in FLOAT_DTYPES for o in t.outs.values()):
            grad[name] = False
        elif node.is_param:
            grad[name] = not node.is_buffer
        elif node.is_input:
            grad[name] = in_block
        else:
            owns = t.params > 0 or (t.op is not None and t.op.param_count() > 0)
            grad[name] = owns or any(grad.get(split_ref(r)[0], False) for r in node.inputs)
    return grad


def _writes_input(spec: object, nodes: dict[str, GraphNode]) -> bool:
    """Whether this node writes into its (first) input: an in-place op, a share of one, or a
    group whose children up to an in-place one all pass their input's storage on."""
    if isinstance(spec, Share):
        target = nodes.get(spec.share)
        return target is not None and _writes_input(target.spec, nodes)
    if isinstance(spec, Group):
        for child in (c for c in spec.group if c is not None):
            if _writes_input(child, nodes):
                return True
            if not _shares(child, nodes):
                return False
        return False
    return isinstance(spec, Op) and getattr(spec, "inplace", False) is True


def _shares(spec: object, nodes: dict[str, GraphNode]) -> bool:
    """Whether this node's result may be its input's storage, in some mode."""
    if isinstance(spec, Share):
        target = nodes.get(spec.share)
        return target is not None and _shares(target.spec, nodes)
    if isinstance(spec, Group):
        return all(_shares(c, nodes) for c in spec.group if c is not None)
    return isinstance(spec, Op) and spec.shares() != "never"


def _aliases(g: nx.DiGraph, nodes: dict[str, GraphNode], start: str, writer: str) -> set[str]:
    """`start` and every node sharing its storage, linked by sharing ops either way; the
    writer's own result is the new value, not a reader of the old one."""
    found, todo = {start}, [start]
    while todo:
        name = todo.pop()
        links = [s for s in g.successors(name) if s != writer and _shares(nodes[s].spec, nodes)]
        if _shares(nodes[name].spec, nodes):
            links += list(g.predecessors(name))
        for other in links:
            if other not in found:
                found.add(other)
                todo.append(other)
    return found


def _eval_note(nodes: dict[str, GraphNode], shared: set[str]) -> str:
    """Say so when the storage is shared only in eval mode (a dropout returns its input)."""
    modes = {
        name: spec.shares()
        for name in shared
        if isinstance(spec := nodes[name].spec, Op) and spec.shares() == "eval"
    }
    if not modes:
        return ""
    name = min(modes)
    op = nodes[name].spec.op  # type: ignore[union-attr]
    return f" (in eval mode '{name}' is its input itself: {op} returns it when not training)"
