"""A static cost model of a typed graph, torch-free: parameters, FLOPs/MACs, activation memory.

Each op states its own forward cost at concrete shapes (`Op.cost`, ops/base.py); this module
binds the graph's symbols (the batch size `N`, a sequence length `L`...) to numbers, walks every
node, block internals included, and adds up:

- parameters: trainable (`param_count`) and not (`buffer_count`: BatchNorm's statistics);
- MACs of matrix products and convolutions, and FLOPs (2 per MAC, plus one per element of every
  other arithmetic). `2 * macs` is what `torch.utils.flop_counter.FlopCounterMode` counts;
- activation memory of a training step: the bytes autograd keeps from the forward pass for
  backward, each tensor once (an input that two ops keep, or a view of it, is one tensor), the
  weights not counted (they are parameters). tests/test_cost.py measures the same thing with
  `torch.autograd.graph.saved_tensors_hooks` and holds the model to it;
- the largest single tensor the forward pass makes, in bytes (what one allocation must hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from graphspec.compiler.graph import split_ref
from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.core.shapes import Dim, TensorType
from graphspec.language.spec import Call

BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1}


@dataclass
class NodeCost:
    path: str
    params: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    saved_bytes: int = 0
    """Activation bytes this node is the first to keep for backward."""
    out_bytes: int = 0


@dataclass
class GraphCost:
    sizes: dict[str, int]
    """The value each symbol was given (`N` the batch size)."""
    assumed: list[str] = field(default_factory=list)
    """Symbols no value was given for: taken as 1."""
    nodes: list[NodeCost] = field(default_factory=list)
    largest: tuple[int, str] = (0, "")
    """(bytes, node path) of the largest single tensor."""

    def total(self, key: str) -> int:
        return sum(getattr(n, key) for n in self.nodes)

    @property
    def activation_bytes(self) -> int:
        return self.total("saved_bytes")

    def as_dict(self) -> dict:
        keys = ("params", "buffers", "macs", "flops", "saved_bytes")
        return {
            "sizes": self.sizes,
            "assumed": self.assumed,
            "total": {k: self.total(k) for k in keys},
            "largest_tensor": {"bytes": self.largest[0], "node": self.largest[1]},
            "nodes": {n.path: {k: getattr(n, k) for k in (*keys, "out_bytes")} for n in self.nodes},
        }


def nbytes(t: TensorType) -> int:
    return prod(d.value for d in t.shape) * BYTES.get(t.dtype, 4)


def cost_of(graph: TypedGraph, sizes: dict[str, int] | None = None) -> GraphCost:
    """The cost of one training step's forward pass with the symbols bound to `sizes`."""
    sizes = dict(sizes or {})
    result = GraphCost(sizes)
    _walk(graph, _Binding(sizes, result.assumed), "", result, {}, set())
    return result


class _Binding:
    """Symbol values; a symbol without one counts as 1 and is noted in `assumed`."""

    def __init__(self, sizes: dict[str, int], assumed: list[str]) -> None:
        self.sizes, self.assumed = sizes, assumed

    def dim(self, d: Dim) -> int:
        value = d.coeff
        for s in d.syms:
            if s not in self.sizes:
                self.sizes[s] = 1
                self.assumed.append(s)
            value *= self.sizes[s]
        return value

    def concrete(self, t: TensorType) -> TensorType:
        return TensorType(tuple(Dim(self.dim(d)) for d in t.shape), t.dtype)


def _walk(
    graph: TypedGraph,
    bind: _Binding,
    prefix: str,
    result: GraphCost,
    roots: dict[str, str],
    kept: set[str],
) -> None:
    """`roots` maps a tensor (`prefix.node:port`) to the tensor whose storage it shares;
    `kept` holds the roots already saved for backward (each counted once)."""
    for t in graph.nodes.values():
        path = prefix + t.name
        outs = {port: bind.concrete(o) for port, o in t.outs.items()}
        keys = [f"{path}:{port}" for port in outs]
        ins = [_input_key(prefix, ref, graph) for ref in t.node.inputs]
        cost = NodeCost(path, params=t.params if t.inner is None else 0)
        for key, o in zip(keys, outs.values(), strict=True):
            roots.setdefault(key, key)
            cost.out_bytes += nbytes(o)
            if nbytes(o) > result.largest[0]:
                result.largest = (nbytes(o), path)
        if t.node.is_param:
            kept.add(keys[0])  # a learnable tensor: its bytes are parameters, not activations
        args = [bind.concrete(graph.ref_type(ref)) for ref in t.node.inputs]
        if t.inner is not None:
            _call(t, args, path, result, roots, kept, ins, keys)
        elif t.op is not None:
            _op_cost(t, args, list(outs.values()), cost, roots, kept, ins, keys)
        result.nodes.append(cost)


def _input_key(prefix: str, ref: str, graph: TypedGraph) -> str:
    name, port = split_ref(ref)
    return f"{prefix}{name}:{port or next(iter(graph.nodes[name].outs))}"


def _op_cost(
    t: TypedNode,
    args: list[TensorType],
    outs: list[TensorType],
    cost: NodeCost,
    roots: dict[str, str],
    kept: set[str],
    ins: list[str],
    keys: list[str],
) -> None:
    op = t.op
    if getattr(op, "aliases_input", False) and ins:  # a view: shares its input's storage
        roots[keys[0]] = roots.get(ins[0], ins[0])
    c = op.cost(args, outs)
    cost.macs, cost.flops = c.macs, 2 * c.macs + c.flops
    if t.params or t.node.spec.__class__.__name__ == "Share":
        cost.buffers = op.buffer_count() if t.params else 0
    for item in c.saved:
        if isinstance(item, tuple):  # a tensor only this op holds
            numel, dtype = item
            cost.saved_bytes += numel * BYTES.get(dtype, 4)
            continue
        kind, index = item[:-1], int(item[-1])
        key, t_type = (ins[index], args[index]) if kind == "in" else (keys[index], outs[index])
        root = roots.get(key, key)
        if root not in kept:
            kept.add(root)
            cost.saved_bytes += nbytes(t_type)


def _call(
    t: TypedNode,
    args: list[TensorType],
    path: str,
    result: GraphCost,
    roots: dict[str, str],
    kept: set[str],
    ins: list[str],
    keys: list[str],
) -> None:
    """A block call: its body at the caller's sizes, once per `repeat` copy (a copy's first
    input is the copy before's first output, of the same type)."""
    inner = t.inner
    assert inner is not None
    sizes: dict[str, int] = {}
    for node, actual in zip(inner.inputs, args, strict=True):
        for d, value in zip(node.out.shape, actual.shape, strict=True):
            if len(d.syms) == 1 and d.syms[0] not in sizes and d.coeff:
                sizes[d.syms[0]] = value.value // d.coeff
    repeat = t.node.spec.repeat if isinstance(t.node.spec, Call) else 1
    for copy in range(repeat):
        here = f"{path}." if repeat == 1 else f"{path}[{copy}]."
        for node, key in zip(inner.inputs, ins, strict=True):
            roots[f"{here}{node.name}:out"] = roots.get(key, key)
        _walk(inner, _Binding(sizes, result.assumed), here, result, roots, kept)
        outputs = [_input_key(here, ref, inner) for ref in inner.graph.outputs]
        ins = [outputs[0], *ins[1:]]
    for key, out in zip(keys, outputs, strict=False):  # the call's results are its body's
        roots[key] = roots.get(out, out)
