"""The text report: one header per file and per object, whatever the order of the findings."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from kharden.model import Origin
from kharden.report import render
from kharden.rules import select
from kharden.scan import evaluate
from kharden.sources.documents import Collected
from netdocs import deployment, namespace


def test_a_cluster_scan_groups_findings_by_object() -> None:
    """Objects read from a cluster have no lines: findings sort by rule, so objects alternate."""
    collected = Collected()
    for doc in [namespace(), *(deployment(name=n) for n in ("web", "api", "db"))]:
        collected.add_raw(doc, Origin(None))
    collected.evidence.add("C")
    report = evaluate(collected, select(["pod.*", "netpol.*"]))
    objects = [f.object for f in report.findings]
    assert sum(1 for a, b in pairwise(objects) if a != b) > 3  # interleaved
    text = render("text", report)
    headers = [line.strip() for line in text.splitlines() if line.startswith("  Deployment ")]
    assert headers == ["Deployment shop/web", "Deployment shop/api", "Deployment shop/db"]
    assert Counter(line for line in text.splitlines() if line == "<unknown>") == {"<unknown>": 1}
