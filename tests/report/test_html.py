"""HTML: one self-contained page; a complete, filterable table; rendered in headless Chromium.

The Chromium tests need Debian's ``chromium`` (``.ci/run`` installs it); where it is absent
they skip, saying so.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import chromium, needs_chromium
from conftest import EXAMPLES, IMAGE_REPORTS
from kharden.model import Report
from kharden.report import html
from kharden.scan import ScanOptions, scan
from samples import HOSTILE, edge_report


class _Elements(HTMLParser):
    """Start tags with their attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def elements(page: str) -> _Elements:
    parser = _Elements()
    parser.feed(page)
    return parser


def rows(page: str) -> list[dict[str, str | None]]:
    return [a for t, a in elements(page).tags if t == "tr" and "finding" in (a.get("class") or "")]


def insecure_report() -> Report:
    reports = tuple(str(p) for p in IMAGE_REPORTS.glob("*.json"))
    return scan([str(EXAMPLES / "insecure")], ScanOptions(image_reports=reports))


def test_self_contained() -> None:
    page = html.render(edge_report())
    tags = elements(page).tags
    # Nothing that a browser would fetch: no external scripts, styles, images, frames or fonts...
    fetching = [
        (t, a)
        for t, a in tags
        if t in {"script", "img", "link", "iframe", "object", "embed"} and (a.get("src") or a.get("href"))
    ]
    assert fetching == []
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)
    # ...and the Content-Security-Policy forbids anything but the inline style and script.
    [csp] = [
        a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    assert csp.startswith("default-src 'none';")
    # Links (to the Kubernetes documentation) are not fetched; they are only followed when clicked.
    assert all((a.get("href") or "").startswith(("#", "https://")) for t, a in tags if t == "a")


def test_the_table_is_complete() -> None:
    report = insecure_report()
    found = rows(html.render(report))
    assert len(found) == len(report.findings)
    assert sorted((r["data-rule"], r["data-severity"]) for r in found) == sorted(
        (f.rule, f.severity.label) for f in report.findings
    )


def test_rows_carry_what_the_filters_read() -> None:
    report = edge_report()
    found = rows(html.render(report))
    assert [r["data-suppressed"] for r in found].count("1") == 3
    assert {r["data-section"] for r in found} == {"pods", "images"}
    cluster = next(r for r in found if "kube-proxy" in (r["data-text"] or ""))
    assert cluster["data-severity"] == "critical"


def test_text_from_manifests_is_escaped() -> None:
    page = html.render(edge_report())
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert HOSTILE.split("'")[0] in page


def test_scorecard_chart_rules_errors() -> None:
    page = html.render(insecure_report())
    text = " ".join(elements(page).text)
    for section in ("Pods and containers", "Images", "Encryption", "Network isolation"):
        assert section in text
    assert "How the score is computed" in text
    assert "an unsuppressed critical finding caps the section at 49" in " ".join(text.split())
    assert page.count('<rect class="sev-') > 5
    assert 'id="rule-pod.privileged"' in page
    edge = html.render(edge_report())
    assert 'id="errors"' in edge
    assert 'id="not-evaluated"' in edge


def visible(dom: str) -> list[dict[str, str | None]]:
    return [r for r in rows(dom) if "hidden" not in r]


@needs_chromium
def test_renders_in_chromium_with_every_finding(tmp_path: Path) -> None:
    report = insecure_report()
    dom = chromium(tmp_path, html.render(report))
    [body] = [a for t, a in elements(dom).tags if t == "body"]
    assert body.get("data-ready") == "1"  # the script ran without error
    assert len(rows(dom)) == len(report.findings)
    assert len(visible(dom)) == len(report.active)
    shown = re.search(r'<output id="shown"[^>]*>([^<]*)</output>', dom)
    assert shown is not None
    assert shown.group(1) == f"{len(report.active)} of {len(report.findings)} findings"
    screenshot = tmp_path / "report.png"
    chromium(tmp_path, html.render(report), screenshot=screenshot)
    assert screenshot.stat().st_size > 10_000


@needs_chromium
@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("#severity=critical", lambda f: f.severity.label == "critical" and f.suppressed is None),
        ("#section=images&suppressed=1", lambda f: f.section == "images"),
        ("#q=KUBE-PROXY", lambda f: "kube-proxy" in str(f.object) and f.suppressed is None),
        ("#suppressed=1&severity=low,medium", lambda f: f.severity.label in {"low", "medium"}),
    ],
)
def test_filters_from_the_url(tmp_path: Path, fragment: str, expected: object) -> None:
    report = edge_report()
    dom = chromium(tmp_path, html.render(report), fragment)
    assert callable(expected)
    wanted = sorted(f.rule for f in report.findings if expected(f))
    assert sorted(str(r["data-rule"]) for r in visible(dom)) == wanted
    assert re.search(rf'data-visible="{len(wanted)}"', dom)


@needs_chromium
def test_expanded_findings_show_the_rationale(tmp_path: Path) -> None:
    dom = chromium(tmp_path, html.render(edge_report()), "#severity=critical&open=1")
    opened = re.findall(r'<details[^>]*open[^>]*data-filled="1"|<details[^>]*data-filled="1"[^>]*open', dom)
    assert len(opened) == 3
    why = re.findall(r'<div class="why" data-rule="pod.privileged"><div class="doc"><p>(.*?)</p>', dom)
    assert why
    assert why[0].startswith("Fires when a container sets privileged: true")
