"""Markdown for pull-request comments: escaped, complete in order of severity, under GitHub's size limit."""

from __future__ import annotations

from kharden.model import Location
from kharden.report import markdown
from samples import edge_report, finding


def test_headline_scores_and_sections() -> None:
    text = markdown.render(edge_report())
    lines = text.splitlines()
    assert lines[0] == "### kharden: 6 findings (3 critical, 1 high, 2 medium)"
    assert lines[2].startswith("score **")
    assert lines[2].endswith(" · 6 objects in 4 files · 3 suppressed")
    assert "| section | critical | high | medium | low | info | score |" in lines


def test_findings_most_severe_first_with_locations() -> None:
    rows = [
        line
        for line in markdown.render(edge_report()).splitlines()
        if line.startswith(("| 🔴", "| 🟠", "| 🟡"))
    ]
    assert [row.split(" | ")[1] for row in rows] == [
        "`pod.privileged`",  # no file: sorts first among the critical
        "`pod.privileged`",
        "`pod.dangerous-capabilities`",
        "`pod.host-namespaces`",
        "`image.mutable-tag`",
        "`pod.volume-types`",
    ]
    assert rows[1].split(" | ")[3] == "`k8s/web.yaml:12`"
    assert rows[0].split(" | ")[3] == "n/a"


def test_text_from_manifests_is_escaped() -> None:
    text = markdown.render(edge_report())
    assert "<img" not in text
    # The BEL character shows as its escape (whose backslash Markdown then escapes).
    assert (
        "&lt;img src=x onerror=alert(1)&gt;\\|\\`rm -rf\\`' \\*bold\\* \\\\x07 \\[link\\](javascript:x)"
        in text
    )
    # Every table row still has its five cells.
    for line in text.splitlines():
        if line.startswith("| 🟡"):
            assert line.replace("\\|", "").count("|") == 6


def test_suppressed_and_not_evaluated_and_errors_are_folded() -> None:
    text = markdown.render(edge_report())
    assert "<details><summary>3 suppressed findings</summary>" in text
    assert "(**baseline**: in the baseline .kharden-baseline.json)" in text
    assert "<details><summary>1 rules not evaluated</summary>" in text
    assert (
        "<details><summary>⚠️ 1 input errors (those inputs were not scanned past the error)</summary>" in text
    )
    assert "<details><summary>How to fix (5 rules)</summary>" in text


def test_long_reports_fit_in_a_comment() -> None:
    report = edge_report()
    many = [
        finding("pod.privileged", Location(f"k8s/app-{i}.yaml", i, 1, "/spec"))._replace(
            fingerprint=f"{i:032x}"
        )
        for i in range(5000)
    ]
    report.findings.extend(many)
    text = markdown.render(report)
    assert len(text) <= markdown.MAX_CHARS + 1
    assert "more findings: see the full report |" in text
    assert text.rstrip().endswith("</details>")


def test_no_findings() -> None:
    report = edge_report()
    report.findings.clear()
    report.errors.clear()
    assert markdown.render(report).startswith("### kharden: ✅ no findings\n")
