"""Static pods, one recognition everywhere; the Kubernetes version from --kube-version, a cluster or a
node root, never from one kube-apiserver manifest among plain manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import scan_text
from kharden.analysis.staticpods import is_static_pod
from kharden.model import Obj, ObjRef, Origin
from kharden.report import json as json_report
from kharden.report import text as text_report
from kharden.scan import ScanOptions, scan

DATA = Path(__file__).parent / "data"
NODES = DATA / "nodes"
KUBEADM = NODES / "kubeadm-1.31"
MANIFESTS = KUBEADM / "etc/kubernetes/manifests"

# The rules a static pod is never judged by: no ServiceAccount (no token is mounted) and no part of
# the cluster's pod network (https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/).
WORKLOAD_ONLY = (
    "sa.default",
    "sa.automount",
    "sa.shared",
    "netpol.ingress-open",
    "netpol.egress-open",
    "netpol.internet-egress",
    "netpol.selects-nothing",
    "exposure.metadata-api",
)


def pod(name: str, namespace: str, spec: dict[str, Any], origin: Origin, **metadata: Any) -> Obj:
    raw = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, **metadata}}
    return Obj({**raw, "spec": spec}, ObjRef("Pod", namespace, name, "v1"), origin)


def apiserver_spec(command: list[str] | None = None) -> dict[str, Any]:
    return {
        "containers": [
            {"name": "kube-apiserver", "command": command or ["kube-apiserver", "--secure-port=6443"]}
        ]
    }


@pytest.mark.parametrize(
    ("obj", "static"),
    [
        pytest.param(
            pod("kube-vip", "kube-system", {"containers": [{"name": "vip"}]}, Origin("/n/m.yaml", node="/n")),
            True,
            id="any-pod-of-a-node-root",
        ),
        pytest.param(
            pod(
                "etcd-cp-1",
                "kube-system",
                {"containers": [{"name": "etcd"}]},
                Origin("snapshot.json"),
                annotations={"kubernetes.io/config.mirror": "0f3c"},
            ),
            True,
            id="mirror-pod",
        ),
        pytest.param(
            pod("kube-apiserver", "kube-system", apiserver_spec(), Origin("repo/ka.yaml")),
            True,
            id="manifest",
        ),
        pytest.param(
            pod(
                "kube-apiserver",
                "kube-system",
                apiserver_spec(["/bin/sh", "-c", "exec kube-apiserver --secure-port=6443"]),
                Origin("repo/ka.yaml"),
            ),
            True,
            id="manifest-shell-wrapper",
        ),
        pytest.param(
            pod("kube-apiserver", "tools", apiserver_spec(), Origin("repo/ka.yaml")), False, id="other-ns"
        ),
        pytest.param(
            pod(
                "kube-apiserver-x",
                "kube-system",
                apiserver_spec(),
                Origin("repo/ka.yaml"),
                ownerReferences=[{"kind": "ReplicaSet", "name": "x", "controller": True}],
            ),
            False,
            id="owned-by-a-controller",
        ),
        pytest.param(
            pod(
                "debug", "kube-system", {"containers": [{"name": "sh", "command": ["sh"]}]}, Origin("d.yaml")
            ),
            False,
            id="a-kube-system-pod",
        ),
    ],
)
def test_one_recognition_of_static_pods(obj: Obj, static: bool) -> None:
    assert is_static_pod(obj) is static


def _workload_only_hits(report: Any) -> list[tuple[str, str]]:
    return sorted({(f.rule, f.message) for f in report.findings if f.rule in WORKLOAD_ONLY})


def test_control_plane_static_pods_in_manifest_files_are_not_workloads(tmp_path: Path) -> None:
    # kubeadm's static pods kept in a repository: the control-plane and pod rules judge them; the
    # ServiceAccount and workload network rules do not.
    repo = tmp_path / "control-plane"
    shutil.copytree(MANIFESTS, repo)
    report = scan([str(repo)], ScanOptions(rules=(*WORKLOAD_ONLY, "pod.*", "exposure.apiserver-anonymous")))
    assert report.errors == []
    assert _workload_only_hits(report) == []
    fired = {f.rule for f in report.findings}
    assert {"pod.run-as-root", "pod.privilege-escalation"} <= fired  # their spec is still judged
    assert "exposure.apiserver-anonymous" not in fired  # control-plane rules need node or cluster evidence


def test_mirror_pods_of_a_cluster_are_not_workloads() -> None:
    mirrors = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        raw["metadata"]["name"] += "-cp-1"
        raw["metadata"]["annotations"] = {
            "kubernetes.io/config.mirror": "3a0b6f3c",
            **raw["metadata"].get("annotations", {}),
        }
        raw["metadata"]["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": "cp-1", "controller": True}
        ]
        raw["spec"]["nodeName"] = "cp-1"
        mirrors.append(raw)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}
    report = scan_text(
        yaml.safe_dump_all([namespace, *mirrors]), rules=[*WORKLOAD_ONLY, "exposure.*"], evidence=["C"]
    )
    assert report.errors == []
    assert _workload_only_hits(report) == []
    # the control-plane rules judge their flags: kubeadm leaves --anonymous-auth to its default
    assert [(f.rule, f.object.name) for f in report.findings if f.rule == "exposure.apiserver-anonymous"] == [
        ("exposure.apiserver-anonymous", "kube-apiserver-cp-1")
    ]


def test_static_pods_of_a_node_root_are_not_workloads(tmp_path: Path) -> None:
    manifests = tmp_path / "system.yaml"
    manifests.write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}\n---\n"
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: apiserver-ingress, namespace: kube-system}\n"
        "spec: {podSelector: {matchLabels: {component: kube-apiserver}}, policyTypes: [Ingress]}\n",
        encoding="utf-8",
    )
    report = scan([str(manifests)], ScanOptions(node_roots=(str(KUBEADM),), rules=WORKLOAD_ONLY))
    assert report.errors == []
    # No ServiceAccount or network rule talks about the node's static pods (and the policy is not
    # judged: on manifests alone, the scan holds no pod of the cluster's network in kube-system).
    assert report.findings == []


# --- the Kubernetes version ---------------------------------------------------------------------


def test_a_kube_apiserver_manifest_among_manifests_does_not_set_the_version() -> None:
    report = scan([str(DATA / "manifests/old-example")], ScanOptions(rules=("admission.psp-unenforced",)))
    assert [f.message for f in report.findings] == [
        "PodSecurityPolicy was removed in Kubernetes 1.25 (the cluster is 1.33, assumed)"
    ]
    assert report.assumptions == [
        "Kubernetes 1.33 for PodSecurityPolicy, removed in 1.25"
        " (no --kube-version, cluster or node root says which version runs)"
    ]
    # --kube-version states it: the example's PodSecurityPolicy admission plugin is then what counts
    stated = scan(
        [str(DATA / "manifests/old-example")],
        ScanOptions(rules=("admission.psp-unenforced",), kube_version="1.24"),
    )
    assert (stated.findings, stated.assumptions) == ([], [])


def test_the_assumed_version_is_printed() -> None:
    report = scan([], ScanOptions(node_roots=(str(NODES / "k3s-cis"),), rules=("exposure.insecure-port",)))
    note = (
        "Kubernetes 1.33 for kube-apiserver's --insecure-port default, 8080 before 1.20"
        " (no --kube-version, cluster or node root says which version runs)"
    )
    assert report.assumptions == [note]
    assert f"  assumed: {note}\n" in text_report.render(report)
    assert json.loads(json_report.render(report))["assumptions"] == [note]
    # A node root's kube-apiserver says which version runs: nothing is assumed
    kubeadm = scan([], ScanOptions(node_roots=(str(KUBEADM),), rules=("exposure.insecure-port",)))
    assert (kubeadm.findings, kubeadm.assumptions) == ([], [])
