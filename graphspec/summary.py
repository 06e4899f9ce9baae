"""A Keras-style summary of a typed graph: as rows for people, as a dict for machines."""

from __future__ import annotations

from typing import Any

from graphspec.infer import TypedGraph, TypedNode
from graphspec.spec import Share


def op_label(t: TypedNode) -> str:
    if t.node.is_input:
        return "input"
    if isinstance(t.node.spec, Share):
        return f"{t.op.op} (shares {t.node.spec.share})"
    return t.op.op


def as_dict(graph: TypedGraph, spec_name: str) -> dict[str, Any]:
    return {
        "name": spec_name,
        "class": graph.class_name,
        "nodes": [
            {
                "name": t.name,
                "op": op_label(t),
                "inputs": list(t.node.inputs),
                "shape": [str(d) for d in t.out.shape],
                "dtype": t.out.dtype,
                "params": t.params,
                "line": t.node.pos.line,
            }
            for t in graph.nodes.values()
        ],
        "outputs": [t.name for t in graph.outputs],
        "total_params": graph.total_params,
    }


def print_table(graph: TypedGraph, spec_name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec_name}: class {graph.class_name}", title_justify="left")
    for column in ("node", "op", "input", "output shape", "params"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for t in graph.nodes.values():
        params = f"{t.params:,}" if t.params else "-"
        dtype = "" if t.out.dtype == "float32" else f" {t.out.dtype}"
        table.add_row(t.name, op_label(t), ", ".join(t.node.inputs), f"{t.out}{dtype}", params)
    console = Console()
    console.print(table)
    total = graph.total_params
    console.print(f"Total params: {total:,} ({total * 4 / 1024**2:.2f} MiB in float32)")
    console.print(f"Outputs: {', '.join(f'{t.name} {t.out}' for t in graph.outputs)}")
