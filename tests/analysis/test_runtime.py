"""Runtime facts: nodes, where pods run, owner chains, mirror pods. Small inventories, one semantic each."""

from __future__ import annotations

from typing import Any

import pytest

from kharden.analysis.context import ScanContext
from kharden.analysis.runtime import Runtime, component, node_facts, owner_chain
from kharden.inventory import Inventory
from kharden.model import Obj, Origin
from kharden.sources.documents import object_ref


def _obj(raw: dict[str, Any]) -> Obj:
    return Obj(raw=raw, ref=object_ref(raw), origin=Origin("cluster test"))


def _inventory(*raws: dict[str, Any]) -> Inventory:
    return Inventory(_obj(r) for r in raws)


def _owned(
    kind: str, name: str, namespace: str, owner_kind: str, owner: str, uid: str | None = None
) -> dict[str, Any]:
    api = {"Pod": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    reference: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": owner_kind,
        "name": owner,
        "controller": True,
    }
    if uid is not None:
        reference["uid"] = uid
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [reference]},
    }


def _top(kind: str, name: str, namespace: str, uid: str = "") -> dict[str, Any]:
    api = "batch/v1" if kind in {"Job", "CronJob"} else "apps/v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": uid}}


def _node(
    name: str, labels: dict[str, str], taints: list[dict[str, str]] | None = None, **status: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints or []},
        "status": status,
    }


def test_owner_chain_deployment() -> None:
    """Pod -> ReplicaSet -> Deployment (owners-dependents: controller ownerReferences)."""
    inventory = _inventory(
        _top("Deployment", "web", "shop"),
        _owned("ReplicaSet", "web-5d8", "shop", "Deployment", "web"),
        _owned("Pod", "web-5d8-x", "shop", "ReplicaSet", "web-5d8"),
    )
    pod = inventory.get("Pod", "shop", "web-5d8-x")
    assert pod is not None
    assert [o.ref.name for o in owner_chain(inventory, pod)] == ["web-5d8", "web"]


def test_owner_chain_cronjob() -> None:
    inventory = _inventory(
        _top("CronJob", "report", "shop"),
        _owned("Job", "report-1", "shop", "CronJob", "report"),
        _owned("Pod", "report-1-x", "shop", "Job", "report-1"),
    )
    runtime = Runtime(inventory)
    assert [(p.obj.ref.name, p.workload.ref.kind) for p in runtime.pods] == [("report-1-x", "CronJob")]


def test_owner_in_another_namespace_is_not_the_owner() -> None:
    """Namespaced owners must be in the dependent's namespace."""
    inventory = _inventory(
        _top("ReplicaSet", "web", "other"), _owned("Pod", "web-x", "shop", "ReplicaSet", "web")
    )
    assert Runtime(inventory).pods[0].owners == ()


def test_owner_of_another_uid_is_not_the_owner() -> None:
    """A ReplicaSet deleted and recreated under the same name does not own the old pods."""
    inventory = _inventory(
        _top("ReplicaSet", "web", "shop", uid="new"),
        _owned("Pod", "web-x", "shop", "ReplicaSet", "web", uid="old"),
    )
    pod = Runtime(inventory).pods[0]
    assert (pod.owners, pod.workload.ref.name) == ((), "web-x")


def test_owner_cycle_ends() -> None:
    inventory = _inventory(
        _owned("ReplicaSet", "a", "shop", "ReplicaSet", "b"),
        _owned("ReplicaSet", "b", "shop", "ReplicaSet", "a"),
    )
    a = inventory.get("ReplicaSet", "shop", "a")
    assert a is not None
    assert [o.ref.name for o in owner_chain(inventory, a)] == ["b"]


