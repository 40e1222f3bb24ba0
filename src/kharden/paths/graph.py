"""The attack graph: vertices, the steps between them, and where an attacker starts.

The steps, several per pair of vertices when several facts each allow it (two bindings that both
grant ``create pods``), are kept per pair, with the pairs each vertex steps to and from. A graph made
only to count the attack paths through each finding keeps, per pair, only what the count reads: the
findings its steps rest on (:meth:`AttackGraph.add_counted`). The
searches of ``kharden paths`` run on the same topology as a :class:`networkx.DiGraph` (one edge
per pair), built when first asked for: counting the attack paths of a scan walks the pairs
breadth-first and never needs it (a networkx edge costs a dict of its own). Each edge weighs one
step and a thousandth per fact its simplest step rests on: the shortest path is the one of fewest
steps, and among those the one that rests on the fewest facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .model import Edge, Entry, Evidence, FindingKey, Hop, Vertex

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["AttackGraph"]


class AttackGraph:
    def __init__(self, *, counting: bool = False) -> None:
        """``counting``: the graph serves only to count the attack paths through each finding, which go by
        pairs of vertices and the findings of their steps: its steps are added with :meth:`add_counted`
        and kept in ``found`` (``steps``, ``succ`` and the networkx view stay empty)."""
        self.counting = counting
        self.vertices: dict[str, Vertex] = {}
        self.steps: dict[tuple[str, str], list[Edge]] = {}
        self.entries: dict[str, Entry] = {}
        self.succ: dict[str, list[str]] = {}
        """Vertex -> the vertices it steps to, in the order the pairs were first added."""
        self.pred: dict[str, list[str]] = {}
        """Vertex -> the vertices that step to it, in the order the pairs were first added."""
        self.found: dict[str, dict[str, tuple[FindingKey, ...]]] = {}
        """Only while ``counting``: vertex -> the vertices it steps to (in the order the pairs were first
        added) -> the findings the steps between them rest on. An ``Edge`` per step, its list per pair and
        the pair's key cost about 300 bytes a step, half the count's memory on a large scan."""
        self.free: set[str] = set()
        """Only while ``counting``: vertices whose steps cost nothing (:meth:`add_free`)."""
        self._seen: set[Edge] = set()
        self._added = 0
        self._graph: nx.DiGraph[str] | None = None

    @property
    def graph(self) -> nx.DiGraph[str]:
        """The topology as networkx holds it, built when first asked for and kept current after.

        Nodes in the order the vertices were added, edges in the order their pairs were first added:
        the graph that adding each to networkx as it came would have made.
        """
        if self._graph is None:
            import networkx as nx  # noqa: PLC0415 - ~80 ms that a scan counting its paths never needs

            graph: nx.DiGraph[str] = nx.DiGraph()
            graph.add_nodes_from(self.vertices)
            graph.add_weighted_edges_from(
                (source, target, min(_weight(edge) for edge in edges))
                for (source, target), edges in self.steps.items()
            )
            self._graph = graph
        return self._graph

    def add_vertex(self, vertex: Vertex) -> str:
        if vertex.id not in self.vertices:
            self.vertices[vertex.id] = vertex
            if self._graph is not None:
                self._graph.add_node(vertex.id)
        return vertex.id

    def add_edge(self, edge: Edge) -> None:
        """Add a step between two vertices already in the graph (the same step twice counts once)."""
        if self.counting:
            raise ValueError("a graph made only to count takes its steps' findings (add_counted)")
        if edge.source == edge.target:
            return
        seen = self._seen
        known = len(seen)
        seen.add(edge)  # hashed once: it tells whether the step is new by the set's size
        if len(seen) == known:
            return
        self._added += 1
        pair = (edge.source, edge.target)
        found = self.steps.get(pair)
        if found is None:
            self.steps[pair] = [edge]
            self.succ.setdefault(edge.source, []).append(edge.target)
            self.pred.setdefault(edge.target, []).append(edge.source)
            if self._graph is not None:
                self._graph.add_edge(*pair, weight=_weight(edge))
        else:
            found.append(edge)
            if self._graph is not None:
                data = self._graph[edge.source][edge.target]
                data["weight"] = min(data["weight"], _weight(edge))

    def add_counted(self, source: str, target: str, findings: tuple[FindingKey, ...]) -> None:
        """Add a step of a ``counting`` graph: only the findings it rests on (each once, as
        ``Evidence.counted`` gives them), merged with those of the pair's earlier steps.

        The same step added twice is counted twice in ``len()`` (it changes no count), rather than
        looked up among every step added. Pass equal tuples as one object where they repeat: a pair's
        steps that rest on the same findings then cost nothing more.
        """
        if source == target:
            return
        self._added += 1
        onward = self.found.get(source)
        if onward is None:
            onward = self.found[source] = {}
        known = onward.get(target)
        if known is None:
            onward[target] = findings
            self.pred.setdefault(target, []).append(source)
        elif not known:
            onward[target] = findings
        elif findings and known is not findings:
            merged = tuple(dict.fromkeys((*known, *findings)))
            if len(merged) != len(known):
                onward[target] = merged

    def add_free(self, vertex: Vertex, targets: Iterable[str]) -> str:
        """Add a vertex of a ``counting`` graph that stands for ``targets``: a step to it is a step to each of
        them, the same length and resting on the same findings. A permission held in every namespace steps
        once to such a vertex, not to each namespace (a large cluster's two hundred thousand steps); its own
        steps rest on nothing and count no step in a path's length (:meth:`steps_to`). A free vertex steps
        to none other."""
        if not self.counting:
            raise ValueError("only a graph made to count holds free vertices (their steps count nothing)")
        if vertex.id not in self.vertices:
            self.vertices[vertex.id] = vertex
            self.free.add(vertex.id)
            for target in targets:
                self.add_counted(vertex.id, target, ())
        return vertex.id

    def onward(self) -> dict[str, dict[str, tuple[FindingKey, ...]]]:
        """Vertex -> the vertices it steps to -> the findings the steps between them rest on, each once.

        What a ``counting`` graph keeps; worked out from the steps for a whole graph."""
        if self.counting:
            return self.found
        return {
            source: {target: _findings(self.steps[(source, target)]) for target in targets}
            for source, targets in self.succ.items()
        }

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
        search gives, without its heap. A free vertex's steps count nothing: it is as far as the nearest of
        its targets, and joins their layer (walked as the layer grows).
        """
        before = self.pred
        free = self.free
        distance = dict.fromkeys(targets, 0)
        frontier = list(distance)
        steps = 0
        while frontier:
            reached = []
            for vertex in frontier:
                for source in before.get(vertex, ()):
                    if source not in distance:
                        if source in free:
                            distance[source] = steps
                            frontier.append(source)
                        else:
                            distance[source] = steps + 1
                            reached.append(source)
            frontier = reached
            steps += 1
        return distance

    def goal_vertices(self, goal: str) -> list[str]:
        return [v.id for v in self.vertices.values() if v.goal == goal]

    def __len__(self) -> int:
        """The steps added (each once, unless ``counting``)."""
        return self._added


def _findings(edges: list[Edge]) -> tuple[FindingKey, ...]:
    """The findings the steps between two vertices rest on, each once."""
    return tuple(dict.fromkeys(key for edge in edges for fact in edge.evidence for key in fact.counted))


def _weight(edge: Edge) -> float:
    return 1 + min(len(edge.evidence), 9) / 1000
