"""A finding's identity is a contract: distinct problems never share a fingerprint, and the same problem
keeps its fingerprint across line moves, reformatting and this change (baselines keep matching)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import EXAMPLES, PRIVILEGED_POD, TESTS, require_shared, run_cli
from kharden import ScanOptions, scan
from kharden.model import Report

NODES = TESTS / "data" / "nodes"
INSECURE_NODE = EXAMPLES / "insecure-node"
PINNED = json.loads((TESTS / "data" / "pinned-fingerprints.json").read_text(encoding="utf-8"))


def shared_fingerprints(report: Report) -> list[str]:
    """Each fingerprint that two findings of ``report`` share, with the findings."""
    counts = Counter(f.fingerprint for f in report.findings)
    return [
        f"{f.rule} {f.object} {f.location} {f.message}" for f in report.findings if counts[f.fingerprint] > 1
    ]


INPUTS = {
    "examples": (["examples"], ()),
    "insecure-node": ([], ("examples/insecure-node",)),
    **{f"nodes/{d.name}": ([], (f"tests/data/nodes/{d.name}",)) for d in sorted(NODES.iterdir())},
    "every node at once": ([], tuple(f"tests/data/nodes/{d.name}" for d in sorted(NODES.iterdir()))),
    "examples with their node": (["examples"], ("examples/insecure-node",)),
}


@pytest.mark.parametrize("name", list(INPUTS))
def test_no_two_findings_share_a_fingerprint(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TESTS.parent)
    paths, roots = INPUTS[name]
    report = scan(paths, ScanOptions(node_roots=roots))
    assert report.findings or name.startswith("nodes/")  # some node roots are clean
    assert shared_fingerprints(report) == []


def test_no_two_findings_share_a_fingerprint_in_the_corpus() -> None:
    report = scan([str(require_shared() / "corpus" / "real")])
    assert len(report.findings) > 1000
    assert shared_fingerprints(report) == []


def test_no_two_findings_share_a_fingerprint_in_a_cluster_snapshot(tmp_path: Path) -> None:
    generator = require_shared() / "bench" / "gen_snapshot.py"
    snapshot = tmp_path / "snapshot.json"
    subprocess.run(
        [
            sys.executable,
            str(generator),
            "--pods",
            "300",
            "--workloads",
            "40",
            "--seed",
            "1",
            "--out",
            str(snapshot),
        ],
        check=True,
        capture_output=True,
    )
    report = scan([], ScanOptions(snapshot=str(snapshot)))
    assert len(report.findings) > 100
    assert shared_fingerprints(report) == []


def test_fingerprints_of_findings_that_never_collided_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fingerprints of examples/insecure as main gave them before distinct problems got distinct
    fingerprints (recorded then): users' baselines keep matching them. Left out of the file, as changed on
    purpose: the network rules' (one finding per workload now). A finding a later rule change drops is not
    this test's business; nearly all are still there."""
    monkeypatch.chdir(TESTS.parent)
    report = scan(["examples/insecure"])
    now = {(f.rule, str(f.object), f.container, f.location.path): f.fingerprint for f in report.findings}
    pinned = {(rule, obj, c, path): print_ for rule, obj, c, path, print_ in PINNED["examples/insecure"]}
    still = {key: now[key] for key in pinned if key in now}
    assert len(still) >= 0.9 * len(pinned)
    assert still == {key: pinned[key] for key in still}


