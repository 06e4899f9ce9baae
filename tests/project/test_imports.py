"""The floor plan holds: graphspec's imports run one way, core up to the CLI, with no circle.

Every import in every module is read with `ast`, at the top of the file and inside functions
alike (a lazy import is still a dependency), and resolved to the graphspec module it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "graphspec"

# Each stage may import its own package and those with a lower rank, never a higher one.
LAYERS = {
    "core": 0,
    "ops": 1,
    "data": 1,
    "language": 2,
    "compiler": 3,
    "render": 4,
    "program": 4,
    "training": 5,
    "use": 6,
    "export": 6,
    "sweep": 6,  # starts runs: above training, beside export
    "lsp": 6,  # the language server: above the compiler, never on the validate path
    "cli": 7,
    "__main__": 8,
}
# The package's front door resolves the Python API lazily (graphspec/__init__.py).
FRONT = {"graphspec": 8}
TORCH_FREE = ("core", "ops", "language", "compiler", "render", "program", "lsp", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of the file except those under `if TYPE_CHECKING:`: an import there names a
    type for the checker and never runs, so it is no dependency (nor a circle)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            node.body = []
    return list(ast.walk(tree))


def imported(name: str, path: Path) -> set[str]:
    """The graphspec modules `name` imports anywhere in its file (type-only imports aside)."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}".rstrip(".")
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return {m for m in found if m in MODULES and m != name}


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(MODULES)
    for name, path in MODULES.items():
        g.add_edges_from((name, dep) for dep in imported(name, path))
    return g


def rank(module: str) -> int:
    if module in FRONT:
        return FRONT[module]
    stage = module.split(".")[1]
    assert stage in LAYERS, f"{module}: a new stage package needs a rank in LAYERS"
    return LAYERS[stage]


def test_there_is_no_import_cycle():
    g = import_graph()
    assert g.number_of_edges() > 50  # the walk sees the imports at all
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], cycles


def test_imports_run_one_way_from_core_to_the_cli():
    wrong = [
        f"{a} -> {b}"
        for a, b in import_graph().edges
        if b not in FRONT and a not in FRONT and rank(b) > rank(a)
    ]
    assert wrong == []


def test_a_planted_cycle_is_found(tmp_path):
    """The negative control: the same walk sees a circle when there is one."""
    g = import_graph()
    g.add_edge("graphspec.core.errors", "graphspec.training.session")
    assert list(nx.simple_cycles(g))


@pytest.mark.parametrize("stage", TORCH_FREE)
def test_torch_free_stages_import_torch_only_inside_functions(stage):
    """ruff's TID253 (pyproject.toml) enforces it too; this says which stages are on the line."""
    for path in (PACKAGE / stage).rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            heavy = [n for n in names if n.split(".")[0] in ("torch", "torchvision", "matplotlib")]
            assert not heavy, f"{path}: module-level import of {heavy}"
