"""``--format html``: one self-contained page to read, share and attach to a build.

- a scorecard: the overall score and one card per checklist section (see :mod:`kharden.score`);
- a chart of findings by section and severity (inline SVG, drawn here);
- a table of every finding (severity, rule, object, file:line, message) that filters by
  text, severity, section and suppression, sorts by column, and keeps its filter in the
  URL (``report.html#severity=critical,high&section=pods&q=nginx``) so a link can be shared;
- each finding expands to its field, the fix, its suppression and the rule's rationale;
- the documentation of every rule that has findings, rules not evaluated, input errors.

Nothing is fetched when the page is opened: styles and script are inline, and the
Content-Security-Policy forbids every other source. Without JavaScript the page still
shows everything (filters aside); rationale is then one link away, in the rule's section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

from .. import __version__
from .. import score as score_module
from ..model import Finding, Report, SectionScore, Severity
from ..rules import Rule
from ..rules import get as get_rule
from .catalog import SECTION_TITLES, sentence

__all__ = ["render"]

_SEVERITIES = sorted(Severity, reverse=True)
_CODE = re.compile(r"``(.+?)``")
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def page_head(title: str, csp: str, style: str) -> list[str]:
    """The lines of a self-contained page up to ``<body>``: its Content-Security-Policy, title and style."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="kharden {escape(__version__)}">',
        f"<title>{escape(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
    ]


