"""``kharden paths -f html``: one self-contained page that draws the paths found and lets one follow them.

- a list of the goals and, under each, the shortest path from each entry point, step by step, with
  every step's evidence and fix (readable without JavaScript);
- the choke points, ranked by the paths they cut;
- the graph of the paths found, drawn by Cytoscape.js (vendored, inlined): clicking a path or a
  choke point highlights its steps; clicking a vertex or a step shows its evidence. The page
  keeps the selection in the URL (``paths.html#path=3``, ``#choke=0``).

Nothing is fetched when the page is opened: the script, its library and the styles are inline, and
the Content-Security-Policy forbids every other source.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import Any

from ... import __version__
from ...model import ErrorRecord
from ...paths import GOAL_LABELS, Analysis, Edge, Evidence
from ..html import page_head
from .common import evidence_dict, path_edges, subject, where

__all__ = ["render"]

_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def library() -> str:
    """Cytoscape.js, as vendored (see ``vendor/README.md``)."""
    return (resources.files(__package__) / "vendor" / "cytoscape.min.js").read_text(encoding="utf-8")


def render(analysis: Analysis, errors: Sequence[ErrorRecord] = ()) -> str:
    graph = analysis.graph
    reached = [g for g in analysis.goals if any(p.goal == g for p in analysis.paths)]
    title = f"kharden paths: {len(analysis.paths)} attack paths to {len(reached)} goals"
    facts = [
        f"{len(graph.entries)} entry points",
        f"{len(analysis.paths)} shortest paths",
        f"{len(graph.vertices)} vertices and {len(graph)} steps in the graph",
        f"kharden {escape(__version__)}",
    ]
    if errors:
        facts.insert(3, f"{len(errors)} inputs could not be read")
    parts = [
        *page_head(title, _CSP, _STYLE),
        "<header><h1>kharden attack paths</h1>",
        f'<p class="facts">{" · ".join(facts)}</p></header>',
        '<main class="layout">',
        '<nav id="side" aria-label="Paths and choke points">',
        *_goals(analysis),
        *_choke(analysis),
        "</nav>",
        '<section id="view" aria-label="The graph of the paths found">',
        '<div id="graph"></div>',
        '<div id="details" aria-live="polite">',
        '<p class="hint">Click a path, a choke point, a vertex or a step.</p></div>',
        "</section>",
        "</main>",
        f'<script type="application/json" id="data">{_json(_data(analysis))}</script>',
        f"<script>{library()}</script>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _json(value: Any) -> str:
    """JSON that cannot close the script element it sits in."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _data(analysis: Analysis) -> dict[str, Any]:
    graph = analysis.graph
    vertices, edges = path_edges(analysis)
    pairs: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        pairs.setdefault((edge.source, edge.target), []).append(edge)
    pair_ids = {pair: f"e{index}" for index, pair in enumerate(pairs)}
    choke = analysis.choke
    keys = [point.key for point in choke.points] if choke else []
    return {
        "vertices": [
            {
                "id": v,
                "label": graph.vertices[v].label,
                "kind": graph.vertices[v].kind,
                "goal": graph.vertices[v].goal,
                "entry": v in graph.entries,
                "reasons": [evidence_dict(r) for r in graph.entries[v].reasons] if v in graph.entries else [],
            }
            for v in vertices
        ],
        "edges": [
            {
                "id": pair_ids[pair],
                "source": pair[0],
                "target": pair[1],
                "steps": [
                    {"summary": e.summary, "kind": e.kind, "evidence": [evidence_dict(f) for f in e.evidence]}
                    for e in found
                ],
                "choke": [i for i, key in enumerate(keys) if all(key in e.fixes for e in found)],
            }
            for pair, found in pairs.items()
        ],
        "paths": [
            {
                "entry": p.entry,
                "goal": p.goal,
                "vertices": list(p.vertices),
                "edges": [pair_ids[(h.source, h.target)] for h in p.hops],
            }
            for p in analysis.paths
        ],
    }


def _goals(analysis: Analysis) -> list[str]:
    graph = analysis.graph
    out = ['<section id="goals"><h2>Paths</h2>']
    if not graph.entries:
        out.append('<p class="empty">No entry point: no workload is exposed. Name some with --from.</p>')
    index = {id(p): i for i, p in enumerate(analysis.paths)}
    for goal in analysis.goals:
        found = [p for p in analysis.paths if p.goal == goal]
        out.append(
            f'<h3 data-goal="{escape(goal)}">{escape(GOAL_LABELS[goal])} <small>{len(found)}</small></h3>'
        )
        if not found:
            out.append('<p class="empty">No path.</p>')
            continue
        out.append("<ol>")
        for path in found:
            i = index[id(path)]
            steps = []
            for hop in path.hops:
                edge = hop.edges[0]
                others = f" <em>(or {len(hop.edges) - 1} other ways)</em>" if len(hop.edges) > 1 else ""
                steps.append(
                    f"<li>→ {escape(graph.vertices[hop.target].label)}: {escape(edge.summary)}{others}"
                    f"{_facts(edge.evidence)}</li>"
                )
            out.append(
                f'<li class="path" data-path="{i}"><details><summary><a href="#path={i}">'
                f"{escape(graph.vertices[path.entry].label)}</a> <small>{len(path)} steps</small></summary>"
                f'<ol class="steps">{"".join(steps)}</ol></details></li>'
            )
        out.append("</ol>")
    out.append("</section>")
    return out


