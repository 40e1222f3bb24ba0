"""The attack-path count worked out before the rules (``count_early``, where no child counts) gives the
report the count after the rules gives: the same counts, and the same input errors in the same order, an
engine that reports one being built again where the rules or the count after them ask."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from conftest import require_shared
from kharden.paths import findings
from kharden.report import render_pieces

_scan = importlib.import_module("kharden.scan")

BROKEN = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.0/33}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: "eighty"}]
---
apiVersion: v1
kind: Service
metadata: {name: web2, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bad}
roleRef: [cluster-admin]
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
      - name: app
        image: nginx
        securityContext: {privileged: true}
"""


def _report(
    paths: list[str], early: bool, monkeypatch: pytest.MonkeyPatch, rules: tuple[str, ...] = ()
) -> Any:
    """The JSON report of a scan that counts attack paths, and whether the count was made before the rules."""
    made: list[bool] = []
    count_early = findings.count_early

    def spy(context: Any) -> Any:
        sums = count_early(context) if early else None
        made.append(sums is not None)
        return sums

    with monkeypatch.context() as patched:
        patched.setattr(findings, "count_early", spy)
        report = _scan.scan(paths, _scan.ScanOptions(attack_paths=True, rules=rules))
    text = "".join(render_pieces("json", report))
    return text, [str(e) for e in report.errors], made


def test_a_count_before_the_rules_reports_what_the_count_after_them_reports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = [str(require_shared() / "corpus" / "real")]
    early, _, made = _report(corpus, True, monkeypatch)
    assert made == [True]
    assert early == _report(corpus, False, monkeypatch)[0]
    assert '"attack_paths": ' in early  # something counted


@pytest.mark.parametrize("rules", [(), ("pod.privileged",), ("pod.privileged", "rbac.cluster-admin")])
def test_engine_errors_undo_the_count_before_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: tuple[str, ...]
) -> None:
    (tmp_path / "a.yaml").write_text(BROKEN)
    early, errors, made = _report([str(tmp_path)], True, monkeypatch, rules)
    assert made == [False]  # the engines it built reported errors: counted after the rules
    late, late_errors, _ = _report([str(tmp_path)], False, monkeypatch, rules)
    assert (early, errors) == (late, late_errors)
    assert any("10.0.0.0/33" in e for e in errors)
    assert any("roleRef" in e for e in errors)
