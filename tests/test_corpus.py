"""The real, published manifests of ../shared/corpus/real scan without a crash.

Every input error reported there must be a real defect of that file (KNOWN_DEFECTS lists
file -> message). A few findings that must be
there are checked too, so a silent regression in loading shows.
"""

from __future__ import annotations

from conftest import require_shared
from kharden import scan

KNOWN_DEFECTS: dict[str, str] = {
    # PodSecurityPolicy was only ever policy/v1beta1 (and extensions/v1beta1): the API server refuses it.
    "istio__istio/samples/security/psp/sidecar-psp.yaml": (
        "PodSecurityPolicy istio-sidecar: apiVersion policy/v1 never served kind PodSecurityPolicy"
        " (it is policy/v1beta1)"
    ),
}


def test_real_corpus() -> None:
    corpus = require_shared() / "corpus" / "real"
    report = scan([str(corpus)])
    errors = {str(e.file).split("corpus/real/", 1)[-1]: e.message for e in report.errors}
    assert errors == KNOWN_DEFECTS
    assert report.stats.files == 653
    assert report.stats.objects >= 1770
    found = {(f.rule, f.object.kind, f.object.name) for f in report.findings}
    assert ("pod.host-namespaces", "DaemonSet", "node-exporter") in found  # hostPID
    assert ("pod.sensitive-mount", "DaemonSet", "sysdig-agent") in found  # docker.sock
    assert ("pod.privileged", "DaemonSet", "calico-node") in found
    assert ("rbac.cluster-admin", "ClusterRoleBinding", "cluster-reconciler") in found  # flux2, built-in role
    assert ("rbac.secrets-read", "ClusterRoleBinding", "ingress-nginx") in found
    assert ("exposure.workload-on-control-plane", "DaemonSet", "node-exporter") in found  # operator: Exists
    assert ("netpol.dashboard", "Deployment", "kubernetes-dashboard") in found
    # Kinds without rules are counted, not errors.
    assert report.stats.kinds["CustomResourceDefinition"] == 86
