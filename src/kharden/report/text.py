"""``--format text``: findings grouped by file and object, then a summary by section and severity.

Each file and each object gets one header, whatever the order of the findings (a cluster's
objects have no lines to order them by); a section whose rules judged nothing scores ``n/a``.

Colour comes from rich's styles and only when asked (a terminal, or ``--color always``);
piped output is plain text with the same layout. Lines are built as strings rather
than printed one by one through rich, which keeps large reports fast.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import groupby
from typing import TypeVar

from rich.style import Style

from .._display import printable
from ..model import Finding, ObjRef, Report, Severity

__all__ = ["render"]

K = TypeVar("K", bound=Hashable)

_STYLES = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
    "file": "bold underline",
    "object": "bold",
    "rule": "magenta",
    "fix": "dim",
    "muted": "dim",
    "error": "bold red",
}


class _Paint:
    def __init__(self, color: bool) -> None:
        self.color = color
        self._styles = {name: Style.parse(spec) for name, spec in _STYLES.items()} if color else {}

    def __call__(self, text: str, style: str) -> str:
        if not self.color:
            return text
        return self._styles[style].render(text)


def render(report: Report, *, color: bool = False, show_suppressed: bool = False) -> str:
    return "".join(pieces(report, color=color, show_suppressed=show_suppressed))


def pieces(report: Report, *, color: bool = False, show_suppressed: bool = False) -> Iterator[str]:
    """:func:`render`'s text a file at a time, to be written as it comes (a scan of 100,000 documents
    prints a hundred megabytes: held whole, then joined, then encoded, three copies of it)."""
    paint = _Paint(color)
    shown = [f for f in report.findings if show_suppressed or f.suppressed is None]
    width = max((len(f.rule) for f in shown), default=0)
    fixes = {run.rule: run.fix for run in report.rules}
    for file, in_file in _grouped(shown, lambda f: f.location.file or "<unknown>").items():
        lines = [paint(printable(file), "file")]
        for ref, group in _grouped(in_file, lambda f: f.object).items():
            lines.append("  " + paint(_object_title(ref), "object") + _rendered_from(group[0], file))
            seen: set[str] = set()
            for finding in group:
                # The fix is the same for every finding of a rule: say it once per object.
                fix = fixes.get(finding.rule, (False, False)) if finding.rule not in seen else None
                lines.append(_finding_lines(finding, paint, width, fix=fix))
                seen.add(finding.rule)
        lines.append("")
        yield "\n".join(lines) + "\n"
    summary = "".join(line + "\n" for line in _summary(report, paint))
    yield summary if summary or shown else "\n"  # (no line at all was one empty line)


def _grouped(findings: Iterable[Finding], key: Callable[[Finding], K]) -> dict[K, list[Finding]]:
    """Findings by ``key``, keys in the order they first appear, findings in their order."""
    groups: dict[K, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(key(finding), []).append(finding)
    return groups


def _object_title(ref: ObjRef) -> str:
    return printable(str(ref))


def _rendered_from(finding: Finding, file: str) -> str:
    location = finding.location
    if location.renderer is not None:
        rendered = location.rendered.file if location.rendered is not None else None
        source = f" from {printable(rendered)}" if rendered and rendered != file else ""
        return f"  (rendered by {location.renderer}{source})"
    if location.template:
        return f"  (from template {printable(location.template)})"
    return ""


def _rendered_at(finding: Finding) -> tuple[str, str]:
    """For rendered input, where the field is in the output: a note after the finding's line when
    the line to edit is known, else a line saying plainly that it is not."""
    location = finding.location
    rendered = location.rendered
    if rendered is None or rendered.line is None:
        return "", ""
    at = f"{rendered.line}:{rendered.column}" if rendered.column is not None else str(rendered.line)
    if location.edit is not None:
        return f"  (rendered {at})", ""
    if location.line is None:
        file = printable(location.file or "")
        return "", f"no line of {file} is known to write this field; rendered output line {at}"
    return "", ""


def _finding_lines(finding: Finding, paint: _Paint, width: int, *, fix: tuple[bool, bool] | None) -> str:
    """The finding's line; with ``fix`` (once per rule and object), how to fix it: the command when
    ``kharden fix`` can (``(automatic, only with --unsafe)``), and the remediation."""
    location = finding.location
    where = f"{location.line}:{location.column}" if location.line is not None else "-"
    severity = finding.severity.label
    note, untraced = _rendered_at(finding)
    head = (
        f"    {where:>8}  {paint(f'{severity:<8}', severity)}  {paint(f'{finding.rule:<{width}}', 'rule')}  "
        f"{printable(finding.message)}{paint(note, 'muted') if note else ''}"
    )
    pad = " " * (8 + 4 + 2 + 8 + 2)
    tail = f"\n{pad}{paint(untraced, 'muted')}" if untraced else ""
    if fix is not None:
        automatic, unsafe = fix
        command = (
            f"kharden fix {'' if automatic else '--unsafe '}--rule {finding.rule}  ({finding.remediation})"
        )
        tail += f"\n{pad}{paint('fix: ' + (command if automatic or unsafe else finding.remediation), 'fix')}"
    if finding.suppressed is not None:
        tail += f"\n{pad}" + paint(
            f"suppressed ({finding.suppressed.kind}): {printable(finding.suppressed.reason)}", "muted"
        )
    return head + tail


def _summary(report: Report, paint: _Paint) -> Iterable[str]:
    stats = report.stats
    counts = report.counts()
    total = sum(counts.values())
    suppressed = len(report.findings) - total
    yield paint("Summary", "file")
    read = f"  {_count(stats.objects, 'object')} in {_count(stats.files, 'file')}"
    if stats.skipped_documents:
        read += f"; {_count(stats.skipped_documents, 'document')} without apiVersion/kind skipped"
    yield read
    hidden = ""
    if suppressed:
        kinds = report.suppressed_counts()
        by = ", ".join(f"{n} by {kind}" for kind, n in kinds.items())
        hidden = (
            f" ({suppressed} suppressed by {next(iter(kinds))})"
            if len(kinds) == 1
            else f" ({suppressed} suppressed: {by})"
        )
    if total:
        detail = ", ".join(paint(f"{n} {label}", label) for label, n in counts.items() if n)
        yield f"  {total} finding{'s' * (total != 1)}: {detail}{hidden}"
    else:
        yield "  no findings" + hidden
    if report.baseline is not None:
        base = report.baseline
        entries = _count(base.entries, "entry", "entries")
        yield f"  baseline {printable(base.file)}: {base.matched} of {entries} still found" + (
            f", {base.fixed} fixed or no longer scanned" if base.fixed else ""
        )
    scores = {s.section: s.score for s in report.scores.sections} if report.scores else {}
    if report.scores is not None:
        overall = report.scores.overall
        yield "  score n/a (no rule judged anything)" if overall is None else f"  score {overall}/100"
    by_section = report.counts_by_section()
    rows = sorted(set(by_section) | set(scores))
    if rows:
        labels = [s.label for s in sorted(Severity, reverse=True)]
        name_width = max(len("section"), *(len(s) for s in rows))
        yield ""
        yield "  " + "section".ljust(name_width) + "".join(f"  {label:>8}" for label in labels) + "   score"
        for section in rows:
            section_counts = by_section.get(section, {})
            cells = "".join(
                "  "
                + (paint(f"{section_counts[label]:>8}", label) if section_counts.get(label) else f"{'.':>8}")
                for label in labels
            )
            score = scores.get(section)
            yield "  " + section.ljust(name_width) + cells + f"  {'n/a' if score is None else score:>6}"
    if report.not_evaluated:
        yield ""
        yield f"  not evaluated ({_count(len({e.rule for e in report.not_evaluated}), 'rule')}):"
        for reason, group in groupby(
            sorted(report.not_evaluated, key=lambda e: e.reason), key=lambda e: e.reason
        ):
            yield (
                "    "
                + paint(printable(reason.removeprefix("no evidence in this scan: ")), "muted")
                + ": "
                + ", ".join(e.rule for e in group)
            )
    if report.assumptions:
        yield ""
        for assumption in report.assumptions:
            yield "  " + paint(f"assumed: {assumption}", "muted")
    if report.errors:
        yield ""
        yield paint(
            f"  {_count(len(report.errors), 'input error')} (those inputs were not scanned past the error):",
            "error",
        )
        for error in report.errors:
            yield f"    {printable(str(error))}"


def _count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
