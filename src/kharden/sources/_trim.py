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

import operator
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
    items = mapping.items() if fields is None else ((k, mapping[k]) for k in fields if k in mapping)
    for key, value in items:
        if key not in drop:
            kept[key] = value if key in _UNIQUE else _kept_value(value, share)
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


# Every value is taken as its JSON text (msgspec.Raw), not decoded, but for a few of each pod's own: the pods
# of one controller repeat them (labels, owners, tolerations, the whole spec but the node), and what was
# kept for the same text before is used again (Keeper.value_of, Keeper.templated), where decoding, encoding
# and looking up each value would cost three times as much. Texts also make exact keys: a value decoded
# and encoded again may not be told from another (an infinite float and null).
_DECODED = frozenset({"hostname", "nodeName", "hostIP", "podIP", "podIPs"})
"""Fields decoded in place: each pod's own scalars (see _SPEC_OWN, _STATUS_OWN)."""
_Raw = msgspec.Raw
_Text = _Raw | msgspec.UnsetType


class _Container(msgspec.Struct):
    """What a runtime record keeps of a container (``_CONTAINER_FIELDS``)."""

    name: _Text = _UNSET
    image: _Text = _UNSET
    ports: _Text = _UNSET
    restartPolicy: _Text = _UNSET  # noqa: N815 - the JSON name


class _StatusContainer(msgspec.Struct):
    """What a runtime record keeps of a container's status (``_STATUS_CONTAINER_FIELDS``)."""

    name: _Text = _UNSET
    image: _Text = _UNSET


assert _Container.__struct_fields__ == _CONTAINER_FIELDS
assert _StatusContainer.__struct_fields__ == _STATUS_CONTAINER_FIELDS
_Spec = msgspec.defstruct(
    "_Spec",
    [
        *((f, (Any if f in _DECODED else _Raw) | msgspec.UnsetType, _UNSET) for f in _POD_SPEC_FIELDS),
        ("containers", list[_Container] | msgspec.UnsetType, _UNSET),
        ("initContainers", list[_Container] | msgspec.UnsetType, _UNSET),
        ("volumes", _Text, _UNSET),
    ],
    forbid_unknown_fields=True,
)
_Status = msgspec.defstruct(
    "_Status",
    [
        *((f, (Any if f in _DECODED else _Raw) | msgspec.UnsetType, _UNSET) for f in _STATUS_FIELDS),
        *((f, list[_StatusContainer] | msgspec.UnsetType, _UNSET) for f in _STATUS_CONTAINER_LISTS),
    ],
)
_RuntimePod = msgspec.defstruct(
    "_RuntimePod",
    [
        ("apiVersion", str, _UNSET),
        ("kind", Literal["Pod"], _UNSET),  # any other kind is refused at its second key, not after its spec
        ("metadata", dict[str, _Raw], _UNSET),
        ("spec", _Spec | msgspec.UnsetType, _UNSET),
        ("status", _Status | msgspec.UnsetType, _UNSET),
    ],
)
_decode_runtime_pod = msgspec.json.Decoder(_RuntimePod).decode
_astuple = msgspec.structs.astuple
_MISSING: Any = object()


def decode_runtime_pod(raw: bytes, keep: Keeper) -> tuple[dict[str, Any], Key | None] | None:
    """``runtime_pod`` of the Pod that ``raw`` (JSON) is, decoding only what the record keeps, and its
    :func:`controller_key`; ``None`` when ``raw`` is not shaped as the typed decoder expects (then decode
    it whole and call ``runtime_pod``). ``keep`` shares (and remembers by their JSON text) the values that
    pods repeat.
    """
    try:
        pod: Any = _decode_runtime_pod(raw)
    except msgspec.ValidationError:
        return None
    if pod.apiVersion is _UNSET or pod.kind != "Pod" or pod.metadata is _UNSET:
        return None
    metadata, owner = keep.metadata_of(pod.metadata)
    record: dict[str, Any] = {"apiVersion": sys.intern(pod.apiVersion), "kind": "Pod", "metadata": metadata}
    spec = pod.spec
    if spec is not _UNSET:
        # A pod's spec is its controller's but for a few fields (_SPEC_OWN): the rest is kept once per JSON of
        # the rest (volumes aside), and each pod's own fields are put in their places.
        values: tuple[Any, ...] = _spec_own(spec)
        spec.affinity = spec.hostname = spec.nodeName = spec.volumes = _UNSET  # _SPEC_OWN, written out
        record["spec"] = keep.templated(spec, _SPEC_OWN, values, keep.specs, _slim_spec)
    status = pod.status
    if status is not _UNSET:
        values = _status_own(status)
        status.hostIP = status.hostIPs = status.podIP = status.podIPs = _UNSET
        record["status"] = keep.templated(status, _STATUS_OWN, values, keep.statuses, _kept_status)
    return record, owner


