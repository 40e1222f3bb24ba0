"""``--format markdown``: a pull-request comment (GitHub-flavoured Markdown).

A headline with the counts and the score, a table by section, the unsuppressed findings
most severe first (rule, object, file:line, message), the fix of each rule once, then
the suppressed findings, rules not evaluated and input errors folded in ``<details>``.
Everything taken from manifests is escaped, so a manifest cannot inject Markdown or HTML
into the comment. The comment stays under GitHub's 65,536-character limit: past
:data:`MAX_CHARS` the findings table is cut and says how many it left out.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from .._display import printable
from ..model import Finding, Report, Severity
from ..rules import get as get_rule

__all__ = ["MAX_CHARS", "render"]

MAX_CHARS = 60_000
ICONS = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.MEDIUM: "🟡",
    Severity.LOW: "🔵",
    Severity.INFO: "⚪",
}
_LABELS = [s.label for s in sorted(Severity, reverse=True)]


def cell(text: str) -> str:
    """Text for a table cell: one line (controls escaped), HTML-escaped, pipes and Markdown punctuation
    neutralised."""
    text = html.escape(" ".join(printable(text).split()), quote=False)
    for char in "\\`*_[]|#~":
        text = text.replace(char, "\\" + char)
    return text


def render(report: Report) -> str:
    counts = report.counts()
    total = sum(counts.values())
    suppressed = len(report.findings) - total
    out = [_headline(report, total)]
    facts = [f"{report.stats.objects} objects in {report.stats.files} files"]
    if report.scores is not None:
        overall = report.scores.overall
        facts.insert(
            0, "score **n/a** (no rule judged anything)" if overall is None else f"score **{overall}/100**"
        )
    if suppressed:
        facts.append(f"{suppressed} suppressed")
    if report.baseline is not None:
        facts.append(f"baseline: {report.baseline.matched} of {report.baseline.entries} entries still found")
    out += ["", " · ".join(facts), ""]
    out += _sections(report)
    active = sorted((f for f in report.findings if f.suppressed is None), key=_order)
    if active:
        out += ["", "| severity | rule | object | location | finding |", "|---|---|---|---|---|"]
        budget = MAX_CHARS - sum(len(line) + 1 for line in out) - 4_000
        for index, finding in enumerate(active):
            row = _row(finding)
            budget -= len(row) + 1
            if budget < 0:
                out.append(f"| | | | | … and {len(active) - index} more findings: see the full report |")
                break
            out.append(row)
        fixes = [f"- `{rule}` {cell(get_rule(rule).title)}: {cell(fix)}" for rule, fix in _fixes(active)]
        out += ["", _details(f"How to fix ({len(fixes)} rules)", fixes)]
    hidden = sorted((f for f in report.findings if f.suppressed is not None), key=_order)
    if hidden:
        rows = [
            f"- `{f.rule}` {cell(str(f.object))}: {cell(f.message)} "
            f"(**{f.suppressed.kind}**: {cell(f.suppressed.reason)})"
            for f in hidden
            if f.suppressed is not None
        ]
        out += ["", _details(f"{len(hidden)} suppressed findings", _fit(rows))]
    if report.not_evaluated:
        rows = [f"- `{n.rule}`: {cell(n.reason)}" for n in report.not_evaluated]
        out += ["", _details(f"{len(rows)} rules not evaluated", rows)]
    if report.errors:
        rows = [f"- {cell(str(e))}" for e in report.errors]
        out += [
            "",
            _details(f"⚠️ {len(rows)} input errors (those inputs were not scanned past the error)", rows),
        ]
    return "\n".join(out).rstrip()[:MAX_CHARS] + "\n"


def _headline(report: Report, total: int) -> str:
    if report.errors and not total:
        return "### kharden: input errors"
    if not total:
        return "### kharden: ✅ no findings"
    detail = ", ".join(f"{n} {label}" for label, n in report.counts().items() if n)
    return f"### kharden: {total} finding{'s' * (total != 1)} ({detail})"


def _sections(report: Report) -> list[str]:
    by_section = report.counts_by_section()
    scores = {s.section: s.score for s in report.scores.sections} if report.scores else {}
    rows = sorted(set(by_section) | set(scores))
    if not rows:
        return []
    lines = [
        "| section | " + " | ".join(_LABELS) + " | score |",
        "|---|" + "---:|" * (len(_LABELS) + 1),
    ]
    for section in rows:
        counts = by_section.get(section, {})
        cells = [str(counts[label]) if counts.get(label) else "·" for label in _LABELS]
        score = scores.get(section)
        lines.append(f"| {section} | " + " | ".join(cells) + f" | {'n/a' if score is None else score} |")
    return lines


def _row(finding: Finding) -> str:
    location = finding.location
    where = "n/a"
    if location.file is not None:
        where = _code(location.file + (f":{location.line}" if location.line is not None else ""))
        rendered = location.rendered
        if rendered is not None and rendered.file is not None and rendered.line is not None:
            # Rendered input: where to edit, then where the field is in the rendered output.
            where += f" (rendered: {_code(f'{rendered.file}:{rendered.line}')})"
    severity = f"{ICONS[finding.severity]} {finding.severity.label}"
    return (
        f"| {severity} | `{finding.rule}` | {cell(str(finding.object))} | {where} | {cell(finding.message)} |"
    )


def _code(text: str) -> str:
    """Inline code on one line: controls escaped, backticks and pipes made harmless."""
    return "`" + printable(text).replace("`", "'").replace("|", "\\|") + "`"


def _fixes(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for finding in findings:
        seen.setdefault(finding.rule, finding.remediation)
    return list(seen.items())


def _details(summary: str, lines: list[str]) -> str:
    return "\n".join([f"<details><summary>{summary}</summary>", "", *lines, "", "</details>"])


def _fit(lines: list[str], limit: int = 15_000) -> list[str]:
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        size += len(line) + 1
        if size > limit:
            kept.append(f"- … and {len(lines) - index} more")
            break
        kept.append(line)
    return kept


def _order(finding: Finding) -> tuple[int, str, int, str]:
    return (-finding.severity, finding.location.file or "", finding.location.line or 0, finding.rule)
