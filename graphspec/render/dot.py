"""DOT text for a `Diagram` (the picture model), and graphviz's `dot` to draw it.

A `Diagram` is nodes, edges and clusters with just what a picture needs, independent of how the
compiler stores graphs and blocks (`render.py` builds one from a typed graph). Node kinds map to
shapes and colours here, so every format (and every caller) draws the same picture.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from math import prod
from pathlib import Path

from graphspec.core.errors import Problem, SpecError

FONT = "Helvetica,Arial,sans-serif"
PNG_DPI = 144
"""graphviz's default 96 dpi makes small labels blurry; 144 reads well on screens and in READMEs."""


class DotNotFoundError(SpecError):
    """graphviz is not installed; the DOT file was written instead (exit 2, like bad input)."""


@dataclass
class DNode:
    id: str
    name: str
    path: tuple[str, ...] = ()
    """Enclosing clusters, outermost first (each is the id of a block call)."""
    kind: str = "function"
    """input, param, module, function, share, output, block, error or unchecked."""
    op: str = ""
    details: str = ""
    params: int = 0
    note: str = ""
    """The shared module's owner, or an error message."""


@dataclass
class DEdge:
    src: str
    dst: str
    label: str = ""
    style: str = "data"
    """data, share (to the module's owner) or repeat (a block's output into its next copy)."""


@dataclass
class Cluster:
    name: str
    block: str = ""
    repeat: int = 1


@dataclass
class Diagram:
    title: str
    nodes: dict[str, DNode] = field(default_factory=dict)
    edges: list[DEdge] = field(default_factory=list)
    clusters: dict[tuple[str, ...], Cluster] = field(default_factory=dict)


def cluster_params(d: Diagram, path: tuple[str, ...]) -> int:
    """Parameters of everything drawn inside `path`, times the copies each stands for."""
    k = len(path)
    return sum(
        n.params * prod(d.clusters[n.path[: i + 1]].repeat for i in range(k - 1, len(n.path)))
        for n in d.nodes.values()
        if n.path[:k] == path
    )


def count(params: int) -> str:
    return f"{params:,} param{'s' * (params != 1)}"


# -- DOT text, and graphviz ----------------------------------------------------------------

_STYLE = {  # kind -> node attributes: shape and colour say what a node is before its label does
    "input": 'shape=oval, fillcolor="#dbeafe", color="#2563eb"',
    "port": 'shape=oval, fillcolor="#ffffff", color="#0891b2", fontsize=10, height=0.25',
    "output": 'shape=oval, fillcolor="#dcfce7", color="#16a34a"',
    "param": 'shape=cylinder, fillcolor="#fef9c3", color="#ca8a04"',
    "module": 'fillcolor="#eef2ff", color="#4f46e5"',
    "function": 'fillcolor="#f8fafc", color="#94a3b8"',
    "share": 'style="rounded,filled,dashed", fillcolor="#faf5ff", color="#9333ea"',
    "block": 'shape=box3d, style=filled, fillcolor="#ecfeff", color="#0891b2"',
    "error": 'fillcolor="#fee2e2", color="#dc2626", penwidth=2',
    "unchecked": 'style="rounded,dashed", color="#94a3b8", fontcolor="#64748b"',
}
_EDGE = {
    "data": "",
    "share": 'style=dashed, color="#9333ea", arrowhead=none, constraint=false, '
    'label="same module", fontcolor="#9333ea"',
    "repeat": 'style=dashed, color="#0891b2", constraint=false, fontcolor="#0891b2"',
}