def _node_copy(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    shutil.copytree(INSECURE_NODE, root)
    return root


def test_a_baseline_does_not_hide_always_admit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's scenario: a baseline written without AlwaysAdmit must not hide it once it is back."""
    root = _node_copy(tmp_path)
    manifest = root / "etc" / "kubernetes" / "manifests" / "kube-apiserver.yaml"
    flags = "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,AlwaysAdmit"
    original = manifest.read_text(encoding="utf-8")
    manifest.write_text(original.replace(flags, flags.removesuffix(",AlwaysAdmit")), encoding="utf-8")
    baseline = tmp_path / "baseline.json"
    assert run_cli(capsys, "baseline", "write", str(baseline), "--node-root", str(root))[0] == 0
    manifest.write_text(original, encoding="utf-8")

    code, out, _ = run_cli(
        capsys, "scan", "--node-root", str(root), "--baseline", str(baseline), "--rule", "admission.plugins",
        "--fail-on", "medium", "-f", "json",
    )  # fmt: skip
    findings = json.loads(out)["findings"]
    assert sorted((f["message"].split(" (")[0], f["suppressed"] is not None) for f in findings) == [
        ("kube-apiserver admits every request", False),
        ("kube-apiserver does not enable the NodeRestriction admission plugin", True),
    ]
    assert code == 1


def test_flag_findings_survive_moved_flags(tmp_path: Path) -> None:
    """A flag's findings keep their fingerprints when the flags of the command line are reordered."""
    before = scan([], ScanOptions(node_roots=(str(INSECURE_NODE),)))
    root = _node_copy(tmp_path)
    manifest = root / "etc" / "kubernetes" / "manifests" / "kube-apiserver.yaml"
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines.index("    - kube-apiserver\n") + 1
    end = next(i for i in range(first, len(lines)) if not lines[i].startswith(("    - --", "    #")))
    lines[first:end] = [line for line in reversed(lines[first:end]) if not line.startswith("    #")]
    manifest.write_text("".join(lines), encoding="utf-8")
    after = scan([], ScanOptions(node_roots=(str(root),)))
    apiserver = [
        f for f in before.findings if f.location.file and f.location.file.endswith("kube-apiserver.yaml")
    ]
    moved = [f for f in after.findings if f.location.file and f.location.file.endswith("kube-apiserver.yaml")]
    assert [f.location.line for f in apiserver] != [f.location.line for f in moved]
    assert sorted((f.rule, f.fingerprint) for f in apiserver) == sorted(
        (f.rule, f.fingerprint) for f in moved
    )


_PUBLIC_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster: {server: "https://198.51.100.7:6443"}
"""


def test_kubeconfigs_are_told_apart_by_their_file(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "etc" / "kubernetes").mkdir(parents=True)
    (root / "etc" / "kubernetes" / "kubelet.conf").write_text(_PUBLIC_KUBECONFIG, encoding="utf-8")
    alone = scan([], ScanOptions(node_roots=(str(root),), rules=("exposure.apiserver-public",)))
    for name in ("admin.conf", "super-admin.conf"):
        (root / "etc" / "kubernetes" / name).write_text(_PUBLIC_KUBECONFIG, encoding="utf-8")
    three = scan([], ScanOptions(node_roots=(str(root),), rules=("exposure.apiserver-public",)))
    assert len(three.findings) == 3
    assert shared_fingerprints(three) == []
    kubelet = [f for f in three.findings if f.location.file and f.location.file.endswith("kubelet.conf")]
    assert [f.fingerprint for f in kubelet] == [f.fingerprint for f in alone.findings]


def test_node_roots_are_told_apart(tmp_path: Path) -> None:
    """Two control planes with the same problems are two sets of problems."""
    one, two = tmp_path / "cp-1", tmp_path / "cp-2"
    shutil.copytree(INSECURE_NODE, one)
    shutil.copytree(INSECURE_NODE, two)
    report = scan([], ScanOptions(node_roots=(str(one), str(two))))
    on_one = [f.rule for f in report.findings if (f.location.file or "").startswith(str(one))]
    on_two = [f.rule for f in report.findings if (f.location.file or "").startswith(str(two))]
    assert len(on_one) > 20
    cluster_wide = "encryption.pod-traffic"  # about the cluster's CNI plugin: once, on the first node
    assert sorted(r for r in on_one if r != cluster_wide) == sorted(on_two)
    assert shared_fingerprints(report) == []


_PRIVILEGED = PRIVILEGED_POD


def test_copies_of_one_object_are_told_apart_and_the_first_keeps_its_fingerprint(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(_PRIVILEGED, encoding="utf-8")
    second.write_text("# a copy, moved\n\n" + _PRIVILEGED + "---\n" + _PRIVILEGED, encoding="utf-8")
    alone = scan([str(first)], ScanOptions(rules=("pod.privileged",)))
    copies = scan([str(first), str(second)], ScanOptions(rules=("pod.privileged",)))
    assert len(copies.findings) == 3
    assert shared_fingerprints(copies) == []
    assert copies.findings[0].fingerprint == alone.findings[0].fingerprint


def test_subjects_of_one_name_are_told_apart() -> None:
    binding = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: defaults-can-edit}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: ServiceAccount, name: default, namespace: shop}
- {kind: ServiceAccount, name: default, namespace: payments}
"""
    from conftest import scan_text  # noqa: PLC0415

    report = scan_text(binding, ["rbac.default-sa-bound"])
    assert len(report.findings) == 2
    assert shared_fingerprints(report) == []


_DEFAULTED = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: baseline}
"""


def test_namespaces_a_pod_security_configuration_decides_keep_their_findings(tmp_path: Path) -> None:
    """The configuration's default leaves several namespaces at baseline: one finding per namespace, each
    the Namespace's (pointing at the default), so that its fingerprint does not depend on the others."""
    config = tmp_path / "admission.yaml"
    config.write_text(_DEFAULTED, encoding="utf-8")
    namespaces = {}
    for name in ("a", "b"):
        namespaces[name] = tmp_path / f"{name}.yaml"
        namespaces[name].write_text(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n", "utf-8")
    rules = ("admission.pod-security",)
    both = scan([str(config), *map(str, namespaces.values())], ScanOptions(rules=rules))
    assert sorted((f.object.kind, f.object.name, f.location.path) for f in both.findings) == [
        ("Namespace", "a", "/plugins/0/configuration/defaults"),
        ("Namespace", "b", "/plugins/0/configuration/defaults"),
    ]
    for name, path in namespaces.items():
        alone = scan([str(config), str(path)], ScanOptions(rules=rules))
        assert [f.fingerprint for f in alone.findings] == [
            f.fingerprint for f in both.findings if f.object.name == name
        ]
