"""The node source: kubeadm, k3s and RKE2 layouts read into objects with positions and provenance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import TESTS
from kharden.model import Obj
from kharden.sources.documents import Collected
from kharden.sources.node import read_node

NODES = TESTS / "data" / "nodes"


def read(root: Path | str) -> Collected:
    collected = Collected()
    read_node(str(root), collected)
    return collected


def by_kind(collected: Collected, kind: str) -> list[Obj]:
    return [o for o in collected.objects if o.ref.kind == kind]


def test_kubeadm_control_plane_objects() -> None:
    collected = read(NODES / "kubeadm-secure")
    assert collected.errors == []
    assert collected.evidence == {"N"}
    kinds = sorted(o.ref.kind for o in collected.objects)
    assert kinds == sorted(
        ["Pod"] * 4
        + ["EncryptionConfiguration", "Policy", "AdmissionConfiguration", "PodSecurityConfiguration"]
        + ["Config", "Config", "KubeletConfiguration", "CNIConfig", "NodeFiles"]
        + ["ComponentArgs"] * 3
    )
    pods = {o.ref.name: o for o in by_kind(collected, "Pod")}
    assert set(pods) == {"kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager"}
    apiserver = pods["kube-apiserver"]
    assert apiserver.origin.node == str(NODES / "kubeadm-secure")
    assert apiserver.origin.file == str(NODES / "kubeadm-secure/etc/kubernetes/manifests/kube-apiserver.yaml")
    # a field of a node file is located like any manifest field
    assert apiserver.locate("/spec/containers/0/command/3").line == 17


def test_files_the_flags_name_are_read_through_the_mounts() -> None:
    collected = read(NODES / "rke2")
    files = {o.ref.kind: o.origin.file for o in collected.objects if o.ref.kind != "Pod"}
    root = str(NODES / "rke2")
    # /etc/rancher/rke2/audit-policy.yaml is a File hostPath mounted at the same path
    assert files["Policy"] == f"{root}/etc/rancher/rke2/audit-policy.yaml"
    assert (
        files["EncryptionConfiguration"] == f"{root}/var/lib/rancher/rke2/server/cred/encryption-config.json"
    )
    assert files["AdmissionConfiguration"] == f"{root}/etc/rancher/rke2/rke2-pss.yaml"


def test_missing_files_are_recorded_for_the_rules() -> None:
    collected = read(NODES / "kubeadm-missing")
    (node_files,) = by_kind(collected, "NodeFiles")
    # the encryption config is mounted but absent; the audit policy comes from a configMap (not a node file);
    # the admission config is not mounted at all; the kubelet --config is absent.
    assert sorted(node_files.raw["missing"]) == [
        "/etc/kubernetes/enc/encryption.yaml",
        "/var/lib/kubelet/kubelet-config.yaml",
    ]


def test_kubelet_flags_follow_the_systemd_unit() -> None:
    collected = read(NODES / "kubeadm-insecure")
    pieces = sorted(by_kind(collected, "ComponentArgs"), key=lambda o: o.raw["position"])
    assert [(p.raw["source"], p.raw["args"]) for p in pieces] == [
        (
            "KUBELET_KUBECONFIG_ARGS",
            [
                "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                "--kubeconfig=/etc/kubernetes/kubelet.conf",
            ],
        ),
        ("KUBELET_CONFIG_ARGS", ["--config=/var/lib/kubelet/config.yaml"]),
        (
            "KUBELET_KUBEADM_ARGS",
            ["--container-runtime-endpoint=unix:///run/containerd/containerd.sock", "--anonymous-auth=true"],
        ),
    ]
    flags_file = pieces[2]
    location = flags_file.locate("/args/1")
    assert (location.file, location.line, location.column) == (
        str(NODES / "kubeadm-insecure/var/lib/kubelet/kubeadm-flags.env"),
        1,
        90,
    )


def test_execstart_reset_and_literal_words(tmp_path: Path) -> None:
    unit = tmp_path / "etc/systemd/system/kubelet.service.d"
    unit.mkdir(parents=True)
    (tmp_path / "etc/systemd/system/kubelet.service").write_text(
        "[Service]\nExecStart=/usr/bin/kubelet --old=1\n"
    )
    (unit / "20-x.conf").write_text(
        '[Service]\nEnvironment="ONE=--a=1 --b=2" TWO=--c=3\nExecStart=\nExecStart=/usr/bin/kubelet --x=y $ONE ${TWO}\n'
    )
    pieces = sorted(by_kind(read(tmp_path), "ComponentArgs"), key=lambda o: o.raw["position"])
    assert [p.raw["args"] for p in pieces] == [["--x=y"], ["--a=1", "--b=2"], ["--c=3"]]


def test_k3s_config_and_unit() -> None:
    collected = read(NODES / "k3s")
    configs = by_kind(collected, "DistributionConfig")
    assert [c.raw["file"] for c in configs] == [
        "/etc/rancher/k3s/config.yaml",
        "/etc/rancher/k3s/config.yaml.d/50-network.yaml",
    ]
    assert configs[0].locate("/config/kube-apiserver-arg/1").line == 11
    (unit,) = by_kind(collected, "ComponentArgs")
    assert unit.raw["args"] == ["server", "--kube-controller-manager-arg=bind-address=0.0.0.0"]
    # the files k3s' settings name are read: the audit policy and the encryption config k3s writes
    assert {o.ref.kind for o in collected.objects} >= {"Policy", "EncryptionConfiguration", "CNIConfig"}


def test_symlinks_resolve_inside_the_root(tmp_path: Path) -> None:
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv/etcd.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd}\n")
    os.symlink("/srv/etcd.yaml", manifests / "etcd.yaml")  # absolute: relative to the node's root
    (pod,) = by_kind(read(tmp_path), "Pod")
    assert pod.origin.file == str(tmp_path / "srv/etcd.yaml")


def test_broken_files_are_errors_and_the_rest_is_read(tmp_path: Path) -> None:
    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "bad.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    (manifests / "good.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: good}\n")
    cni = tmp_path / "etc/cni/net.d"
    cni.mkdir(parents=True)
    (cni / "10-x.conflist").write_text("{not json")
    collected = read(tmp_path)
    assert [o.ref.name for o in by_kind(collected, "Pod")] == ["good"]
    assert sorted(os.path.basename(e.file or "") for e in collected.errors) == ["10-x.conflist", "bad.yaml"]


def test_a_root_that_is_not_a_directory(tmp_path: Path) -> None:
    collected = read(tmp_path / "nope")
    assert [e.message for e in collected.errors] == ["node root is not a directory"]
    assert collected.evidence == set()


@pytest.mark.parametrize("tree", sorted(p.name for p in NODES.iterdir()))
def test_fixture_trees_read_without_errors(tree: str) -> None:
    assert read(NODES / tree).errors == []


def test_a_command_of_the_wrong_type_is_an_input_error(tmp_path: Path) -> None:
    from kharden.rules import select  # noqa: PLC0415
    from kharden.scan import evaluate  # noqa: PLC0415

    manifests = tmp_path / "etc/kubernetes/manifests"
    manifests.mkdir(parents=True)
    (manifests / "kube-apiserver.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n"
        "  containers:\n  - name: kube-apiserver\n    command: kube-apiserver --anonymous-auth=true\n"
    )
    report = evaluate(read(tmp_path), select(["exposure.apiserver-anonymous"]))
    assert [str(e) for e in report.errors] == [
        f"{manifests / 'kube-apiserver.yaml'}:7: Pod kube-system/kube-apiserver: command must be a list of strings"
        " (/spec/containers/0/command)"
    ]
