"""What a cluster source keeps of the objects it reads.

Every object read from a cluster or a snapshot loses what no rule reads and what must never
be kept:

- ``metadata.managedFields`` (server-side apply bookkeeping, often a third of an object);
- the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (a copy of the object
  as applied: for a Secret, its data);
- a Secret's ``data`` and ``stringData`` (kharden reads Secrets as metadata only; this is the
  second line of defence should a server or a snapshot hold them anyway).

A running Pod whose controller (ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController)
is in the same scan is evaluated through that controller's pod template, once per owner: it is
kept as a *runtime record*, with what the runtime facts need (see :func:`runtime_pod`), so that
50,000 pods fit in memory. Bare pods, mirror (static) pods and pods whose controller was not
read are kept whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

__all__ = [
    "CONTROLLER_KINDS",
    "LAST_APPLIED",
    "Keeper",
    "controller_key",
    "object_key",
    "runtime_pod",
    "trim",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

CONTROLLER_KINDS = frozenset({"ReplicaSet", "StatefulSet", "DaemonSet", "Job", "ReplicationController"})
"""Kinds that create Pods from a pod template."""

# What a runtime record keeps of a container, of the pod spec (besides the containers) and of the status.
_CONTAINER_FIELDS = ("name", "image", "ports", "restartPolicy")
_SPEC_DROPPED = ("containers", "initContainers", "volumes")
_STATUS_FIELDS = (
    "phase",
    "reason",
    "message",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "nominatedNodeName",
    "qosClass",
    "startTime",
)
_STATUS_CONTAINER_FIELDS = ("name", "image", "imageID")
_STATUS_CONTAINER_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")

Key = tuple[str, str, str]
_SHAREABLE = (dict, list)


def trim(item: dict[str, Any]) -> dict[str, Any]:
    """Drop managedFields, the last-applied annotation and any Secret data, in place."""
    metadata = item.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
    if item.get("kind") == "Secret":
        item.pop("data", None)
        item.pop("stringData", None)
    return item


def object_key(item: Mapping[str, Any]) -> Key | None:
    """``(kind, namespace, name)`` of a raw object, or ``None`` when it has no such fields."""
    metadata = item.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    kind, name = item.get("kind"), metadata.get("name")
    namespace = metadata.get("namespace") or ""
    if not isinstance(kind, str) or not isinstance(name, str) or not isinstance(namespace, str):
        return None
    return kind, namespace, name


def controller_key(item: Mapping[str, Any]) -> Key | None:
    """``(kind, namespace, name)`` of the object's controller, when it is a pod-creating kind."""
    metadata = item.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    owners = metadata.get("ownerReferences")
    if not isinstance(owners, list):
        return None
    for owner in owners:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            kind, name = owner.get("kind"), owner.get("name")
            namespace = metadata.get("namespace") or ""
            if (
                isinstance(kind, str)
                and kind in CONTROLLER_KINDS
                and isinstance(name, str)
                and isinstance(namespace, str)
            ):
                return kind, namespace, name
            return None
    return None


def runtime_pod(pod: dict[str, Any], share: Callable[[Any], Any] = lambda value: value) -> dict[str, Any]:
    """The runtime record of a Pod whose controller is in the scan.

    Kept: apiVersion, kind, metadata (trimmed), every field of the spec but the containers,
    initContainers and volumes (so nodeName, hostNetwork, serviceAccountName, tolerations,
    nodeSelector, affinity, ephemeralContainers...), of each container and initContainer its
    name, image, ports and restartPolicy, and of the status the phase, IPs, host IPs, QoS
    class and each container's name, image and imageID (the digest that runs).

    ``share`` may return an equal value already kept (the pods of one controller have the
    same labels, tolerations, affinity, containers...): records are read-only.
    """
    trim(pod)
    record: dict[str, Any] = {k: pod[k] for k in ("apiVersion", "kind", "metadata") if k in pod}
    metadata = record.get("metadata")
    if isinstance(metadata, dict):
        record["metadata"] = {k: share(v) if type(v) in _SHAREABLE else v for k, v in metadata.items()}
    spec = pod.get("spec")
    if isinstance(spec, dict):
        slim = {
            k: share(v) if type(v) in _SHAREABLE else v for k, v in spec.items() if k not in _SPEC_DROPPED
        }
        for key in ("containers", "initContainers"):
            containers = spec.get(key)
            if isinstance(containers, list):
                slim[key] = share([_pick(c, _CONTAINER_FIELDS) for c in containers])
        record["spec"] = slim
    status = pod.get("status")
    if isinstance(status, dict):
        kept = _pick(status, _STATUS_FIELDS)
        for key in _STATUS_CONTAINER_LISTS:
            statuses = status.get(key)
            if isinstance(statuses, list):
                kept[key] = share([_pick(s, _STATUS_CONTAINER_FIELDS) for s in statuses])
        record["status"] = kept
    return record


class Keeper:
    """What to keep of each object, read in an order where controllers come before their Pods.

    ``controllers`` may be known beforehand (a snapshot's first pass); controllers seen
    in passing are added.
    """

    def __init__(self, controllers: set[Key] | None = None) -> None:
        self.controllers: set[Key] = set(controllers or ())
        self._shared: dict[bytes, Any] = {}
        self._encode = msgspec.json.Encoder().encode

    def share(self, value: Any) -> Any:
        """An equal mapping or list kept before, else ``value`` (strings are small: kept as they are)."""
        if not isinstance(value, dict | list) or not value:
            return value
        return self._shared.setdefault(self._encode(value), value)

    def __call__(self, item: dict[str, Any]) -> dict[str, Any]:
        trim(item)
        kind = item.get("kind")
        if not isinstance(kind, str):
            return item  # not an object: the source says so
        if kind in CONTROLLER_KINDS:
            key = object_key(item)
            if key is not None:
                self.controllers.add(key)
        elif kind == "Pod" and controller_key(item) in self.controllers:
            return runtime_pod(item, self.share)
        return item


def _pick(value: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: value[k] for k in fields if k in value}
