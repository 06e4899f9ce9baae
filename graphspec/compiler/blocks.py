"""Which blocks call which: the order to type them in, and the errors in how they are called."""

from __future__ import annotations

import dataclasses
import difflib

import networkx as nx

from graphspec.compiler.graph import find_cycle
from graphspec.core.errors import Problem, SpecError
from graphspec.language.load import Document
from graphspec.language.spec import Block, Call, Spec


def call_order(spec: Spec, doc: Document) -> list[str]:
    """Block names, callees first; unknown blocks and recursive calls are errors."""
    g = nx.DiGraph()
    g.add_nodes_from(spec.blocks)
    problems = []
    bodies: list[tuple[tuple, Block]] = [(("model",), spec.model)]
    bodies += [(("blocks", name), block) for name, block in spec.blocks.items()]
    for path, body in bodies:
        for layer, node in body.layers.items():
            if not isinstance(node, Call):
                continue
            if node.block not in spec.blocks:
                problems.append(
                    _unknown(node.block, list(spec.blocks), doc, (*path, "layers", layer))
                )
            elif path[0] == "blocks":
                g.add_edge(path[1], node.block)
    if problems:
        raise SpecError(problems)
    cycle = find_cycle(g)
    if cycle is None:
        return list(reversed(list(nx.topological_sort(g))))
    names = " -> ".join([a for a, _ in cycle] + [cycle[0][0]])
    raise SpecError(
        [
            Problem(
                "E-CYCLE",
                f"blocks call each other: {names}",
                doc.key_pos(("blocks", cycle[0][0])),
                hint="a block cannot call itself, directly or through other "
                "blocks; to stack copies, call it once with `repeat: N`",
            )
        ]
    )


def inside(problem: Problem, block: str, spec: Spec, doc: Document) -> Problem:
    """An error found while typing `block`: name the node `Block.node` and say which nodes call
    the block. Blocks are typed once, apart from their calls, so the error's position is inside
    the block and the calling node would otherwise go unmentioned."""
    node = problem.node
    if node is not None and not node.startswith(f"{block}."):
        node = f"{block}.{node}"
    callers = [
        f"'{prefix}{layer}' (line {doc.key_pos((*path, 'layers', layer)).line})"
        for path, prefix, body in _bodies(spec)
        for layer, call in body.layers.items()
        if isinstance(call, Call) and call.block == block
    ]
    note = f"; in block '{block}', called by {', '.join(callers)}" if callers else ""
    return dataclasses.replace(problem, message=problem.message + note, node=node)


def _bodies(spec: Spec) -> list[tuple[tuple, str, Block]]:
    """(document path, node-name prefix, body) for the model and each block."""
    out: list[tuple[tuple, str, Block]] = [(("model",), "", spec.model)]
    return out + [(("blocks", n), f"{n}.", b) for n, b in spec.blocks.items()]


def _unknown(name: str, known: list[str], doc: Document, path: tuple) -> Problem:
    close = difflib.get_close_matches(name, known, n=1)
    hint = (
        f"did you mean '{close[0]}'?"
        if close
        else (f"declared blocks: {', '.join(known)}" if known else "declare it under `blocks:`")
    )
    return Problem("E-REF", f"unknown block '{name}'", doc.pos((*path, "block")), path[-1], hint)
