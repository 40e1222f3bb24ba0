"""Renderers of ``kharden paths``: each turns an attack-path analysis into text and decides nothing.

- ``text``: entry points, the shortest paths to each goal with every step's evidence and fix,
  and the choke points;
- ``json``: the whole graph (vertices, edges with their evidence), the paths and the choke points;
- ``dot`` and ``mermaid``: the paths found, for documentation (Graphviz, Markdown);
- ``html``: one self-contained page that draws the paths found and lets one follow them;
- ``neo4j``: the whole graph as the CSV files ``neo4j-admin database import full`` reads;
- ``cypher``: the whole graph as openCypher statements (Neo4j, Memgraph, ...).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from ..._display import without_surrogates
from ...errors import UsageError
from ...model import ErrorRecord
from ...paths import Analysis

__all__ = ["EXTENSIONS", "FORMATS", "render", "render_files"]

FORMATS = ("text", "json", "dot", "mermaid", "html", "neo4j", "cypher")
EXTENSIONS = {
    "text": ".txt",
    "json": ".json",
    "dot": ".dot",
    "mermaid": ".mmd",
    "html": ".html",
    "cypher": ".cypher",
}
_MODULES = {"dot": "graphviz", "mermaid": "graphviz", "neo4j": "neo4j", "cypher": "neo4j"}


def render(name: str, analysis: Analysis, errors: Sequence[ErrorRecord] = (), *, limit: int = 10) -> str:
    """``analysis`` in the format ``name``; ``limit``: paths shown per goal in the text (0: all)."""
    if name not in FORMATS or name == "neo4j":
        raise UsageError(f"unknown format {name!r} for one file (expected one of: {', '.join(EXTENSIONS)})")
    module = importlib.import_module(f"{__name__}.{_MODULES.get(name, name)}")
    if name == "text":
        output = module.render(analysis, errors, limit=limit)
    elif name in {"dot", "mermaid", "cypher"}:
        output = getattr(module, name)(analysis)
    else:
        output = module.render(analysis, errors)
    return without_surrogates(str(output))  # as report.render: a non-UTF-8 file name stays writable


def render_files(analysis: Analysis) -> dict[str, str]:
    """The Neo4j import files, by file name."""
    module = importlib.import_module(f"{__name__}.neo4j")
    files: dict[str, str] = module.csv_files(analysis)
    return files
