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
from typing import Any

from graphspec.compiler.graph import split_ref
from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.core.shapes import FLOAT_DTYPES, Dim, TensorType

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
    _walk(graph, _Binding(sizes, result.assumed), "", _State(result))
    return result


@dataclass
class _State:
    """What the walk knows about tensors, each named `prefix.node:port`."""

    result: GraphCost
    roots: dict[str, str] = field(default_factory=dict)
    """A tensor -> the tensor whose storage it shares (a view -> its base)."""
    kept: set[str] = field(default_factory=set)
    """Roots already saved for backward: each is counted once."""
    grads: set[str] = field(default_factory=set)
    """Tensors a gradient flows into (autograd keeps nothing for an op outside them)."""

    def root(self, key: str) -> str:
        return self.roots.get(key, key)


class _Binding:
    """Symbol values; a symbol without one counts as 1 and is noted in `assumed`."""

    def __init__(self, sizes: dict[str, int], assumed: list[str]) -> None:
        self.sizes, self.assumed = sizes, assumed

    def dim(self, d: Dim) -> int:
        for s in sorted(d.free_symbols()):
            if s not in self.sizes:
                self.sizes[s] = 1
                self.assumed.append(s)
        return d.subs(self.sizes).value

    def concrete(self, t: TensorType, grad: bool = False) -> TensorType:
        return TensorType(tuple(Dim(self.dim(d)) for d in t.shape), t.dtype, {"grad": grad})


def _walk(graph: TypedGraph, bind: _Binding, prefix: str, st: _State) -> None:
    for t in graph.nodes.values():
        ins = [_input_key(prefix, ref, graph) for ref in t.node.inputs]
        types = [graph.ref_type(ref) for ref in t.node.inputs]
        _node(t, prefix + t.name, ins, types, bind, st)


def _node(
    t: TypedNode, path: str, ins: list[str], types: list[TensorType], bind: _Binding, st: _State
) -> None:
    """One node at `path`, reading the tensors `ins` (of static types `types`)."""
    args = [bind.concrete(ty, key in st.grads) for ty, key in zip(types, ins, strict=True)]
    owns = t.node.is_param or (t.op is not None and t.op.param_count() > 0)
    grad = owns or any(key in st.grads for key in ins)
    outs = {port: bind.concrete(o, grad) for port, o in t.outs.items()}
    keys = [f"{path}:{port}" for port in outs]
    nested = t.inner is not None or t.children is not None
    cost = NodeCost(path, params=0 if nested else t.params)
    for key, o in zip(keys, outs.values(), strict=True):
        st.roots.setdefault(key, key)
        if grad and o.dtype in FLOAT_DTYPES:
            st.grads.add(key)
        cost.out_bytes += nbytes(o)
        if nbytes(o) > st.result.largest[0] and not nested:
            st.result.largest = (nbytes(o), path)
    if t.node.is_param:
        st.kept.add(keys[0])  # a learnable tensor: its bytes are parameters, not activations
    if t.inner is not None:
        _call(t, args, path, st, ins, keys)
    elif t.children is not None:
        _group(t, path, ins, types, bind, st, keys)
    elif t.op is not None:
        _op_cost(t, args, list(outs.values()), cost, st, ins, keys, grad)
    st.result.nodes.append(cost)


def _group(
    t: TypedNode,
    path: str,
    ins: list[str],
    types: list[TensorType],
    bind: _Binding,
    st: _State,
    keys: list[str],
) -> None:
    """A group (nn.Sequential): each child reads the one before, the first the group's input."""
    key, ty = ins[0], types[0]
    for child in t.children or ():
        _node(child, f"{path}.{child.name}", [key], [ty], bind, st)
        key, ty = f"{path}.{child.name}:{next(iter(child.outs))}", child.out
    st.roots[keys[0]] = st.root(key)  # the group's result is its last child's
    if key in st.grads:
        st.grads.add(keys[0])


def _input_key(prefix: str, ref: str, graph: TypedGraph) -> str:
    name, port = split_ref(ref)
    return f"{prefix}{name}:{port or next(iter(graph.nodes[name].outs))}"


