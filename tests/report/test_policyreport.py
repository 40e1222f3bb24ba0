"""PolicyReport: wgpolicyk8s.io/v1alpha2, one per namespace, a ClusterPolicyReport for cluster-scoped objects."""

from __future__ import annotations

from typing import Any

import yaml

from kharden.report import policyreport
from samples import edge_report

# The v1alpha2 API (kubernetes-sigs/wg-policy-prototypes, policy-report/apis/wgpolicyk8s.io/v1alpha2).
RESULT_FIELDS = {
    "source",
    "policy",
    "rule",
    "category",
    "severity",
    "timestamp",
    "result",
    "scored",
    "resources",
    "resourceSelector",
    "message",
    "properties",
}
RESULTS = {"pass", "fail", "warn", "error", "skip"}
SEVERITIES = {"critical", "high", "medium", "low", "info"}


def documents() -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(policyreport.render(edge_report())))


def test_one_report_per_namespace_and_one_for_the_cluster() -> None:
    found = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents()]
    assert found == [
        ("PolicyReport", "default", "kharden"),
        ("PolicyReport", "kube-system", "kharden"),
        ("PolicyReport", "prod", "kharden"),
        ("PolicyReport", "shop", "kharden"),
        ("ClusterPolicyReport", None, "kharden"),
    ]
    assert {d["apiVersion"] for d in documents()} == {"wgpolicyk8s.io/v1alpha2"}


def test_results_follow_the_api() -> None:
    for document in documents():
        assert document["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kharden"}
        for result in document["results"]:
            assert set(result) <= RESULT_FIELDS
            assert result["result"] in RESULTS
            assert result["severity"] in SEVERITIES
            assert result["source"] == "kharden"
            assert all(isinstance(v, str) for v in result["properties"].values())
            assert result["timestamp"] == {"seconds": 1767323045, "nanos": 0}
        counted = {key: sum(1 for r in document["results"] if r["result"] == key) for key in RESULTS}
        assert document["summary"] == counted


def test_a_finding_as_a_result() -> None:
    shop = next(d for d in documents() if d["metadata"].get("namespace") == "shop")
    first = shop["results"][0]
    assert first == {
        "source": "kharden",
        "policy": "pod.privileged",
        "category": "Pods and containers",
        "severity": "critical",
        "result": "fail",
        "scored": True,
        "message": "pod.privileged fired on Deployment shop/web",
        "resources": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"}],
        "properties": {
            "container": "app",
            "path": "/spec/template/spec/containers/0/securityContext",
            "file": "k8s/web.yaml",
            "line": "12",
            "remediation": "set securityContext.privileged to false (and windowsOptions.hostProcess to false)",
            "fingerprint": edge_report().findings[0].fingerprint,
        },
        "timestamp": {"seconds": 1767323045, "nanos": 0},
    }
    assert shop["summary"] == {"pass": 0, "fail": 2, "warn": 0, "error": 0, "skip": 3}


def test_suppressed_findings_are_skipped_with_the_reason() -> None:
    shop = next(d for d in documents() if d["metadata"].get("namespace") == "shop")
    skipped = {r["policy"]: r["properties"]["suppressed"] for r in shop["results"] if r["result"] == "skip"}
    assert skipped == {
        "pod.run-as-root": "annotation: runs as root by design",
        "pod.seccomp": "config: the node's default profile applies",
        "image.not-pinned": "baseline: in the baseline .kharden-baseline.json",
    }


def test_cluster_scoped_and_file_less_findings() -> None:
    cluster = documents()[-1]
    [result] = cluster["results"]
    assert result["resources"] == [
        {"apiVersion": "example.com/v1", "kind": "ClusterWorkload", "name": "node-agent"}
    ]
    kube_system = next(d for d in documents() if d["metadata"].get("namespace") == "kube-system")
    assert "file" not in kube_system["results"][0]["properties"]


def test_no_findings() -> None:
    report = edge_report()
    report.findings.clear()
    assert policyreport.render(report) == "# kharden: no findings, no policy reports\n"
