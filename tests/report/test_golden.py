"""Every format on examples/insecure/ (with its image scan reports and a config), compared with golden files.

The golden files are the reviewed output: a change to a renderer, a rule or the examples shows
up as a diff. After an intended change, regenerate them and review the diff::

    make golden        # KHARDEN_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py
    git diff tests/report/golden/
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import IMAGE_REPORTS
from kharden.config import load_config
from kharden.model import Report
from kharden.report import EXTENSIONS, FORMATS, render
from kharden.scan import ScanOptions, scan

ROOT = Path(__file__).parent.parent.parent
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KHARDEN_UPDATE_GOLDEN") == "1"
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def golden_report() -> Report:
    """The scan the golden files show; run from the repository root, so that paths are relative."""
    reports = sorted(str(p.relative_to(ROOT)) for p in IMAGE_REPORTS.glob("*.json"))
    options = ScanOptions(
        config=load_config("tests/report/golden/kharden.yaml"), image_reports=tuple(reports)
    )
    report = scan(["examples/insecure/"], options)
    report.generated_at = WHEN
    return report


@pytest.fixture(scope="module")
def report() -> Iterator[Report]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        yield golden_report()


def rendered(name: str, report: Report) -> str:
    text = render(name, report, sarif_root=str(ROOT))
    # SARIF names the absolute root of its relative URIs; the golden file names a placeholder.
    return text.replace(ROOT.as_uri() + "/", "file:///SRCROOT/")


@pytest.mark.parametrize("name", FORMATS)
def test_golden(name: str, report: Report) -> None:
    path = GOLDEN / f"insecure{EXTENSIONS[name]}"
    text = rendered(name, report)
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run `make golden` and review it"
    assert path.read_text(encoding="utf-8") == text, (
        f"{path.name} differs: run `make golden` and review the diff"
    )


def test_golden_scan_covers_what_the_formats_show(report: Report) -> None:
    """The golden scan has findings of every severity, suppressed ones, overrides and image findings."""
    severities = {f.severity.label for f in report.active}
    assert severities >= {"critical", "high", "medium", "low"}
    assert {f.suppressed.kind for f in report.findings if f.suppressed} == {"config"}
    assert {f.severity.label for f in report.findings if f.rule == "image.not-minimal"} == {"medium"}
    vulnerable = sorted(
        f"{f.object} {f.severity.label}" for f in report.findings if f.rule == "image.vulnerable"
    )
    assert vulnerable == ["Deployment shop/web critical", "StatefulSet shop/redis critical"]
    assert report.errors == []


@pytest.mark.parametrize("name", FORMATS)
def test_a_clean_scan_renders(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    report = scan(["examples/hardened/"])
    assert report.findings == []
    text = render(name, report, sarif_root=str(ROOT))
    expected = {
        "text": "  no findings\n  score 100/100\n",
        "json": '"findings": []',
        "sarif": '"results": []',
        "junit": 'failures="0"',
        "html": '<p class="empty">No findings.</p>',
        "policyreport": "# kharden: no findings, no policy reports\n",
        "markdown": "### kharden: ✅ no findings\n",
        "github": "::notice title=kharden::kharden: no findings; score 100/100\n",
    }
    assert expected[name] in text
