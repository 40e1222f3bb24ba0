"""Where workloads run: the nodes an escaping container lands on, and the pods a node holds.

- On a cluster (or a snapshot with Nodes), by real placement: a running Pod's ``spec.nodeName``.
  A workload without running pods is placed on the nodes it can be scheduled on: its
  ``nodeSelector`` and required node affinity match the node's labels, it tolerates the node's
  NoSchedule and NoExecute taints, and the node is not cordoned (DaemonSets ignore that).
- On manifests, there are no nodes to read: a node stands for the nodes a pod can be scheduled on.
  Pods with the same ``nodeSelector`` share "a worker node" (labelled as they select); a worker
  node may hold any pod whose selector does not contradict its labels. Every cluster is assumed
  to have control-plane nodes (as kubeadm, k3s and RKE2 clusters do), tainted
  ``node-role.kubernetes.io/control-plane``: only pods that tolerate the taint, or select those
  nodes, run there.
https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..analysis.context import ScanContext
from ..analysis.podspec import EffectivePod, NodeRequirement
from ..analysis.runtime import Node
from ..analysis.scheduling import control_plane_placements
from ..rules import get as get_rule
from .model import UNCOUNTED, Evidence, locating

__all__ = ["ANY_NODE", "CONTROL_PLANE", "Placement", "Spot"]

ANY_NODE = "node:*"
CONTROL_PLANE = "node:control-plane"
_ON_CONTROL_PLANE = "exposure.workload-on-control-plane"


@dataclass(frozen=True, slots=True)
class Spot:
    """A node (or, on manifests, the nodes a group of pods can be scheduled on)."""

    id: str
    label: str
    control_plane: bool
    node: Node | None = None


@dataclass(frozen=True, slots=True)
class Landing:
    """A node a workload runs on (or may), and what puts it there."""

    spot: Spot
    evidence: tuple[Evidence, ...]
    """Facts beyond running there: a toleration of the control-plane taint, when that is what lets it."""
    how: Evidence
    """How it got there: the running Pod's nodeName, or that it can be scheduled there."""


