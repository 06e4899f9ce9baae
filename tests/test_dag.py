"""compiler.dag against networkx itself: the same orders, ancestors and cycles on random graphs.

The emitted code's statement order and block order come from these sorts, so they must match
networkx exactly, not merely be valid topological orders.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest

from graphspec.compiler.dag import Dag


def _random_graph(seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    r = random.Random(seed)
    n = r.randint(1, 20)
    nodes = [f"n{i}" for i in r.sample(range(100), n)]
    forward_only = seed % 3 != 0  # two in three are DAGs; the rest usually have cycles
    edges = [
        (nodes[i], nodes[j])
        for i in range(n)
        for j in range(n)
        if i != j and (i < j or not forward_only) and r.random() < 0.15
    ]
    return nodes, edges


@pytest.mark.parametrize("seed", range(300))
def test_matches_networkx(seed: int) -> None:
    nodes, edges = _random_graph(seed)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    d = Dag(nodes)
    for u, v in edges:
        d.add_edge(u, v)
    try:
        expected_cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        expected_cycle = None
    assert d.find_cycle() == expected_cycle
    if expected_cycle is not None:
        with pytest.raises(ValueError):
            d.topological_sort()
        return
    assert d.topological_sort() == list(nx.topological_sort(g))
    r = random.Random(seed)
    rank = {name: r.random() for name in nodes}
    assert d.lexicographical_topological_sort(rank.get) == list(
        nx.lexicographical_topological_sort(g, key=rank.get)
    )
    for name in nodes:
        assert d.ancestors(name) == nx.ancestors(g, name)


def test_self_loop_is_a_cycle() -> None:
    d = Dag(["a"])
    d.add_edge("a", "a")
    assert d.find_cycle() == [("a", "a")]
