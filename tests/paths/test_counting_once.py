"""A scan that counts its attack paths asks each whole-inventory rule once (issue 18, second round).

The count rests on the hits of ``netpol.dashboard``, ``netpol.tiller``, ``encryption.secrets-at-rest`` and
``admission.pod-security``, which the scan has just reported: it reads them from the scan's context
(``ScanContext.answer``) instead of checking the inventory again. And it never imports networkx, which only
``kharden paths``' searches use.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import kharden.rules
from kharden.analysis.context import ASKED_AGAIN, ScanContext
from kharden.model import Hit, Unevaluated
from kharden.rules import Rule, select
from kharden.scan import ScanOptions, collect, evaluate

INSECURE = Path(__file__).resolve().parents[2] / "examples" / "insecure"


def _counted(rule: Rule, calls: dict[str, int]) -> Rule:
    def check(context: Any) -> Iterable[Hit | Unevaluated]:
        calls[rule.id] = calls.get(rule.id, 0) + 1
        return rule.check(context)

    return dataclasses.replace(rule, check=check)


def _counting(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Rule], dict[str, int]]:
    """The registry with the rules the count asks again replaced by copies that count their calls."""
    calls: dict[str, int] = {}
    by_id = dict(kharden.rules._BY_ID)
    for rule_id in ASKED_AGAIN:
        by_id[rule_id] = _counted(by_id[rule_id], calls)
    monkeypatch.setattr(kharden.rules, "_BY_ID", by_id)
    return by_id, calls


def test_the_count_reads_the_hits_the_scan_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    by_id, calls = _counting(monkeypatch)
    rules = [by_id[rule.id] for rule in select()]
    report = evaluate(collect([str(INSECURE)], ScanOptions()), rules, attack_paths=True)
    assert calls == dict.fromkeys(ASKED_AGAIN, 1)
    counts = report.attack_paths or {}
    counted = {f.rule for f in report.findings if f.fingerprint in counts}
    assert {"netpol.dashboard", "admission.pod-security"} <= counted  # read from the scan's hits


def test_the_count_without_the_scan_asks_the_rules_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules the scan did not run (``--rule``) are still asked by the count, once."""
    by_id, calls = _counting(monkeypatch)
    asked: list[str] = []
    answer = ScanContext.answer

    def spied(context: ScanContext, rule: Rule) -> Iterable[Hit | Unevaluated]:
        asked.append(rule.id)
        return answer(context, rule)

    monkeypatch.setattr(ScanContext, "answer", spied)
    rules = [by_id["pod.privileged"]]
    evaluate(collect([str(INSECURE)], ScanOptions()), rules, attack_paths=True)
    assert calls == dict.fromkeys(ASKED_AGAIN, 1)
    assert set(asked) == ASKED_AGAIN  # what the count reads is what the context keeps


def test_a_scan_that_counts_its_paths_does_not_import_networkx() -> None:
    script = (
        "import sys, json\n"
        "from kharden.cli import main\n"
        "try:\n"
        f"    main(['scan', {str(INSECURE)!r}, '-f', 'json', '-o', '/dev/null'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    assert "kharden.paths.findings" in modules  # it did count
    assert "networkx" not in modules
