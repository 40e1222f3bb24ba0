"""The rule registry against the public catalog (RULES.md) and its generated documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import require_shared
from kharden.report.catalog import rules_markdown
from kharden.rules import REGISTRY, SECTIONS

DOCS = Path(__file__).parent.parent / "docs" / "rules.md"
_ROW = re.compile(
    r"^\| `(?P<id>[a-z]+\.[a-z0-9-]+)` \| (?P<severity>[A-Za-z ]+) \| .* \| (?P<evidence>[A-Z, ]+) \|$"
)

# Catalog rules that later issues implement; remove an ID here when its rule lands.
PENDING: set[str] = set()

# Rules whose catalog severity is not one value: (what RULES.md says, the default registered for it).
# Their findings carry their own severity; the default is what SARIF and the docs show for the rule.
GRADED = {"image.vulnerable": ("by CVE", "high")}


def catalog() -> dict[str, tuple[str, str]]:
    text = (require_shared() / "RULES.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match:
            rows[match["id"]] = (match["severity"].strip(), match["evidence"].replace(" ", ""))
    return rows


def test_registry_matches_the_catalog() -> None:
    rows = catalog()
    registered = {r.id: (r.severity.label, ",".join(e for e in "MCNG" if e in r.evidence)) for r in REGISTRY}
    for rule_id, entry in registered.items():
        assert rule_id in rows, f"{rule_id} is not in RULES.md: IDs are a public contract"
        severity, evidence = rows[rule_id]
        if rule_id in GRADED:
            assert severity == GRADED[rule_id][0], rule_id
            severity = GRADED[rule_id][1]
        assert entry == (severity, ",".join(e for e in "MCNG" if e in evidence)), rule_id
    assert set(rows) - set(registered) == PENDING
    assert not PENDING & set(registered), "a pending rule has landed: remove it from PENDING"


def test_generated_rule_docs_are_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == rules_markdown(REGISTRY), "run `make docs`"


@pytest.mark.parametrize("rule", REGISTRY, ids=[r.id for r in REGISTRY])
def test_catalog_entry_is_complete(rule: object) -> None:
    from kharden.rules import Rule  # noqa: PLC0415

    assert isinstance(rule, Rule)
    assert rule.title
    assert rule.summary
    assert rule.reads
    assert rule.remediation[0].islower()
    assert not rule.remediation.endswith(".")
    # The function is the ID's tail in snake_case: pod.run-as-root -> run_as_root.
    assert rule.check.__name__ == rule.id.split(".", 1)[1].replace("-", "_")
    assert rule.references, "cite the Kubernetes documentation the rule rests on"


def test_sections_are_distinct_and_ordered_like_rules_md() -> None:
    names = [s.section for s in SECTIONS]
    assert len(names) == len(set(names))
    order = ["exposure", "access", "isolation", "pods", "images", "encryption", "logging", "admission"]
    assert names == [n for n in order if n in names]
