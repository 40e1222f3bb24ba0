"""``--format json``: the contract of DESIGN.md (fields may be added, never renamed or removed)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any

from .. import __version__
from ..model import Finding, Location, ObjRef, Report, Scorecard, Severity

__all__ = ["as_dict", "finding_dict", "layout", "render", "scores_dict"]

SCHEMA_VERSION = 1


def location_dict(location: Location) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file": location.file,
        "line": location.line,
        "column": location.column,
        "path": location.path,
    }
    if location.template is not None:
        data["template"] = location.template
    if location.renderer is not None:
        data["renderer"] = location.renderer
    if location.rendered is not None:
        rendered = location.rendered
        data["rendered"] = {"file": rendered.file, "line": rendered.line, "column": rendered.column}
    if location.edit is not None:
        edit = location.edit
        data["edit"] = {"kind": edit.kind, "document": edit.document, "pointer": edit.pointer}
        if edit.inline is not None:
            data["edit"]["inline"] = edit.inline
    return data


def object_dict(ref: ObjRef) -> dict[str, Any]:
    """An object reference as the JSON contract writes it."""
    return {"apiVersion": ref.api_version, "kind": ref.kind, "namespace": ref.namespace, "name": ref.name}


def finding_dict(finding: Finding, fix: tuple[bool, bool] = (False, False)) -> dict[str, Any]:
    """A finding as the JSON contract writes it; ``fix`` is what ``kharden fix`` can do for its rule
    (``automatic``: by default; ``unsafe``: only with ``--unsafe``)."""
    return {
        "rule": finding.rule,
        "severity": finding.severity.label,
        "section": finding.section,
        "title": finding.title,
        "object": object_dict(finding.object),
        "container": finding.container,
        "location": location_dict(finding.location),
        "message": finding.message,
        "remediation": finding.remediation,
        "fingerprint": finding.fingerprint,
        "suppressed": (
            None
            if finding.suppressed is None
            else {"kind": finding.suppressed.kind, "reason": finding.suppressed.reason}
        ),
        "fix": {"automatic": fix[0], "unsafe": fix[1]},
    }


def as_dict(report: Report) -> dict[str, Any]:
    return _document(report, list(_finding_dicts(report)))


def _finding_dicts(report: Report) -> Iterator[dict[str, Any]]:
    fixes = {run.rule: run.fix for run in report.rules}
    for f in report.findings:
        yield _with_paths(finding_dict(f, fixes.get(f.rule, (False, False))), f, report.attack_paths)


def _document(report: Report, findings: Iterable[dict[str, Any]] | _FindingLines) -> dict[str, Any]:
    counts = report.counts()
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "kharden", "version": __version__},
        "findings": findings,
        "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in report.errors],
        "not_evaluated": [{"rule": n.rule, "reason": n.reason} for n in report.not_evaluated],
        "assumptions": list(report.assumptions),
        "summary": {
            "objects": report.stats.objects,
            "findings": counts,
            "suppressed": sum(1 for f in report.findings if f.suppressed is not None),
            "by_section": {section: sum(c.values()) for section, c in report.counts_by_section().items()},
            "by_section_severity": report.counts_by_section(),  # its own dicts: YAML aliases shared ones
            "files": report.stats.files,
            "skipped_documents": report.stats.skipped_documents,
            "kinds": dict(sorted(report.stats.kinds.items())),
            "rules_run": report.rules_run,
            "suppressed_by": report.suppressed_counts(),
            "score": scores_dict(report.scores),
            "baseline": None
            if report.baseline is None
            else {
                "file": report.baseline.file,
                "entries": report.baseline.entries,
                "matched": report.baseline.matched,
                "fixed": report.baseline.fixed,
            },
        },
    }


def _with_paths(data: dict[str, Any], finding: Finding, counts: dict[str, int] | None) -> dict[str, Any]:
    """``attack_paths``: how many of the attack paths ``kharden paths`` finds rest on the finding."""
    if counts is not None:
        data["attack_paths"] = counts.get(finding.fingerprint, 0)
    return data


def scores_dict(scores: Scorecard | None) -> dict[str, Any] | None:
    """``{"overall": 49, "sections": {"pods": {"score": 49, ...}}}``; see :mod:`kharden.score`."""
    if scores is None:
        return None
    return {
        "overall": scores.overall,
        "sections": {
            s.section: {
                "score": s.score,
                "rules": s.rules,
                "failing": s.failing,
                "capped_by": None if s.capped_by is None else s.capped_by.label,
            }
            for s in scores.sections
        },
    }


def render(report: Report) -> str:
    """Indented JSON with one finding per line (:func:`pieces`, joined)."""
    return "".join(pieces(report))  # one copy of the output, not one per level


def pieces(report: Report, size: int = 1 << 20) -> Iterator[str]:
    """:func:`render`'s output in consecutive pieces of about ``size`` characters, for writing as they come:
    the report of a large scan is then never held whole, nor its encoded copy.

    ``json.dumps(indent=...)`` runs Python's pure-Python encoder, ten times slower than
    the C one on reports of tens of thousands of findings; each finding (and each other
    top-level value) is encoded compactly by the C encoder instead.
    """
    # The findings are encoded one by one as they are made: a report of 300,000 findings never holds
    # them all as dicts (a kilobyte each), only as the lines of the output.
    data = _document(report, _FindingLines(report))
    parts = ["{\n"]
    held = 0
    for number, (key, value) in enumerate(data.items()):
        parts += [",\n  " if number else "  ", _compact(key), ": "]
        if isinstance(value, list | Iterator | _FindingLines):
            opening = "[\n    "
            encode = _compact if not isinstance(value, _FindingLines) else str  # (already encoded)
            for item in value:
                encoded = encode(item)
                parts += [opening, encoded]
                opening = ",\n    "
                held += len(encoded)
                if held >= size:
                    yield "".join(parts)
                    parts, held = [], 0
            parts.append("[]" if opening == "[\n    " else "\n  ]")
        else:
            parts.append(_compact(value))
    parts.append("\n}\n")
    yield "".join(parts)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def layout(value: Any, items: frozenset[str], indent: str = "") -> str:
    """JSON with mappings and lists indented, except that each item of a list under a key in ``items`` is
    written compactly on one line (fast with the C encoder, and one finding per line in a diff)."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        parts = []
        for key, item in value.items():
            if key in items and isinstance(item, list) and item:
                lines = f",\n{inner}  ".join(_compact(v) for v in item)
                parts.append(f"{inner}{_compact(key)}: [\n{inner}  {lines}\n{inner}]")
            else:
                parts.append(f"{inner}{_compact(key)}: {layout(item, items, inner)}")
        return "{\n" + ",\n".join(parts) + f"\n{indent}}}"
    if isinstance(value, list) and value:
        return "[\n" + ",\n".join(inner + layout(v, items, inner) for v in value) + f"\n{indent}]"
    return _compact(value)


