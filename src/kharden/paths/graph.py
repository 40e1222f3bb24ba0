"""The attack graph: vertices, the steps between them, and where an attacker starts.

Topology lives in a :class:`networkx.DiGraph` (one edge per pair of vertices), on which the
searches run; the steps themselves, several per pair when several facts each allow it (two
bindings that both grant ``create pods``), are kept beside it. Each edge weighs one step and a
thousandth per fact its simplest step rests on: the shortest path is the one of fewest steps,
and among those the one that rests on the fewest facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import networkx as nx

from .model import Edge, Entry, Evidence, Hop, Vertex

__all__ = ["AttackGraph"]


class AttackGraph:
    def __init__(self) -> None:
        self.graph: nx.DiGraph[str] = nx.DiGraph()
        self.vertices: dict[str, Vertex] = {}
        self.steps: dict[tuple[str, str], list[Edge]] = {}
        self.entries: dict[str, Entry] = {}
        self._seen: set[Edge] = set()

    def add_vertex(self, vertex: Vertex) -> str:
        if vertex.id not in self.vertices:
            self.vertices[vertex.id] = vertex
            self.graph.add_node(vertex.id)
        return vertex.id

    def add_edge(self, edge: Edge) -> None:
        """Add a step between two vertices already in the graph (the same step twice counts once)."""
        if edge.source == edge.target:
            return
        seen = self._seen
        known = len(seen)
        seen.add(edge)  # hashed once: it tells whether the step is new by the set's size
        if len(seen) == known:
            return
        pair = (edge.source, edge.target)
        found = self.steps.get(pair)
        weight = 1 + min(len(edge.evidence), 9) / 1000
        if found is None:
            self.steps[pair] = [edge]
            self.graph.add_edge(*pair, weight=weight)
        else:
            found.append(edge)
            data = self.graph[edge.source][edge.target]
            data["weight"] = min(data["weight"], weight)

    def add_entry(self, vertex: str, reasons: Iterable[Evidence]) -> None:
        """Mark a workload as a place an attacker starts from (reasons add up)."""
        known = self.entries.get(vertex)
        merged = tuple(dict.fromkeys([*(known.reasons if known else ()), *reasons]))
        self.entries[vertex] = Entry(vertex, merged)

    def edges(self) -> Iterator[Edge]:
        for found in self.steps.values():
            yield from found

    def hop(self, source: str, target: str) -> Hop:
        return Hop(source, target, tuple(self.steps[(source, target)]))

    def steps_to(self, targets: Iterable[str]) -> dict[str, int]:
        """Vertex -> the fewest steps from it to one of ``targets`` (the vertices that reach none left out).

        Breadth-first over the steps backwards: where every step counts one, it gives what Dijkstra's
        search gives, without its heap.
        """
        before = self.graph.pred
        distance = dict.fromkeys(targets, 0)
        frontier = list(distance)
        steps = 0
        while frontier:
            steps += 1
            reached = []
            for vertex in frontier:
                for source in before[vertex]:
                    if source not in distance:
                        distance[source] = steps
                        reached.append(source)
            frontier = reached
        return distance

    def goal_vertices(self, goal: str) -> list[str]:
        return [v.id for v in self.vertices.values() if v.goal == goal]

    def __len__(self) -> int:
        return len(self._seen)