def _facts(evidence: Sequence[Evidence]) -> str:
    items = []
    for fact in evidence:
        rule = f"<code>{escape(fact.rule)}</code> " if fact.rule else ""
        at = where(fact)
        location = f' <span class="where">{escape(at)}</span>' if at else ""
        fix = f'<div class="fix">fix: {escape(fact.fix)}</div>' if fact.fix else ""
        items.append(f"<li>{rule}{escape(fact.text)}{location}{fix}</li>")
    return f'<ul class="facts">{"".join(items)}</ul>' if items else ""


def _choke(analysis: Analysis) -> list[str]:
    choke = analysis.choke
    if choke is None or not analysis.paths:
        return []
    cuttable = choke.paths - len(choke.uncuttable)
    out = [
        '<section id="choke"><h2>Choke points</h2>',
        f'<p class="note">{len(choke.points)} fixes cut {choke.cut} of the {cuttable} paths a fix can cut'
        f" ({escape(choke.method)}), ranked by paths cut.</p>",
        "<ol>",
    ]
    for i, point in enumerate(choke.points):
        fact = point.facts[0]
        field = f" <code>{escape(fact.path)}</code>" if fact.path and not fact.aspect else ""
        what = subject(fact).removesuffix(f" {fact.path}") if fact.path else subject(fact)
        rules = " ".join(f"<code>{escape(r)}</code>" for r in point.rules)
        fixes = "".join(f'<div class="fix">fix: {escape(f)}</div>' for f in point.fixes)
        out.append(
            f'<li class="choke" data-choke="{i}"><a href="#choke={i}">{escape(what)}</a>{field}'
            f" <small>cuts {point.paths_cut} alone, {point.holds} reopen without it</small>"
            f"<div>{rules} {escape(fact.text)}</div>{fixes}</li>"
        )
    out.append("</ol>")
    if choke.uncuttable:
        out.append(f'<p class="note">{len(choke.uncuttable)} paths rest only on how Kubernetes works.</p>')
    out.append("</section>")
    return out


