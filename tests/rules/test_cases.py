"""Real-looking cases as YAML files, one directory per rule.

``tests/rules/<section>/<rule tail>/fires.<case>.yaml`` must produce exactly the findings
its ``# expect:`` lines list; ``passes.<case>.yaml`` must produce none of that rule.
An expect line reads::

    # expect: <pointer> [container=<name>] [object=<Kind>/<name>]

Every rule of the registry has at least one case of each kind (checked below).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import scan_text
from kharden.rules import REGISTRY, Rule

CASES = Path(__file__).parent
_EXPECT = re.compile(r"^# expect: (?P<pointer>/\S*)(?P<rest>.*)$", re.MULTILINE)


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
        expected.append((match["pointer"], options.get("container"), options.get("object")))
    return sorted(expected, key=str)


@pytest.mark.parametrize(("rule", "path"), _case_files(), ids=[f"{r.id}/{p.name}" for r, p in _case_files()])
def test_case_file(rule: Rule, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    report = scan_text(text, rules=[rule.id], file=str(path), evidence=rule.evidence)
    assert report.errors == []
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
