"""How many attack paths each finding of a scan lies on: what ``kharden scan`` reports beside each finding.

A finding lies on a step when the step rests on it: same rule, same object, and the same field (a
fact that names no field matches the rule's finding anywhere on the object). It lies on the attack
path from an entry point to a goal when it lies on a step of one of the *shortest* paths between
them (all of them, not the one ``kharden paths`` happens to print when several are as short). The
count is over the pairs (entry point, goal) with ``kharden paths``' defaults: exposed workloads,
every goal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import networkx as nx

from ..analysis.context import ScanContext
from ..model import Finding, ObjRef
from . import analyze
from .graph import AttackGraph

__all__ = ["on_paths", "pairs_through"]

Pair = tuple[str, str]
"""(entry point, goal)."""


def pairs_through(
    graph: AttackGraph, goals: Iterable[str]
) -> dict[tuple[str, ObjRef], dict[str | None, set[Pair]]]:
    """(rule, object) -> field -> the pairs (entry point, goal) one of whose shortest paths rests on it."""
    index: dict[tuple[str, ObjRef], dict[str | None, set[Pair]]] = {}
    reverse = graph.graph.reverse(copy=False)
    for goal in goals:
        targets = graph.goal_vertices(goal)
        if not targets:
            continue
        distance: dict[str, float] = nx.multi_source_dijkstra_path_length(reverse, set(targets))
        tight = nx.subgraph_view(graph.graph, filter_edge=_closer(distance))
        for entry in graph.entries:
            if distance.get(entry, 0) == 0:
                continue
            for source in nx.descendants(tight, entry) | {entry}:
                for target in tight.successors(source):
                    for edge in graph.steps[(source, target)]:
                        for fact in edge.evidence:
                            if fact.rule is not None and fact.object is not None:
                                fields = index.setdefault((fact.rule, fact.object), {})
                                fields.setdefault(fact.path, set()).add((entry, goal))
    return index


def _closer(distance: dict[str, float]) -> Callable[[str, str], bool]:
    """Steps one closer to the goal: those the shortest paths take."""

    def closer(source: str, target: str) -> bool:
        return target in distance and distance.get(source) == distance[target] + 1

    return closer


def on_paths(context: ScanContext, findings: Iterable[Finding]) -> dict[str, int]:
    """Fingerprint -> number of (entry point, goal) whose shortest paths rest on the finding (0 left out)."""
    analysis = analyze(context, choke=False)
    index = pairs_through(analysis.graph, analysis.goals)
    counts: dict[str, int] = {}
    for finding in findings:
        on = index.get((finding.rule, finding.object))
        if not on:
            continue
        found = on.get(finding.location.path, set()) | on.get(None, set())
        if found:
            counts[finding.fingerprint] = len(found)
    return counts