def render(report: Report) -> str:
    counts = report.counts()
    total = sum(counts.values())
    title = f"kharden report: {total} finding{'s' * (total != 1)}"
    rules = [get_rule(rule_id) for rule_id in dict.fromkeys(f.rule for f in report.findings)]
    parts = [
        *page_head(title, _CSP, _STYLE),
        "<header>",
        "<h1>kharden report</h1>",
        f'<p class="facts">{_facts(report, total)}</p>',
        "</header>",
        "<main>",
        *_scorecard(report),
        *_chart(report),
        *_findings(report),
        *_rules(sorted(rules, key=lambda r: r.id)),
        *_not_evaluated(report),
        *_errors(report),
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _inline(text: str) -> str:
    """Escaped text with ``code`` spans."""
    return _CODE.sub(r"<code>\1</code>", escape(text))


def _facts(report: Report, total: int) -> str:
    stats = report.stats
    facts = [f"{stats.objects} objects in {stats.files} files"]
    detail = ", ".join(f"{n} {label}" for label, n in report.counts().items() if n)
    facts.append(f"{total} findings" + (f" ({detail})" if detail else ""))
    suppressed = len(report.findings) - total
    if suppressed:
        facts.append(f"{suppressed} suppressed")
    if report.baseline is not None:
        base = report.baseline
        facts.append(f"baseline {escape(base.file)}: {base.matched} of {base.entries} entries still found")
    if report.errors:
        facts.append(f'<a href="#errors">{len(report.errors)} input errors</a>')
    if report.generated_at is not None:
        stamp = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
        facts.append(f'generated <time datetime="{report.generated_at.isoformat()}">{stamp}</time>')
    facts.append(f"kharden {escape(__version__)}")
    return " · ".join(facts)


def _band(score: int | None) -> str:
    if score is None:
        return "none"
    if score >= 80:
        return "good"
    return "fair" if score >= 50 else "poor"


def _scorecard(report: Report) -> list[str]:
    if report.scores is None:
        return []
    overall = report.scores.overall
    out = [
        '<section id="scorecard" aria-labelledby="scorecard-title">',
        '<h2 id="scorecard-title">Scorecard</h2>',
        '<div class="cards">',
        f'<div class="card overall {_band(overall)}"><div class="name">Overall</div>'
        f'<div class="score">{"n/a" if overall is None else overall}<small>/100</small></div>'
        f'<div class="meter"><span style="width:{overall or 0}%"></span></div>'
        f'<div class="note">mean of the sections; capped by the worst finding</div></div>',
    ]
    by_section = report.counts_by_section()
    order = list(SECTION_TITLES)
    for item in sorted(
        report.scores.sections, key=lambda s: order.index(s.section) if s.section in order else 99
    ):
        out.append(_card(item, by_section.get(item.section, {})))
    out += [
        "</div>",
        f'<details class="formula"><summary>How the score is computed</summary>{_formula()}</details>',
        "</section>",
    ]
    return out


def _formula() -> str:
    """The formula as :mod:`kharden.score` documents it, in HTML (written once, there)."""
    doc = (score_module.__doc__ or "").split("\n\n", 1)[1]
    out = []
    for block in doc.strip().split("\n\n"):
        items = re.split(r"^\d+\. ", block, flags=re.MULTILINE)
        if len(items) > 1:
            out.append(
                "<ol>" + "".join(f"<li>{_inline(' '.join(i.split()))}</li>" for i in items[1:]) + "</ol>"
            )
        else:
            out.append(f"<p>{_inline(' '.join(block.split()))}</p>")
    return "".join(out)


def _card(item: SectionScore, counts: dict[str, int]) -> str:
    title = SECTION_TITLES.get(item.section, item.section)
    score = "n/a" if item.score is None else str(item.score)
    pills = "".join(
        f'<span class="pill sev-{label}" title="{n} {label}">{n}</span>' for label, n in counts.items() if n
    )
    note = (
        "no rule examined anything"
        if item.score is None
        else f"{item.failing} of {item.rules} rules with findings"
        + (f"; capped by {item.capped_by.label} findings" if item.capped_by else "")
    )
    return (
        f'<div class="card {_band(item.score)}" data-section="{escape(item.section)}">'
        f'<div class="name">{escape(title)}</div>'
        f'<div class="score">{score}<small>{"/100" if item.score is not None else ""}</small></div>'
        f'<div class="meter"><span style="width:{item.score or 0}%"></span></div>'
        f'<div class="pills">{pills}</div><div class="note">{escape(note)}</div></div>'
    )


def _chart(report: Report) -> list[str]:
    by_section = report.counts_by_section()
    if not by_section:
        return []
    label_width, bar_width, row, top = 110, 520, 30, 34
    most = max(sum(c.values()) for c in by_section.values())
    height = top + row * len(by_section) + 10
    svg = [
        f'<svg class="chart" viewBox="0 0 {label_width + bar_width + 60} {height}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
    ]
    for i, severity in enumerate(_SEVERITIES):
        left = label_width + 86 * i
        svg.append(
            f'<rect class="sev-{severity.label}" x="{left}" y="6" width="12" height="12" rx="2"/>'
            f'<text x="{left + 16}" y="16" class="legend">{severity.label}</text>'
        )
    for index, (section, counts) in enumerate(by_section.items()):
        y = top + index * row
        total = sum(counts.values())
        svg.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" class="label">'
            f"{escape(section)}</text>"
        )
        x = float(label_width)
        for severity in _SEVERITIES:
            n = counts.get(severity.label, 0)
            if not n:
                continue
            width = bar_width * n / most
            svg.append(
                f'<rect class="sev-{severity.label}" x="{x:.1f}" y="{y}" width="{width:.1f}" height="20">'
                f"<title>{escape(section)}: {n} {severity.label}</title></rect>"
            )
            x += width
        svg.append(f'<text x="{x + 6:.1f}" y="{y + 15}" class="total">{total}</text>')
    svg.append("</svg>")
    return [
        '<section id="chart-section" aria-labelledby="chart-title">',
        '<h2 id="chart-title">Findings by section and severity</h2>',
        *svg,
        "</section>",
    ]


