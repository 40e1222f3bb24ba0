"""The whole attack graph for a graph database: Neo4j's import CSV files, or openCypher statements.

- ``neo4j``: ``nodes.csv`` and ``relationships.csv`` in the header format of
  ``neo4j-admin database import full --nodes=nodes.csv --relationships=relationships.csv``
  (https://neo4j.com/docs/operations-manual/current/tools/neo4j-admin/neo4j-admin-import/);
- ``cypher``: ``CREATE`` statements that any openCypher database runs (Neo4j's ``cypher-shell``,
  Memgraph's ``mgconsole``).

Every vertex has the label ``Vertex`` and one for its kind (``Workload``, ``ServiceAccount``,
``Node``, ``NewPod``, ``Kubelet``, ``Admission``, ``Exec``, ``Tokens``, ``Network``, ``Workloads``,
``Goal``), plus ``Entry`` for an entry point;
a relationship's type is its kind (``ESCAPE``, ``TOKEN``, ``RBAC``, ``NETWORK``, ...) and it carries
the summary, the rules and the evidence (as JSON). ``docs/paths.md`` holds the queries.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from ...paths import Analysis, Edge, Vertex
from .common import evidence_dict

__all__ = ["csv_files", "cypher"]

_LABELS = {
    "workload": "Workload",
    "serviceaccount": "ServiceAccount",
    "node": "Node",
    "newpod": "NewPod",
    "kubelet": "Kubelet",
    "admission": "Admission",
    "exec": "Exec",
    "tokens": "Tokens",
    "network": "Network",
    "workloads": "Workloads",
    "goal": "Goal",
}
_NODE_HEADER = [
    "id:ID",
    ":LABEL",
    "kind",
    "label",
    "goal",
    "namespace",
    "objectKind",
    "objectNamespace",
    "objectName",
    "entry:boolean",
]
_RELATIONSHIP_HEADER = [
    ":START_ID",
    ":END_ID",
    ":TYPE",
    "edge:int",
    "kind",
    "summary",
    "rules:string[]",
    "evidence",
]


def _labels(vertex: Vertex, entry: bool) -> list[str]:
    return ["Vertex", _LABELS.get(vertex.kind, "Other"), *(["Entry"] if entry else [])]


def _type(edge: Edge) -> str:
    return edge.kind.upper().replace("-", "_")


def _rules(edge: Edge) -> list[str]:
    return list(dict.fromkeys(e.rule for e in edge.evidence if e.rule))


def _evidence(edge: Edge) -> str:
    return json.dumps([evidence_dict(e) for e in edge.evidence], ensure_ascii=False, separators=(",", ":"))


def _rows(analysis: Analysis) -> Iterator[tuple[Vertex, bool]]:
    graph = analysis.graph
    for vertex in graph.vertices.values():
        yield vertex, vertex.id in graph.entries


def csv_files(analysis: Analysis) -> dict[str, str]:
    nodes = io.StringIO()
    writer = csv.writer(nodes, lineterminator="\n")
    writer.writerow(_NODE_HEADER)
    for vertex, entry in _rows(analysis):
        obj = vertex.object
        writer.writerow(
            [
                vertex.id,
                ";".join(_labels(vertex, entry)),
                vertex.kind,
                vertex.label,
                vertex.goal or "",
                vertex.namespace or "",
                obj.kind if obj else "",
                (obj.namespace or "") if obj else "",
                obj.name if obj else "",
                "true" if entry else "false",
            ]
        )
    relationships = io.StringIO()
    writer = csv.writer(relationships, lineterminator="\n")
    writer.writerow(_RELATIONSHIP_HEADER)
    for number, edge in enumerate(analysis.graph.edges()):
        writer.writerow(
            [
                edge.source,
                edge.target,
                _type(edge),
                number,
                edge.kind,
                edge.summary,
                ";".join(_rules(edge)),
                _evidence(edge),
            ]
        )
    return {"nodes.csv": nodes.getvalue(), "relationships.csv": relationships.getvalue()}


def _string(text: str) -> str:
    """An openCypher string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def _properties(values: dict[str, str | int | bool | list[str] | None]) -> str:
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, list):
            text = "[" + ", ".join(_string(v) for v in value) + "]"
        else:
            text = _string(value)
        parts.append(f"{key}: {text}")
    return "{" + ", ".join(parts) + "}"


def cypher(analysis: Analysis) -> str:
    graph = analysis.graph
    lines = [
        f"// kharden paths: {len(graph.vertices)} vertices and {len(graph)} steps.",
        "// Create an index on :Vertex(id) first on large graphs (see docs/paths.md).",
    ]
    for vertex, entry in _rows(analysis):
        obj = vertex.object
        labels = ":".join(_labels(vertex, entry))
        properties = _properties(
            {
                "id": vertex.id,
                "kind": vertex.kind,
                "label": vertex.label,
                "goal": vertex.goal,
                "namespace": vertex.namespace,
                "objectKind": obj.kind if obj else None,
                "objectNamespace": obj.namespace if obj else None,
                "objectName": obj.name if obj else None,
                "entry": entry,
            }
        )
        lines.append(f"CREATE (:{labels} {properties});")
    for number, edge in enumerate(graph.edges()):
        properties = _properties(
            {
                "edge": number,
                "kind": edge.kind,
                "summary": edge.summary,
                "rules": _rules(edge),
                "evidence": _evidence(edge),
            }
        )
        lines.append(
            f"MATCH (a:Vertex {{id: {_string(edge.source)}}}), (b:Vertex {{id: {_string(edge.target)}}})"
            f" CREATE (a)-[:{_type(edge)} {properties}]->(b);"
        )
    return "\n".join(lines) + "\n"
