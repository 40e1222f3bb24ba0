"""Scanning node trees end to end: the demo node, the CLI options, static pods and the pod rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from kharden.cli import main
from kharden.errors import UsageError
from kharden.rules import REGISTRY
from kharden.scan import ScanOptions, scan

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
NODES = Path(__file__).parent / "data" / "nodes"


def test_demo_node_trips_the_control_plane_rules() -> None:
    report = scan([str(EXAMPLES / "insecure")], ScanOptions(node_roots=(str(EXAMPLES / "insecure-node"),)))
    assert report.errors == []
    fired = {f.rule for f in report.findings}
    # Each of these has another example: raw-key (k3s, RKE2), insecure-port and audit-disabled
    # (tests/data/nodes), audit-not-shipped (the demo runs Fluent Bit), cni-unsupported (no policy).
    assert fired >= {
        "exposure.apiserver-anonymous", "exposure.apiserver-authorization", "exposure.apiserver-public",
        "exposure.etcd-client-auth",
        "exposure.etcd-peer-auth", "exposure.etcd-shared-ca", "exposure.control-plane-bind",
        "exposure.kubelet-auth", "encryption.secrets-at-rest", "encryption.kms-v1",
        "encryption.control-plane-tls", "encryption.ingress-tls", "encryption.pod-traffic",
        "logging.audit-policy", "logging.audit-retention", "admission.psp-unenforced",
        "admission.pod-security", "admission.plugins",
    }  # fmt: skip
    # Only rules that need an input this scan lacks (image scan reports, a cluster) are not evaluated.
    assert {n.rule for n in report.not_evaluated} <= {
        r.id for r in REGISTRY if r.requires or r.evidence == {"C"}
    }


def test_static_pods_from_a_node_are_not_judged_as_workloads() -> None:
    report = scan([str(EXAMPLES / "insecure")], ScanOptions(node_roots=(str(EXAMPLES / "insecure-node"),)))
    node_pods = [f for f in report.findings if f.object.kind == "Pod" and f.object.namespace == "kube-system"]
    assert node_pods
    assert not [
        f.rule for f in node_pods if f.rule.startswith(("pod.", "image.", "netpol.host-network", "sa."))
    ]


def test_hardened_examples_stay_clean() -> None:
    report = scan([str(EXAMPLES / "hardened")])
    assert [f.rule for f in report.active] == []


def test_cli_node_root_and_kube_version(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["scan", "--node-root", str(NODES / "kubeadm-bare"), "--kube-version", "1.19", "--rule", "exposure.*"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "kube-apiserver serves unauthenticated requests on port 8080" in out
    assert "(--insecure-port is not set and defaults to 8080)" in out


def test_cli_bad_kube_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--node-root", str(NODES / "worker"), "--kube-version", "latest"]) == 2
    assert capsys.readouterr().err == (
        "kharden: error: --kube-version 'latest' is not a Kubernetes version (expected e.g. 1.29)\n"
    )


def test_library_rejects_a_bad_version_before_reading() -> None:
    with pytest.raises(UsageError):
        scan([], ScanOptions(node_roots=("/nonexistent",), kube_version="one"))


def test_missing_node_root_is_an_input_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["scan", "--node-root", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"kharden: error: {tmp_path / 'nope'}: node root is not a directory\n"


def test_unreadable_admission_config_leaves_unlabelled_namespaces_unjudged(tmp_path: Path) -> None:
    manifest = tmp_path / "ns.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ci\n"
        "  labels: {pod-security.kubernetes.io/enforce: baseline}\n"
    )
    options = ScanOptions(rules=("admission.pod-security",), node_roots=(str(NODES / "kubeadm-missing"),))
    report = scan([str(manifest)], options)
    # 'ci' says baseline itself; 'shop' depends on the defaults of a file that is not on the node
    assert [(f.object.name, f.severity.label) for f in report.findings] == [("ci", "medium")]
    assert [n.reason for n in report.not_evaluated] == [
        "kube-apiserver --admission-control-config-file: /etc/kubernetes/admission.yaml is not on the node:"
        " no volume of the pod is mounted there (the file would be in the image)"
    ]
