"""Real-looking cases as YAML files, one directory per rule.

``tests/rules/<section>/<rule tail>/fires.<case>.yaml`` must produce exactly the findings
its ``# expect:`` lines list; ``passes.<case>.yaml`` must produce none of that rule.
An expect line reads::

    # expect: <pointer> [container=<name>] [object=<Kind>/<name>]

A case may give the scan image scan reports, relative to its directory (for image.vulnerable)::

    # image-report: ../../../../examples/image-reports/trivy-nginx-1.25.4.json

scan a node tree too (``# node-root: <directory relative to the case>``, for the rules whose
evidence is node files) and state the cluster's version (``# kube-version: 1.24``). A case read
as if from a cluster or a snapshot says ``# evidence: C``.

Every rule of the registry has at least one case of each kind (checked below).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import scan_text
from kharden.analysis.controlplane import parse_version
from kharden.rules import REGISTRY, Rule

CASES = Path(__file__).parent
_EXPECT = re.compile(r"^# expect: (?P<pointer>/\S*|'')(?P<rest>.*)$", re.MULTILINE)
_DIRECTIVE = re.compile(
    r"^# (?P<key>image-report|node-root|kube-version|evidence): (?P<value>\S+)$", re.MULTILINE
)


def _rule_dir(rule: Rule) -> Path:
    return CASES / rule.section / rule.id.split(".", 1)[1]


def _case_files() -> list[tuple[Rule, Path]]:
    found = []
    for rule in REGISTRY:
        directory = _rule_dir(rule)
        if directory.is_dir():
            found += [(rule, path) for path in sorted(directory.glob("*.yaml"))]
    return found


def _expected(text: str) -> list[tuple[str, str | None, str | None]]:
    expected = []
    for match in _EXPECT.finditer(text):
        options = dict(part.split("=", 1) for part in match["rest"].split())
        pointer = "" if match["pointer"] == "''" else match["pointer"]
        expected.append((pointer, options.get("container"), options.get("object")))
    return sorted(expected, key=str)


@pytest.mark.parametrize(("rule", "path"), _case_files(), ids=[f"{r.id}/{p.name}" for r, p in _case_files()])
def test_case_file(rule: Rule, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    directives = [(m["key"], m["value"]) for m in _DIRECTIVE.finditer(text)]
    version = [parse_version(v) for k, v in directives if k == "kube-version"]
    report = scan_text(
        text,
        rules=[rule.id],
        file=str(path),
        image_reports=tuple(str(path.parent / v) for k, v in directives if k == "image-report"),
        node_roots=tuple(str((path.parent / v).resolve()) for k, v in directives if k == "node-root"),
        kube_version=version[0] if version else None,
        evidence=[v for k, v in directives if k == "evidence"],
    )
    assert report.errors == []
    prints = [f.fingerprint for f in report.findings]
    assert len(set(prints)) == len(prints), "two findings share a fingerprint"
    got = sorted(
        (
            (f.location.path, f.container, f"{f.object.kind}/{f.object.name}")
            for f in report.findings
            if f.rule == rule.id and f.suppressed is None
        ),
        key=str,
    )
    if path.name.startswith("passes."):
        assert got == []
        # A pass is a judgement, not a rule that could not look (a missing file, no evidence).
        assert [n.reason for n in report.not_evaluated if n.rule == rule.id] == []
        return
    assert path.name.startswith("fires."), f"{path.name}: case files are named fires.* or passes.*"
    expected = _expected(text)
    assert expected, f"{path}: a fires.* case needs '# expect:' lines"
    assert [(p, c) for p, c, _ in got] == [(p, c) for p, c, _ in expected]
    for pointer, container, obj in expected:
        if obj is not None:  # object= is optional; when given, that object must be the one
            assert (pointer, container, obj) in got


@pytest.mark.parametrize("rule", REGISTRY, ids=[r.id for r in REGISTRY])
def test_every_rule_has_cases_both_ways(rule: Rule) -> None:
    names = [p.name for p in _rule_dir(rule).glob("*.yaml")] if _rule_dir(rule).is_dir() else []
    assert any(n.startswith("fires.") for n in names), f"no fires.*.yaml in {_rule_dir(rule)}"
    assert any(n.startswith("passes.") for n in names), f"no passes.*.yaml in {_rule_dir(rule)}"
