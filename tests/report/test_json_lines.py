"""The findings of a JSON report, encoded line by line from their parts, are what the generic encoder writes
of their dicts, character for character, whatever their values."""

from __future__ import annotations

import random

from conftest import PRIVILEGED_POD, scan_text
from kharden.model import (
    EditSite,
    Finding,
    Location,
    ObjRef,
    Rendered,
    Report,
    RuleRun,
    ScanStats,
    Severity,
    Suppression,
)
from kharden.report import json as json_report
from samples import edge_report, untraced_report

_TEXTS = ["", "app", 'quote " and \\ back', "tab\tnew\nline\x00\x1f", "ünïcödé ☃ \U0001f600", "\u2028\ud800"]


def _generic(report: Report) -> list[str]:
    """The straightforward encoding: each finding's dict through the C encoder."""
    return [json_report._compact(item) for item in json_report._finding_dicts(report)]


def _random_finding(pick: random.Random) -> Finding:
    def text() -> str:
        return pick.choice(_TEXTS) + str(pick.randrange(3))

    def maybe(value: object) -> object:
        return None if pick.random() < 0.3 else value

    rendered = pick.random() < 0.3
    named = rendered or pick.random() < 0.3  # a template alone: as a chart's output names it ("# Source:")
    location = Location(
        maybe(text()),  # type: ignore[arg-type]
        maybe(pick.randrange(1, 10**6)),  # type: ignore[arg-type]
        maybe(pick.randrange(1, 200)),  # type: ignore[arg-type]
        "/spec/" + text(),
        maybe(text()) if named else None,  # type: ignore[arg-type]
        "helm" if rendered else None,
        maybe(Rendered(text(), 3, None)) if rendered else None,  # type: ignore[arg-type]
        maybe(EditSite(text(), 4, 5, "values", 1, "/a", maybe(text()))) if rendered else None,  # type: ignore[arg-type]
    )
    rule = pick.choice(["pod.privileged", "pod.seccomp", "image.not-pinned"])
    return Finding(
        rule=rule,
        severity=pick.choice(list(Severity)),
        section=pick.choice(["pods", "images"]),
        title=pick.choice(_TEXTS),
        object=ObjRef(text(), maybe(text()), text(), pick.choice(["v1", "apps/v1", ""])),  # type: ignore[arg-type]
        container=maybe(text()),  # type: ignore[arg-type]
        location=location,
        message=text(),
        remediation=pick.choice(_TEXTS),
        fingerprint=text(),
        suppressed=maybe(Suppression(pick.choice(["annotation", "baseline"]), text())),  # type: ignore[arg-type]
    )


def test_random_findings_encode_as_their_dicts() -> None:
    pick = random.Random(18)  # noqa: S311 - a seeded, repeatable test input
    findings = [_random_finding(pick) for _ in range(2000)]
    runs = [RuleRun("pod.privileged", "pods", Severity.HIGH, 1, (True, False))]
    for paths in (None, {findings[0].fingerprint: 3, findings[5].fingerprint: 1}):
        report = Report(findings, [], [], ScanStats(), rules=runs, attack_paths=paths)
        assert list(json_report._FindingLines(report)) == _generic(report)


def test_a_scanned_report_encodes_as_its_dicts() -> None:
    report = scan_text(PRIVILEGED_POD + "---\n" + PRIVILEGED_POD.replace("debug", "other"))
    assert report.findings
    assert list(json_report._FindingLines(report)) == _generic(report)
    rendered = json_report.render(report)
    assert ",\n    ".join(_generic(report)) in rendered


def test_the_edge_reports_encode_as_their_dicts() -> None:
    for report in (edge_report(), untraced_report()):
        assert list(json_report._FindingLines(report)) == _generic(report)
