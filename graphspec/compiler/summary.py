"""A Keras-style summary of a typed graph: as rows for people, as a dict or a networkx graph for
machines."""

from __future__ import annotations

import sys
from typing import Any

from graphspec.compiler.graph import split_ref
from graphspec.compiler.infer import TypedGraph, TypedNode
from graphspec.language.spec import Call, Share


def op_label(t: TypedNode) -> str:
    spec = t.node.spec
    if t.node.is_input:
        return "input"
    if t.node.is_param:
        return "param"
    if isinstance(spec, Call):
        return f"block {spec.block}" + (f" ×{spec.repeat}" if spec.repeat > 1 else "")
    if isinstance(spec, Share):
        return f"{t.op.op} (shares {spec.share})"
    return t.op.op


def _shapes(t: TypedNode) -> str:
    return ", ".join(
        f"{o}" + ("" if o.dtype == "float32" else f" {o.dtype}") for o in t.outs.values()
    )


def as_dict(graph: TypedGraph, spec_name: str) -> dict[str, Any]:
    return {
        "name": spec_name,
        "class": graph.class_name,
        "nodes": [
            {
                "name": path,
                "op": op_label(t),
                "inputs": list(t.node.inputs),
                "shape": [str(d) for d in t.out.shape],
                "dtype": t.out.dtype,
                "outputs": {k: [str(d) for d in o.shape] for k, o in t.outs.items()},
                "params": t.params,
                "line": t.node.pos.line,
            }
            for path, t, _ in graph.walk()
        ],
        "outputs": {
            ref: [str(d) for d in graph.ref_type(ref).shape] for ref in graph.graph.outputs
        },
        "total_params": graph.total_params,
    }


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


def print_table(graph: TypedGraph, spec_name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec_name}: class {graph.class_name}", title_justify="left")
    for column in ("node", "op", "input", "output shape", "params"):
        justify = "right" if column == "params" else "left"
        table.add_column(column, justify=justify, no_wrap=column != "input")
    for _, t, depth in graph.walk():
        params = f"{t.params:,}" if t.params else "-"
        name = "  " * depth + t.name
        table.add_row(name, op_label(t), ", ".join(t.node.inputs), _shapes(t), params)
    # Piped output (CI logs, files) gets a wide fixed width instead of rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    total = graph.total_params
    console.print(f"Total params: {total:,} ({total * 4 / 1024**2:.2f} MiB in float32)")
    outs = ", ".join(f"{ref} {graph.ref_type(ref)}" for ref in graph.graph.outputs)
    console.print(f"Outputs: {outs}")