def _op_cost(
    t: TypedNode,
    args: list[TensorType],
    outs: list[TensorType],
    cost: NodeCost,
    st: _State,
    ins: list[str],
    keys: list[str],
    grad: bool,
) -> None:
    op = t.op
    if op.aliases_input and ins:  # a view: shares its input's storage
        st.roots[keys[0]] = st.root(ins[0])
    c = op.cost(args, outs)
    cost.macs, cost.flops = c.macs, 2 * c.macs + c.flops
    if t.node.kind != "share":  # a shared module's state is counted at its owner
        cost.buffers = op.buffer_count()
    if not grad:
        return  # no gradient flows through this op: autograd records nothing
    for item in c.saved:
        if isinstance(item, tuple):  # a tensor only this op holds
            count, dtype = item
            cost.saved_bytes += count * BYTES.get(dtype, 4)
            continue
        if item.startswith("in"):
            index = int(item[2:])
            key, t_type = ins[index], args[index]
        else:
            index = int(item[3:])
            key, t_type = keys[index], outs[index]
        if st.root(key) not in st.kept:
            st.kept.add(st.root(key))
            cost.saved_bytes += nbytes(t_type)


def _call(
    t: TypedNode,
    args: list[TensorType],
    path: str,
    st: _State,
    ins: list[str],
    keys: list[str],
) -> None:
    """A block call: each copy's body (its own specialization) at the sizes its inputs have;
    copy k+1's first input is copy k's first output."""
    copies = t.copies or ([t.inner] if t.inner is not None else [])
    outputs: list[str] = []
    for i, inner in enumerate(copies):
        sizes: dict[str, int] = {}
        for node, actual in zip(inner.inputs, args, strict=True):
            for d, value in zip(node.out.shape, actual.shape, strict=True):
                if d.symbol is not None and d.symbol not in sizes:
                    sizes[d.symbol] = value.value
        here = f"{path}." if len(copies) == 1 else f"{path}.{i}."
        for node, key in zip(inner.inputs, ins, strict=True):
            st.roots[f"{here}{node.name}:out"] = st.root(key)
            if key in st.grads:
                st.grads.add(f"{here}{node.name}:out")
        bind = _Binding(sizes, st.result.assumed)
        _walk(inner, bind, here, st)
        outputs = [_input_key(here, ref, inner) for ref in inner.graph.outputs]
        first = bind.concrete(inner.ref_type(inner.graph.outputs[0]))
        ins, args = [outputs[0], *ins[1:]], [first, *args[1:]]
    for key, out in zip(keys, outputs, strict=False):  # the call's results are its body's
        st.roots[key] = st.root(out)
        if out in st.grads:
            st.grads.add(key)


def default_sizes(spec: Any) -> dict[str, int]:
    """`N` is the training batch size when the spec has data (the whole set when it is one
    batch), else 1; other symbols get values only from the command line (`--size L=128`)."""
    data = getattr(spec, "data", None)
    batch = getattr(data, "batch_size", None)
    if batch is None and data is not None:
        batch = data.whole_batch()  # the whole set as one batch (random, linspace)
    return {"N": batch if isinstance(batch, int) and batch > 0 else 1}


def print_cost(cost: GraphCost, console: Any) -> None:
    """The cost columns of `graphspec summary`: per node, then the totals."""
    from rich.table import Table

    sizes = ", ".join(f"{k}={v}" for k, v in cost.sizes.items())
    table = Table(title=f"cost of a training step at {sizes}", title_justify="left")
    for column in ("node", "params", "MACs", "FLOPs", "saved for backward", "output"):
        table.add_column(column, justify="left" if column == "node" else "right")
    for n in cost.nodes:
        if n.macs or n.flops or n.saved_bytes:
            table.add_row(n.path, f"{n.params:,}" if n.params else "-", _count(n.macs),
                          _count(n.flops), _bytes(n.saved_bytes), _bytes(n.out_bytes))  # fmt: skip
    console.print(table)
    trainable, frozen = cost.total("params"), cost.total("buffers")
    console.print(
        f"Params: {trainable:,} trainable, {frozen:,} not (buffers) · forward: "
        f"{_count(cost.total('macs'))} MACs, {_count(cost.total('flops'))} FLOPs · activations "
        f"kept for backward: {_bytes(cost.activation_bytes)} · largest tensor: "
        f"{_bytes(cost.largest[0])} ({cost.largest[1]})"
    )
    if cost.assumed:
        console.print(f"assumed {', '.join(sorted(set(cost.assumed)))} = 1 (give --size NAME=N)")


def _count(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n) if n else "-"


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B" if n else "-"
