"""Example inputs for export: sizes for the spec's symbols, random tensors of the input types.

An input declared `[N, 1, 32, 32]` is traced at one size of `N` and checked at another, so an
export that silently fixed a symbolic size is caught. Integer inputs that index an `Embedding`
are drawn below its `num_embeddings` (through block calls too), so the check never feeds the
eager module an index it would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from graphspec.compiler.infer import TypedGraph
from graphspec.core.errors import fail
from graphspec.core.shapes import Dim

TRACE_BATCH, CHECK_BATCH = 2, 3  # never 0 or 1: torch.export specialises those
# Other symbols (L, H, W, ...): first multiples of 32, so a CNN's stride-2 stages divide them
# evenly and five halvings still leave more than one pixel; then smaller ones, for models that
# cap a size (GPT's positions index an Embedding of block_size rows). The first pair at which
# the eager module runs is used.
SIZE_LADDER = ((64, 96), (16, 24), (8, 12), (4, 6))
TRACE_SIZE, CHECK_SIZE = SIZE_LADDER[0]
INDEX_FALLBACK = 2  # an integer input with no Embedding behind it: 0 or 1 is valid anywhere


@dataclass(frozen=True)
class InputSlot:
    """One model input as export sees it: name, declared shape and dtype, index bound."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str
    high: int | None  # integer inputs: draw in [0, high)


def slots(graph: TypedGraph) -> list[InputSlot]:
    return [
        InputSlot(t.name, t.out.shape, t.out.dtype, _index_bound(graph, t.name))
        for t in graph.inputs
    ]


def symbols(slots_: list[InputSlot]) -> list[str]:
    """The symbols in input shapes, in first-seen order."""
    seen: dict[str, None] = {}
    for slot in slots_:
        for dim in slot.shape:
            seen.update(dict.fromkeys(dim.syms))
    return list(seen)


def sizes_for(
    names: list[str],
    batch: str,
    given: dict[str, int],
    check: bool,
    rung: tuple[int, int] = SIZE_LADDER[0],
) -> dict[str, int]:
    """One value per symbol: the user's --size/--check-size, else the defaults above.
    `batch` is the first input's first symbol (`N`): it gets the batch defaults."""
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise fail(
            "E-USAGE",
            f"no input of this spec has a size named {', '.join(unknown)}",
            hint=f"its symbols are: {', '.join(names) or 'none (every size is fixed)'}",
        )
    out = {}
    for name in names:
        default = (CHECK_BATCH if check else TRACE_BATCH) if name == batch else None
        default = default or (rung[1] if check else rung[0])
        out[name] = given.get(name, default)
    return out


def concrete(dim: Dim, sizes: dict[str, int]) -> int:
    if hasattr(dim, "subs"):  # a polynomial size (H // 2 + 1): substitute, then evaluate
        return dim.subs(sizes).value
    value = dim.coeff
    for sym in dim.syms:
        value *= sizes[sym]
    return value


def _multiple_of_symbol(dim: Dim) -> tuple[str, int] | None:
    """`L` -> ('L', 1), `2*L` -> ('L', 2); None for anything else (N*L, H//2, H+1)."""
    if len(dim.syms) != 1 or dim.is_static:
        return None
    sym, k = dim.syms[0], dim.coeff
    return (sym, k) if k >= 1 and dim == Dim.of(sym) * k else None


def random_inputs(
    slots_: list[InputSlot], sizes: dict[str, int], seed: int, device: str = "cpu"
) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for slot in slots_:
        shape = tuple(concrete(d, sizes) for d in slot.shape)
        dtype = getattr(torch, slot.dtype)
        if slot.dtype == "bool":
            value = torch.randint(0, 2, shape, generator=gen).bool()
        elif dtype.is_floating_point:
            value = torch.randn(shape, generator=gen).to(dtype)
        else:
            value = torch.randint(0, slot.high or INDEX_FALLBACK, shape, generator=gen).to(dtype)
        out.append(value.to(device))
    return tuple(out)


def dynamic_shapes(slots_: list[InputSlot]) -> tuple[dict[str, dict[int, Any]], list[str]]:
    """torch.export's `dynamic_shapes`: one `Dim` per symbol, shared by every input that names
    it (so `N` is one batch size for all); `2*L` becomes a derived dim. Other expressions
    (`N*L`, `H//2`) can't be said to torch.export: that axis stays at its traced size (noted)."""
    from torch.export import Dim as TorchDim

    dims = {name: TorchDim(name) for name in symbols(slots_)}
    spec: dict[str, dict[int, Any]] = {}
    notes: list[str] = []
    for slot in slots_:
        axes: dict[int, Any] = {}
        for axis, dim in enumerate(slot.shape):
            found = _multiple_of_symbol(dim)
            if found:
                axes[axis] = dims[found[0]] if found[1] == 1 else found[1] * dims[found[0]]
            elif not dim.is_static:
                notes.append(f"input '{slot.name}' axis {axis} ({dim}) is exported at a fixed size")
        spec[slot.name] = axes
    return spec, notes


def relaxed(spec: dict[str, dict[int, Any]]) -> dict[str, dict[int, Any]]:
    """The same axes as Dim.DYNAMIC: dynamic, with whatever range the model implies."""
    from torch.export import Dim as TorchDim

    return {name: {axis: TorchDim.DYNAMIC for axis in axes} for name, axes in spec.items()}


def symbol_at(spec: dict[str, dict[int, Any]], name: str, axis: int) -> str | None:
    """The symbol torch's dynamic_shapes gives input `name`'s `axis` (a derived 2*L: L)."""
    dim = spec.get(name, {}).get(axis)
    root = getattr(dim, "root", dim)  # a derived dim names its root
    return getattr(root, "__name__", None)


def dynamic_symbols(slots_: list[InputSlot]) -> set[str]:
    """The symbols some input axis carries as a dynamic dim (the rest are traced fixed)."""
    return {f[0] for s in slots_ for d in s.shape if (f := _multiple_of_symbol(d))}


def _index_bound(graph: TypedGraph, name: str) -> int | None:
    """The smallest `num_embeddings` among Embeddings reading input `name`, through blocks."""
    bounds = []
    for typed in graph.nodes.values():
        refs = [ref.partition(".")[0] for ref in typed.node.inputs]
        if name not in refs:
            continue
        size = getattr(typed.op, "num_embeddings", None)
        if isinstance(size, int):
            bounds.append(size)
        if getattr(typed.op, "op", None) == "embedding" and refs[:1] == [name]:
            rows = graph.ref_type(typed.node.inputs[1]).shape[0]  # F.embedding(idx, weight)
            bounds += [rows.value] if rows.is_static else []
        if typed.inner is not None:  # a block call: follow the argument into the block
            inner_inputs = [t.name for t in typed.inner.inputs]
            for i, ref in enumerate(refs):
                if ref == name and i < len(inner_inputs):
                    found = _index_bound(typed.inner, inner_inputs[i])
                    bounds += [found] if found else []
    return min(bounds) if bounds else None
