"""``kharden paths -f dot`` and ``-f mermaid``: the paths found, drawn for documentation.

Only the vertices and steps of the paths found are drawn (the whole graph of a cluster is for
``json``, ``neo4j`` and ``cypher``). Entry points are boxes, goals double octagons (Graphviz) or
hexagons (Mermaid); steps that a choke point breaks are drawn red and dashed.
"""

from __future__ import annotations

from ...paths import Analysis, Edge, Vertex
from .common import path_edges

__all__ = ["dot", "mermaid"]


def _cut(analysis: Analysis) -> set[Edge]:
    if analysis.choke is None:
        return set()
    keys = {point.key for point in analysis.choke.points}
    _, edges = path_edges(analysis)
    return {edge for edge in edges if keys.intersection(edge.fixes)}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(analysis: Analysis) -> str:
    graph = analysis.graph
    vertices, edges = path_edges(analysis)
    cut = _cut(analysis)
    lines = [
        "digraph kharden_paths {",
        "  rankdir=LR;",
        '  node [shape=ellipse, fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for vertex_id in vertices:
        vertex = graph.vertices[vertex_id]
        lines.append(f"  {_dot_text(vertex.id)} [{_dot_style(vertex, vertex.id in graph.entries)}];")
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.target), []).append(edge)
    for (source, target), found in pairs.items():
        label = found[0].summary + (f" (+{len(found) - 1})" if len(found) > 1 else "")
        style = ', color="#cf222e", style=dashed, penwidth=2' if all(e in cut for e in found) else ""
        lines.append(f"  {_dot_text(source)} -> {_dot_text(target)} [label={_dot_text(label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_style(vertex: Vertex, entry: bool) -> str:
    attrs = [f"label={_dot_text(vertex.label)}"]
    if vertex.kind == "goal" or (vertex.goal is not None and vertex.kind == "node"):
        attrs.append('shape=doubleoctagon, style=filled, fillcolor="#ffebe9"')
    elif entry:
        attrs.append('shape=box, style="filled,bold", fillcolor="#ddf4ff"')
    elif vertex.kind == "serviceaccount":
        attrs.append("shape=note")
    return ", ".join(attrs)


def _mermaid_text(text: str) -> str:
    """Text for a Mermaid label: quotes and markup characters as entity codes."""
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("|", "#124;")):
        text = text.replace(char, code)
    return text


def mermaid(analysis: Analysis) -> str:
    graph = analysis.graph
    vertices, edges = path_edges(analysis)
    cut = _cut(analysis)
    names = {vertex_id: f"v{index}" for index, vertex_id in enumerate(vertices)}
    lines = ["flowchart LR"]
    for vertex_id in vertices:
        vertex = graph.vertices[vertex_id]
        text = _mermaid_text(vertex.label)
        if vertex.goal is not None:
            shape = f'{{{{"{text}"}}}}'
        elif vertex_id in graph.entries:
            shape = f'["{text}"]'
        else:
            shape = f'("{text}")'
        lines.append(f"  {names[vertex_id]}{shape}")
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.target), []).append(edge)
    dashed = []
    for index, ((source, target), found) in enumerate(pairs.items()):
        label = _mermaid_text(found[0].summary + (f" (+{len(found) - 1})" if len(found) > 1 else ""))
        lines.append(f'  {names[source]} -->|"{label}"| {names[target]}')
        if all(e in cut for e in found):
            dashed.append(str(index))
    entry_names = [names[v] for v in vertices if v in graph.entries]
    goal_names = [names[v] for v in vertices if graph.vertices[v].goal is not None]
    lines.append("  classDef entry fill:#ddf4ff,stroke:#0969da,stroke-width:2px")
    lines.append("  classDef goal fill:#ffebe9,stroke:#cf222e,stroke-width:2px")
    if entry_names:
        lines.append(f"  class {','.join(entry_names)} entry")
    if goal_names:
        lines.append(f"  class {','.join(goal_names)} goal")
    if dashed:
        lines.append(f"  linkStyle {','.join(dashed)} stroke:#cf222e,stroke-width:2px,stroke-dasharray:5 5")
    return "\n".join(lines) + "\n"
