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

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import msgspec

__all__ = [
    "CONTROLLER_KINDS",
    "LAST_APPLIED",
    "Keeper",
    "controller_key",
    "decode_runtime_pod",
    "object_key",
    "owner_key",
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
)
_STATUS_CONTAINER_FIELDS = ("name", "image")
# Each pod's own values that nothing past the sources reads: a record without them is ~1 KB smaller (a
# container status's imageID, and the pod's startTime, are dropped by the field lists above too).
_METADATA_DROPPED = ("managedFields", "uid", "resourceVersion", "creationTimestamp")
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
    return owner_key(metadata.get("ownerReferences"), metadata.get("namespace"))


def owner_key(owners: Any, namespace: Any) -> Key | None:
    """:func:`controller_key` of an object in ``namespace`` with these ``ownerReferences``."""
    if not isinstance(owners, list):
        return None
    for owner in owners:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            kind, name = owner.get("kind"), owner.get("name")
            namespace = namespace or ""
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
    class and each container's name and image. Not kept: what each pod has its own of and no
    rule reads (uid, resourceVersion, creationTimestamp, startTime, each container's imageID).

    ``share`` may return an equal value already kept (the pods of one controller have the
    same labels, tolerations, affinity, containers...): records are read-only. Strings that
    pods repeat (namespace, node, images, policies) are interned: 200,000 records hold one copy.
    """
    trim(pod)
    record = _kept(pod, share, ("apiVersion", "kind"))
    if "metadata" in pod:
        metadata = pod["metadata"]
        record["metadata"] = (
            _kept(metadata, share, drop=_METADATA_DROPPED) if isinstance(metadata, dict) else metadata
        )
    spec = pod.get("spec")
    if isinstance(spec, dict):
        slim = _kept(spec, share, drop=_SPEC_DROPPED)
        for key in ("containers", "initContainers"):
            containers = spec.get(key)
            if isinstance(containers, list):
                slim[key] = share([_pick(c, _CONTAINER_FIELDS) for c in containers])
        record["spec"] = slim
    status = pod.get("status")
    if isinstance(status, dict):
        kept = _kept(status, share, _STATUS_FIELDS)
        for key in _STATUS_CONTAINER_LISTS:
            statuses = status.get(key)
            if isinstance(statuses, list):
                kept[key] = share([_pick(s, _STATUS_CONTAINER_FIELDS) for s in statuses])
        record["status"] = kept
    return record


# Values each pod has its own of: interning or sharing them would only grow the tables that do it.
_UNIQUE = frozenset({"name", "podIP", "podIPs"})


def _kept(
    mapping: dict[str, Any],
    share: Callable[[Any], Any],
    fields: tuple[str, ...] | None = None,
    drop: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``fields`` of ``mapping`` (all but ``drop`` when ``None``) as a runtime record keeps them: mappings
    and lists shared, strings interned but those each pod has its own of (``_UNIQUE``)."""
    kept = {}
    intern = sys.intern
    items = mapping.items() if fields is None else ((k, mapping[k]) for k in fields if k in mapping)
    for key, value in items:
        if key in drop:
            continue
        kind = type(value)
        if kind is str:
            kept[key] = value if key in _UNIQUE else intern(value)
        elif kind is dict or kind is list:
            kept[key] = value if key in _UNIQUE else share(value)
        else:
            kept[key] = value
    return kept


# Decoding a Pod known to become a runtime record straight into what the record keeps: msgspec skips the
# rest (container environments, probes, volumes, conditions) without building it, three times faster.
# Anything unexpected (a spec field not listed here, a container that is not a mapping) is refused by the
# typed decoder, and the Pod then takes the path of every object: decoded whole, then runtime_pod.
_POD_SPEC_FIELDS = (
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "ephemeralContainers",
    "evictionResponders",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "hostnameOverride",
    "imagePullSecrets",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "schedulingGroup",
    "securityContext",
    "serviceAccount",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
)
"""Every field of a PodSpec (Kubernetes 1.34) but the containers, initContainers and volumes."""

_UNSET = msgspec.UNSET


class _Container(msgspec.Struct):
    """What a runtime record keeps of a container (``_CONTAINER_FIELDS``)."""

    name: Any = _UNSET
    image: Any = _UNSET
    ports: Any = _UNSET
    restartPolicy: Any = _UNSET  # noqa: N815 - the JSON name


class _StatusContainer(msgspec.Struct):
    """What a runtime record keeps of a container's status (``_STATUS_CONTAINER_FIELDS``)."""

    name: Any = _UNSET
    image: Any = _UNSET


assert _Container.__struct_fields__ == _CONTAINER_FIELDS
assert _StatusContainer.__struct_fields__ == _STATUS_CONTAINER_FIELDS
_Spec = msgspec.defstruct(
    "_Spec",
    [
        *((f, Any, _UNSET) for f in _POD_SPEC_FIELDS),
        ("containers", list[_Container] | msgspec.UnsetType, _UNSET),
        ("initContainers", list[_Container] | msgspec.UnsetType, _UNSET),
        ("volumes", msgspec.Raw | msgspec.UnsetType, _UNSET),
    ],
    forbid_unknown_fields=True,
)
_Status = msgspec.defstruct(
    "_Status",
    [
        *((f, Any, _UNSET) for f in _STATUS_FIELDS),
        *((f, list[_StatusContainer] | msgspec.UnsetType, _UNSET) for f in _STATUS_CONTAINER_LISTS),
    ],
)
_RuntimePod = msgspec.defstruct(
    "_RuntimePod",
    [
        ("apiVersion", str, _UNSET),
        ("kind", Literal["Pod"], _UNSET),  # any other kind is refused at its second key, not after its spec
        ("metadata", dict[str, Any], _UNSET),
        ("spec", _Spec | msgspec.UnsetType, _UNSET),
        ("status", _Status | msgspec.UnsetType, _UNSET),
    ],
)
_decode_runtime_pod = msgspec.json.Decoder(_RuntimePod).decode


def decode_runtime_pod(raw: bytes, share: Callable[[Any], Any]) -> dict[str, Any] | None:
    """``runtime_pod`` of the Pod that ``raw`` (JSON) is, decoding only what the record keeps; ``None``
    when ``raw`` is not shaped as the typed decoder expects (then decode it whole and call ``runtime_pod``).
    """
    try:
        pod: Any = _decode_runtime_pod(raw)
    except msgspec.ValidationError:
        return None
    if pod.apiVersion is _UNSET or pod.kind != "Pod" or pod.metadata is _UNSET:
        return None
    metadata = pod.metadata
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    record: dict[str, Any] = {"apiVersion": sys.intern(pod.apiVersion), "kind": "Pod"}
    record["metadata"] = _kept(metadata, share, drop=_METADATA_DROPPED)
    spec = pod.spec
    if spec is not _UNSET:
        slim = _kept_fields(spec, _POD_SPEC_FIELDS, share)
        for key in ("containers", "initContainers"):
            containers = getattr(spec, key)
            if containers is not _UNSET:
                slim[key] = share([_kept_fields(c, _CONTAINER_FIELDS, _same) for c in containers])
        record["spec"] = slim
    status = pod.status
    if status is not _UNSET:
        kept = _kept_fields(status, _STATUS_FIELDS, share)
        for key in _STATUS_CONTAINER_LISTS:
            statuses = getattr(status, key)
            if statuses is not _UNSET:
                kept[key] = share([_kept_fields(s, _STATUS_CONTAINER_FIELDS, _same) for s in statuses])
        record["status"] = kept
    return record


def _same(value: Any) -> Any:
    return value


def _kept_fields(struct: Any, fields: Sequence[str], share: Callable[[Any], Any]) -> dict[str, Any]:
    """:func:`_kept` of the ``fields`` a decoded struct has (``UNSET``: absent from the JSON)."""
    kept = {}
    intern = sys.intern
    for key in fields:
        value = getattr(struct, key)
        if value is _UNSET:
            continue
        kind = type(value)
        if kind is str:
            kept[key] = value if key in _UNIQUE else intern(value)
        elif kind is dict or kind is list:
            kept[key] = value if key in _UNIQUE else share(value)
        else:
            kept[key] = value
    return kept


class Keeper:
    """What to keep of each object, read in an order where controllers come before their Pods.

    ``controllers`` may be known beforehand (a snapshot's first pass); controllers seen
    in passing are added.

    The pod spec of a workload's template is shared with an equal one kept before: a Deployment's
    current ReplicaSet (and every ReplicaSet of a revision rolled back to) repeats its spec, the
    larger half of a controller; objects are read-only past the sources.
    """

    def __init__(self, controllers: set[Key] | None = None) -> None:
        self.controllers: set[Key] = set(controllers or ())
        self._shared: dict[bytes | int, Any] = {}
        self._encode = msgspec.json.Encoder().encode

    def share(self, value: Any) -> Any:
        """An equal mapping or list kept before, else ``value`` (strings are small: kept as they are)."""
        if not isinstance(value, dict | list) or not value:
            return value
        encoded = self._encode(value)
        if len(encoded) <= _SMALL:
            return self._shared.setdefault(encoded, value)
        # A large value is known by the hash of its JSON, not the JSON itself (a pod spec's is kilobytes);
        # the one kept under it is checked equal, so that a collision only costs the sharing.
        kept = self._shared.setdefault(hash(encoded), value)
        return kept if kept is value or kept == value else value

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
        self._share_template(item)
        return item

    def _share_template(self, item: dict[str, Any]) -> None:
        spec = item.get("spec")
        if not isinstance(spec, dict):
            return
        job = spec.get("jobTemplate")  # a CronJob's
        if isinstance(job, dict) and isinstance(job.get("spec"), dict):
            spec = job["spec"]
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            template["spec"] = self.share(template["spec"])


_SMALL = 256
"""Values whose JSON is at most this long are shared by the JSON itself (labels, tolerations, owners)."""


def _pick(value: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: sys.intern(v) if type(v) is str else v for k in fields if k in value for v in (value[k],)}
