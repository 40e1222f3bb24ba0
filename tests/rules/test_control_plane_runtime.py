"""exposure.workload-on-control-plane in a cluster: pods actually running on control-plane nodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kharden import ScanOptions, scan


def _owner(kind: str, name: str, uid: str) -> list[dict[str, Any]]:
    return [{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True}]


def _pod(name: str, namespace: str, node: str, owners: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "ownerReferences": owners,
    }
    metadata.update(extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.example.com/c:1"}]},
        "status": {"phase": "Running"},
    }


def snapshot(tmp_path: Path) -> str:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1"}]},
    }
    items = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "cp-1",
                "uid": "n1",
                "labels": {"node-role.kubernetes.io/control-plane": ""},
            },
            "spec": {},
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "worker-1", "uid": "n2", "labels": {}},
            "spec": {},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "d1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-5d4f",
                "namespace": "shop",
                "uid": "rs1",
                "ownerReferences": _owner("Deployment", "web", "d1"),
            },
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
        },
        _pod("web-5d4f-a", "shop", "cp-1", _owner("ReplicaSet", "web-5d4f", "rs1")),
        _pod("web-5d4f-b", "shop", "worker-1", _owner("ReplicaSet", "web-5d4f", "rs1")),
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "kube-proxy", "namespace": "kube-system", "uid": "ds1"},
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": template},
        },
        _pod("kube-proxy-x", "kube-system", "cp-1", _owner("DaemonSet", "kube-proxy", "ds1")),
        _pod(
            "kube-apiserver-cp-1",
            "kube-system",
            "cp-1",
            [{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": "n1", "controller": True}],
            annotations={"kubernetes.io/config.mirror": "x"},
        ),
    ]
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return str(path)


def test_pods_running_on_control_plane_nodes(tmp_path: Path) -> None:
    report = scan([], ScanOptions(snapshot=snapshot(tmp_path), rules=("exposure.workload-on-control-plane",)))
    assert report.errors == []
    assert [(f.object.kind, f.object.name, f.location.path, f.message) for f in report.findings] == [
        (
            "Deployment",
            "web",
            "/spec/template/spec",
            "1 pod of this workload runs on control-plane node 'cp-1'",
        )
    ]


def test_a_tolerating_workload_running_there_is_one_finding(tmp_path: Path) -> None:
    data = json.loads(Path(snapshot(tmp_path)).read_text())
    web = next(i for i in data["items"] if i["kind"] == "Deployment")
    web["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
    ]
    path = tmp_path / "tolerating.json"
    path.write_text(json.dumps(data))
    report = scan([], ScanOptions(snapshot=str(path), rules=("exposure.workload-on-control-plane",)))
    assert [(f.object.name, f.location.path, f.message) for f in report.findings] == [
        (
            "web",
            "/spec/template/spec/tolerations/0",
            "the workload tolerates the control-plane taint (toleration key: node-role.kubernetes.io/control-plane,"
            " operator: Exists, effect: NoSchedule); 1 pod of this workload runs on control-plane node 'cp-1'",
        )
    ]