# The fields of a pod's spec and status that differ between the pods of one controller (in field order):
# a DaemonSet's pod has a node affinity of its own node, a StatefulSet's a host name; each its node and IPs.
_SPEC_OWN = ("affinity", "hostname", "nodeName")
_STATUS_OWN = ("hostIP", "hostIPs", "podIP", "podIPs")
_spec_own = operator.attrgetter(*_SPEC_OWN)
_status_own = operator.attrgetter(*_STATUS_OWN)
_SPEC_ORDER = {key: index for index, key in enumerate((*_POD_SPEC_FIELDS, "containers", "initContainers"))}
_STATUS_ORDER = {key: index for index, key in enumerate((*_STATUS_FIELDS, *_STATUS_CONTAINER_LISTS))}
_ORDERS = {_SPEC_OWN: _SPEC_ORDER, _STATUS_OWN: _STATUS_ORDER}


def _slim_spec(spec: Any, keep: Keeper) -> dict[str, Any]:
    """What a runtime record keeps of a decoded spec (its fields in the order of ``_POD_SPEC_FIELDS``)."""
    slim = {}
    for key, value in zip(_POD_SPEC_FIELDS, _astuple(spec), strict=False):  # containers... follow
        if value is not _UNSET:
            slim[key] = keep.value_of(bytes(value))  # the own fields, the only ones decoded, are not set
    for key in ("containers", "initContainers"):
        containers = getattr(spec, key)
        if containers is not _UNSET:
            slim[key] = keep.share([_kept_fields(c, _CONTAINER_FIELDS) for c in containers])
    return slim


def _kept_status(status: Any, keep: Keeper) -> dict[str, Any]:
    """What a runtime record keeps of a decoded status but its IPs (in the order of ``_STATUS_FIELDS``)."""
    kept = {}
    for key, value in zip(_STATUS_FIELDS, _astuple(status), strict=False):  # the lists follow
        if value is not _UNSET:
            kept[key] = keep.value_of(bytes(value))
    for key in _STATUS_CONTAINER_LISTS:
        statuses = getattr(status, key)
        if statuses is not _UNSET:
            kept[key] = keep.share([_kept_fields(s, _STATUS_CONTAINER_FIELDS) for s in statuses])
    return kept


def _placed(kept: dict[str, Any], order: dict[str, int], own: tuple[str, ...]) -> dict[str, Any]:
    """``kept`` (without the ``own`` fields) with each of those in its place, holding ``_MISSING``."""
    keys = sorted([*kept, *own], key=order.__getitem__)
    return {key: kept.get(key, _MISSING) for key in keys}


def _kept_value(value: Any, share: Callable[[Any], Any]) -> Any:
    """A value of a key not in ``_UNIQUE`` as a runtime record keeps it: strings interned, mappings and lists
    shared."""
    kind = type(value)
    if kind is str:
        return sys.intern(value)
    return share(value) if kind is dict or kind is list else value


_decode = msgspec.json.Decoder().decode


