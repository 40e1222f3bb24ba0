"""Runtime facts of a cluster scan: the nodes, where each Pod runs, and whom it belongs to.

Objects that only exist at run time (Nodes, running Pods, mirror pods of static pods) come
from ``--cluster`` or ``--snapshot``; in a manifests scan these facts are simply empty.
A rule reads them through ``ScanContext.runtime`` (built once per scan)::

    runtime = context.runtime
    for pod in runtime.pods_on_control_plane():      # RunningPod
        pod.workload, pod.node.name, pod.owners
    runtime.node("cp-1").taints                       # Taint(key, value, effect, path)
    runtime.pods_of(deployment)                       # the running pods of one workload
    runtime.mirror_pods("kube-apiserver")             # static control-plane pods, flags and all

Semantics:

- A node's roles are the ``<role>`` of its ``node-role.kubernetes.io/<role>`` labels (and the
  older ``kubernetes.io/role``); it is a control-plane node when a role is ``control-plane``
  or ``master`` (kubeadm, k3s, RKE2, kops).
  https://kubernetes.io/docs/reference/labels-annotations-taints/#node-role-kubernetes-io-control-plane
- A Pod's owners follow ``ownerReferences`` with ``controller: true`` (matching the owner's
  uid when both say one): Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob,
  Pod -> StatefulSet/DaemonSet. Its *workload* is the last owner in the scan (or the Pod).
  https://kubernetes.io/docs/concepts/overview/working-with-objects/owners-dependents/
- A mirror pod is the API server's copy of a static pod that the kubelet runs from a file
  (annotation ``kubernetes.io/config.mirror``); its owner is the Node. Its spec is whole:
  kube-apiserver and etcd flags are in ``spec.containers[*].command``.
  https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/
- A Pod whose controller is in the scan is a runtime record (see ``sources/_trim.py``):
  metadata, nodeName and the rest of the spec but containers (name, image, ports only),
  initContainers (the same) and volumes, and the status' phase, IPs and container images.
  Rules read such a Pod's containers through its workload's template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import _pointer
from ..inventory import Inventory
from ..model import Obj, slot_init
from .staticpods import MIRROR_ANNOTATION

__all__ = [
    "CONTROL_PLANE_ROLES",
    "MIRROR_ANNOTATION",
    "Address",
    "Node",
    "RunningPod",
    "Runtime",
    "Taint",
    "component",
    "node_facts",
    "owner_chain",
]

CONTROL_PLANE_ROLES = frozenset({"control-plane", "master"})
ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
LEGACY_ROLE_LABEL = "kubernetes.io/role"
CONTROL_PLANE_COMPONENTS = frozenset(
    {"kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager", "cloud-controller-manager"}
)


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str | None
    effect: str
    path: str
    """Pointer of the taint in its Node (``/spec/taints/0``)."""

    @property
    def condition(self) -> bool:
        """Set by the node lifecycle controller for a passing condition (not-ready, disk-pressure...)."""
        return self.key.startswith(("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/"))


@dataclass(frozen=True, slots=True)
class Address:
    type: str
    """``InternalIP``, ``ExternalIP``, ``Hostname``, ``InternalDNS``, ``ExternalDNS``."""
    address: str
    path: str
    """Pointer of the address in its Node (``/status/addresses/1/address``)."""


@dataclass(frozen=True, slots=True)
class Node:
    obj: Obj
    name: str
    roles: frozenset[str]
    taints: tuple[Taint, ...]
    addresses: tuple[Address, ...]
    unschedulable: bool
    """``spec.unschedulable`` (cordoned)."""

    @property
    def is_control_plane(self) -> bool:
        return bool(self.roles & CONTROL_PLANE_ROLES)

    @property
    def external_ips(self) -> tuple[Address, ...]:
        return tuple(a for a in self.addresses if a.type == "ExternalIP")

    def repels(self) -> tuple[Taint, ...]:
        """Taints that keep pods without a toleration away: NoSchedule, NoExecute (condition taints aside)."""
        return tuple(t for t in self.taints if t.effect in {"NoSchedule", "NoExecute"} and not t.condition)


@slot_init
@dataclass(frozen=True, slots=True)
class RunningPod:
    obj: Obj
    """The Pod (a runtime record when its controller is in the scan)."""
    node_name: str | None
    """``spec.nodeName``; ``None`` while the pod is not scheduled."""
    node: Node | None
    """The Node it runs on, when that Node was read."""
    owners: tuple[Obj, ...]
    """Its controllers in the scan, nearest first: ``(ReplicaSet, Deployment)``."""
    mirror: bool
    """A mirror pod of a static pod (its spec is whole)."""
    phase: str | None

    @property
    def workload(self) -> Obj:
        """What the pod is reported as: its last owner in the scan, or the pod itself."""
        return self.owners[-1] if self.owners else self.obj

    @property
    def on_control_plane(self) -> bool:
        return self.node is not None and self.node.is_control_plane


def node_facts(obj: Obj) -> Node:
    """The roles, taints and addresses of one Node (fields of the wrong type are ignored)."""
    raw = obj.raw
    spec = _mapping(raw.get("spec"))
    status = _mapping(raw.get("status"))
    roles = {k.removeprefix(ROLE_LABEL_PREFIX) for k in obj.labels if k.startswith(ROLE_LABEL_PREFIX)}
    legacy = obj.labels.get(LEGACY_ROLE_LABEL)
    if legacy:
        roles.add(legacy)
    taints = []
    for index, taint in enumerate(_list(spec.get("taints"))):
        key, effect = taint.get("key"), taint.get("effect")
        if isinstance(key, str) and isinstance(effect, str):
            value = taint.get("value")
            taints.append(
                Taint(
                    key,
                    value if isinstance(value, str) else None,
                    effect,
                    _pointer.join("/spec/taints", index),
                )
            )
    addresses = []
    for index, address in enumerate(_list(status.get("addresses"))):
        kind, text = address.get("type"), address.get("address")
        if isinstance(kind, str) and isinstance(text, str):
            addresses.append(Address(kind, text, _pointer.join("/status/addresses", index, "address")))
    return Node(
        obj=obj,
        name=obj.ref.name,
        roles=frozenset(r for r in roles if r),
        taints=tuple(taints),
        addresses=tuple(addresses),
        unschedulable=spec.get("unschedulable") is True,
    )


def owner_chain(
    inventory: Inventory,
    obj: Obj,
    chains: dict[int, tuple[Obj, ...]] | None = None,
    controllers: dict[tuple[Any, ...], Obj | None] | None = None,
) -> tuple[Obj, ...]:
    """The controllers of ``obj`` in the inventory, nearest first (cycles and unknown owners end it).

    ``chains`` keeps the chain of each controller met, for the next object it controls (the Pods of a
    ReplicaSet share the rest of their chain); ``controllers`` keeps the object each controller reference
    (namespace, kind, name, uid) names, which thousands of Pods of one ReplicaSet share.
    """
    if chains is not None:
        owner = _controller(inventory, obj, controllers)
        if owner is None or owner is obj:
            return ()
        rest = chains.get(id(owner))
        if rest is None:
            rest = chains[id(owner)] = owner_chain(inventory, owner)
        if obj not in rest:
            return (owner, *rest)
    chain: list[Obj] = []
    current = obj
    while True:
        owner = _controller(inventory, current)
        if owner is None or owner is obj or owner in chain:
            return tuple(chain)
        chain.append(owner)
        current = owner


def _controller(
    inventory: Inventory, obj: Obj, memo: dict[tuple[Any, ...], Obj | None] | None = None
) -> Obj | None:
    for owner in _list(obj.metadata.get("ownerReferences")):
        if owner.get("controller") is not True:
            continue
        kind, name, uid = owner.get("kind"), owner.get("name"), owner.get("uid")
        if not isinstance(kind, str) or not isinstance(name, str):
            return None
        if memo is None:
            return _named_controller(inventory, obj.ref.namespace, kind, name, uid)
        key = (obj.ref.namespace, kind, name, uid if isinstance(uid, str) else None)
        if key not in memo:
            memo[key] = _named_controller(inventory, obj.ref.namespace, kind, name, uid)
        return memo[key]
    return None


def _named_controller(
    inventory: Inventory, namespace: str | None, kind: str, name: str, uid: Any
) -> Obj | None:
    # An owner is in the dependent's namespace, or cluster-scoped (a mirror pod's Node).
    found = inventory.get(kind, namespace, name) or inventory.get(kind, None, name)
    if found is None or kind == "Node":
        return None
    found_uid = found.metadata.get("uid")
    if isinstance(uid, str) and isinstance(found_uid, str) and uid != found_uid:
        return None  # an owner of the same name, recreated: not this object's
    return found


def component(pod: Obj) -> str | None:
    """The control-plane component a (static) pod runs: its ``component`` label as kubeadm and RKE2
    set it, else the program its first container runs."""
    label = pod.labels.get("component")
    if label:
        return label
    containers = _list(_mapping(pod.raw.get("spec")).get("containers"))
    if not containers:
        return None
    command = containers[0].get("command")
    if isinstance(command, list) and command and isinstance(command[0], str):
        program = command[0].rsplit("/", 1)[-1]
        if program in CONTROL_PLANE_COMPONENTS:
            return program
    name = containers[0].get("name")
    return name if isinstance(name, str) else None


class Runtime:
    """Nodes and running Pods of one scan, indexed once."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.nodes: dict[str, Node] = {obj.ref.name: node_facts(obj) for obj in inventory.of_kind("Node")}
        self.pods: list[RunningPod] = []
        self._by_workload: dict[int, list[RunningPod]] = {}
        chains: dict[int, tuple[Obj, ...]] = {}
        controllers: dict[tuple[Any, ...], Obj | None] = {}
        # The owners of the pods whose ownerReferences are one list (a snapshot's pods of one controller share
        # it), by namespace and that list: looked up once for them all. The list is alive as long as its pods.
        owned: dict[tuple[str | None, int], tuple[Obj, ...]] = {}
        nodes, pods, by_workload = self.nodes, self.pods, self._by_workload
        empty: Mapping[str, Any] = {}
        for obj in inventory.of_kind("Pod"):  # _mapping written out: 200,000 pods make 800,000 calls
            raw = obj.raw
            spec = raw.get("spec")
            status = raw.get("status")
            metadata = raw.get("metadata")
            if not isinstance(spec, dict):
                spec = empty
            if not isinstance(status, dict):
                status = empty
            if not isinstance(metadata, dict):
                metadata = empty
            node_name = spec.get("nodeName")
            node_name = node_name if isinstance(node_name, str) and node_name else None
            phase = status.get("phase")
            annotations = metadata.get("annotations")
            if not isinstance(annotations, dict):
                annotations = empty
            references = metadata.get("ownerReferences")
            key = (obj.ref.namespace, id(references))
            owners = owned.get(key) if references is not None else None
            if owners is None or obj in owners:  # an object is not its own owner: a cycle ends the chain
                owners = owner_chain(inventory, obj, chains, controllers)
                # Kept when it is the owner and the owner's chain: that is the chain of each other pod of
                # the list that is in neither (one found the long way stops at its pod, not at another).
                if owners and references is not None and chains.get(id(owners[0])) == owners[1:]:
                    owned[key] = owners
            pod = RunningPod(  # obj, node_name, node, owners, mirror, phase
                obj,
                node_name,
                nodes.get(node_name) if node_name else None,
                owners,
                isinstance(annotations.get(MIRROR_ANNOTATION), str),
                phase if isinstance(phase, str) else None,
            )
            pods.append(pod)
            workload = owners[-1] if owners else obj
            found = by_workload.get(id(workload))
            if found is None:
                by_workload[id(workload)] = [pod]
            else:
                found.append(pod)

    def node(self, name: str) -> Node | None:
        return self.nodes.get(name)

    def control_plane_nodes(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_control_plane]

    def pods_of(self, workload: Obj) -> list[RunningPod]:
        """The Pods whose workload (last owner in the scan) is ``workload`` (a bare Pod: itself)."""
        return list(self._by_workload.get(id(workload), ()))

    def pods_on_control_plane(self) -> list[RunningPod]:
        return [p for p in self.pods if p.on_control_plane]

    def mirror_pods(self, name: str | None = None) -> list[RunningPod]:
        """Mirror pods of static pods; only those running ``name`` (``kube-apiserver``, ``etcd``) if given."""
        return [p for p in self.pods if p.mirror and (name is None or component(p.obj) == name)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
