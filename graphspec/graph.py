"""The model as a networkx DiGraph of typed nodes, with its wiring checked.

Nodes are `GraphNode` objects (never bare attribute dicts): inputs, and layers holding their op.
Edges run from producer to consumer, labelled with the consumer's argument slot. Everything wrong
with the wiring (dangling names, cycles, nodes that feed nothing) is collected, with positions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import networkx as nx

from graphspec.errors import Pos, Problem, SpecError
from graphspec.ops.base import Op
from graphspec.spec import Model, Share, TensorInput

RESERVED = frozenset({"self", "torch", "nn", "F", "math", "forward", "training"})


@dataclass
class GraphNode:
    name: str
    pos: Pos
    spec: Op | Share | TensorInput
    inputs: list[str]
    """Producers in argument order."""

    @property
    def is_input(self) -> bool:
        return isinstance(self.spec, TensorInput)


@dataclass
class Graph:
    g: nx.DiGraph
    nodes: dict[str, GraphNode]
    outputs: list[str]

    def order(self) -> list[GraphNode]:
        """Topological order, ties broken by declaration order (so code reads like the spec)."""
        rank = {name: i for i, name in enumerate(self.nodes)}
        return [self.nodes[n] for n in nx.lexicographical_topological_sort(self.g, key=rank.get)]


def build_graph(model: Model, where: dict[str, Pos]) -> Graph:
    """`where` maps each node name to its position (layers by key, inputs by key)."""
    problems: list[Problem] = []
    nodes = _collect(model, where, problems)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for node in nodes.values():
        for slot, src in enumerate(node.inputs):
            if src not in nodes:
                problems.append(_dangling(node, src, list(nodes)))
            else:
                g.add_edge(src, node.name, slot=slot)
    outputs = model.output_names
    for out in outputs:
        if out not in nodes:
            problems.append(_dangling(None, out, list(nodes), where.get("__outputs__")))
    problems += _shares(nodes)
    if problems:
        raise SpecError(problems)
    _check_cycles(g, nodes)
    _check_unused(g, nodes, outputs)
    return Graph(g, nodes, outputs)


def _collect(model: Model, where: dict[str, Pos], problems: list[Problem]) -> dict[str, GraphNode]:
    nodes: dict[str, GraphNode] = {}
    for name, spec in model.inputs.items():
        nodes[name] = GraphNode(name, where[name], spec, [])
    previous = list(model.inputs)[-1] if len(model.inputs) == 1 else None
    for name, spec in model.layers.items():
        if name in nodes:
            problems.append(
                Problem("E-DUPNODE", f"layer '{name}' has the same name as an input "
                        f"(line {nodes[name].pos.line})", where[name], name)
            )
            continue
        if name in RESERVED:
            problems.append(Problem("E-NAME", f"'{name}' is reserved in generated code", where[name], name,
                                    hint="pick another node name"))
        nodes[name] = GraphNode(name, where[name], spec, _wiring(spec.in_, previous))
        if not nodes[name].inputs:
            problems.append(Problem("E-GRAPH", "node has no input: give it `in:`", where[name], name))
        previous = name
    return nodes


def _wiring(value: str | list | dict | None, previous: str | None) -> list[str]:
    if value is None:
        return [previous] if previous else []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return list(value.values())
    return list(value)


def _dangling(node: GraphNode | None, ref: str, known: list[str], pos: Pos | None = None) -> Problem:
    close = difflib.get_close_matches(ref, known, n=1)
    return Problem(
        "E-REF",
        f"unknown node '{ref}'",
        node.pos if node else pos,
        node.name if node else None,
        hint=f"did you mean '{close[0]}'?" if close else f"known nodes: {', '.join(known)}",
    )


def _shares(nodes: dict[str, GraphNode]) -> list[Problem]:
    problems = []
    for node in nodes.values():
        if isinstance(node.spec, Share):
            target = nodes.get(node.spec.share)
            if target is None or not isinstance(target.spec, Op) or target.spec.kind != "module":
                problems.append(
                    Problem("E-REF", f"share: '{node.spec.share}' is not a module layer declared "
                            "in this model", node.pos, node.name,
                            hint="share names a layer such as a MaxPool2d or Linear node")
                )
    return problems


def _check_cycles(g: nx.DiGraph, nodes: dict[str, GraphNode]) -> None:
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return
    path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
    first = nodes[cycle[0][1]]
    raise SpecError([Problem("E-CYCLE", f"the graph has a cycle: {path}", first.pos, first.name)])


def _check_unused(g: nx.DiGraph, nodes: dict[str, GraphNode], outputs: list[str]) -> None:
    needed = set(outputs)
    for out in outputs:
        needed |= nx.ancestors(g, out)
    problems = [
        Problem("E-UNUSED", "node does not reach any output", node.pos, node.name,
                hint="wire it with `in:` into a later node, or list it under outputs:")
        for node in nodes.values()
        if node.name not in needed
    ]
    if problems:
        raise SpecError(problems)