def _kept_fields(struct: Any, fields: Sequence[str]) -> dict[str, Any]:
    """The ``fields`` a decoded struct has (``UNSET``: absent from the JSON), decoded, strings interned
    (as :func:`_pick` keeps them)."""
    kept = {}
    for key, text in zip(fields, _astuple(struct), strict=True):
        if text is not _UNSET:
            value = _decode(bytes(text))
            kept[key] = sys.intern(value) if type(value) is str else value
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
        self.known: dict[bytes, Any] = {}
        """Values of runtime records by their JSON text, as :meth:`value_of` keeps them (short texts only)."""
        self._annotations: dict[bytes, Any] = {}
        self.specs: dict[bytes, dict[str, Any]] = {}
        """What runtime records keep of a pod spec, by the JSON of the spec without each pod's own fields."""
        self.statuses: dict[bytes, dict[str, Any]] = {}
        self._metadata: dict[tuple[Any, ...], tuple[dict[str, Any], Key | None]] = {}
        self._strings: dict[str, str] = {}

    def templated(
        self,
        struct: Any,
        own: tuple[str, ...],
        values: tuple[Any, ...],
        table: dict[bytes, dict[str, Any]],
        build: Callable[[Any, Keeper], dict[str, Any]],
    ) -> dict[str, Any]:
        """``build(struct)`` of a struct whose ``own`` fields (in the order of its fields) had ``values``,
        which the caller has unset: a copy of what it made of an equal struct before, with the values."""
        encoded = self._encode(struct)
        template = table.get(encoded)
        if template is None:
            template = _placed(build(struct, self), _ORDERS[own], own)
            if len(table) < _REMEMBERED:  # past it, pods' differ: each is built, as before any was kept
                table[encoded] = template
        # The copy holds every own field in its place: each is set, or deleted, without growing the dict.
        kept = template.copy()
        for key, value in zip(own, values, strict=True):
            if value is _UNSET:
                del kept[key]
            elif key in _UNIQUE:
                kept[key] = value
            elif type(value) is str:
                # As interned (the names of nodes, IPs of hosts), in a table of these alone: sys.intern's
                # holds every name of the program, and costs several times more once the heap is large.
                kept[key] = self._strings.setdefault(value, value)
            elif type(value) is _Raw:
                text = bytes(value)
                found = self.known.get(text, _MISSING)
                kept[key] = self.value_of(text) if found is _MISSING else found
            else:
                kept[key] = _kept_value(value, self.share)
        return kept

    def metadata_of(self, metadata: dict[str, msgspec.Raw]) -> tuple[dict[str, Any], Key | None]:
        """What a runtime record keeps of a pod's metadata (every value as its JSON text; changes it) and
        its :func:`owner_key`: but for its name, those of the same keys and texts before (a controller's
        pods repeat them)."""
        keys = tuple(metadata)
        name = metadata.pop("name", _MISSING)
        for key in _METADATA_DROPPED:
            metadata.pop(key, None)
        encoded = (keys, *map(bytes, metadata.values()))
        found = self._metadata.get(encoded)
        if found is None:
            template = {}
            for key in keys:
                if key == "name":
                    template[key] = _MISSING
                elif key in metadata:
                    data = bytes(metadata[key])
                    template[key] = self.annotations_of(data) if key == "annotations" else self.value_of(data)
            found = template, owner_key(template.get("ownerReferences"), template.get("namespace"))
            if len(self._metadata) < _REMEMBERED:
                self._metadata[encoded] = found
        template, owner = found
        kept = template.copy()
        if name is not _MISSING:
            kept["name"] = _decode(name)  # each pod's own (_UNIQUE): neither interned nor shared
        return kept, owner

    def value_of(self, text: bytes) -> Any:
        """The value of the JSON ``text`` as a runtime record keeps it (:func:`_kept`): strings interned,
        mappings and lists shared; remembered by its text when that is short."""
        found = self.known.get(text, _MISSING)
        return self._remember(self.known, text, _decode(text)) if found is _MISSING else found

    def annotations_of(self, text: bytes) -> Any:
        """:meth:`value_of` of a Pod's annotations: without the last-applied configuration (:func:`trim`)."""
        found = self._annotations.get(text, _MISSING)
        if found is not _MISSING:
            return found
        value = _decode(text)
        if type(value) is dict:
            value.pop(LAST_APPLIED, None)
        return self._remember(self._annotations, text, value)

    def _remember(self, table: dict[bytes, Any], text: bytes, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            value = sys.intern(value)
        elif (kind is dict or kind is list) and len(text) > _SMALL:
            # Not remembered by a long text (one of each pod's own would keep kilobytes): share() knows the
            # value by the hash of its JSON instead.
            return self.share(value)
        if len(text) <= _SMALL:
            table[text] = value
        return value

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
_REMEMBERED = 1 << 16
"""Specs (and statuses) of runtime records remembered at most: about one per controller and node affinity,
~1 KB each, unless every pod's differs (then each is built, as it was before any was remembered)."""


def _pick(value: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: sys.intern(v) if type(v) is str else v for k in fields if k in value for v in (value[k],)}