def _findings(report: Report) -> list[str]:
    findings = report.findings
    if not findings:
        return ['<section id="findings"><h2>Findings</h2><p class="empty">No findings.</p></section>']
    suppressed = sum(1 for f in findings if f.suppressed is not None)
    counts = report.counts()
    boxes = "".join(
        f'<label class="sev sev-{s.label}"><input type="checkbox" name="severity" value="{s.label}" checked> '
        f"{s.label} <span>{counts[s.label]}</span></label>"
        for s in _SEVERITIES
    )
    sections = "".join(
        f'<option value="{escape(name)}">{escape(name)}</option>'
        for name in sorted({f.section for f in findings})
    )
    controls = (
        '<form class="filters" role="search" onsubmit="return false">'
        '<input type="search" id="q" placeholder="Filter by rule, object, file or message" '
        'aria-label="Filter findings">'
        f'<fieldset class="severities"><legend>Severity</legend>{boxes}</fieldset>'
        f'<label>Section <select id="section"><option value="">all</option>{sections}</select></label>'
        f'<label><input type="checkbox" id="suppressed"> show {suppressed} suppressed</label>'
        '<label><input type="checkbox" id="expand"> expand all</label>'
        f'<output id="shown" aria-live="polite">{len(findings) - suppressed} of {len(findings)} findings'
        "</output>"
        "</form>"
    )
    head = "".join(
        f'<th scope="col"><button type="button" data-sort="{i}">{name}</button></th>'
        for i, name in enumerate(("Severity", "Rule", "Object", "Location", "Finding"))
    )
    rows = [_row(f, report.attack_paths) for f in sorted(findings, key=_order)]
    return [
        '<section id="findings" aria-labelledby="findings-title">',
        f'<h2 id="findings-title">Findings</h2>{controls}',
        f'<table id="findings-table"><thead><tr>{head}</tr></thead><tbody>',
        *rows,
        "</tbody></table>",
        "</section>",
    ]


def _order(finding: Finding) -> tuple[int, str, int, int, str]:
    location = finding.location
    return (-finding.severity, location.file or "", location.line or 0, location.column or 0, finding.rule)


def _row(finding: Finding, attack_paths: dict[str, int] | None = None) -> str:
    location = finding.location
    where = str(location) if location.file is not None else "-"
    suppressed = finding.suppressed
    searchable = " ".join(
        [finding.rule, str(finding.object), where, finding.message, finding.container or "", location.path]
    ).lower()
    details = [
        ("Field", f"<code>{escape(location.path or '/')}</code>"),
        ("Fix", escape(sentence(finding.remediation))),
    ]
    if location.template is not None and location.template != location.file:
        details.insert(1, ("Template", escape(location.template)))
    rendered = location.rendered
    if rendered is not None and rendered.file is not None:
        at = f":{rendered.line}" if rendered.line is not None else ""
        details.insert(1, ("Rendered", escape(f"{rendered.file}{at} ({location.renderer} output)")))
    if suppressed is not None:
        details.append(("Suppressed", f"{escape(suppressed.kind)}: {escape(suppressed.reason)}"))
    paths = (attack_paths or {}).get(finding.fingerprint, 0)
    badge = f' <span class="paths">on {paths} attack path{"s" if paths != 1 else ""}</span>' if paths else ""
    if attack_paths is not None:
        details.append(("Attack paths", f"on {paths} of the attack paths <code>kharden paths</code> finds"))
    details.append(("Fingerprint", f"<code>{escape(finding.fingerprint)}</code>"))
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in details)
    anchor = f"rule-{finding.rule}"
    return (
        f'<tr class="finding{" suppressed" if suppressed else ""}" data-severity="{finding.severity.label}" '
        f'data-rank="{int(finding.severity)}" data-section="{escape(finding.section)}" '
        f'data-rule="{escape(finding.rule)}" data-suppressed="{int(suppressed is not None)}" '
        f'data-paths="{paths}" '
        f'data-text="{escape(searchable)}">'
        f'<td data-value="{int(finding.severity)}"><span class="badge sev-{finding.severity.label}">'
        f"{finding.severity.label}</span></td>"
        f"<td><code>{escape(finding.rule)}</code></td>"
        f"<td>{escape(str(finding.object))}</td>"
        f'<td class="where">{escape(where).replace("/", "/<wbr>")}</td>'
        f"<td><details><summary>{escape(finding.message)}"
        f"{' <em>(suppressed)</em>' if suppressed else ''}"
        f"{badge}</summary>"
        f'<dl>{items}</dl><div class="why" data-rule="{escape(finding.rule)}">'
        f'<a href="#{escape(anchor)}">Why it matters: {escape(get_rule(finding.rule).title)}</a></div>'
        "</details></td></tr>"
    )


