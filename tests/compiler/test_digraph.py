"""The compiler's graph is networkx's: shape inference walks a `networkx.DiGraph` of typed nodes."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from graphspec.compiler.graph import GraphNode
from graphspec.compiler.infer import TypedNode
from graphspec.compiler.pipeline import compile_file

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_inference_walks_a_networkx_digraph_with_the_typed_nodes(spec):
    graph = compile_file(str(spec)).graph
    g = graph.digraph
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == list(graph.graph.nodes)
    for name, attrs in g.nodes(data=True):
        assert isinstance(attrs["node"], GraphNode) and attrs["node"].name == name
        assert isinstance(attrs["typed"], TypedNode) and attrs["typed"] is graph.nodes[name]
    # statements come out in networkx's own order, ties broken by declaration order
    rank = {n: i for i, n in enumerate(graph.graph.nodes)}
    assert list(graph.nodes) == list(nx.lexicographical_topological_sort(g, key=rank.get))
    for _, t, _ in graph.walk():
        if t.inner is not None:
            assert isinstance(t.inner.digraph, nx.DiGraph)


def test_edges_are_the_wiring():
    graph = compile_file(str(SPECS[0].parent / "bert_attention.yaml")).graph
    for name, t in graph.nodes.items():
        sources = {ref.partition(".")[0] for ref in t.node.inputs}
        assert set(graph.digraph.predecessors(name)) == sources


def test_the_acyclic_check_agrees_with_networkx_on_random_graphs():
    import random

    import networkx as nx

    from graphspec.compiler.graph import _acyclic

    rng = random.Random(0)
    cyclic = 0
    for _ in range(2000):
        n = rng.randint(1, 12)
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from((rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 20)))
        assert _acyclic(g) == nx.is_directed_acyclic_graph(g), list(g.edges)
        cyclic += not _acyclic(g)
    assert 200 < cyclic < 1800  # both kinds were drawn
