"""``kharden paths`` as text: entry points, the shortest paths to each goal step by step, choke points.

Each step names what it rests on (rule, object, file:line) and the fix that breaks it; a step
that several facts each allow says how many other ways there are. Choke points are ranked by the
paths they cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..._display import printable
from ...model import ErrorRecord
from ...paths import GOAL_LABELS, Analysis, ChokePoint, Edge, Evidence, Path
from .common import subject, where

__all__ = ["render"]

_INDENT = "  "


def render(analysis: Analysis, errors: Sequence[ErrorRecord] = (), *, limit: int = 10) -> str:
    graph = analysis.graph
    lines: list[str] = []
    entries = analysis.entries
    reached = [g for g in analysis.goals if any(p.goal == g for p in analysis.paths)]
    lines.append(
        f"kharden paths: {_count(len(entries), 'entry point')} {_verb(len(entries))} {len(reached)} of"
        f" {_count(len(analysis.goals), 'goal')} ({_count(len(analysis.paths), 'shortest path')};"
        f" graph of {_count(len(graph.vertices), 'vertex', 'vertices')} and {_count(len(graph), 'step')})"
    )
    lines.append("")
    if not entries:
        lines.append("No entry point: no workload is exposed (Ingress, LoadBalancer, NodePort, externalIPs,")
        lines.append("hostPort, hostNetwork). Name some with --from NAMESPACE/NAME, or --from any.")
        return "\n".join(printable(line) for line in lines) + "\n"
    lines.append("Entry points")
    for entry in sorted(entries, key=lambda e: graph.vertices[e.vertex].label):
        reasons = "; ".join(_fact_line(r) for r in entry.reasons[:2])
        more = f" (and {len(entry.reasons) - 2} more)" if len(entry.reasons) > 2 else ""
        lines.append(f"{_INDENT}{graph.vertices[entry.vertex].label}: {reasons}{more}")
    for goal in analysis.goals:
        found = [p for p in analysis.paths if p.goal == goal]
        lines.append("")
        if not found:
            lines.append(f"{GOAL_LABELS[goal]}: no path")
            continue
        shortest = min(len(p) for p in found)
        lines.append(
            f"{GOAL_LABELS[goal]}: {_count(len(found), 'entry point')} {_verb(len(found))} it,"
            f" in {_count(shortest, 'step')} at the fewest"
        )
        shown = found if limit <= 0 else found[:limit]
        for path in shown:
            lines += _path(analysis, path)
        if len(shown) < len(found):
            lines.append(f"{_INDENT}... and {len(found) - len(shown)} more (--limit 0 shows every path)")
    lines += _choke(analysis)
    if errors:
        lines.append("")
        lines.append(f"{_count(len(errors), 'input')} could not be read; the graph is built from the others.")
    return "\n".join(printable(line) for line in lines) + "\n"


def _path(analysis: Analysis, path: Path) -> list[str]:
    graph = analysis.graph
    lines = [f"{_INDENT}{graph.vertices[path.entry].label} ({_count(len(path), 'step')})"]
    for index, hop in enumerate(path.hops, 1):
        edge = hop.edges[0]
        target = graph.vertices[hop.target].label
        others = f" (or {_count(len(hop.edges) - 1, 'other way')})" if len(hop.edges) > 1 else ""
        lines.append(f"{_INDENT * 2}{index}. -> {target}: {edge.summary}{others}")
        lines += _facts(edge)
    return lines


def _facts(edge: Edge) -> list[str]:
    lines = []
    for fact in edge.evidence:
        lines.append(f"{_INDENT * 4}{_fact_line(fact)}")
        if fact.fix:
            lines.append(f"{_INDENT * 5}fix: {fact.fix}")
    return lines


def _fact_line(fact: Evidence) -> str:
    parts = []
    if fact.rule:
        parts.append(f"[{fact.rule}]")
    parts.append(fact.text)
    at = where(fact)
    if at:
        parts.append(f"({at})")
    return " ".join(parts)


def _choke(analysis: Analysis) -> list[str]:
    choke = analysis.choke
    if choke is None or not analysis.paths:
        return []
    lines = [""]
    cuttable = choke.paths - len(choke.uncuttable)
    lines.append(
        f"Choke points: {_count(len(choke.points), 'fix', 'fixes')} cut {choke.cut} of the"
        f" {_count(cuttable, 'path')} that a fix can cut ({choke.method}), ranked by paths cut"
    )
    for rank, point in enumerate(choke.points, 1):
        lines += _point(rank, point)
    if choke.uncuttable:
        lines.append(
            f"{_INDENT}{_count(len(choke.uncuttable), 'path')} rest only on how Kubernetes works:"
            " no fix kharden can name cuts them"
        )
    return lines


def _point(rank: int, point: ChokePoint) -> list[str]:
    fact = point.facts[0]
    at = where(fact)
    rules = ", ".join(point.rules)
    lines = [
        f"{_INDENT}{rank}. {subject(fact)}{f' ({at})' if at else ''}:"
        f" cuts {_count(point.paths_cut, 'path')} alone, {point.holds} reopen without it"
    ]
    lines.append(f"{_INDENT * 3}{f'[{rules}] ' if rules else ''}{fact.text}")
    fixes = point.fixes
    if fixes:
        more = (
            f" (or {_count(len(fixes) - 1, 'other fix', 'other fixes')}, one per rule: -f json)"
            if len(fixes) > 1
            else ""
        )
        lines.append(f"{_INDENT * 3}fix: {fixes[0]}{more}")
    return lines


def _verb(n: int) -> str:
    return "reaches" if n == 1 else "reach"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