def _rules(rules: Iterable[Rule]) -> list[str]:
    out = [
        '<section id="rules" aria-labelledby="rules-title">',
        '<h2 id="rules-title">Rules with findings</h2>',
    ]
    for rule in rules:
        references = "".join(
            f'<li><a href="{escape(ref)}" rel="noreferrer">{escape(ref)}</a></li>' for ref in rule.references
        )
        rationale = "".join(f"<p>{_inline(p)}</p>" for p in rule.rationale.split("\n\n") if p)
        out.append(
            f'<article id="rule-{escape(rule.id)}"><h3><code>{escape(rule.id)}</code> {escape(rule.title)} '
            f'<span class="badge sev-{rule.severity.label}">{rule.severity.label}</span></h3>'
            f'<div class="doc"><p>{_inline(rule.summary.rstrip("."))}.</p>'
            f"{rationale}<p><strong>Reads:</strong> {_inline(rule.reads)}</p>"
            f"<p><strong>Fix:</strong> {_inline(sentence(rule.remediation))}</p>"
            + (f'<ul class="refs">{references}</ul>' if references else "")
            + "</div></article>"
        )
    out.append("</section>")
    return out


def _not_evaluated(report: Report) -> list[str]:
    if not report.not_evaluated:
        return []
    items = "".join(
        f"<li><code>{escape(n.rule)}</code>: {escape(n.reason)}</li>" for n in report.not_evaluated
    )
    return [f'<section id="not-evaluated"><h2>Not evaluated</h2><ul>{items}</ul></section>']


def _errors(report: Report) -> list[str]:
    if not report.errors:
        return []
    items = "".join(f"<li>{escape(str(e))}</li>" for e in report.errors)
    return [
        f'<section id="errors"><h2>Input errors</h2><p>These inputs were not scanned past the error.</p>'
        f"<ul>{items}</ul></section>"
    ]


