"""The Pod Security Standards' controls (analysis/pss.py) and ``kharden generate pod-security``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, MINIMAL_POD, as_kind, mutate, run_cli
from kharden.analysis.podspec import effective_pod, pod_template_path
from kharden.analysis.pss import level_of, violations
from kharden.model import Origin
from kharden.scan import ScanOptions, scan
from kharden.sources.documents import Collected

from .helpers import documents, schema_errors

KUBECTL = shutil.which("kubectl") or "kubectl"
C = "/spec/containers/0"
I = "/spec/initContainers/0"  # noqa: E741 - reads as the init container's pointer in the table
P = "/spec/securityContext"

# (changes to the restricted minimal pod, the level it then passes, the control that keeps it there)
CASES: list[tuple[list[tuple[str, Any]], str, str | None]] = [
    ([], "restricted", None),
    ([(f"{C}/securityContext/windowsOptions", {"hostProcess": True})], "privileged", "HostProcess"),
    (
        [("/spec/hostNetwork", True)],
        "privileged",
        "Host Namespaces",
    ),
    ([("/spec/hostPID", True)], "privileged", "Host Namespaces"),
    ([("/spec/hostIPC", True)], "privileged", "Host Namespaces"),
    ([("/spec/hostIPC", False)], "restricted", None),
    ([(f"{I}/securityContext/privileged", True)], "privileged", "Privileged Containers"),
    ([(f"{C}/securityContext/capabilities/add", ["NET_ADMIN"])], "privileged", "Capabilities"),
    ([(f"{C}/securityContext/capabilities/add", ["CHOWN"])], "baseline", "Capabilities"),
    ([(f"{C}/securityContext/capabilities/add", ["NET_BIND_SERVICE"])], "restricted", None),
    ([(f"{C}/securityContext/capabilities/add", ["CAP_CHOWN"])], "privileged", "Capabilities"),
    ([(f"{C}/securityContext/capabilities/drop", ["NET_RAW"])], "baseline", "Capabilities"),
    ([("/spec/volumes/-", {"name": "h", "hostPath": {"path": "/etc"}})], "privileged", "HostPath Volumes"),
    ([("/spec/volumes/-", {"name": "n", "nfs": {"server": "s", "path": "/"}})], "baseline", "Volume Types"),
    ([("/spec/volumes/-", {"name": "p", "persistentVolumeClaim": {"claimName": "c"}})], "restricted", None),
    ([(f"{C}/ports/0/hostPort", 8080)], "privileged", "Host Ports"),
    ([(f"{C}/ports/0/hostPort", 0)], "restricted", None),
    ([(f"{C}/securityContext/appArmorProfile", {"type": "Unconfined"})], "privileged", "AppArmor"),
    ([(f"{C}/securityContext/appArmorProfile", {"type": "RuntimeDefault"})], "restricted", None),
    (
        [("/metadata/annotations", {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"})],
        "privileged",
        "AppArmor",
    ),
    ([(f"{P}/seLinuxOptions", {"type": "spc_t"})], "privileged", "SELinux"),
    ([(f"{P}/seLinuxOptions", {"type": "container_t", "level": "s0:c1"})], "restricted", None),
    ([(f"{C}/securityContext/seLinuxOptions", {"user": "system_u"})], "privileged", "SELinux"),
    ([(f"{C}/securityContext/procMount", "Unmasked")], "privileged", "/proc Mount Type"),
    ([(f"{C}/securityContext/procMount", "Default")], "restricted", None),
    ([(f"{P}/seccompProfile", {"type": "Unconfined"})], "privileged", "Seccomp"),
    ([(f"{P}/seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"})], "restricted", None),
    ([(P, {"runAsNonRoot": True, "runAsUser": 10001})], "baseline", "Seccomp"),
    (
        [
            (P, {"runAsNonRoot": True, "runAsUser": 10001}),
            (f"{C}/securityContext/seccompProfile", {"type": "RuntimeDefault"}),
            (f"{I}/securityContext/seccompProfile", {"type": "RuntimeDefault"}),
        ],
        "restricted",
        None,
    ),
    # The pod's own profile counts even where every container sets its own (Pod Security Admission's
    # seccompProfile checks judge the pod level, then each container).
    (
        [
            (f"{P}/seccompProfile", {"type": "Unconfined"}),
            (f"{C}/securityContext/seccompProfile", {"type": "RuntimeDefault"}),
            (f"{I}/securityContext/seccompProfile", {"type": "RuntimeDefault"}),
        ],
        "privileged",
        "Seccomp",
    ),
    (
        [
            (P, {"runAsNonRoot": True, "runAsUser": 10001}),
            ("/metadata/annotations", {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
            (f"{C}/securityContext/seccompProfile", {"type": "RuntimeDefault"}),
            (f"{I}/securityContext/seccompProfile", {"type": "Localhost", "localhostProfile": "p.json"}),
        ],
        "privileged",
        "Seccomp",
    ),
    ([(f"{P}/sysctls", [{"name": "net.core.somaxconn", "value": "1024"}])], "privileged", "Sysctls"),
    ([(f"{P}/sysctls", [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}])], "restricted", None),
    ([(f"{C}/securityContext/allowPrivilegeEscalation", True)], "baseline", "Privilege Escalation"),
    ([(f"{I}/securityContext", {"capabilities": {"drop": ["ALL"]}})], "baseline", "Privilege Escalation"),
    ([(f"{C}/securityContext/runAsNonRoot", False)], "baseline", "Running as Non-root"),
    ([(f"{P}/runAsNonRoot", False)], "baseline", "Running as Non-root"),
    ([(f"{C}/securityContext/runAsUser", 0)], "baseline", "Running as Non-root user"),
    # Windows pods: the Linux-only restricted controls do not apply.
    (
        [
            ("/spec/os", {"name": "windows"}),
            (f"{C}/securityContext/allowPrivilegeEscalation", True),
            (f"{C}/securityContext/capabilities", {}),
        ],
        "restricted",
        None,
    ),
]


def _pod(raw: dict[str, Any]) -> Any:
    collected = Collected()
    collected.add_raw(raw, Origin(None))
    obj = collected.objects[0]
    return effective_pod(obj, pod_template_path(obj) or "")


@pytest.mark.parametrize(("changes", "level", "control"), CASES, ids=[str(c[0])[:60] for c in CASES])
@pytest.mark.parametrize("kind", ["Pod", "CronJob"])
def test_controls(changes: list[tuple[str, Any]], level: str, control: str | None, kind: str) -> None:
    pod = _pod(as_kind(mutate(MINIMAL_POD, *changes), kind))
    assert level_of(pod) == level
    controls = {v.control for v in violations(pod)}
    if control is None:
        assert controls == set()
    else:
        assert control in controls


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ns.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata: {name: strict, labels: {team: a}}
---
apiVersion: v1
kind: Namespace
metadata: {name: loose, labels: {team: b, pod-security.kubernetes.io/enforce: restricted}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: loose}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, namespace: host}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostPID: true
      containers: [{name: agent, image: agent:1}]
"""


