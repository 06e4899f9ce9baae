"""A model or block body as a `networkx.DiGraph` of typed nodes, with its wiring checked.

Each graph node is keyed by its name and carries a `GraphNode` as its `node` attribute (inputs,
params, and layers holding their op, `share:` or `block:` call); inference adds the `TypedNode`
as `typed`. Statement order is networkx's lexicographical topological sort, ties broken by
declaration order, so the generated code reads like the spec. Edges run from producer to
consumer. A reference is a node name or `node.output` for ops and blocks with several outputs.
Everything wrong with the wiring (dangling names, cycles, nodes that feed nothing) is collected,
with positions.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal, cast

import networkx as nx

from graphspec.core.errors import Pos, Problem, SpecError
from graphspec.core.names import node_name_problem
from graphspec.language.spec import Body, Call, Group, Param, Share, TensorInput
from graphspec.ops.base import Op

NodeKind = Literal["input", "param", "op", "share", "call", "group"]


@dataclass
class GraphNode:
    """One node of a model or block body. Its `kind` says which of six things it is:

    - ``input``: a tensor the body receives (`inputs:`, a `TensorInput`): a `forward`
      argument; its type is its declared shape and dtype.
    - ``param``: a learnable tensor (`params:`, a `Param`): an `nn.Parameter` built in
      `__init__`, read as `self.name`; its parameters are its elements.
    - ``op``: a layer whose spec is an `Op` (ops/): a module op is built in `__init__` and called
      in `forward`, a function op is one expression in `forward`; the op's own rule types it.
    - ``share``: `{share: other}` calls the module of an earlier op node again (weight tying,
      the CIFAR net's one MaxPool2d used twice); typed by that op's rule, no new parameters.
    - ``call``: `{block: Name, args: {...}}` calls a block, `repeat:` times; each copy is typed
      once per specialization (argument values and the input sizes its fields use, see
      compiler/blocks.py), over the block's symbols, and unified with the inputs at each call.
    - ``group``: `{group: [...]}` numbers its children as `nn.Sequential` does
      (`features.0.weight`), so a spec can mirror a torchvision module tree.

    `kind` is stored once, when the node is made, and is the one place these are told apart;
    stages dispatch on it (`match node.kind`), never on the spec's class.
    """

    name: str
    pos: Pos
    spec: Op | Share | Call | Group | TensorInput | Param
    inputs: list[str]
    """References (`name` or `name.output`) in argument order."""
    kind: NodeKind = field(init=False)

    def __post_init__(self) -> None:
        self.kind = kind_of(self.spec)

    @property
    def is_input(self) -> bool:
        return self.kind == "input"

    @property
    def is_param(self) -> bool:
        return self.kind == "param"


_KINDS: tuple[tuple[type, NodeKind], ...] = (
    (TensorInput, "input"),
    (Param, "param"),
    (Share, "share"),
    (Call, "call"),
    (Group, "group"),
)


def kind_of(spec: object) -> NodeKind:
    """Which of the six kinds a spec entry makes (an Op, or anything else a layer may hold:
    `op`)."""
    return next((kind for cls, kind in _KINDS if isinstance(spec, cls)), "op")


def split_ref(ref: str) -> tuple[str, str | None]:
    """`attn.weights` -> ('attn', 'weights'); `attn` -> ('attn', None)."""
    name, _, port = ref.partition(".")
    return name, port or None


@dataclass
class Graph:
    g: nx.DiGraph
    """The wiring: one graph node per spec node (attribute `node`, later `typed`)."""
    nodes: dict[str, GraphNode]
    outputs: list[str]
    outputs_pos: Pos | None = None
    """Where `outputs:` is written, for errors about a reference there (a missing port)."""

    def order(self) -> list[GraphNode]:
        """Topological order, ties broken by declaration order (so code reads like the spec)."""
        rank = {name: i for i, name in enumerate(self.nodes)}
        return [self.nodes[n] for n in nx.lexicographical_topological_sort(self.g, key=rank.get)]


def build_graph(body: Body, where: dict[str, Pos], blocks: dict[str, list[str]]) -> Graph:
    """`where` maps each node name to its position, and `"__outputs__"` to the outputs line;
    `blocks` holds each block's declared input names."""
    problems: list[Problem] = []
    nodes = _collect(body, where, blocks, problems)
    g = nx.DiGraph()
    g.add_nodes_from((name, {"node": node}) for name, node in nodes.items())
    for node in nodes.values():
        for ref in node.inputs:
            src, _ = split_ref(ref)
            if src not in nodes:
                problems.append(_dangling(node, src, [n for n in nodes if n != node.name]))
            else:
                g.add_edge(src, node.name)
    outputs = body.output_names
    if not outputs:
        hint = "name the node(s) to return, or drop `outputs:` to return the last layer"
        problems.append(
            Problem("E-GRAPH", "no outputs: the list is empty", where["__outputs__"], hint=hint)
        )
    for ref in outputs:
        if split_ref(ref)[0] not in nodes:
            problems.append(_dangling(None, split_ref(ref)[0], list(nodes), where["__outputs__"]))
    problems += _shares(nodes)
    if problems:
        raise SpecError(problems)
    _check_cycles(g, nodes)
    _check_unused(g, nodes, [split_ref(r)[0] for r in outputs])
    return Graph(g, nodes, outputs, where["__outputs__"])


def _collect(
    body: Body, where: dict[str, Pos], blocks: dict[str, list[str]], problems: list[Problem]
) -> dict[str, GraphNode]:
    nodes: dict[str, GraphNode] = {}
    declared = [("inputs", n, s) for n, s in body.inputs.items()]
    declared += [("params", n, s) for n, s in body.params.items()]
    for section, name, spec in declared:
        pos = where.get(f"{section}.{name}", where[name])  # where[name] is the last declaration
        if name in nodes:
            problems.append(_duplicate(name, pos, nodes[name]))
        nodes[name] = GraphNode(name, pos, spec, [])
    previous = list(body.inputs)[-1] if len(body.inputs) == 1 else None
    for name, spec in body.layers.items():
        if name in nodes:
            problems.append(_duplicate(name, where[name], nodes[name]))
            continue
        nodes[name] = node = GraphNode(name, where[name], spec, [])
        node.inputs = _wiring(node, previous, blocks, problems)
        previous = name
    problems += [
        Problem("E-NAME", why, nodes[name].pos, name, hint="pick another node name")
        for name in nodes
        if (why := node_name_problem(name))
    ]
    return nodes


def _duplicate(name: str, pos: Pos, first: GraphNode) -> Problem:
    return Problem(
        "E-DUPNODE",
        f"the name '{name}' is already used (line {first.pos.line})",
        pos,
        name,
        hint="every input, param and layer needs its own name",
    )


def _wiring(
    node: GraphNode, previous: str | None, blocks: dict[str, list[str]], problems: list[Problem]
) -> list[str]:
    spec = node.spec
    if isinstance(spec, Op) and spec.op == "expr":
        return spec.referenced_names()  # an expression names its own inputs
    value = spec.in_
    if isinstance(value, dict):
        return _call_wiring(node, value, blocks, problems)
    if value is None:
        if previous is None:
            problems.append(
                Problem("E-GRAPH", "node has no input: give it `in:`", node.pos, node.name)
            )
        return [previous] if previous else []
    return [value] if isinstance(value, str) else list(value)


def _call_wiring(
    node: GraphNode, value: dict[str, str], blocks: dict[str, list[str]], problems: list[Problem]
) -> list[str]:
    """`in: {x: emb, mask: pad}` for a block call: ordered as the block declares its inputs."""
    declared = blocks.get(cast(Call, node.spec).block) if node.kind == "call" else None
    if declared is None:
        if node.kind != "call":
            problems.append(
                Problem(
                    "E-GRAPH",
                    "`in:` as a mapping is for block calls; use a list",
                    node.pos,
                    node.name,
                )
            )
        return list(value.values())
    for key in value:
        if key not in declared:
            close = difflib.get_close_matches(key, declared, n=1)
            problems.append(
                Problem(
                    "E-REF",
                    f"block '{node.spec.block}' has no input '{key}'",
                    node.pos,
                    node.name,
                    hint=f"did you mean '{close[0]}'?"
                    if close
                    else f"its inputs: {', '.join(declared)}",
                )
            )
    missing = [k for k in declared if k not in value]
    if missing:
        problems.append(
            Problem(
                "E-GRAPH",
                f"block input(s) {', '.join(map(repr, missing))} of "
                f"'{node.spec.block}' not connected",
                node.pos,
                node.name,
                hint="connect every block input in `in:`",
            )
        )
    return [value[k] for k in declared if k in value]


def _dangling(
    node: GraphNode | None, ref: str, known: list[str], pos: Pos | None = None
) -> Problem:
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
        if node.kind == "share":
            target = nodes.get(cast(Share, node.spec).share)
            if target is None or target.kind != "op" or cast(Op, target.spec).kind != "module":
                problems.append(
                    Problem(
                        "E-REF",
                        f"share: '{node.spec.share}' is not a module layer declared in this model",
                        node.pos,
                        node.name,
                        hint="share names a layer such as a MaxPool2d or Linear node",
                    )
                )
    return problems


def find_cycle(g: nx.DiGraph) -> list[tuple] | None:
    """networkx's cycle edges, or None for an acyclic graph."""
    if _acyclic(g):  # the common case; networkx is asked only for a cycle to report
        return None
    try:
        return nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None


def _acyclic(g: nx.DiGraph) -> bool:
    """Kahn's algorithm over the graph's own adjacency. A block's body is typed once per
    distinct call, and on graphs of a few dozen nodes networkx's dispatch made its
    is_directed_acyclic_graph a tenth of typing a BERT stack (bench/bert.py)."""
    waiting = {n: len(p) for n, p in g.pred.items()}
    ready = [n for n, count in waiting.items() if not count]
    done = 0
    while ready:
        done += 1
        for m in g.succ[ready.pop()]:
            waiting[m] -= 1
            if not waiting[m]:
                ready.append(m)
    return done == len(waiting)


def _check_cycles(g: nx.DiGraph, nodes: dict[str, GraphNode]) -> None:
    cycle = find_cycle(g)
    if cycle is None:
        return
    path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
    first = nodes[cycle[0][1]]
    raise SpecError([Problem("E-CYCLE", f"the graph has a cycle: {path}", first.pos, first.name)])


def _unused(node: GraphNode) -> Problem:
    if node.is_input:
        # An input nothing reads is usually a wiring slip (the seed's `wk(Q)` for `wk(K)`).
        return Problem(
            "E-UNUSED",
            "input is never used on the way to an output",
            node.pos,
            node.name,
            hint="read it with `in:` in the node that needs it, or drop it",
        )
    return Problem(
        "E-UNUSED",
        "node does not reach any output",
        node.pos,
        node.name,
        hint="wire it with `in:` into a later node, or list it under outputs:",
    )


def _check_unused(g: nx.DiGraph, nodes: dict[str, GraphNode], outputs: list[str]) -> None:
    needed = set(outputs)
    for out in outputs:
        needed |= nx.ancestors(g, out)
    problems = [_unused(node) for node in nodes.values() if node.name not in needed]
    if problems:
        raise SpecError(problems)
