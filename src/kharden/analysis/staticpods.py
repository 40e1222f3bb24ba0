"""Static pods: pods a kubelet runs from files on its node. One recognition for every source.

A Pod is a static pod when it is

- read from a node root: the files of the kubelet's ``staticPodPath`` (kubeadm's
  ``/etc/kubernetes/manifests``, the ``pod-manifests`` of RKE2 and k3s);
- a **mirror pod**, the API server's copy of a static pod that a cluster or a snapshot shows: the
  kubelet annotates it ``kubernetes.io/config.mirror`` and makes its Node its owner;
- a **control-plane static pod in a plain manifest file** (a copy of ``/etc/kubernetes/manifests`` kept
  in a repository): a Pod of kube-system, owned by nothing, whose container runs kube-apiserver, etcd,
  kube-scheduler or kube-controller-manager, as kubeadm and RKE2 write them.

What that means for the rules (https://kubernetes.io/docs/tasks/configure-pod-container/static-pod/):

- "The spec of a static Pod cannot refer to other API objects (e.g., ServiceAccount, ConfigMap,
  Secret)", and no token is mounted into it: the ServiceAccount rules (``sa.default``,
  ``sa.automount``, ``sa.shared``) leave it out;
- it belongs to its node, not to the cluster's workloads (the control plane's run on the host network,
  which NetworkPolicies never select): the workload network rules (``netpol.ingress-open``,
  ``netpol.egress-open``, ``netpol.internet-egress``, ``netpol.selects-nothing``,
  ``exposure.metadata-api``, ``exposure.nodeport``) leave it out;
- the control-plane rules judge its flags; the pod rules judge its spec when it is manifest evidence (a
  file of a repository, a mirror pod of a cluster), never node files (their evidence is manifests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _flags
from ..model import Obj

__all__ = ["MIRROR_ANNOTATION", "control_plane_program", "is_static_pod"]

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_CONTROL_PLANE = frozenset({"kube-apiserver", "etcd", "kube-scheduler", "kube-controller-manager"})


def is_static_pod(obj: Obj) -> bool:
    """Whether ``obj`` is a static pod: from a node root, a mirror pod, or a control-plane static pod
    recognised in a manifest file."""
    if obj.ref.kind != "Pod" or obj.ref.api_version != "v1":
        return False
    if obj.origin.node is not None or MIRROR_ANNOTATION in obj.annotations:
        return True
    return (
        obj.ref.namespace == "kube-system"
        and not obj.metadata.get("ownerReferences")
        and control_plane_program(obj.raw.get("spec")) is not None
    )


def control_plane_program(spec: Any) -> str | None:
    """The control-plane component a pod spec's container runs (``kube-apiserver``, ``etcd``, ...)."""
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    for container in containers if isinstance(containers, list) else []:
        if not isinstance(container, Mapping):
            continue
        found = _flags.component_args(_words(container.get("command")), _words(container.get("args")))
        if found is not None and found[0] in _CONTROL_PLANE:
            return found[0]
    return None


def _words(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
