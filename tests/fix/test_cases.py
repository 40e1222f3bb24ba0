"""``tests/fix/cases/<case>.yaml`` fixed by ``kharden fix --write`` must read exactly as ``<case>.fixed.yaml``.

The first line names the rules to fix (``# rules: pod.seccomp pod.run-as-root``; JSON cases, which
cannot hold comments, are listed in ``JSON_RULES``). Each case then scans clean for those rules and a
second run changes nothing. Every case file has its fixed twin, and every twin its case.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fix.helpers import documents, fix, fix_write, kubectl_parses, objects, schema_errors
from kharden.scan import ScanOptions, scan

CASES = Path(__file__).parent / "cases"
JSON_RULES = {"list.json": ["pod.privilege-escalation", "pod.host-namespaces"]}


def _cases() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if ".fixed." not in p.name)


def _fixed(case: Path) -> Path:
    return case.with_name(case.name.replace(case.suffix, ".fixed" + case.suffix))


def _rules(case: Path) -> list[str]:
    if case.name in JSON_RULES:
        return JSON_RULES[case.name]
    first = case.read_bytes().split(b"\n", 1)[0].decode().strip()
    assert first.startswith("# rules: "), f"{case.name}: the first line names the rules to fix"
    return first.removeprefix("# rules: ").split()


@pytest.mark.parametrize("case", _cases(), ids=[c.name for c in _cases()])
def test_fix_case(case: Path, tmp_path: Path) -> None:
    target = tmp_path / case.name
    shutil.copyfile(case, target)
    rules = _rules(case)
    result = fix_write([str(target)], rules=tuple(rules))
    assert result.errors == []
    assert target.read_bytes() == _fixed(case).read_bytes()
    report = scan([str(target)], ScanOptions(rules=tuple(rules)))
    assert [(f.rule, f.location.path) for f in report.findings] == []
    again = fix([str(target)], rules=tuple(rules))
    assert [f.path for f in again.files if f.before != f.after] == []
    # The fixed objects are as valid for the API server (its OpenAPI schemas) as the originals were,
    # and kubectl's parser reads them.
    originals = [o for d in documents(case) for o in objects(d)]
    for was, obj in zip(originals, (o for d in documents(target) for o in objects(d)), strict=True):
        assert schema_errors(obj) == schema_errors(was), obj["kind"]
    if shutil.which("kubectl"):
        assert kubectl_parses([target]) is None


def test_every_case_has_its_fixed_twin_and_back() -> None:
    names = {p.name for p in CASES.iterdir()}
    assert sorted(n for n in names if ".fixed." not in n and _fixed(CASES / n).name not in names) == []
    assert sorted(n for n in names if ".fixed." in n and n.replace(".fixed", "") not in names) == []
