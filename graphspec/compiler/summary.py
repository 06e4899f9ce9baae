"""A Keras-style summary of a typed graph: as rows for people, as a dict or a networkx graph for
machines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from graphspec.compiler.graph import split_ref
from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.core.errors import Problem, SpecError
from graphspec.core.shapes import TensorType


def op_label(t: TypedNode) -> str:
    spec = t.node.spec
    match t.node.kind:
        case "input" | "param":
            return "buffer" if t.node.is_buffer else t.node.kind
        case "call":
            return f"block {spec.block}" + (f" ×{spec.repeat}" if spec.repeat > 1 else "")
        case "group":
            return "group"
        case "share":
            return f"{t.op.op} (shares {spec.share})"
    return t.op.op


def _shapes(outs: dict[str, TensorType]) -> str:
    return ", ".join(
        f"{o}" + ("" if o.dtype == "float32" else f" {o.dtype}") for o in outs.values()
    )


def as_dict(
    graph: TypedGraph, spec_name: str, sizes: dict[str, int] | None = None
) -> dict[str, Any]:
    sizes = sizes or {}
    return {
        "name": spec_name,
        "class": graph.class_name,
        "nodes": [
            {
                "name": path,
                "op": op_label(t),
                "inputs": list(t.node.inputs),
                "shape": _dims(next(iter(outs.values()))),
                "dtype": t.out.dtype,
                "outputs": {k: _dims(o) for k, o in outs.items()},
                "params": t.params,
                "line": t.node.pos.line,
            }
            for path, t, _, outs in sized_walk(graph, sizes)
        ],
        "outputs": {ref: _dims(graph.ref_type(ref).subs(sizes)) for ref in graph.graph.outputs},
        "total_params": graph.total_params,
    }


def _dims(t: TensorType) -> list[str]:
    """Each size as text: `"6"`, `"N"`, `"(H + 1)//2"`."""
    return [str(d) for d in t.shape]


def as_networkx(graph: TypedGraph) -> Any:
    """The typed graph as a `networkx.DiGraph`, for analysis with networkx's algorithms.

    Each node carries `op` (as the summary names it), `outs` (port -> TensorType), `shape`,
    `dtype`, `params`, `line` and `inputs` (the references it reads, in argument order); a block
    call carries its body as `inner`, a DiGraph of the same kind. An edge carries the `port` it
    reads (None for a node's first output). Unlike the compiler's own graph (`TypedGraph.digraph`,
    whose nodes hold the live objects), this one holds plain values, for analysis and export.
    """
    import networkx as nx

    g = nx.DiGraph(name=graph.class_name, outputs=list(graph.graph.outputs))
    for t in graph.nodes.values():
        inner = as_networkx(t.inner) if t.inner is not None else None
        g.add_node(
            t.name,
            op=op_label(t),
            outs=dict(t.outs),
            shape=tuple(str(d) for d in t.out.shape),
            dtype=t.out.dtype,
            params=t.params,
            line=t.node.pos.line,
            inputs=list(t.node.inputs),
            inner=inner,
        )
    for t in graph.nodes.values():
        for ref in t.node.inputs:
            src, port = split_ref(ref)
            g.add_edge(src, t.name, port=port)
    return g


def bind_inputs(graph: TypedGraph, given: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """Symbol values from concrete input shapes (`x=1,3,224,224`); SpecError when one does not
    fit its declaration or names no input. With one input, its name may be left out ('')."""
    inputs = {t.name: t for t in graph.inputs}
    if list(given) == [""] and len(inputs) == 1:
        given = {next(iter(inputs)): given[""]}
    sizes: dict[str, int] = {}
    for name, shape in given.items():
        t = inputs.get(name)
        if t is None:
            known = ", ".join(inputs)
            raise SpecError(
                [
                    Problem(
                        "E-REF",
                        f"--input: the model has no input '{name}'",
                        graph.graph.outputs_pos or next(iter(inputs.values())).node.pos,
                        hint=f"its inputs: {known}",
                    )
                ]
            )
        declared = t.out.shape
        ok = len(declared) == len(shape)
        for d, n in zip(declared, shape, strict=False) if ok else ():
            free = d.free_symbols() - sizes.keys()
            if len(free) == 1 and len(d.terms) == 1 and len(d.terms[0][0]) == 1:
                (symbol,), coeff = free, d.coeff  # c*h: h = n / c, when c divides n
                if n % coeff == 0 and n // coeff > 0:
                    sizes[symbol] = n // coeff
            if d.subs(sizes) != n:
                ok = False
        if not ok:
            given_text = "(" + ", ".join(map(str, shape)) + ")"
            message = f"--input {name}: {given_text} does not fit the declared {t.out}"
            raise SpecError(
                [
                    Problem(
                        "E-SHAPE",
                        message,
                        t.node.pos,
                        name,
                        hint=f"give {t.out.rank} sizes that match {t.out}",
                    )
                ]
            )
    return sizes


def sized_walk(graph: TypedGraph, sizes: dict[str, int], prefix: str = "") -> Iterator[tuple]:
    """(path, node, depth, its outputs with `sizes` put in) for every node: block internals
    with the sizes of their call, every copy of a `repeat:`, inside groups too. Sizes left
    unbound stay symbols."""
    for path, t, depth, outs, _ in _sized_walk(graph, sizes, prefix):
        yield path, t, depth, outs


def _sized_walk(graph: TypedGraph, sizes: dict[str, int], prefix: str = "") -> Iterator[tuple]:
    """`sized_walk`, each node with its inputs too (sizes put in)."""
    outs: dict[str, dict[str, TensorType]] = {}
    for t in graph.nodes.values():
        outs[t.name] = {k: o.subs(sizes) for k, o in t.outs.items()}
        actual = [_ref_out(outs, ref) for ref in t.node.inputs]
        yield prefix + t.name, t, prefix.count("."), outs[t.name], actual
        yield from _sized_node_inside(t, sizes, actual, f"{prefix}{t.name}.")


def _sized_node_inside(
    t: TypedNode, sizes: dict[str, int], actual: list[TensorType], prefix: str
) -> Iterator[tuple]:
    """What is inside one node: each copy of a block call, or a group's children."""
    for key, inner in zip(t.copy_keys(), t.copies, strict=True):
        # Copies are named as state_dict names them (`layer1.0.conv1`); each reads the one
        # before it.
        inner_sizes = _bind(inner, actual)
        yield from _sized_walk(inner, inner_sizes, prefix + (f"{key}." if key else ""))
        first = next(iter(inner.output_types().values())).subs(inner_sizes)
        actual = [first, *actual[1:]]
    x = actual[0] if actual else None
    for child in t.children or ():
        child_outs = {k: o.subs(sizes) for k, o in child.outs.items()}
        ins = [x] if x is not None else []
        yield prefix + child.name, child, prefix.count("."), child_outs, ins
        yield from _sized_node_inside(child, sizes, ins, prefix + f"{child.name}.")
        x = next(iter(child_outs.values()))


def _ref_out(outs: dict, ref: str) -> TensorType:
    name, port = split_ref(ref)
    return outs[name][port] if port else next(iter(outs[name].values()))


def _bind(inner: TypedGraph, actual: list[TensorType]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for want, got in zip((t.out for t in inner.inputs), actual, strict=False):
        for w, g in zip(want.shape, got.shape, strict=False):
            if w.symbol is not None and g.is_static:
                sizes.setdefault(w.symbol, g.value)
    return sizes


def check_sizes(graph: TypedGraph, sizes: dict[str, int]) -> None:
    """A size below 1 somewhere means the input is too small for the model (a kernel larger
    than its input): say where, as torch would when it runs. So do a size below what an op took
    a symbolic size to be at least (a circular pad's), and one above what it can hold (a
    position table's rows)."""
    for path, t, _, outs, ins in _sized_walk(graph, sizes):
        for o in outs.values():
            bad = [d for d in o.shape if d.is_static and d.value < 1]
            if bad and not t.node.is_input:
                message = f"with these input sizes, '{path}' would have the shape {o}"
                hint = "give a larger input: a kernel or pool window is larger than what reaches it"
                raise SpecError([Problem("E-SHAPE", message, t.node.pos, path, hint)])
        if t.op is not None:
            _check_least(path, t, ins)
            _check_most(path, t, outs)


def _check_least(path: str, t: Any, ins: list[Any]) -> None:
    for size, minimum in t.op.least_sizes(ins) if ins else []:
        if size.is_static and size.value < minimum:
            message = (
                f"with these input sizes, '{path}' ({t.op.op}) gets a dim of {size.value}, "
                f"less than the {minimum} it needs, from {', '.join(map(str, ins))}"
            )
            hint = "give a larger input: the spec takes this size to be at least that"
            raise SpecError([Problem("E-SHAPE", message, t.node.pos, path, hint)])


def _check_most(path: str, t: Any, outs: dict[str, Any]) -> None:
    first = next(iter(outs.values()), None)
    for axis, most, why, hint in t.op.most_sizes():
        size = first.shape[axis] if first is not None else None
        if size is not None and size.is_static and size.value > most:
            message = (
                f"with these input sizes, '{path}' would have the shape {first}: "
                f"{why.format(last=size.value - 1)}, so ids past {most - 1} have no row"
            )
            raise SpecError([Problem("E-SHAPE", message, t.node.pos, path, hint)])


def print_table(graph: TypedGraph, spec_name: str, sizes: dict[str, int] | None = None) -> Any:
    """Print the table and totals; returns the console, for the cost columns that follow."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec_name}: class {graph.class_name}", title_justify="left")
    for column in ("node", "op", "input", "output shape", "params"):
        justify = "right" if column == "params" else "left"
        table.add_column(column, justify=justify, no_wrap=column != "input")
    for _, t, depth, outs in sized_walk(graph, sizes or {}):
        params = f"{t.params:,}" if t.params else "-"
        name = "  " * depth + t.name
        table.add_row(name, op_label(t), ", ".join(t.node.inputs), _shapes(outs), params)
    # Piped output (CI logs, files) gets a wide fixed width instead of rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    total = graph.total_params
    console.print(f"Total params: {total:,} ({total * 4 / 1024**2:.2f} MiB in float32)")
    outs = ", ".join(
        f"{ref} {graph.ref_type(ref).subs(sizes or {})}" for ref in graph.graph.outputs
    )
    console.print(f"Outputs: {outs}")
    return console
