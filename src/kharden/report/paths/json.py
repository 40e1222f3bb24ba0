"""``kharden paths -f json``: the graph (vertices, edges with their evidence), the paths and the choke points.

Edges are numbered in ``graph.edges``; a path's hops name the edges that join their two vertices
(any one of them will do). Fields may be added; none is renamed or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import __version__
from ...model import ErrorRecord
from ...paths import Analysis, Edge, Vertex
from ..json import layout, object_dict
from .common import evidence_dict

__all__ = ["as_dict", "render"]

SCHEMA_VERSION = 1


def as_dict(analysis: Analysis, errors: Sequence[ErrorRecord] = ()) -> dict[str, Any]:
    graph = analysis.graph
    numbers: dict[Edge, int] = {}
    edges: list[dict[str, Any]] = []
    for edge in graph.edges():
        numbers[edge] = len(edges)
        edges.append(
            {
                "id": len(edges),
                "from": edge.source,
                "to": edge.target,
                "kind": edge.kind,
                "summary": edge.summary,
                "evidence": [evidence_dict(e) for e in edge.evidence],
            }
        )
    paths = [
        {
            "entry": path.entry,
            "goal": path.goal,
            "length": len(path),
            "vertices": list(path.vertices),
            "hops": [
                {"from": hop.source, "to": hop.target, "edges": [numbers[e] for e in hop.edges]}
                for hop in path.hops
            ],
        }
        for path in analysis.paths
    ]
    index = {id(path): i for i, path in enumerate(analysis.paths)}
    choke = analysis.choke
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "kharden", "version": __version__},
        "goals": list(analysis.goals),
        "sources": list(analysis.sources),
        "max_length": analysis.max_length,
        "summary": {
            "entry_points": len(graph.entries),
            "paths": len(analysis.paths),
            "goals_reached": [g for g in analysis.goals if any(p.goal == g for p in analysis.paths)],
            "vertices": len(graph.vertices),
            "edges": len(edges),
        },
        "entry_points": [
            {"vertex": entry.vertex, "reasons": [evidence_dict(r) for r in entry.reasons]}
            for entry in graph.entries.values()
        ],
        "paths": paths,
        "choke_points": None
        if choke is None
        else {
            "method": choke.method,
            "paths": choke.paths,
            "cut": choke.cut,
            "uncuttable": [index[id(p)] for p in choke.uncuttable],
            "fixes": [
                {
                    "object": object_dict(point.key[0]) if point.key[0] is not None else None,
                    "path": point.key[1],
                    "aspect": point.key[2] or None,
                    "rules": list(point.rules),
                    "fixes": list(point.fixes),
                    "steps": point.steps,
                    "paths_cut": point.paths_cut,
                    "holds": point.holds,
                    "facts": [evidence_dict(f) for f in point.facts],
                }
                for point in choke.points
            ],
        },
        "graph": {
            "vertices": [_vertex(v, v.id in graph.entries) for v in graph.vertices.values()],
            "edges": edges,
        },
        "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in errors],
    }


def _vertex(vertex: Vertex, entry: bool) -> dict[str, Any]:
    return {
        "id": vertex.id,
        "kind": vertex.kind,
        "label": vertex.label,
        "goal": vertex.goal,
        "namespace": vertex.namespace,
        "object": object_dict(vertex.object) if vertex.object is not None else None,
        "entry": entry,
    }


def render(analysis: Analysis, errors: Sequence[ErrorRecord] = ()) -> str:
    """Indented JSON with one path, edge and vertex per line."""
    return (
        layout(as_dict(analysis, errors), frozenset({"paths", "vertices", "edges", "entry_points", "fixes"}))
        + "\n"
    )
