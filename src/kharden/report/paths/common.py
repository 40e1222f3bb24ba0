"""What every format of ``kharden paths`` writes the same way: evidence, locations, the paths' subgraph."""

from __future__ import annotations

from typing import Any

from ...paths import Analysis, Edge, Evidence
from ..json import object_dict

__all__ = ["evidence_dict", "path_edges", "subject", "where"]


def where(evidence: Evidence) -> str:
    """``file:line`` of a fact, ``""`` when it is written nowhere (how Kubernetes works)."""
    location = evidence.location
    if location is None or location.file is None:
        return ""
    return f"{location.file}:{location.line}" if location.line is not None else location.file


def subject(fact: Evidence) -> str:
    """What a fix changes: ``RoleBinding shop/deployer /subjects/0``, ``namespace shop (egress)``."""
    if fact.aspect and fact.object is not None:
        name = fact.object.name if fact.object.kind == "Namespace" else fact.object.namespace
        return f"namespace {name} ({fact.aspect.lower()})"
    if fact.object is None:
        return fact.text
    return f"{fact.object} {fact.path}" if fact.path else str(fact.object)


def evidence_dict(evidence: Evidence) -> dict[str, Any]:
    location = evidence.location
    return {
        "text": evidence.text,
        "rule": evidence.rule,
        "object": object_dict(evidence.object) if evidence.object is not None else None,
        "path": evidence.path,
        "location": None
        if location is None
        else {"file": location.file, "line": location.line, "column": location.column},
        "fix": evidence.fix,
    }


def path_edges(analysis: Analysis) -> tuple[list[str], list[Edge]]:
    """The vertices and edges of the paths found (each once, in the order the paths meet them)."""
    vertices: dict[str, None] = {}
    edges: dict[Edge, None] = {}
    for path in analysis.paths:
        vertices.update(dict.fromkeys(path.vertices))
        for hop in path.hops:
            edges.update(dict.fromkeys(hop.edges))
    return list(vertices), list(edges)
