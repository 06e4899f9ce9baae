"""Tied weights: a module node whose `weight` is another module's (`tie: wte`).

GPT-2's head is a Linear whose weight is the token embedding's table. In torch that is
`self.lm_head.weight = self.wte.weight`: `state_dict` keeps both keys (so a state_dict holding
both loads with strict=True), and `parameters()` yields the tensor once. Here a tie is checked
after its body is typed (the target may come later, or sit inside a block call), its weight
counted once (at the target), and emitted as that one assignment at the end of `__init__`.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

from graphspec.core.errors import Problem
from graphspec.ops.base import Op, ShapeError

if TYPE_CHECKING:
    from graphspec.compiler.infer import TypedGraph, TypedNode


def weight_shape(op: Op, what: str) -> tuple[int, ...]:
    """The shape of the module's trainable `weight`, or a refusal naming what it has."""
    entry = op.state().get("weight") if op.kind == "module" else None
    if entry is None or not entry[2]:
        raise ShapeError(
            f"{what}: '{op.op}' has no weight to tie",
            code="E-REF",
            field="tie",
            hint="tie a module that has a `weight` (Linear, Embedding, Conv2d, ...)",
        )
    return entry[0]


def own_params(op: Op) -> int:
    """A tied module's parameters without its weight, which the target's count holds."""
    return op.param_count() - prod(weight_shape(op, "tie"))


def check(graph: TypedGraph, label: str = "") -> list[Problem]:
    """Each `tie:` of this body names a module with a weight of the same shape."""
    problems = []
    for t in graph.nodes.values():
        path = getattr(t.node.spec, "tie", None)
        if path is None:
            continue
        try:
            target = resolve(graph, path, t.name)
            assert t.op is not None and target.op is not None  # a tie is typed on op nodes
            want, have = weight_shape(t.op, t.name), weight_shape(target.op, path)
            if want != have:
                raise ShapeError(
                    f"tie: '{t.name}' has a weight of shape {list(want)} but '{path}' has "
                    f"{list(have)}",
                    field="tie",
                    hint="tie modules whose weights have the same shape (an Embedding(V, D) "
                    "and a Linear(D, V, bias=false))",
                )
        except ShapeError as err:
            problems.append(Problem(err.code, err.message, t.node.pos, label + t.name, err.hint))
    return problems


def resolve(graph: TypedGraph, path: str, owner: str) -> TypedNode:
    """The typed module node at `path`: a node of `graph`, then block insides (a number picks
    a `repeat:` copy) and group children (by number)."""
    parts = path.split(".")
    if parts[0] == owner:
        raise _bad(path, "a module cannot tie itself")
    t = _in_body(graph, parts[0], path)
    rest = parts[1:]
    while rest:
        part = rest.pop(0)
        numbered = part.isdigit()
        if t.children is not None and numbered and int(part) < len(t.children):
            t = t.children[int(part)]
        elif len(t.copies) > 1 and numbered and int(part) < len(t.copies) and rest:
            t = _in_body(t.copies[int(part)], rest.pop(0), path)
        elif len(t.copies) == 1 and part in t.copies[0].nodes:
            t = t.copies[0].nodes[part]
        else:
            raise _bad(path, f"'{t.name}' has no module '{part}'")
    if t.op is None or t.node.kind != "op" or t.op.kind != "module":
        raise _bad(path, "it is not a module op")
    return t


def _in_body(body: TypedGraph, name: str, path: str) -> TypedNode:
    if name not in body.nodes:
        raise _bad(path, f"there is no node '{name}'")
    return body.nodes[name]


def _bad(path: str, why: str) -> ShapeError:
    return ShapeError(
        f"tie: cannot find '{path}': {why}",
        code="E-REF",
        field="tie",
        hint="name a module node of this body, or a path into a block call (`transformer.wte`)",
    )


def code(path: str) -> str:
    """`self.transformer.h[0].mlp`: the Python that reaches the module at `path`."""
    return "self" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path.split("."))
