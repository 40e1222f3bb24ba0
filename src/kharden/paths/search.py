"""Shortest paths from the entry points to each goal, and the choke points that cut them.

Shortest paths: one search per goal, backwards from the goal's vertices (networkx's multi-source
Dijkstra on the reversed graph, every step costing one, plus a thousandth per fact so that ties go
to the path that rests on the fewest facts), gives every vertex its shortest path to the goal; the
entry points' are the paths found.

Choke points: the fewest fixes that leave no entry point connected to a goal. A fix may break
many steps at once (one binding grants ``create pods`` to every ServiceAccount of a namespace),
so this is a minimum *label* cut, which no polynomial algorithm solves exactly. kharden takes a
minimum cut of the graph (networkx) in which a step costs the share of its cheapest fix (a fix
that breaks N steps costs 1/N on each), turns the steps cut into the fixes that cover them,
and drops every fix the others make unnecessary. On graphs too large for a flow computation it
falls back to a greedy choice: the fix that cuts the most remaining paths, again and again,
with the paths found afresh after each. Either way the result is checked: with the fixes
applied, no entry point reaches a goal unless only steps without a fix lead there (those paths
are reported as uncuttable).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise
from typing import Any

import networkx as nx

from .graph import AttackGraph
from .model import Choke, ChokePoint, Edge, Evidence, FixKey, Hop, Path

__all__ = ["EXACT_LIMIT", "choke_points", "goal_targets", "shortest_paths"]

EXACT_LIMIT = 200_000
"""Pairs of vertices up to which the choke points come from a minimum cut; beyond, the greedy choice."""
_SCALE = 1_000_000
_SOURCE, _SINK = "\0source", "\0sink"


def goal_targets(graph: AttackGraph, goal: str) -> list[str]:
    return graph.goal_vertices(goal)


def shortest_paths(
    graph: AttackGraph, entries: Iterable[str], goals: Sequence[str], max_length: int | None = None
) -> list[Path]:
    """For each goal, the shortest path from each entry point that reaches it (within ``max_length``)."""
    wanted = list(dict.fromkeys(entries))
    reverse = graph.graph.reverse(copy=False)
    found = []
    for goal in goals:
        targets = goal_targets(graph, goal)
        if not targets:
            continue
        cutoff = None if max_length is None else max_length + 0.5  # weights add under 0.01 per step
        # From a list, not a set (whose order changes with the hash seed): ties break alike in every run.
        back = nx.multi_source_dijkstra_path(reverse, targets, cutoff=cutoff)
        for entry in wanted:
            route = back.get(entry)
            if route is not None and len(route) > 1:
                vertices = route[::-1]
                found.append(Path(entry, goal, tuple(graph.hop(u, v) for u, v in pairwise(vertices))))
    order = {goal: index for index, goal in enumerate(goals)}
    found.sort(key=lambda p: (order[p.goal], len(p), graph.vertices[p.entry].label))
    return found


def cut_by(hop: Hop, keys: Collection[FixKey]) -> bool:
    """Whether the fixes ``keys`` break every step of ``hop``."""
    return all(any(k in keys for k in edge.fixes) for edge in hop.edges)


def choke_points(
    graph: AttackGraph,
    paths: Sequence[Path],
    entries: Iterable[str],
    goals: Sequence[str],
    *,
    exact_limit: int = EXACT_LIMIT,
) -> Choke:
    """The fixes that cut every path from ``entries`` to ``goals`` that any fix can cut."""
    targets = {v for goal in goals for v in goal_targets(graph, goal)}
    starts = [e for e in dict.fromkeys(entries) if e in graph.vertices]
    if not paths or not targets or not starts:
        return Choke((), "minimum cut", len(paths), 0)
    cutter = _Cutter(graph, starts, targets)
    if len(cutter.pairs) <= exact_limit:
        keys, method = cutter.minimum_cut(), "minimum cut"
    else:
        keys, method = cutter.greedy(), "greedy"
    keys = cutter.prune(keys)
    uncuttable = tuple(p for p in paths if p.entry in cutter.uncuttable)
    cuttable = [p for p in paths if p.entry not in cutter.uncuttable]
    chosen = set(keys)
    holds = cutter.reopened(chosen, cuttable)
    alone: Counter[FixKey] = Counter()
    cut = 0
    for path in cuttable:
        hops = [[frozenset(e.fixes) for e in hop.edges] for hop in path.hops]
        # A fix cuts the path alone when every step of one of its hops rests on it.
        alone.update(set().union(*(frozenset.intersection(*sets) for sets in hops)) & chosen)
        cut += any(all(keys & chosen for keys in sets) for sets in hops)
    points = [
        ChokePoint(key, tuple(cutter.facts[key].values()), cutter.steps_of[key], alone[key], holds[key])
        for key in keys
    ]
    points.sort(key=lambda c: (-c.paths_cut, -c.holds, -c.steps, _key_text(c.key)))
    return Choke(tuple(points), method, len(paths), cut, uncuttable)


def _key_text(key: FixKey) -> str:
    obj, path, aspect = key
    return f"{obj or ''} {path or ''} {aspect}"


def _most(counts: Counter[FixKey]) -> FixKey:
    """The fix counted most; of those that tie, the first by its text (a fix's steps come as sets, whose
    order changes from run to run)."""
    return min(counts, key=lambda key: (-counts[key], _key_text(key)))


class _Cutter:
    """The part of the graph between the entry points and the goals, with what each fix breaks.

    Each pair of vertices keeps the fix sets of its steps; a pair is gone when every one of its
    steps loses a fact to the fixes applied. The checks walk a view of one graph that hides the
    pairs gone, so a check walks only what it reaches.
    """

    def __init__(self, graph: AttackGraph, starts: list[str], targets: set[str]) -> None:
        self.graph = graph
        topology: nx.DiGraph[Any] = nx.DiGraph(graph.graph)
        topology.add_edges_from((_SOURCE, s) for s in starts)
        topology.add_edges_from((t, _SINK) for t in targets)
        between: set[str] = nx.descendants(topology, _SOURCE) & nx.ancestors(topology, _SINK)
        self.pairs: dict[tuple[str, str], list[Edge]] = {
            pair: steps for pair, steps in graph.steps.items() if pair[0] in between and pair[1] in between
        }
        self.fixsets: dict[tuple[str, str], tuple[frozenset[FixKey], ...]] = {}
        self.by_key: dict[FixKey, list[tuple[str, str]]] = {}
        self.steps_of: Counter[FixKey] = Counter()
        self.facts: dict[FixKey, dict[str | None, Evidence]] = {}
        for pair, steps in self.pairs.items():
            sets = tuple(frozenset(step.fixes) for step in steps)
            self.fixsets[pair] = sets
            for step, keys in zip(steps, sets, strict=True):
                for fact in step.evidence:
                    if fact.cuttable:
                        self.facts.setdefault(fact.key, {}).setdefault(fact.rule, fact)
                self.steps_of.update(keys)
            for key in frozenset().union(*sets):
                self.by_key.setdefault(key, []).append(pair)
        # Vertices from which a goal is reached by steps that no fix breaks: the cut must come before.
        fixed: nx.DiGraph[str] = nx.DiGraph()
        fixed.add_node(_SINK)
        fixed.add_edges_from(pair for pair, sets in self.fixsets.items() if not all(sets))
        fixed.add_edges_from((t, _SINK) for t in targets if t in between)
        self.sinks: set[str] = nx.ancestors(fixed, _SINK) | (targets & between)
        # Sets of vertex names iterate in an order that changes with each run's hash seed; the graphs
        # below are built, and searched from, in a fixed order so that ties break alike in every run.
        self.sink_order = sorted(self.sinks)
        self.starts = [s for s in starts if s in between and s not in self.sinks]
        self.uncuttable = {s for s in starts if s in self.sinks}
        self.base: nx.DiGraph[str] = nx.DiGraph()
        self.base.add_edges_from(self.pairs)
        self.base.add_edges_from((_SOURCE, s) for s in self.starts)
        self.base.add_edges_from((t, _SINK) for t in self.sink_order)

    def gone(self, removed: set[FixKey]) -> set[tuple[str, str]]:
        """The pairs whose every step the fixes ``removed`` break."""
        candidates = {pair for key in removed for pair in self.by_key.get(key, ())}
        return {pair for pair in candidates if all(keys & removed for keys in self.fixsets[pair])}

    def returning(self, removed: set[FixKey], key: FixKey) -> set[tuple[str, str]]:
        """The pairs gone with the fixes ``removed`` that come back without ``key``."""
        rest = removed - {key}
        return {pair for pair in self.by_key.get(key, ()) if not all(k & rest for k in self.fixsets[pair])}

    def view(self, hidden: set[tuple[str, str]], *, beyond_sinks: bool = True) -> nx.DiGraph[str]:
        """The graph without the pairs ``hidden`` (and, unless ``beyond_sinks``, what leaves a sink)."""
        if not beyond_sinks:
            hidden = hidden | {(u, v) for u, v in self.pairs if u in self.sinks}
        return nx.restricted_view(self.base, (), hidden)  # type: ignore[return-value]

    # -- the minimum cut -------------------------------------------------------------------------------

    def minimum_cut(self) -> list[FixKey]:
        if not self.starts:
            return []
        flow: nx.DiGraph[str] = nx.DiGraph()
        flow.add_edges_from((_SOURCE, s) for s in self.starts)
        flow.add_edges_from((t, _SINK) for t in self.sink_order)
        for pair, sets in self.fixsets.items():
            if pair[0] in self.sinks:
                continue
            if not all(sets):
                flow.add_edge(*pair)  # no capacity: never cut
            else:
                cost = sum(max(_SCALE // max(self.steps_of[k] for k in keys), 1) for keys in sets)
                flow.add_edge(*pair, capacity=cost)
        _, (reachable, _rest) = nx.minimum_cut(flow, _SOURCE, _SINK)
        cut = sorted(
            (u, v)
            for u in reachable
            for v in flow.successors(u)
            if v not in reachable and u != _SOURCE and v != _SINK
        )
        return self._cover([keys for pair in cut for keys in self.fixsets[pair]])

    @staticmethod
    def _cover(steps: list[frozenset[FixKey]]) -> list[FixKey]:
        """Fixes that break every step of ``steps``: each time, the fix that breaks the most left."""
        chosen: list[FixKey] = []
        left = [keys for keys in steps if keys]
        while left:
            best = _most(Counter(k for keys in left for k in keys))
            chosen.append(best)
            left = [keys for keys in left if best not in keys]
        return chosen

    # -- the greedy choice -------------------------------------------------------------------------------

    def greedy(self, limit: int = 500) -> list[FixKey]:
        chosen: list[FixKey] = []
        while len(chosen) < limit:
            done = set(chosen)
            routes = self._routes(done)
            if not routes:
                break
            counts: Counter[FixKey] = Counter()
            present: Counter[FixKey] = Counter()
            for route in routes:
                hops = [self.fixsets[pair] for pair in pairwise(route)]
                keys = {k for sets in hops for fixes in sets for k in fixes if k not in done}
                present.update(keys)
                for key in keys:
                    if any(all(key in fixes or done & fixes for fixes in sets) for sets in hops):
                        counts[key] += 1
            pool = counts or present
            if not pool:
                break
            chosen.append(_most(pool))
        return chosen

    def _routes(self, removed: set[FixKey]) -> list[list[str]]:
        """A shortest route from each entry point left to the sinks, with the fixes ``removed`` applied."""
        if not self.sinks or not self.starts:
            return []
        view = self.view(self.gone(removed), beyond_sinks=False)
        back = nx.multi_source_dijkstra_path(view.reverse(copy=False), self.sink_order)
        return [back[s][::-1] for s in self.starts if s in back and len(back[s]) > 1]

    # -- checking -------------------------------------------------------------------------------------

    def connected(self, hidden: set[tuple[str, str]]) -> bool:
        """Whether an entry point still reaches a sink with the pairs ``hidden`` gone."""
        if not self.starts:
            return False
        return bool(nx.has_path(self.view(hidden), _SOURCE, _SINK))

    def reopened(self, chosen: set[FixKey], paths: Sequence[Path]) -> dict[FixKey, int]:
        """For each fix of ``chosen``: how many of ``paths`` connect their entry point to their goal again
        when it alone is left out.

        Only the entry points whose reach (with every fix applied) touches a pair the fix kept gone
        are walked again.
        """
        hidden = self.gone(chosen)
        view = self.view(hidden)
        wanted: dict[str, set[str]] = {}
        for path in paths:
            wanted.setdefault(path.entry, set()).add(path.goal)
        reach = {e: nx.descendants(view, e) | {e} for e in wanted if e in self.base}
        # What reaches each goal with every fix applied reaches it with one fix fewer: a walk stops there.
        reverse = view.reverse(copy=False)
        targets = {}
        for goal in {p.goal for p in paths}:
            ends = {t for t in goal_targets(self.graph, goal) if t in self.base}
            targets[goal] = set(nx.multi_source_dijkstra_path_length(reverse, ends)) if ends else set()
        found = {}
        for key in chosen:
            back = self.returning(chosen, key)
            tails = {u for u, _ in back}
            affected = {e: goals for e, goals in wanted.items() if e in reach and reach[e] & tails}
            found[key] = self._reaching(self.view(hidden - back), affected, targets) if affected else 0
        return found

    def _reaching(
        self, view: nx.DiGraph[str], wanted: dict[str, set[str]], targets: dict[str, set[str]]
    ) -> int:
        """How many (entry point, goal) of ``wanted`` are connected in ``view``."""
        depth = len(self.base)
        count = 0
        for entry, goals in wanted.items():
            left = {g for g in goals if entry not in targets[g]}
            count += len(goals) - len(left)
            for _, vertex in nx.bfs_edges(view, entry, depth_limit=depth):
                for goal in [g for g in left if vertex in targets[g]]:
                    left.discard(goal)
                    count += 1
                if not left:
                    break
        return count

    def prune(self, keys: list[FixKey]) -> list[FixKey]:
        """``keys`` without the fixes the others make unnecessary (least used first)."""
        kept = set(keys)
        hidden = self.gone(kept)
        if self.connected(hidden):
            return keys  # cannot happen for a cut; keep every fix rather than claim less
        for key in sorted(keys, key=lambda k: self.steps_of[k]):
            trial = hidden - self.returning(kept, key)
            if not self.connected(trial):
                kept.discard(key)
                hidden = trial
        return [k for k in keys if k in kept]