def _compact(value: Any) -> str:
    return _ENCODER.encode(value)


_NULL = "null"


def _number(value: int | None) -> str:
    """``_compact`` of a line or column."""
    if type(value) is int:
        return str(value)
    return _NULL if value is None else _compact(value)


def _string(value: str | None) -> str:
    """``_compact`` of a string (or ``None``: most findings on a pod, not one of its containers, name none;
    the generic encoder took 0.66 us to write ``null``)."""
    if type(value) is str:
        return encode_basestring(value)
    return _NULL if value is None else _compact(value)


class _FindingLines:
    """The findings of a report, each encoded as :func:`_compact` encodes its :func:`finding_dict` (with
    ``attack_paths``), character for character, at a fraction of the cost.

    A finding dict goes through the C encoder's generic walk (a dict, nested dicts, every key encoded
    again): on a large report that is most of the JSON time. Here what repeats is encoded once (what a
    rule's findings share, each object reference, the severities) and per finding only
    what differs (message, pointer, line, fingerprint). A location with more than file, line, column and
    path (a rendered object's) takes the generic way.
    """

    def __init__(self, report: Report) -> None:
        self.report = report
        self.fixes = {run.rule: run.fix for run in report.rules}
        self.rules: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
        self.objects: dict[ObjRef, str] = {}
        self.severities = {s: _compact(s.label) for s in Severity}
        self.places: dict[str | None, str] = {}
        """Files and pointers, encoded: a few thousand of them in 300,000 findings."""
        self.templates: dict[str | None, str] = {None: "}"}
        """What a location's template ends it with."""

    def __iter__(self) -> Iterator[str]:
        counts = self.report.attack_paths
        for finding in self.report.findings:
            yield self.line(finding, counts)

    def line(self, finding: Finding, counts: dict[str, int] | None) -> str:
        key = (finding.rule, finding.section, finding.title, finding.remediation)
        parts = self.rules.get(key)
        if parts is None:
            parts = self.rules[key] = self._rule_parts(finding)
        head, middle, remediation, fix = parts
        ref = finding.object
        obj = self.objects.get(ref)
        if obj is None:  # (most objects have a finding or two: encoded without the generic walk)
            obj = self.objects[ref] = (
                f'{{"apiVersion": {_string(ref.api_version)}, "kind": {_string(ref.kind)}, "namespace": '
                f'{_string(ref.namespace)}, "name": {_string(ref.name)}}}'
            )
        location = finding.location
        if location.renderer is None and location.rendered is None and location.edit is None:
            # (a template alone: what a Helm chart's rendered output names in its "# Source:" comments)
            places = self.places
            file, path, template = location.file, location.path, location.template
            if (encoded_file := places.get(file)) is None:
                encoded_file = places[file] = _string(file)
            if (encoded_path := places.get(path)) is None:
                encoded_path = places[path] = _string(path)
            if (end := self.templates.get(template)) is None:
                end = self.templates[template] = f', "template": {_string(template)}}}'
            where = (
                f'{{"file": {encoded_file}, "line": {_number(location.line)}, "column": '
                f'{_number(location.column)}, "path": {encoded_path}{end}'
            )
        else:
            where = _compact(location_dict(location))
        suppressed = finding.suppressed
        quiet = (
            _NULL if suppressed is None else _compact({"kind": suppressed.kind, "reason": suppressed.reason})
        )
        paths = "" if counts is None else f', "attack_paths": {_number(counts.get(finding.fingerprint, 0))}'
        return (
            f'{head}{self.severities[finding.severity]}{middle}{obj}, "container": '
            f'{_string(finding.container)}, "location": {where}, "message": {_string(finding.message)}'
            f'{remediation}, "fingerprint": {_string(finding.fingerprint)}, "suppressed": {quiet}'
            f"{fix}{paths}}}"
        )

    def _rule_parts(self, finding: Finding) -> tuple[str, str, str, str]:
        fix = self.fixes.get(finding.rule, (False, False))
        return (
            f'{{"rule": {_compact(finding.rule)}, "severity": ',
            f', "section": {_compact(finding.section)}, "title": {_compact(finding.title)}, "object": ',
            f', "remediation": {_compact(finding.remediation)}',
            f', "fix": {_compact({"automatic": fix[0], "unsafe": fix[1]})}',
        )