_STYLE = """
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--card:#f6f8fa;--good:#1a7f37;
--fair:#9a6700;--poor:#cf222e;--critical:#a40e26;--high:#d1242f;--medium:#bf8700;--low:#0969da;
--info:#6e7781}@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;
--line:#30363d;--card:#161b22;--good:#3fb950;--fair:#d29922;--poor:#f85149;--critical:#ff6a69;
--high:#f85149;--medium:#d29922;--low:#58a6ff;--info:#8d96a0}}*{box-sizing:border-box}body{margin:0;
font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
header,main{max-width:1280px;margin:0 auto;padding:0 24px}header{padding-top:24px}h1{margin:0 0 4px;
font-size:24px}h2{font-size:18px;margin:32px 0 12px}.facts{color:var(--muted);margin:0}code{
font:12px ui-monospace,SFMono-Regular,Menlo,monospace}a{color:var(--low)}.cards{display:grid;
grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:12px}.card{background:var(--card);
border:1px solid var(--line);border-radius:8px;padding:12px;border-top:4px solidvar(--info)}.card.good{
border-top-color:var(--good)}.card.fair{border-top-color:var(--fair)}.card.poor{
border-top-color:var(--poor)}.card .name{font-weight:600}.card .score{font-size:32px;font-weight:700}
.card .score small{font-size:14px;color:var(--muted);font-weight:400}.card.good .score{
color:var(--good)}.card.fair .score{color:var(--fair)}.card.poor .score{color:var(--poor)}.card .note{
color:var(--muted);font-size:12px}.meter{height:6px;background:var(--line);border-radius:3px;
overflow:hidden;margin:4px 0}.meter span{display:block;height:100%;background:currentColor}
.card.good .meter{color:var(--good)}.card.fair .meter{color:var(--fair)}.card.poor .meter{
color:var(--poor)}.pills{display:flex;gap:4px;margin:4px 0}.pill{border-radius:9px;padding:0 7px;
font-size:12px;color:#fff}.pill.sev-critical,.badge.sev-critical{background:var(--critical)}
.pill.sev-high,.badge.sev-high{background:var(--high)}.pill.sev-medium,.badge.sev-medium{
background:var(--medium)}.pill.sev-low,.badge.sev-low{background:var(--low)}
.pill.sev-info,.badge.sev-info{background:var(--info)}.badge{color:#fff;border-radius:4px;
padding:1px 6px;font-size:12px;font-weight:600}.formula{margin-top:8px;color:var(--muted)}svg.chart{
width:100%;max-width:760px;height:auto}svg .label,svg .legend,svg .total{fill:var(--fg);font-size:12px}
svg .sev-critical{fill:var(--critical)}svg .sev-high{fill:var(--high)}svg .sev-medium{
fill:var(--medium)}svg .sev-low{fill:var(--low)}svg .sev-info{fill:var(--info)}.filters{display:flex;
flex-wrap:wrap;gap:12px;align-items:center;margin-bottom:12px}.filters input[type=search]{
flex:1 1 280px;padding:6px 8px;border:1px solid var(--line);border-radius:6px;background:var(--bg);
color:var(--fg)}.severities{border:0;padding:0;margin:0;display:flex;gap:8px}.severities legend{
display:none}.sev span{color:var(--muted)}#shown{color:var(--muted);margin-left:auto}select{
background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:6px;padding:4px}table{
width:100%;border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:6px 8px;
border-bottom:1px solid var(--line)}th button{all:unset;cursor:pointer;font-weight:600}th button::after{
content:" \\2195";color:var(--muted)}td.where{overflow-wrap:anywhere;min-width:12em;
font:12px ui-monospace,monospace}tr.suppressed{opacity:.6}summary{cursor:pointer}dl{display:grid;
grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}dt{color:var(--muted)}dd{margin:0;
overflow-wrap:anywhere}.why .doc+a{display:none}.why{margin:4px 0 8px}.why .doc{
border-left:3px solid var(--line);padding-left:10px}article{border-top:1px solid var(--line);
padding:8px 0}article h3{font-size:15px;margin:8px 0}.refs{margin:0;padding-left:18px}.empty{
color:var(--muted)}.paths{border:1px solid var(--high);color:var(--high);border-radius:9px;padding:0 6px;
font-size:12px;white-space:nowrap}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var table = document.getElementById("findings-table");
  document.body.dataset.ready = "1";
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.open || details.dataset.filled) return;
    var why = details.querySelector(".why");
    var doc = why && document.querySelector("#rule-" + CSS.escape(why.dataset.rule) + " .doc");
    if (doc) { why.insertBefore(doc.cloneNode(true), why.firstChild); }
    details.dataset.filled = "1";
  }, true);
  if (!table) return;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var q = document.getElementById("q");
  var section = document.getElementById("section");
  var suppressed = document.getElementById("suppressed");
  var expand = document.getElementById("expand");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=severity]"));
  var shown = document.getElementById("shown");
  function readHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    if (params.has("q")) q.value = params.get("q");
    if (params.has("section")) section.value = params.get("section");
    if (params.has("severity")) {
      var wanted = params.get("severity").split(",");
      boxes.forEach(function (b) { b.checked = wanted.indexOf(b.value) >= 0; });
    }
    suppressed.checked = params.get("suppressed") === "1";
    expand.checked = params.get("open") === "1";
  }
  function writeHash() {
    var params = new URLSearchParams();
    if (q.value) params.set("q", q.value);
    if (section.value) params.set("section", section.value);
    var on = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    if (on.length !== boxes.length) params.set("severity", on.join(","));
    if (suppressed.checked) params.set("suppressed", "1");
    if (expand.checked) params.set("open", "1");
    var hash = params.toString();
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
  }
  function apply() {
    var text = q.value.trim().toLowerCase();
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var visible = 0;
    rows.forEach(function (row) {
      var d = row.dataset;
      var show = on[d.severity] && (!section.value || d.section === section.value) &&
        (suppressed.checked || d.suppressed === "0") && (!text || d.text.indexOf(text) >= 0);
      row.hidden = !show;
      if (show) visible += 1;
      if (show && expand.checked) row.querySelector("details").open = true;
    });
    shown.value = visible + " of " + rows.length + " findings";
    shown.textContent = shown.value;
    table.dataset.visible = String(visible);
  }
  function changed() { writeHash(); apply(); }
  expand.addEventListener("input", function () {
    if (!expand.checked) rows.forEach(function (row) { row.querySelector("details").open = false; });
  });
  [q, section, suppressed, expand].concat(boxes).forEach(function (el) {
    el.addEventListener("input", changed);
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  Array.prototype.forEach.call(table.tHead.querySelectorAll("button[data-sort]"), function (button) {
    button.addEventListener("click", function () {
      var column = Number(button.dataset.sort);
      var descending = button.dataset.order !== "desc";
      button.dataset.order = descending ? "desc" : "asc";
      function key(row) {
        var cell = row.cells[column];
        return cell.dataset.value !== undefined ? Number(cell.dataset.value) : cell.textContent.toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
  readHash();
  apply();
})();
"""
