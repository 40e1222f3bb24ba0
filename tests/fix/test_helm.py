"""Helm charts: templates are not rewritten; the values the chart exposes are written to --values-out,
each kept only when re-rendering the chart with it fixes findings, and what values cannot fix is named
with its template line when the field's place in it is certain."""

from __future__ import annotations

from pathlib import Path

import yaml

from fix.helpers import fix_write
from kharden.scan import ScanOptions, scan

CHART = Path(__file__).parent / "data" / "chart"
RULES = ("pod.*", "sa.automount")


def test_values_out_proven_by_rerendering(tmp_path: Path) -> None:
    out = tmp_path / "hardening-values.yaml"
    before = scan([str(CHART)], ScanOptions(rules=RULES))
    assert before.errors == []
    result = fix_write([str(CHART)], rules=RULES, values_out=str(out))
    assert result.errors == []
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == {
        "securityContext": {"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False},
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "serviceAccount": {"create": True, "automount": False},
    }
    assert result.advice == [
        f"{CHART}/templates/deployment.yaml:25:13: pod.proc-mount at /spec/template/spec/containers/1/securityContext/procMount:"
        " no values key of the chart sets it; change the template"
    ]
    after = scan([str(CHART)], ScanOptions(rules=RULES, helm_values=(str(out),)))
    fixed = {"pod.capabilities", "pod.privilege-escalation", "pod.seccomp", "pod.run-as-root", "sa.automount"}
    assert {f.rule for f in before.findings} >= fixed
    assert {f.rule for f in after.findings} & fixed == set()
    assert {f.rule for f in after.findings} == {"pod.proc-mount", "pod.writable-root-fs"}


def test_without_values_out_nothing_is_written_and_the_user_is_told(tmp_path: Path) -> None:
    result = fix_write([str(CHART)], rules=RULES)
    assert result.files == []
    assert (
        result.advice[0]
        == f"{CHART}: the chart's values can fix 3 setting(s); write them with --values-out FILE"
    )
