"""The little of networkx's DiGraph that checking a spec needs, without importing networkx.

`import networkx` costs about 0.25 s (it imports every algorithm and scans installed packages for
backends), a third of `graphspec validate`'s whole start-up; see bench/RESULTS.md. The orders
below are networkx's own algorithms, so generated code is the same either way, and a cycle is
reported by networkx itself (imported only then) so its messages do not change.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable
from typing import Any


class Dag:
    """A directed graph as insertion-ordered adjacency dicts (as in nx.DiGraph)."""

    def __init__(self, nodes: Iterable[Hashable] = ()) -> None:
        self.succ: dict[Any, dict[Any, None]] = {n: {} for n in nodes}
        self.pred: dict[Any, dict[Any, None]] = {n: {} for n in self.succ}

    def add_edge(self, u: Hashable, v: Hashable) -> None:
        for n in (u, v):
            if n not in self.succ:
                self.succ[n], self.pred[n] = {}, {}
        self.succ[u][v] = None
        self.pred[v][u] = None

    def __contains__(self, node: object) -> bool:
        return node in self.succ

    def __iter__(self):
        return iter(self.succ)

    def topological_sort(self) -> list:
        """nx.topological_sort: generation by generation; raises ValueError on a cycle."""
        indegree = {v: len(p) for v, p in self.pred.items() if p}
        order = [v for v, p in self.pred.items() if not p]
        for node in order:  # grows while it is walked: one generation after another
            for child in self.succ[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    order.append(child)
                    del indegree[child]
        if indegree:
            raise ValueError("graph has a cycle")
        return order

    def lexicographical_topological_sort(self, key: Callable[[Any], Any]) -> list:
        """nx.lexicographical_topological_sort: the ready node with the smallest key first."""
        index = {n: i for i, n in enumerate(self.succ)}
        indegree = {v: len(p) for v, p in self.pred.items() if p}
        ready = [(key(v), index[v], v) for v, p in self.pred.items() if not p]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)[2]
            order.append(node)
            for child in self.succ[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, (key(child), index[child], child))
                    del indegree[child]
        if indegree:
            raise ValueError("graph has a cycle")
        return order

    def find_cycle(self) -> list[tuple] | None:
        """nx.find_cycle's edges, or None for an acyclic graph (networkx is imported only then)."""
        try:
            self.topological_sort()
            return None
        except ValueError:
            pass
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.succ)
        g.add_edges_from((u, v) for u, vs in self.succ.items() for v in vs)
        return nx.find_cycle(g)

    def ancestors(self, node: Hashable) -> set:
        """Every node with a path to `node`, as nx.ancestors."""
        seen: set = set()
        stack = [node]
        while stack:
            for parent in self.pred[stack.pop()]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        seen.discard(node)
        return seen