_STYLE = """
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--card:#f6f8fa;--entry:#0969da;--goal:#cf222e;
--on:#bf8700}@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;
--line:#30363d;--card:#161b22;--entry:#58a6ff;--goal:#f85149;--on:#d29922}}*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);
color:var(--fg)}
header{padding:16px 24px 8px}h1{margin:0;font-size:22px}.facts{color:var(--muted);margin:4px 0 0}
.layout{display:grid;grid-template-columns:minmax(320px,30%) 1fr;gap:16px;padding:0 24px 24px}
#side{overflow:auto;max-height:calc(100vh - 90px)}#side h2{font-size:17px;margin:12px 0 6px}
#side h3{font-size:14px;margin:12px 0 4px}#side h3 small,#side li small{color:var(--muted);font-weight:400}
#side ol{padding-left:20px;margin:4px 0}#side a{color:var(--entry)}li.selected>details>summary a,
li.choke.selected>a{font-weight:700;color:var(--on)}.steps li{margin:4px 0}.facts{padding-left:16px;
color:var(--muted);font-size:12px}.fix{font-size:12px;color:var(--fg);opacity:.85}.where{
font:11px ui-monospace,monospace}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
#view{display:flex;flex-direction:column;gap:8px}#graph{height:calc(100vh - 290px);min-height:420px;
border:1px solid var(--line);border-radius:8px;background:var(--card)}#details{border:1px solid var(--line);
border-radius:8px;padding:8px 12px;min-height:120px;max-height:200px;overflow:auto}.hint,.empty,.note{
color:var(--muted)}@media (max-width:900px){.layout{grid-template-columns:1fr}#side{max-height:none}}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var details = document.getElementById("details");
  var entries = data.vertices.filter(function (v) { return v.entry; }).map(function (v) { return v.id; });
  var elements = data.vertices.map(function (v) {
    return {group: "nodes", data: {id: v.id, label: v.label, kind: v.kind, entry: v.entry ? 1 : 0,
      goal: v.goal || ""}};
  }).concat(data.edges.map(function (e) {
    var label = e.steps[0].summary + (e.steps.length > 1 ? " (+" + (e.steps.length - 1) + ")" : "");
    return {group: "edges", data: {id: e.id, source: e.source, target: e.target, label: label,
      cut: e.choke.length ? 1 : 0}};
  }));
  var style = getComputedStyle(document.documentElement);
  function color(name) { return style.getPropertyValue(name).trim(); }
  var cy = cytoscape({
    container: document.getElementById("graph"),
    elements: elements,
    wheelSensitivity: 0.2,
    style: [
      {selector: "node", style: {"label": "data(label)", "font-size": 9, "text-wrap": "wrap",
        "text-max-width": 140, "color": color("--fg"), "background-color": color("--muted"),
        "width": 14, "height": 14}},
      {selector: "node[entry = 1]", style: {"shape": "round-rectangle", "background-color": color("--entry"),
        "width": 22, "height": 16}},
      {selector: "node[goal != '']", style: {"shape": "octagon", "background-color": color("--goal"),
        "width": 22, "height": 22}},
      {selector: "node[kind = 'serviceaccount']", style: {"shape": "diamond"}},
      {selector: "edge", style: {"curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5,
        "line-color": color("--line"), "target-arrow-color": color("--line"), "label": "data(label)",
        "font-size": 7, "color": color("--muted"), "text-rotation": "autorotate"}},
      {selector: "edge[cut = 1]", style: {"line-style": "dashed", "line-color": color("--goal"),
        "target-arrow-color": color("--goal")}},
      {selector: ".faded", style: {"opacity": 0.15}},
      {selector: ".on", style: {"opacity": 1, "line-color": color("--on"),
        "target-arrow-color": color("--on"), "border-width": 3, "border-color": color("--on"), "width": 3}}
    ],
    layout: {name: "breadthfirst", directed: true, roots: entries, spacingFactor: 1.1, animate: false}
  });
  function text(value) { var span = document.createElement("span"); span.textContent = value; return span; }
  function show(title, facts) {
    details.textContent = "";
    var h = document.createElement("h3"); h.textContent = title; details.appendChild(h);
    var list = document.createElement("ul");
    facts.forEach(function (f) {
      var li = document.createElement("li");
      if (f.rule) {
        var code = document.createElement("code");
        code.textContent = f.rule + " ";
        li.appendChild(code);
      }
      li.appendChild(text(f.text));
      if (f.location && f.location.file) {
        li.appendChild(text(" (" + f.location.file + (f.location.line ? ":" + f.location.line : "") + ")"));
      }
      if (f.fix) {
        var fix = document.createElement("div");
        fix.className = "fix";
        fix.textContent = "fix: " + f.fix;
        li.appendChild(fix);
      }
      list.appendChild(li);
    });
    details.appendChild(list);
  }
  var byEdge = {};
  data.edges.forEach(function (e) { byEdge[e.id] = e; });
  var byVertex = {};
  data.vertices.forEach(function (v) { byVertex[v.id] = v; });
  function select(ids) {
    cy.elements().removeClass("on").addClass("faded");
    var chosen = cy.collection();
    ids.forEach(function (id) { chosen = chosen.union(cy.getElementById(id)); });
    chosen.removeClass("faded").addClass("on");
    document.body.dataset.highlighted = String(chosen.length);
  }
  function mark(selector) {
    Array.prototype.forEach.call(document.querySelectorAll("#side li.selected"), function (li) {
      li.classList.remove("selected");
    });
    var li = document.querySelector(selector);
    if (li) { li.classList.add("selected"); var d = li.querySelector("details"); if (d) d.open = true; }
  }
  function fromHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    if (params.has("path")) {
      var path = data.paths[Number(params.get("path"))];
      if (!path) return;
      select(path.vertices.concat(path.edges));
      mark('li.path[data-path="' + Number(params.get("path")) + '"]');
      show(byVertex[path.entry].label + " to " + path.goal, byVertex[path.entry].reasons);
    } else if (params.has("choke")) {
      var index = Number(params.get("choke"));
      var cut = data.edges.filter(function (e) { return e.choke.indexOf(index) >= 0; });
      var ids = [];
      cut.forEach(function (e) { ids.push(e.id, e.source, e.target); });
      select(ids);
      mark('li.choke[data-choke="' + index + '"]');
    } else {
      cy.elements().removeClass("on faded");
    }
  }
  cy.on("tap", "node", function (event) {
    var v = byVertex[event.target.id()];
    show(v.label + (v.entry ? " (entry point)" : ""), v.reasons);
  });
  cy.on("tap", "edge", function (event) {
    var e = byEdge[event.target.id()];
    var facts = [];
    e.steps.forEach(function (s) { facts.push({text: s.summary}); facts = facts.concat(s.evidence); });
    show(byVertex[e.source].label + " → " + byVertex[e.target].label, facts);
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.dataset.vertices = String(cy.nodes().length);
  document.body.dataset.edges = String(cy.edges().length);
  document.body.dataset.ready = "1";
})();
"""