def test_levels_per_namespace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "generate", "pod-security", _write(tmp_path, NAMESPACES))
    assert code == 0, err
    docs = {d["metadata"]["name"]: d for d in documents(out)}
    for doc in docs.values():
        assert schema_errors(doc) == []
    # No workload: restricted. The labels the namespace had are kept.
    assert docs["strict"]["metadata"]["labels"] == {
        "team": "a",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    # Already enforces restricted though web passes only baseline: never loosened, and said so.
    assert docs["loose"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "namespace loose: already enforces restricted, which rejects Deployment web: " in err
    # Below baseline: nothing enforced; the namespace is created (the scan has no Namespace object).
    assert docs["host"]["metadata"]["labels"] == {
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    assert "namespace host stays below restricted: Deployment agent: Host Namespaces (hostPID: true)" in err


def test_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "generate", "pod-security", str(EXAMPLES / "hardened"))
    labels = documents(out)[0]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    _, out, err = run_cli(capsys, "generate", "pod-security", str(EXAMPLES / "insecure"))
    labels = documents(out)[0]["metadata"]["labels"]
    assert "pod-security.kubernetes.io/enforce" not in labels
    assert (
        "namespace shop stays below restricted: Deployment api: Capabilities (container 'envoy' adds NET_ADMIN, NET_RAW)"
        in err
    )
    assert "namespace kube-system: left alone" in err


def test_a_scan_after_the_labels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hardened = str(EXAMPLES / "hardened")
    _, out, _ = run_cli(capsys, "generate", "pod-security", hardened)
    path = tmp_path / "labels.yaml"
    path.write_text(out, encoding="utf-8")
    assert scan([hardened, str(path)], ScanOptions(rules=("admission.pod-security",))).findings == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed")
def test_write_patches_a_namespace_the_kustomization_has(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "ns.yaml").write_text(NAMESPACES, encoding="utf-8")
    (base / "kustomization.yaml").write_text("resources: [ns.yaml]\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "generate", "pod-security", str(base), "--write")
    assert code == 0, err
    kustomization = (base / "kustomization.yaml").read_text()
    assert kustomization == (
        "resources:\n- ns.yaml\n- kharden-pod-security.yaml\n"
        "patches:\n- path: kharden-pod-security-namespace-loose.yaml\n- path: kharden-pod-security-namespace-strict.yaml\n"
    )
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(base)], capture_output=True, text=True, check=True
    ).stdout
    namespaces = {
        d["metadata"]["name"]: d["metadata"]["labels"]
        for d in documents(rendered)
        if d["kind"] == "Namespace"
    }
    assert namespaces["strict"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespaces["strict"]["team"] == "a"
    assert namespaces["host"] == {
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