class Placement:
    """The nodes of one scan and which workloads run on each."""

    def __init__(self, context: ScanContext, pods: Iterable[EffectivePod]) -> None:
        self.spots: dict[str, Spot] = {}
        self.groups: dict[str, tuple[str, tuple[str, ...]]] = {}
        """On manifests: group of workloads -> (what it is, the nodes that may run it)."""
        self._landings: dict[int, list[Landing]] = {}
        self._homes: dict[int, list[tuple[str, Landing]]] = {}
        self._pods = list(pods)
        runtime = context.runtime
        if runtime.nodes:
            self._on_cluster(context)
        else:
            self._on_manifests()

    def landings(self, pod: EffectivePod) -> list[Landing]:
        """Where ``pod``'s workload runs, or may run: where a container that gets out of it lands."""
        return self._landings.get(id(pod), [])

    def homes(self, pod: EffectivePod) -> list[tuple[str, Landing]]:
        """On manifests: the groups of workloads ``pod``'s workload is in (what a node holds of it)."""
        return self._homes.get(id(pod), [])

    # -- a cluster ---------------------------------------------------------------------------------

    def _on_cluster(self, context: ScanContext) -> None:
        runtime = context.runtime
        for name, node in sorted(runtime.nodes.items()):
            role = "control-plane node" if node.is_control_plane else "node"
            self.spots[name] = Spot(f"node:{name}", f"{role} {name}", node.is_control_plane, node)
        by_workload = {id(pod.obj): pod for pod in self._pods}
        running: dict[int, dict[str, Evidence]] = {}
        counting = not locating()  # then these facts, no finding, are all one: not worded per pod
        for found in runtime.pods:
            pod = by_workload.get(id(found.workload))
            if found.mirror or pod is None or found.node_name not in self.spots:
                continue
            nodes = running.setdefault(id(pod), {})
            if found.node_name not in nodes:
                nodes[found.node_name] = (
                    UNCOUNTED
                    if counting
                    else Evidence.at(
                        found.obj,
                        "/spec/nodeName",
                        f"Pod {found.obj.ref.name!r} runs on node {found.node_name}",
                    )
                )
        for pod in self._pods:
            placed = running.get(id(pod))
            if placed is not None:
                self._landings[id(pod)] = [
                    self._landing(pod, self.spots[name], how) for name, how in placed.items()
                ]
                continue
            landings = []
            for spot in self.spots.values():
                if spot.node is not None and _schedulable(pod, spot.node):
                    how = Evidence.at(pod.obj, pod.spec_path, f"can be scheduled on {spot.label}")
                    landings.append(self._landing(pod, spot, how))
            self._landings[id(pod)] = landings

    # -- manifests ---------------------------------------------------------------------------------

    def _on_manifests(self) -> None:
        """Nodes stand for the nodes a group of pods may run on; what a node holds goes through groups of
        workloads (those with one nodeSelector), so that steps grow with the workloads, not their product
        with the nodes."""
        control_plane = Spot(CONTROL_PLANE, "a control-plane node", True)
        self.spots[CONTROL_PLANE] = control_plane
        self.groups[_CONTROL_PLANE_GROUP] = (
            "the workloads that run on control-plane nodes",
            (CONTROL_PLANE,),
        )
        keys: dict[int, tuple[tuple[str, str], ...]] = {}
        for pod in self._pods:
            if not _pinned_to_control_plane(pod):
                keys[id(pod)] = _selector(pod)
        workers: dict[tuple[tuple[str, str], ...], str] = {}
        for key in sorted(set(keys.values())):
            written = ", ".join(f"{k}={v}" for k, v in key)
            spot = Spot(f"node:worker[{written}]", f"a worker node labelled {written}", False)
            spot = spot if key else Spot("node:worker", "a worker node", False)
            self.spots[spot.id] = spot
            workers[key] = spot.id
        for key in workers:
            written = ", ".join(f"{k}={v}" for k, v in key)
            label = (
                f"the workloads that select nodes labelled {written}"
                if key
                else "the workloads that run on any worker node"
            )
            spots = tuple(spot for other, spot in workers.items() if _compatible(other, key))
            self.groups[_group_id(key)] = (label, spots)
        for pod in self._pods:
            selector = keys.get(id(pod))
            landings, homes = [], []
            if selector is not None:
                spot = self.spots[workers[selector]]
                how = Evidence.at(pod.obj, pod.spec_path, f"can be scheduled on {spot.label}")
                landings.append(Landing(spot, (), how))
                homes.append((_group_id(selector), Landing(spot, (), how)))
            if selector is None or control_plane_placements(pod):
                how = Evidence.at(pod.obj, pod.spec_path, f"can be scheduled on {control_plane.label}")
                landing = self._landing(pod, control_plane, how)
                landings.append(landing)
                homes.append((_CONTROL_PLANE_GROUP, landing))
            self._landings[id(pod)] = landings
            self._homes[id(pod)] = homes

    def _landing(self, pod: EffectivePod, spot: Spot, how: Evidence) -> Landing:
        """A landing on ``spot``, with the toleration (or selector) that lets ``pod`` onto a control-plane
        node as a fact to fix (outside kube-system, where the cluster's own components belong)."""
        if not spot.control_plane:
            return Landing(spot, (), how)
        placements = control_plane_placements(pod)
        if not placements:
            return Landing(spot, (), how)
        first = placements[0]
        system = pod.obj.ref.namespace == "kube-system"
        what = (
            "tolerates the control-plane taint"
            if first.how == "toleration"
            else "selects control-plane nodes"
        )
        evidence = Evidence.at(
            pod.obj,
            first.path,
            f"the workload {what}",
            rule=None if system else _ON_CONTROL_PLANE,
            fix=None if system else get_rule(_ON_CONTROL_PLANE).remediation,
        )
        return Landing(spot, (evidence,), how)


_CONTROL_PLANE_GROUP = "workloads:control-plane"


def _group_id(key: tuple[tuple[str, str], ...]) -> str:
    return f"workloads:worker[{', '.join(f'{k}={v}' for k, v in key)}]" if key else "workloads:worker"


def _selector(pod: EffectivePod) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, f.value or "") for k, f in pod.node_selector.items()))


def _pinned_to_control_plane(pod: EffectivePod) -> bool:
    return any(p.how in {"nodeSelector", "required"} for p in control_plane_placements(pod))


def _compatible(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> bool:
    """Whether some node can carry both label sets: no key with two values."""
    values = dict(a)
    return all(values.get(k, v) == v for k, v in b)


def _schedulable(pod: EffectivePod, node: Node) -> bool:
    """Whether the scheduler may place ``pod`` on ``node``: its labels and taints (not its resources)."""
    daemon = pod.obj.ref.kind == "DaemonSet"
    if node.unschedulable and not daemon:
        return False
    labels = node.obj.labels
    if any(labels.get(key) != field.value for key, field in pod.node_selector.items()):
        return False
    terms: dict[str, list[NodeRequirement]] = {}
    for requirement in pod.node_affinity:
        if requirement.required:
            terms.setdefault(requirement.path.rsplit("/matchExpressions/", 1)[0], []).append(requirement)
    if terms and not any(all(_matches(r, labels) for r in term) for term in terms.values()):
        return False
    for taint in node.repels():
        if not any(t.tolerates(taint.key, taint.value or "", taint.effect) for t in pod.tolerations):
            return False
    return True


def _matches(requirement: NodeRequirement, labels: Mapping[str, str]) -> bool:
    value = labels.get(requirement.key)
    operator = requirement.operator
    if operator == "In":
        return value in requirement.values
    if operator == "NotIn":
        return value not in requirement.values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in {"Gt", "Lt"} and value is not None and requirement.values:
        try:
            number, bound = int(value), int(requirement.values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False
