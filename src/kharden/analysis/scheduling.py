"""Whether a workload can land on control-plane nodes, and what in its pod spec lets it.

kubeadm labels control-plane nodes ``node-role.kubernetes.io/control-plane`` (also ``.../master``
before 1.24) with an empty value and taints them ``node-role.kubernetes.io/control-plane:NoSchedule``
(``.../master`` before 1.25); other distributions (RKE2, k3s) use the value ``"true"``. A pod goes
there only when it tolerates the taint; a nodeSelector or required node affinity on the label pins
it there, a preferred one draws it there.
https://kubernetes.io/docs/reference/labels-annotations-taints/#node-role-kubernetes-io-control-plane
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
"""

from __future__ import annotations

from dataclasses import dataclass

from .podspec import EffectivePod, Toleration

__all__ = ["CONTROL_PLANE_LABELS", "Placement", "control_plane_placements"]

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
"""Node labels (and taint keys) that mark a control-plane node."""
_TAINT_VALUES = ("", "true")
_TAINT_EFFECT = "NoSchedule"


@dataclass(frozen=True, slots=True)
class Placement:
    """What in a pod spec lets it run on control-plane nodes.

    ``how`` is ``toleration``, ``nodeSelector``, ``required`` or ``preferred`` (node affinity);
    ``key`` the label or taint key concerned (``""`` for a toleration of every key).
    """

    how: str
    path: str
    key: str
    toleration: Toleration | None = None
    written: str = ""
    """The selector term as written: ``'node-role.kubernetes.io/master': ''`` or ``... In (true)``."""


def control_plane_placements(pod: EffectivePod) -> list[Placement]:
    """Every toleration of a control-plane taint, and every nodeSelector or node affinity term for one."""
    found = []
    for toleration in pod.tolerations:
        if any(
            toleration.tolerates(key, value, _TAINT_EFFECT)
            for key in CONTROL_PLANE_LABELS
            for value in _TAINT_VALUES
        ):
            found.append(Placement("toleration", toleration.path, toleration.key, toleration))
    for key, selected in pod.node_selector.items():
        if key in CONTROL_PLANE_LABELS:
            found.append(Placement("nodeSelector", selected.path, key, written=f"{key}: {selected.value!r}"))
    for requirement in pod.node_affinity:
        if requirement.key in CONTROL_PLANE_LABELS and requirement.operator in {"In", "Exists"}:
            values = f" ({', '.join(requirement.values)})" if requirement.values else ""
            found.append(
                Placement(
                    "required" if requirement.required else "preferred",
                    requirement.path,
                    requirement.key,
                    written=f"{requirement.key} {requirement.operator}{values}",
                )
            )
    return found