def to_dot(d: Diagram, rankdir: str = "TB") -> str:
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT or RL, not {rankdir!r}")
    lines = [
        f"digraph {_quote(d.title)} {{",
        f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=12, labelloc=t, labeljust=l,'
        " nodesep=0.3, ranksep=0.35, pad=0.2, bgcolor=white,"
        f" label=<<b>{html.escape(d.title)}</b>>];",
        f'  node [fontname="{FONT}", fontsize=11, shape=box, style="rounded,filled",'
        ' margin="0.14,0.05", height=0.3, penwidth=1.2];',
        f'  edge [fontname="{FONT}", fontsize=9, fontcolor="#475569", color="#64748b",'
        " arrowsize=0.6];",
    ]
    _emit_cluster(d, (), _tree(d), lines, 1)
    for e in d.edges:
        attrs = _EDGE[e.style]
        if e.label:
            attrs = f"{attrs}, " * bool(attrs) + f"label={_quote(' ' + e.label + ' ')}"
        tail = f" [{attrs}]" if attrs else ""
        lines.append(f"  {_quote(e.src)} -> {_quote(e.dst)}{tail};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tree(d: Diagram) -> dict[tuple[str, ...], list]:
    """Cluster path -> its direct members: node ids and child cluster paths (tuples)."""
    tree: dict[tuple[str, ...], list] = {(): []}
    for node in d.nodes.values():
        for i in range(len(node.path)):
            sub = node.path[: i + 1]
            if sub not in tree:
                tree[sub] = []
                tree[node.path[:i]].append(sub)
        tree[node.path].append(node.id)
    return tree


def _emit_cluster(d: Diagram, path: tuple, tree: dict, lines: list[str], indent: int) -> None:
    pad = "  " * indent
    for member in tree[path]:
        if isinstance(member, str):
            node = d.nodes[member]
            lines.append(f"{pad}{_quote(node.id)} [{_STYLE[node.kind]}, label={node_label(node)}];")
            continue
        lines.append(f"{pad}subgraph {_quote('cluster_' + member[-1])} {{")
        lines.append(f"{pad}  graph [{_cluster_style(d, member)}];")
        _emit_cluster(d, member, tree, lines, indent + 1)
        lines.append(f"{pad}}}")


def _cluster_style(d: Diagram, path: tuple[str, ...]) -> str:
    c, esc = d.clusters[path], html.escape
    head = f"<b>{esc(c.name)}</b>"
    if c.block and c.block != c.name:
        head += f'  <font color="#475569">{esc(c.block)}</font>'
    if c.repeat > 1:
        head += f' <font color="#0e7490"><b>×{c.repeat}</b></font>'
    params = cluster_params(d, path)
    if params:
        head += f'  <font point-size="9" color="#4338ca">{count(params)}</font>'
    fill = "#f0f9ff" if len(path) % 2 else "#e0f2fe"  # nested blocks alternate, so they separate
    return (
        f'style="rounded,filled", fillcolor="{fill}", color="#0891b2", fontsize=11, '
        f"margin=10, label=<{head}>"
    )


def node_label(node: DNode) -> str:
    """An HTML-like label: name and op, then arguments, parameter count or message."""
    esc = html.escape
    if node.kind == "output":
        return f"<<b>{esc(node.name)}</b>>"
    head = f"<b>{esc(node.name)}</b>"
    if node.op and node.op != node.name:
        head += f'  <font color="#475569">{esc(node.op)}</font>'
    rows = [head]
    small = '<font point-size="9" color="{}">{}</font>'
    if node.details:
        rows += [small.format("#334155", esc(r)) for r in _wrap(node.details, 34)]
    if node.params:
        rows.append(small.format("#4338ca", count(node.params)))
    if node.note:
        color = {"error": "#b91c1c", "share": "#7e22ce"}.get(node.kind, "#64748b")
        rows += [small.format(color, esc(r)) for r in _wrap(node.note, 40)]
    return "<" + "<br/>".join(rows) + ">"


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False)[:6] or [text]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_dot(dot_text: str, fmt: str) -> bytes:
    """The drawing, from graphviz's `dot`; DotNotFoundError when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise DotNotFoundError([missing_problem(None)])
    args = [exe, f"-T{fmt}"] + ([f"-Gdpi={PNG_DPI}"] if fmt == "png" else [])
    done = subprocess.run(args, input=dot_text.encode(), capture_output=True)
    if done.returncode != 0:  # our DOT text is wrong, or graphviz broke: a bug either way
        raise RuntimeError(f"dot -T{fmt} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def missing_problem(dot_file: Path | None) -> Problem:
    wrote = f"; wrote the graph as DOT to {dot_file}" if dot_file else ""
    return Problem(
        "E-RENDER",
        f"graphviz's `dot` program is not installed (not found on PATH){wrote}",
        hint="install graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
        "graphviz; conda: conda install graphviz), or write .dot with -o FILE.dot",
    )
