"""Diagrams of a typed graph, drawn by graphviz's `dot` program (`graphspec render`).

Three steps over a small picture model (`graphspec.render.dot.Diagram`: nodes, edges, clusters):
1. `diagram(typed)` reads a (possibly partial) `TypedGraph`: each node with its op, the arguments
   that matter and its parameter count; each edge labelled with the shape it carries. A block call
   becomes a cluster holding the block's own nodes; `repeat: 12` draws one copy marked ×12 (all
   twelve with `expand`).
2. `collapse(depth)` turns clusters nested deeper than `depth` into single nodes.
3. `dot.to_dot` writes DOT text; `dot.run_dot` turns it into SVG, PNG or PDF. No torch and no
   Python graphviz package: writing the text ourselves keeps `render --format dot` fast and free
   of dependencies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from graphspec.compiler.graph import GraphNode, split_ref
from graphspec.core.errors import Problem
from graphspec.core.files import write_atomic
from graphspec.render.dot import (
    Cluster,
    DEdge,
    Diagram,
    DNode,
    DotNotFoundError,
    cluster_params,
    count,
    missing_problem,
    run_dot,
    to_dot,
)

if TYPE_CHECKING:
    from graphspec.compiler.infer import TypedGraph, TypedNode
    from graphspec.compiler.pipeline import Compiled
    from graphspec.core.shapes import TensorType
    from graphspec.ops.base import Op

FORMATS = ("dot", "svg", "png", "pdf")


# -- 1. typed graph -> diagram ---------------------------------------------------------------


def diagram(
    typed: TypedGraph, problems: list[Problem] | tuple = (), title: str = "", expand: bool = False
) -> Diagram:
    """Every node of `typed.graph`; those missing from `typed.nodes` are failed or unchecked."""
    failed: dict[str, str] = {}
    for p in problems:
        failed.setdefault(p.node or "", p.message)
    b = _Builder(typed.class_name, failed, expand)
    b.add_graph(typed, "", ())
    many = len(typed.graph.outputs) > 1
    for ref in typed.graph.outputs:
        src, label = b.source(typed, "", ref)
        key = f"output:{ref}"
        b.d.nodes[key] = DNode(key, f"output {ref}" if many else "output", (), "output")
        b.d.edges.append(DEdge(src, key, label))
    head = f"{title}: " if title else ""
    status = f" · check failed at {', '.join(b.marked)}" if b.marked else ""
    b.d.title = f"{head}class {typed.class_name} · {count(typed.total_params)}{status}"
    return b.d


class _Builder:
    """Adds a typed graph's nodes and edges, recursing into block calls as clusters."""

    def __init__(self, class_name: str, failed: dict[str, str], expand: bool) -> None:
        self.d = Diagram("")
        self.class_name, self.failed, self.expand = class_name, failed, expand
        self.marked: list[str] = []
        self.ports: dict[str, dict[str, str]] = {}
        """Call id -> output port -> id of the inner node that produces it."""
        self.entries: dict[str, list[list[str]]] = {}
        """Call id -> for each input slot, the inner input nodes it feeds (one per copy)."""

    def add_graph(self, tg: TypedGraph, prefix: str, path: tuple[str, ...]) -> None:
        for gnode in tg.graph.order():
            nid = prefix + gnode.name
            t = tg.nodes.get(gnode.name)
            if t is not None and t.inner is not None:
                self.add_call(gnode, t, nid, path)
            else:
                self.d.nodes[nid] = self.node(gnode, t, nid, path, prefix)
            targets = self.entries.get(nid) or [[nid]] * len(gnode.inputs)
            for slot, ref in enumerate(gnode.inputs):
                src, label = self.source(tg, prefix, ref)
                self.d.edges += [DEdge(src, dst, label) for dst in targets[slot]]
            if gnode.kind == "share":
                self.d.edges.append(DEdge(nid, prefix + gnode.spec.share, style="share"))

    def node(self, gnode: GraphNode, t: TypedNode | None, nid: str, path: tuple, prefix: str):
        keys = (nid,) if prefix else (nid, f"{self.class_name}.{nid}")  # a block's own errors
        error = next((self.failed[k] for k in keys if k in self.failed), None)
        if error is not None:
            self.marked.append(nid)
        return _dnode(gnode, t, error, nid, path)

    def add_call(self, gnode: GraphNode, t: TypedNode, nid: str, path: tuple) -> None:
        spec, inner = gnode.spec, t.inner
        total = len(t.copies) or 1
        copies = total if self.expand else 1
        entries: list[list[str]] = [[] for _ in inner.inputs]
        last = ""
        for i in range(copies):
            cid = f"{nid}.{i}" if copies > 1 else nid
            name = f"{gnode.name} {i + 1}/{copies}" if copies > 1 else gnode.name
            self.d.clusters[(*path, cid)] = Cluster(name, spec.block, total // copies)
            inner = t.copies[i] if t.copies else inner  # copies may be different classes
            self.add_graph(inner, cid + ".", (*path, cid))
            inputs = [f"{cid}.{x.name}" for x in inner.inputs]
            ports = {_port(r): self.source(inner, cid + ".", r)[0] for r in inner.graph.outputs}
            for slot, dst in enumerate(inputs):
                if i and not slot:  # copy i reads copy i-1's first output
                    self.d.edges.append(DEdge(last, dst, shape_label(t.out)))
                else:
                    entries[slot].append(dst)
            last = next(iter(ports.values()))
        if copies < total:
            self.d.edges.append(DEdge(last, inputs[0], f"×{total}", "repeat"))
        self.ports[nid], self.entries[nid] = ports, entries

    def source(self, tg: TypedGraph, prefix: str, ref: str) -> tuple[str, str]:
        """The node id an edge leaves from for `ref`, and the shape it carries."""
        name, port = split_ref(ref)
        sid, t = prefix + name, tg.nodes.get(name)
        if sid in self.ports:  # a block call: leave from the inner node making that output
            ports = self.ports[sid]
            sid = ports.get(port or "", next(iter(ports.values())))
        out = (t.outs.get(port) if port else t.out) if t is not None else None
        return sid, shape_label(out) if out is not None else ""


def _port(ref: str) -> str:
    name, port = split_ref(ref)
    return port or name


def _dnode(gnode: GraphNode, t: TypedNode | None, error: str | None, nid: str, path: tuple):
    spec = gnode.spec
    node = DNode(nid, gnode.name, path, params=t.params if t else 0)
    match gnode.kind:  # the node kinds: GraphNode's docstring (compiler/graph.py)
        case "input":  # a block's inputs are its ports, drawn small inside its cluster
            node.kind, node.op = ("port", "") if path else ("input", "input")
        case "param":
            node.kind, node.op = "param", "buffer" if gnode.is_buffer else "param"
            shape = "×".join(map(str, spec.shape)) or "scalar"
            made = "value" if getattr(spec, "value", None) else f"init {spec.init.fn}"
            node.details = f"{shape} · {made}"
        case "group":  # an nn.Sequential, drawn as one module
            node.kind, node.op = "module", "group"
            node.details = f"{len(t.children or ())} modules" if t else ""
        case "call":  # drawn as a node only when it failed
            node.kind, node.op = "block", f"block {spec.block}"
            node.details = f"×{spec.repeat}" if spec.repeat > 1 else ""
        case "share":
            node.op = t.op.op if t else "share"
            node.details = op_details(t.op) if t else ""
            node.kind, node.note = "share", f"shares {spec.share}"
        case "op":
            op: Op = t.op if t else spec
            node.op, node.details, node.kind = op.op, op_details(op), op.kind
    if error is not None:
        node.kind, node.note = "error", error
    elif t is None:
        node.kind, node.note = "unchecked", "not checked"
    return node


def shape_label(tensor: TensorType) -> str:
    """(N, 6, 14, 14) -> `N×6×14×14`; symbolic sizes kept; a dtype other than float32 shown."""
    text = "×".join(str(d).replace("*", "·") for d in tensor.shape) or "scalar"
    return text if tensor.dtype == "float32" else f"{text} {tensor.dtype}"


_SHORT = {"expr": "", "kernel_size": "kernel", "start_dim": "start", "end_dim": "end"}
_SKIP = {"in_channels", "out_channels", "in_features", "out_features", "num_features", "inplace"}
_PAIRS = {"kernel_size", "stride", "padding", "dilation"}


def op_details(op: Op) -> str:
    """The arguments a reader needs: `1→6 ch · kernel 5`, `400→120 features`, `stride 2`."""
    args = op.op_args()
    parts = []
    if "out_channels" in args:
        parts.append(f"{args.get('in_channels', '?')}→{args['out_channels']} ch")
    if "out_features" in args:
        parts.append(f"{args.get('in_features', '?')}→{args['out_features']} features")
    elif args.get("num_features"):
        parts.append(f"{args['num_features']} features")
    for key, value in args.items():
        if key not in _SKIP:
            parts.append(_arg(key, value))
    return " · ".join(p for p in parts if p)


def _arg(key: str, value) -> str:
    name = _SHORT.get(key, key.replace("_", " "))
    if isinstance(value, bool):
        return name if value else f"no {name}"
    if isinstance(value, list):
        same = key in _PAIRS and len(set(map(str, value))) == 1
        value = value[0] if same else "×".join(map(str, value))
    return f"{name} {value}".strip()


# -- 2. --depth: deep clusters as single nodes ---------------------------------------------------


def collapse(d: Diagram, depth: int) -> Diagram:
    """Clusters nested deeper than `depth` become one node each (depth 0: every top block)."""
    out = Diagram(d.title, clusters=d.clusters)
    canon: dict[str, str] = {}
    for node in d.nodes.values():
        if len(node.path) <= depth:
            out.nodes[node.id] = node
            canon[node.id] = node.id
            continue
        path = node.path[: depth + 1]
        key = canon[node.id] = f"block:{path[-1]}"
        if key not in out.nodes:
            out.nodes[key] = _block_node(d, path, key)
        if node.kind == "error":
            out.nodes[key].kind, out.nodes[key].note = "error", f"{node.name}: {node.note}"
    for e in d.edges:
        src, dst = canon[e.src], canon[e.dst]
        if src != dst:  # edges inside a collapsed block disappear with it
            out.edges.append(DEdge(src, dst, e.label, e.style))
    out.edges = list({(e.src, e.dst, e.style): e for e in out.edges}.values())
    return out


def _block_node(d: Diagram, path: tuple[str, ...], key: str) -> DNode:
    c = d.clusters[path]
    node = DNode(key, c.name, path[:-1], "block", c.block, params=cluster_params(d, path))
    node.details = f"×{c.repeat}" if c.repeat > 1 else ""
    return node


# -- entry points ------------------------------------------------------------------------------


def dot_source(
    typed: TypedGraph,
    *,
    title: str = "",
    problems: list[Problem] | tuple = (),
    rankdir: str = "TB",
    depth: int | None = None,
    expand: bool = False,
) -> str:
    d = diagram(typed, problems, title, expand)
    if depth is not None:
        d = collapse(d, depth)
    return to_dot(d, rankdir)


def format_of(path: str | Path) -> str | None:
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def write_drawing(dot_text: str, path: str | Path, fmt: str) -> Path:
    """Write `path` in `fmt`; without `dot`, write the .dot beside it and raise DotNotFoundError."""
    path = Path(path)
    if fmt == "dot":
        write_atomic(path, dot_text)
        return path
    try:
        data = run_dot(dot_text, fmt)
    except DotNotFoundError:
        fallback = path.with_suffix(".dot")
        write_atomic(fallback, dot_text)
        raise DotNotFoundError([missing_problem(fallback)]) from None
    write_atomic(path, data)
    return path


def render_to_file(
    compiled: Compiled, path: str | Path, *, rankdir: str = "TB", depth: int | None = None
) -> Path:
    """Draw a compiled spec to `path`, the format from its suffix (.svg, .png, .pdf, .dot).

    Raises DotNotFoundError (a SpecError) when graphviz is absent, after writing the .dot beside it.
    """
    fmt = format_of(path)
    if fmt is None:
        raise ValueError(f"unknown drawing format for {path}: use one of {', '.join(FORMATS)}")
    text = dot_source(compiled.graph, title=compiled.spec.name, rankdir=rankdir, depth=depth)
    return write_drawing(text, path, fmt)