def test_pods_sharing_a_controller_reference_get_each_their_own_answer() -> None:
    """Runtime remembers the object each controller reference names: pods of one ReplicaSet, pods
    naming another uid, the same name in another namespace and a pod without a reference still get
    what owner_chain works out for each alone."""
    raws = [
        _top("Deployment", "web", "shop", uid="d1"),
        {**_owned("ReplicaSet", "web-5d8", "shop", "Deployment", "web", uid="d1")},
        _top("ReplicaSet", "web-5d8", "other", uid="r2"),
    ]
    raws[1]["metadata"]["uid"] = "r1"
    for index in range(6):
        raws.append(_owned("Pod", f"web-{index}", "shop", "ReplicaSet", "web-5d8", uid="r1"))
    raws.append(_owned("Pod", "stale", "shop", "ReplicaSet", "web-5d8", uid="r0"))
    raws.append(_owned("Pod", "untold", "shop", "ReplicaSet", "web-5d8"))
    raws.append(_owned("Pod", "elsewhere", "other", "ReplicaSet", "web-5d8", uid="r1"))
    raws.append(_owned("Pod", "there", "other", "ReplicaSet", "web-5d8", uid="r2"))
    raws.append(_top("Pod", "bare", "shop"))
    inventory = _inventory(*raws)
    runtime = Runtime(inventory)
    assert [(p.obj.ref.name, [o.ref.name for o in p.owners]) for p in runtime.pods] == [
        (p.obj.ref.name, [o.ref.name for o in owner_chain(inventory, p.obj)]) for p in runtime.pods
    ]
    by_name = {p.obj.ref.name: p for p in runtime.pods}
    assert [o.ref.name for o in by_name["web-3"].owners] == ["web-5d8", "web"]
    assert by_name["stale"].owners == ()
    assert by_name["elsewhere"].owners == ()
    assert [(o.ref.namespace, o.ref.name) for o in by_name["there"].owners] == [("other", "web-5d8")]
    assert [o.ref.name for o in by_name["untold"].owners] == ["web-5d8", "web"]


def test_pods_sharing_one_list_of_owners_get_each_their_own_answer() -> None:
    """A snapshot's pods of one controller share one ownerReferences list: Runtime works their owners out once
    for the list, and still answers each pod as owner_chain does alone: a pod that owns itself, pods that
    own their ReplicaSet (a cycle through one of them), the same list in another namespace."""
    import random  # noqa: PLC0415

    rng = random.Random(18)  # noqa: S311 - test data
    for _ in range(40):
        lists = {
            name: [{"apiVersion": "v1", "kind": kind, "name": name, "controller": True}]
            for kind, name in [("ReplicaSet", "rs"), ("Pod", "p0"), ("Pod", "p1"), ("ReplicaSet", "gone")]
        }
        raws = [_top("Deployment", "web", "shop")]
        for name in ("rs", "other"):
            raws.append(
                _owned(
                    "ReplicaSet",
                    name,
                    "shop",
                    rng.choice(["Deployment", "Pod"]),
                    rng.choice(["web", "p0", "p1"]),
                )
            )
        for index in range(8):
            namespace = rng.choice(["shop", "shop", "ops"])
            pod = _top("Pod", f"p{index}", namespace)
            pod["apiVersion"] = "v1"
            pod["metadata"]["ownerReferences"] = lists[rng.choice(list(lists))]  # the one list, shared
            raws.append(pod)
        rng.shuffle(raws)
        inventory = _inventory(*raws)
        runtime = Runtime(inventory)
        assert [(p.obj.ref, [o.ref for o in p.owners]) for p in runtime.pods] == [
            (p.obj.ref, [o.ref for o in owner_chain(inventory, p.obj)]) for p in runtime.pods
        ]


def test_pods_of_a_workload() -> None:
    inventory = _inventory(
        _top("DaemonSet", "agent", "ops"),
        *[_owned("Pod", f"agent-{n}", "ops", "DaemonSet", "agent") for n in "abc"],
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "ops"}},
    )
    runtime = Runtime(inventory)
    agent = inventory.get("DaemonSet", "ops", "agent")
    bare = inventory.get("Pod", "ops", "bare")
    assert agent is not None
    assert bare is not None
    assert [p.obj.ref.name for p in runtime.pods_of(agent)] == ["agent-a", "agent-b", "agent-c"]
    assert [p.obj.ref.name for p in runtime.pods_of(bare)] == ["bare"]


