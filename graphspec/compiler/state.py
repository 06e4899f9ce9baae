"""The model's state_dict as the compiler knows it, without torch: every key with its shape,
dtype, whether it is a trainable parameter or a buffer, and the node (and spec line) it belongs
to. The keys are torch's: `conv1.weight`, `layer1.0.bn1.running_mean`, `features.3.bias`.

`weights_check` compares a weights file with it; `summary` counts trainable and frozen entries.
The op oracle (tests/ops/test_ops_meta.py) holds each op's `state()` to torch's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from typing import cast

from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.core.errors import Pos
from graphspec.language.spec import Buffer
from graphspec.language.weights import matches


@dataclass(frozen=True)
class Entry:
    """One state_dict entry of the model."""

    shape: tuple[int, ...]
    dtype: str
    trainable: bool
    """A parameter (True) or a buffer such as BatchNorm's running statistics (False)."""
    node: str
    """The node's path (`layer1.0.bn1`)."""
    pos: Pos
    tied: str | None = None
    """For a weight tied to another module's (`tie:`): that module's path; one tensor, which
    `parameters()` and the counts hold once, under the other key."""

    @property
    def numel(self) -> int:
        return prod(self.shape)


def state_table(graph: TypedGraph, dtype: str = "float32") -> dict[str, Entry]:
    """Every state_dict key of the model, in the order the compiler walks the nodes; floating
    entries take `dtype` (train.dtype: the model is cast to it)."""
    table: dict[str, Entry] = {}
    for path, t in _walk(graph, ""):
        kind = t.node.kind
        if kind == "param":
            shape = tuple(t.node.spec.shape or ())  # a param's sizes, as its spec states them
            if not t.node.is_buffer:
                table[path] = Entry(shape, dtype, True, path, t.node.pos)  # type: ignore[arg-type]
            elif cast(Buffer, t.node.spec).persistent:  # a non-persistent one is not saved
                own = cast(Buffer, t.node.spec).dtype
                own = dtype if own == "float32" else own
                table[path] = Entry(shape, own, False, path, t.node.pos)  # type: ignore[arg-type]
        elif kind in ("op", "group") and t.op is not None and t.op.kind == "module":
            tie = getattr(t.node.spec, "tie", None)
            for name, (shape, kind_dtype, trainable) in t.op.state().items():
                kind_dtype = dtype if kind_dtype == "float32" else kind_dtype
                tied = _prefix(path) + tie if tie is not None and name == "weight" else None
                table[f"{path}.{name}"] = Entry(
                    shape, kind_dtype, trainable, path, t.node.pos, tied
                )
    return table


def _prefix(path: str) -> str:
    """The body a node's path lies in (`transformer.h.0.` of `transformer.h.0.attn`)."""
    return path.rpartition(".")[0] + "." if "." in path else ""


def _walk(graph: TypedGraph, prefix: str) -> Iterator[tuple[str, TypedNode]]:
    for t in graph.nodes.values():
        yield from _node(t, prefix + t.name)


def _node(t: TypedNode, path: str) -> Iterator[tuple[str, TypedNode]]:
    """The node and everything inside it, named as state_dict names them: copies of a block
    numbered when there are several (`layer1.0.conv1`), a group's children by position."""
    yield path, t
    for key, inner in zip(t.copy_keys(), t.copies, strict=True):
        yield from _walk(inner, f"{path}.{key}." if key else f"{path}.")
    for child in t.children or ():
        yield from _node(child, f"{path}.{child.name}")


def trainable_counts(table: dict[str, Entry], freeze: list[str]) -> tuple[int, int]:
    """(trainable, frozen) parameter elements when the keys matching `freeze` are frozen."""
    params = [(k, e.numel) for k, e in table.items() if e.trainable and e.tied is None]
    frozen = sum(n for k, n in params if matches(k, freeze))
    return sum(n for _, n in params) - frozen, frozen
