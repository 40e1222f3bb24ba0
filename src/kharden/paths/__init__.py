"""Attack paths: how an attacker who owns one workload gets to cluster-admin, a node, the cloud
account, etcd or every Secret, and the few fixes that cut the most of those paths.

The engines already know each step: the effective pod spec (ways out onto the node), the RBAC
engine (what a ServiceAccount token can do), the NetworkPolicy engine (what a pod reaches),
runtime placement (which pods a node holds). :func:`build_graph` joins them into one graph whose
every step carries its evidence (rule, object, field) and its fix; :func:`analyze` finds the
shortest path from each entry point to each goal and the choke points.

>>> from kharden.attack_paths import load                      # doctest: +SKIP
>>> analysis = load(["k8s/"])                                  # doctest: +SKIP
>>> [(p.entry, p.goal, len(p)) for p in analysis.paths]         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis.context import ScanContext
from ..errors import UsageError
from .build import build_graph, workload_id
from .entries import ANY, EXPOSED, add_entries
from .graph import AttackGraph
from .model import GOAL_LABELS, GOALS, Choke, ChokePoint, Edge, Entry, Evidence, Hop, Path, Vertex

__all__ = [
    "ANY",
    "EXPOSED",
    "GOALS",
    "GOAL_LABELS",
    "Analysis",
    "AttackGraph",
    "Choke",
    "ChokePoint",
    "Edge",
    "Entry",
    "Evidence",
    "Hop",
    "Path",
    "Vertex",
    "add_entries",
    "analyze",
    "build_graph",
    "workload_id",
]


@dataclass(frozen=True)
class Analysis:
    graph: AttackGraph
    goals: tuple[str, ...]
    paths: tuple[Path, ...]
    choke: Choke | None
    max_length: int | None = None
    sources: tuple[str, ...] = (EXPOSED,)

    @property
    def entries(self) -> list[Entry]:
        return list(self.graph.entries.values())


def analyze(
    context: ScanContext,
    *,
    sources: Sequence[str] = (EXPOSED,),
    goals: Sequence[str] = GOALS,
    max_length: int | None = None,
    lateral: bool = True,
    choke: bool = True,
) -> Analysis:
    """Build the attack graph of ``context``, find the shortest paths and (``choke``) the choke points.

    ``sources`` are where paths start: ``exposed`` (workloads reachable from outside the cluster),
    ``any`` (every workload), or workloads named ``NAMESPACE/NAME``, ``NAMESPACE/KIND/NAME``,
    ``NAMESPACE/*``. ``goals`` are among :data:`GOALS`. Raises :class:`UsageError` for a source that
    names no workload or an unknown goal.
    """
    unknown = [g for g in goals if g not in GOALS]
    if unknown:
        raise UsageError(f"unknown goal {unknown[0]!r} (expected one of: {', '.join(GOALS)})")
    if max_length is not None and max_length < 1:
        raise UsageError("--max-length must be at least 1")
    graph = build_graph(context, lateral=lateral)
    wanted = list(dict.fromkeys(sources))
    add_entries(context, graph, wanted)
    ordered = tuple(g for g in GOALS if g in goals)
    # networkx is for these searches only: a scan that counts its attack paths does not import it.
    from .search import choke_points, shortest_paths  # noqa: PLC0415

    paths = shortest_paths(graph, graph.entries, ordered, max_length)
    found = choke_points(graph, paths, graph.entries, ordered) if choke else None
    return Analysis(graph, ordered, tuple(paths), found, max_length, tuple(wanted))