@pytest.mark.parametrize(
    ("labels", "roles", "control_plane"),
    [
        pytest.param({"node-role.kubernetes.io/control-plane": ""}, {"control-plane"}, True, id="kubeadm"),
        pytest.param(
            {"node-role.kubernetes.io/master": "true", "node-role.kubernetes.io/etcd": "true"},
            {"master", "etcd"},
            True,
            id="rke",
        ),
        pytest.param({"kubernetes.io/role": "master"}, {"master"}, True, id="kops-legacy"),
        pytest.param({"node-role.kubernetes.io/worker": ""}, {"worker"}, False, id="worker"),
        pytest.param({}, set(), False, id="no-role"),
    ],
)
def test_node_roles(labels: dict[str, str], roles: set[str], control_plane: bool) -> None:
    node = node_facts(_obj(_node("n", labels)))
    assert (set(node.roles), node.is_control_plane) == (roles, control_plane)


def test_node_taints_and_addresses() -> None:
    node = node_facts(
        _obj(
            _node(
                "n",
                {},
                [
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                    {"key": "gpu", "value": "a100", "effect": "PreferNoSchedule"},
                ],
                addresses=[
                    {"type": "InternalIP", "address": "10.0.0.4"},
                    {"type": "ExternalIP", "address": "34.1.2.3"},
                ],
            )
        )
    )
    assert [(t.key, t.value, t.effect, t.path, t.condition) for t in node.taints] == [
        ("node-role.kubernetes.io/control-plane", None, "NoSchedule", "/spec/taints/0", False),
        ("node.kubernetes.io/unschedulable", None, "NoSchedule", "/spec/taints/1", True),
        ("gpu", "a100", "PreferNoSchedule", "/spec/taints/2", False),
    ]
    assert [t.key for t in node.repels()] == ["node-role.kubernetes.io/control-plane"]
    assert [(a.address, a.path) for a in node.external_ips] == [("34.1.2.3", "/status/addresses/1/address")]


def test_pods_on_control_plane_and_unscheduled() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"nodeName": "cp-1"},
        "status": {"phase": "Running"},
    }
    pending = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "q", "namespace": "shop"},
        "spec": {},
        "status": {"phase": "Pending"},
    }
    elsewhere = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "r", "namespace": "shop"},
        "spec": {"nodeName": "gone"},
    }
    runtime = Runtime(
        _inventory(_node("cp-1", {"node-role.kubernetes.io/control-plane": ""}), pod, pending, elsewhere)
    )
    assert [(p.obj.ref.name, p.node_name, p.phase) for p in runtime.pods_on_control_plane()] == [
        ("p", "cp-1", "Running")
    ]
    by_name = {p.obj.ref.name: p for p in runtime.pods}
    assert (by_name["q"].node_name, by_name["q"].node) == (None, None)
    assert (by_name["r"].node_name, by_name["r"].node) == ("gone", None)  # its Node was not read
    assert [n.name for n in runtime.control_plane_nodes()] == ["cp-1"]


def test_mirror_pods_by_component() -> None:
    def static(name: str, labels: dict[str, str], command: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": "kube-system",
                "labels": labels,
                "annotations": {"kubernetes.io/config.mirror": "abc"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "controller": True}],
            },
            "spec": {"nodeName": "cp-1", "containers": [{"name": "main", "command": command}]},
        }

    runtime = Runtime(
        _inventory(
            _node("cp-1", {"node-role.kubernetes.io/control-plane": ""}),
            static(
                "kube-apiserver-cp-1",
                {"component": "kube-apiserver"},
                ["kube-apiserver", "--secure-port=6443"],
            ),
            static("etcd-cp-1", {}, ["/usr/local/bin/etcd", "--data-dir=/var/lib/etcd"]),
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "kube-apiserver-fake", "namespace": "kube-system"},
                "spec": {},
            },
        )
    )
    assert [p.obj.ref.name for p in runtime.mirror_pods()] == ["kube-apiserver-cp-1", "etcd-cp-1"]
    assert [p.obj.ref.name for p in runtime.mirror_pods("etcd")] == ["etcd-cp-1"]
    apiserver = runtime.mirror_pods("kube-apiserver")[0]
    assert (apiserver.owners, apiserver.on_control_plane) == ((), True)  # the Node owns it but is no workload
    assert component(apiserver.obj) == "kube-apiserver"


def test_scan_context_builds_it_once() -> None:
    context = ScanContext(_inventory(_node("n", {})), frozenset({"C"}))
    assert context.runtime is context.runtime
    assert list(context.runtime.nodes) == ["n"]
    assert ScanContext(Inventory([]), frozenset({"M"})).runtime.pods == []
