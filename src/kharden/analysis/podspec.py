"""The effective pod spec: what the kubelet will run, field by field, with where each value came from.

This module is the only place that knows

- where each workload kind keeps its pod template (``/spec/jobTemplate/spec/template`` for a CronJob);
- which securityContext fields a container inherits from the pod (runAsUser, runAsGroup,
  runAsNonRoot, seLinuxOptions, seccompProfile, appArmorProfile, windowsOptions) and which it
  does not (privileged, allowPrivilegeEscalation, capabilities, readOnlyRootFilesystem, procMount);
  a container's seLinuxOptions, seccompProfile and appArmorProfile replace the pod's whole,
  windowsOptions merge field by field (kubelet ``DetermineEffectiveSecurityContext``);
- the legacy seccomp and AppArmor annotations, which count where the fields are unset;
- that containers means containers, initContainers and ephemeralContainers.

Fields are read with the types the API server would insist on: a string where a
boolean belongs is an input error with file and line, as ``kubectl apply`` would refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from .. import _pointer
from ..errors import InputError
from ..model import Hit, Obj, Severity, slot_init
from .podfields import (
    FIELDS,
    LEGACY_PROFILES,
    PodField,
)
from .podfields import field as pod_field

__all__ = [
    "CONTAINER_LISTS",
    "TEMPLATE_KINDS",
    "EffectiveContainer",
    "EffectivePod",
    "EnvVar",
    "Field",
    "FieldReader",
    "NodeRequirement",
    "Port",
    "Toleration",
    "Volume",
    "effective_pod",
    "named_ports",
    "pod_template_path",
]

T = TypeVar("T")

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

# (API group, kind) -> JSON pointer of the pod template ("" for a Pod, whose metadata and spec are its own).
_TEMPLATE_PATHS: dict[tuple[str, str], str] = {
    ("", "Pod"): "",
    ("", "ReplicationController"): "/spec/template",
    ("apps", "Deployment"): "/spec/template",
    ("apps", "StatefulSet"): "/spec/template",
    ("apps", "DaemonSet"): "/spec/template",
    ("apps", "ReplicaSet"): "/spec/template",
    ("extensions", "Deployment"): "/spec/template",
    ("extensions", "DaemonSet"): "/spec/template",
    ("extensions", "ReplicaSet"): "/spec/template",
    ("batch", "Job"): "/spec/template",
    ("batch", "CronJob"): "/spec/jobTemplate/spec/template",
}

TEMPLATE_KINDS = frozenset(kind for _, kind in _TEMPLATE_PATHS)
"""Kinds that carry a pod template (a Pod is its own)."""
# A workload kind of a Kubernetes group that never served it (``apiVersion: v1``, ``kind: Deployment``)
# is an input error (sources/served.py); its pod template is where the kind keeps it all the same.
_BY_KIND = {kind: path for (_, kind), path in _TEMPLATE_PATHS.items()}
_WORKLOAD_GROUPS = frozenset(group for group, _ in _TEMPLATE_PATHS)


def pod_template_path(obj: Obj) -> str | None:
    """The pointer of ``obj``'s pod template, ``""`` for a Pod, ``None`` if it has none."""
    ref = obj.ref
    path = _TEMPLATE_PATHS.get((ref.group, ref.kind))
    if path is None and ref.group in _WORKLOAD_GROUPS:
        path = _BY_KIND.get(ref.kind)
    return path


class Field(NamedTuple, Generic[T]):
    """An effective value, the pointer where it was set, and at which level.

    ``source`` is ``"container"``, ``"pod"`` or ``"annotation"``; ``None`` when nothing sets
    the field, and then ``path`` is where the container (or pod) should set it.
    (A named tuple: a pod has dozens of fields, and a tuple is the cheapest immutable record.)
    """

    value: T | None
    path: str
    source: str | None = None

    @property
    def is_set(self) -> bool:
        return self.source is not None


@slot_init
@dataclass(frozen=True, slots=True)
class Port:
    container_port: int | None
    host_port: Field[int]
    protocol: str
    name: str | None = None
    """The port's name, which NetworkPolicy and Service ``targetPort`` may refer to."""


@slot_init
@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    path: str
    literal: bool
    """True when the variable has a literal, non-empty ``value`` (not ``valueFrom``, not only ``$(REF)``)."""


@dataclass(frozen=True, slots=True)
class Toleration:
    """A ``spec.tolerations`` entry: ``operator`` defaults to ``Equal``, an empty ``effect`` means all."""

    key: str
    operator: str
    value: str
    effect: str
    path: str

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """Whether it tolerates the taint ``key=value:effect`` (as ``v1.Toleration.ToleratesTaint`` decides).

        An empty key with ``operator: Exists`` tolerates every taint (of its effect, or of all effects).
        """
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator == "Exists":
            return True
        return self.operator == "Equal" and self.value == value


@dataclass(frozen=True, slots=True)
class NodeRequirement:
    """A node affinity ``matchExpressions`` entry, of a required term or of a preferred one."""

    key: str
    operator: str
    values: tuple[str, ...]
    path: str
    required: bool


@slot_init
@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    type: str | None
    """The volume source key (``hostPath``, ``emptyDir``, ...); ``None`` when the volume names none."""
    path: str
    """Pointer of the volume source (``/spec/volumes/0/hostPath``)."""
    source: Mapping[str, Any]


_KIND_LABELS = {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}


@slot_init
@dataclass(frozen=True, slots=True)
class EffectiveContainer:
    name: str
    list_name: str
    index: int
    path: str
    image: Field[str]
    run_as_non_root: Field[bool]
    run_as_user: Field[int]
    run_as_group: Field[int]
    privileged: Field[bool]
    allow_privilege_escalation: Field[bool]
    capabilities_add: tuple[Field[str], ...]
    capabilities_drop: Field[tuple[str, ...]]
    read_only_root_filesystem: Field[bool]
    proc_mount: Field[str]
    seccomp_profile: Field[str]
    """RuntimeDefault, Localhost or Unconfined (annotations translated); unset means the runtime's choice."""
    apparmor_profile: Field[str]
    se_linux_options: Field[Mapping[str, Any]]
    host_process: Field[bool]
    ports: tuple[Port, ...]
    env: tuple[EnvVar, ...]
    command: tuple[str, ...]
    """``command`` as written; the pointer of item ``i`` is ``{path}/command/{i}``."""
    args: tuple[str, ...]
    """``args`` as written; the pointer of item ``i`` is ``{path}/args/{i}``."""

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS.get(self.list_name, "container")

    def hit(self, at: Field[Any] | str, message: str, severity: Severity | None = None) -> Hit:
        path = at if isinstance(at, str) else at.path
        return Hit(path=path, message=message, container=self.name, severity=severity)

    def escalation_allowed(self) -> bool:
        """Whether a process can gain more privileges than its parent (no_new_privs unset).

        It can unless allowPrivilegeEscalation is false; a privileged container or one
        with CAP_SYS_ADMIN (also granted by ``ALL``) always can, whatever the field says.
        """
        if self.privileged.value is True or self.adds_sys_admin():
            return True
        return self.allow_privilege_escalation.value is not False

    def adds_sys_admin(self) -> bool:
        return any(normalize_capability(c.value) in {"SYS_ADMIN", "ALL"} for c in self.capabilities_add)


def normalize_capability(name: str | None) -> str:
    """``cap_sys_admin`` and ``SYS_ADMIN`` name the same capability."""
    text = (name or "").strip().upper()
    return text.removeprefix("CAP_")


@slot_init
@dataclass(frozen=True, slots=True)
class EffectivePod:
    obj: Obj
    template_path: str
    spec_path: str
    annotations: Mapping[str, str]
    containers: tuple[EffectiveContainer, ...]
    host_network: Field[bool]
    host_pid: Field[bool]
    host_ipc: Field[bool]
    run_as_group: Field[int]
    seccomp_profile: Field[str]
    """The pod's own seccomp profile (its field, else the legacy pod annotation): what its containers that
    set none inherit, and what the pod sandbox runs with; unset means the runtime's choice."""
    fs_group: Field[int]
    supplemental_groups: tuple[Field[int], ...]
    sysctls: tuple[Field[str], ...]
    se_linux_options: Field[Mapping[str, Any]]
    volumes: tuple[Volume, ...]
    is_windows: bool
    host_users: Field[bool]
    """``hostUsers: false`` runs the pod in a user namespace: its root is not the node's root."""
    labels: Mapping[str, str]
    """The pod template's labels (what Service and NetworkPolicy selectors see)."""
    service_account: Field[str]
    """``serviceAccountName``, else the deprecated ``serviceAccount``; unset means ``default``."""
    automount_token: Field[bool]
    """The pod's ``automountServiceAccountToken``; unset means the ServiceAccount's setting decides."""
    tolerations: tuple[Toleration, ...]
    node_selector: Mapping[str, Field[str]]
    node_affinity: tuple[NodeRequirement, ...]
    """Node affinity ``matchExpressions``, required and preferred (``matchFields`` name nodes, not roles)."""
    runtime_class: Field[str]
    """``runtimeClassName``: the RuntimeClass (sandbox, VM runtime) the pod asks for; unset is the default."""

    def hit(self, at: Field[Any] | str, message: str, severity: Severity | None = None) -> Hit:
        path = at if isinstance(at, str) else at.path
        return Hit(path=path, message=message, severity=severity)


class _Reader:
    """Typed access to raw fields; a wrong type is an InputError at the field's line.

    Each accessor takes the parent mapping, the parent's pointer and a key. Raw objects are
    plain dicts and lists (from the YAML loader or JSON): checking ``dict`` rather than the
    ``Mapping`` ABC keeps this hot path fast.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Obj) -> None:
        self.obj = obj
        if sum(map(len, _MADE)) > _MAX_MADE:
            for made in _MADE:
                made.clear()

    def wrong(self, path: str, expected: str, value: Any) -> InputError:
        location = self.obj.locate(path)
        name = path.rsplit("/", 1)[-1] or "object"
        got = _TYPE_NAMES.get(type(value), type(value).__name__)
        return InputError(
            f"{self.obj.ref}: {name} must be {expected}, not a {got} ({path})",
            file=location.file,
            line=location.line,
        )

    def mapping(self, parent: Mapping[str, Any], at: str, key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.wrong(f"{at}/{key}", "a mapping", value)
        return value

    def mappings(self, parent: Mapping[str, Any], at: str, key: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(pointer, item)`` of a list of mappings (containers, volumes, ports, env)."""
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(f"{at}/{key}", "a list", value)
        items: list[tuple[str, Mapping[str, Any]]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.wrong(f"{at}/{key}/{index}", "a mapping", item)
            path = f"{at}/{key}/{index}"
            items.append((_PATHS.setdefault(path, path), item))
        return items

    def scalars(self, parent: Mapping[str, Any], at: str, key: str) -> list[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(f"{at}/{key}", "a list", value)
        return value

    def strings(self, parent: Mapping[str, Any], at: str, key: str, level: str) -> tuple[Field[str], ...]:
        """A list of strings (``args``, ``externalIPs``), each with its pointer."""
        fields = []
        for index, value in enumerate(self.scalars(parent, at, key)):
            if not isinstance(value, str):
                raise self.wrong(f"{at}/{key}/{index}", "a string", value)
            fields.append(Field(value, f"{at}/{key}/{index}", level))
        return tuple(fields)

    def boolean(self, parent: Mapping[str, Any], at: str, key: str, level: str) -> Field[bool]:
        value = parent.get(key)
        if value is None:
            return _unset(f"{at}/{key}")
        if not isinstance(value, bool):
            raise self.wrong(f"{at}/{key}", "true or false", value)
        path = f"{at}/{key}"
        field = _new(Field, (value, _PATHS.setdefault(path, path), level))
        return _BOOLEANS.setdefault(field, field)

    def integer(self, parent: Mapping[str, Any], at: str, key: str, level: str) -> Field[int]:
        value = parent.get(key)
        if value is None:
            return _unset(f"{at}/{key}")
        if not _is_int(value):
            raise self.wrong(f"{at}/{key}", "an integer", value)
        path = f"{at}/{key}"
        field = _new(Field, (value, _PATHS.setdefault(path, path), level))
        return _INTEGERS.setdefault(field, field)

    def string(self, parent: Mapping[str, Any], at: str, key: str, level: str) -> Field[str]:
        value = parent.get(key)
        if value is None:
            return _unset(f"{at}/{key}")
        if not isinstance(value, str):
            raise self.wrong(f"{at}/{key}", "a string", value)
        path = f"{at}/{key}"
        field = _new(Field, (value, _PATHS.setdefault(path, path), level))
        return _STRINGS.setdefault(field, field)


FieldReader = _Reader
"""The typed reader, shared by the other analysis readers (RBAC, Services, ServiceAccounts)."""

_new = tuple.__new__
"""``_new(Field, (value, path, source))`` is ``Field(value, path, source)`` without the named tuple's
Python-level ``__new__``: the readers make ~65 fields per pod."""
assert Field._fields == ("value", "path", "source"), "_new makes a Field of exactly these three values"

_PATHS: dict[str, str] = {}
"""Each pointer the readers make, made once: pods of one kind have their fields at the same pointers, and a
pointer's text per field of every pod held a fifth of a large scan's effective pods."""
_UNSET: dict[str, Field[Any]] = {}
"""The unset field at each pointer, made once (most fields of most containers are unset)."""
_BOOLEANS: dict[Field[Any], Field[Any]] = {}
_INTEGERS: dict[Field[Any], Field[Any]] = {}
_STRINGS: dict[Field[Any], Field[Any]] = {}
"""Each field set to a value, made once (``runAsNonRoot: true`` of every hardened container), apart by
type: ``Field(True, ...)`` equals ``Field(1, ...)``."""
_MADE: tuple[dict[Any, Any], ...] = (_PATHS, _UNSET, _BOOLEANS, _INTEGERS, _STRINGS)
_MAX_MADE = 200_000
"""Past this many pointers and fields kept, a reader empties them first (a long-lived process, the admission
webhook, reads objects without end)."""


def _unset(path: str) -> Field[Any]:
    found = _UNSET.get(path)
    if found is None:
        found = _UNSET[path] = _new(Field, (None, _PATHS.setdefault(path, path), None))
    return found


_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first(*candidates: Field[T]) -> Field[T]:
    """The first field that is set; else the first (where the container should set it)."""
    for candidate in candidates:
        if candidate.is_set:
            return candidate
    return candidates[0]


def effective_pod(obj: Obj, template_path: str, *, lazy: bool = True) -> EffectivePod:
    """Build the effective pod of ``obj`` whose template is at ``template_path``.

    Raises :class:`InputError` when a field the rules read has the wrong type. ``lazy``: a template whose
    every read field has its type (:func:`_light_pod`) is built lazily, the fields a network model reads
    now, the rest on first use; where every field will be read (pod rules run), checking the types first
    only costs time.
    """
    light = _light_pod(obj, template_path) if lazy else None
    return light if light is not None else EffectivePod(**_pod_fields(obj, template_path))


def _pod_fields(obj: Obj, template_path: str) -> dict[str, Any]:
    """The fields of :class:`EffectivePod` for ``obj`` (raises :class:`InputError` as
    :func:`effective_pod` says)."""
    read = _Reader(obj)
    template: Mapping[str, Any] = obj.raw
    at = ""
    for token in _pointer.split(template_path):
        template, at = read.mapping(template, at, token), f"{at}/{token}"
    metadata = read.mapping(template, at, "metadata")
    annotations_at = f"{at}/metadata/annotations"
    annotations = {
        k: v for k, v in read.mapping(metadata, f"{at}/metadata", "annotations").items() if isinstance(v, str)
    }
    spec_at = f"{at}/spec"
    spec = read.mapping(template, at, "spec")
    psc_at = f"{spec_at}/securityContext"
    psc = read.mapping(spec, spec_at, "securityContext")
    pod = _PodLevel(read, spec, spec_at, _Annotations(annotations, annotations_at))
    containers = tuple(
        _container(read, raw, list_name, index, path, pod)
        for list_name in CONTAINER_LISTS
        for index, (path, raw) in enumerate(read.mappings(spec, spec_at, list_name))
    )
    os_name = read.string(read.mapping(spec, spec_at, "os"), f"{spec_at}/os", "name", "pod")
    groups_at = f"{psc_at}/supplementalGroups"
    groups = read.scalars(psc, psc_at, "supplementalGroups")
    for index, group in enumerate(groups):
        if not _is_int(group):
            raise read.wrong(f"{groups_at}/{index}", "an integer", group)
    return dict(
        obj=obj,
        template_path=template_path,
        spec_path=spec_at,
        annotations=annotations,
        containers=containers,
        **_pod_leaves(read, spec, spec_at, _POD_SCALARS, "attr"),
        run_as_group=pod.fields["runAsGroup"],
        seccomp_profile=pod.own(_SECCOMP),
        supplemental_groups=tuple(Field(g, f"{groups_at}/{i}", "pod") for i, g in enumerate(groups)),
        sysctls=tuple(
            read.string(raw, path, "name", "pod") for path, raw in read.mappings(psc, psc_at, "sysctls")
        ),
        se_linux_options=pod.se_linux_options,
        volumes=tuple(_volume(read, path, raw) for path, raw in read.mappings(spec, spec_at, "volumes")),
        is_windows=os_name.value == "windows" or pod.fields["hostProcess"].value is True,
        labels={
            k: v for k, v in read.mapping(metadata, f"{at}/metadata", "labels").items() if isinstance(v, str)
        },
        service_account=_service_account(read, spec, spec_at),
        tolerations=tuple(
            _toleration(read, path, raw) for path, raw in read.mappings(spec, spec_at, "tolerations")
        ),
        node_selector=_node_selector(read, spec, spec_at),
        node_affinity=_node_affinity(read, spec, spec_at),
    )


# -- lazily built effective pods -------------------------------------------------------------------------
#
# A network model reads four things of each pod (its labels, hostNetwork, named container ports and where
# its template is), a pod rule reads them all. Building every field of 100,000 pods for the network alone
# took most of a network scan's pod time; so a pod whose template cannot fail to build is made with those
# fields only, and builds the others on first use (``_LazyPod.__getattr__``). Whether a template can fail
# is decided by the types of the fields ``_pod_fields`` reads, written out below: a template that has any
# other type there (or a key or item that is not as expected) is built whole at once, as before, and so
# gives its error at once.

_MARKS = dict
"""A mapping whose content is not read for its types (labels, annotations, seLinuxOptions)."""


class _StringValues:
    """A mapping of string keys to string values (``nodeSelector``)."""


class _Env:
    """An environment variable: a string ``name`` (its ``value`` is read whatever its type)."""


class _Volume:
    """A volume: string keys (its source's becomes part of a pointer), and a string ``name``."""


_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": bool,
    "runAsUser": int,
    "runAsGroup": int,
    "seccompProfile": {"type": str},
    "appArmorProfile": {"type": str},
    "seLinuxOptions": _MARKS,
    "windowsOptions": {"hostProcess": bool},
}
_CONTAINER: dict[str, Any] = {
    "name": str,
    "image": str,
    "securityContext": {
        **_SECURITY_CONTEXT,
        "privileged": bool,
        "allowPrivilegeEscalation": bool,
        "readOnlyRootFilesystem": bool,
        "procMount": str,
        "capabilities": {"add": [str], "drop": [str]},
    },
    "ports": [{"containerPort": int, "hostPort": int, "protocol": str, "name": str}],
    "env": [_Env],
    "command": [str],
    "args": [str],
}
_NODE_TERM: dict[str, Any] = {"matchExpressions": [{"key": str, "operator": str, "values": [str]}]}
_TEMPLATE: dict[str, Any] = {
    "metadata": {"annotations": _MARKS, "labels": _MARKS},
    "spec": {
        **{key: [_CONTAINER] for key in CONTAINER_LISTS},
        "securityContext": {
            **_SECURITY_CONTEXT,
            "fsGroup": int,
            "supplementalGroups": [int],
            "sysctls": [{"name": str}],
        },
        "hostNetwork": bool,
        "hostPID": bool,
        "hostIPC": bool,
        "hostUsers": bool,
        "automountServiceAccountToken": bool,
        "runtimeClassName": str,
        "serviceAccountName": str,
        "serviceAccount": str,
        "os": {"name": str},
        "volumes": [_Volume],
        "tolerations": [{"key": str, "operator": str, "value": str, "effect": str}],
        "nodeSelector": _StringValues,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [_NODE_TERM]},
                "preferredDuringSchedulingIgnoredDuringExecution": [{"preference": _NODE_TERM}],
            }
        },
    },
}
"""What ``_pod_fields`` reads of a pod template, with the type it insists on: a type (``int``: not a
boolean), a mark (``_MARKS``, ``_StringValues``, ``_Env``, ``_Volume``), a mapping of the keys read
(others are not read), or a list of items (never null). ``None`` is allowed for every key: it reads as
unset."""


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether the mapping ``value`` has the types ``schema`` asks (conservatively: exact types). Only the
    keys ``schema`` names are looked at (a pod template's probes, resources and mounts are not read)."""
    if type(value) is not dict:
        return False
    for key, item in value.items():
        inner = schema.get(key)
        if inner is None or item is None:
            continue
        if type(inner) is dict:
            if not _fits(item, inner):
                return False
        elif type(inner) is list:
            if type(item) is not list:
                return False
            inner = inner[0]
            if type(inner) is dict:
                if not all(_fits(x, inner) for x in item):
                    return False
            elif not _all_marked(item, inner):
                return False
        elif type(item) is not inner and not _all_marked([item], inner):
            return False
    return True


_NAME_TYPES = (str, type(None))


def _all_marked(items: list[Any], mark: type) -> bool:
    """Whether every item (``None`` is not one) is what ``mark``, a type or a mark of ``_TEMPLATE``, asks."""
    if mark is _Env:  # (a container has dozens of variables: one pass, no call per item)
        return all(type(x) is dict and type(x.get("name")) in _NAME_TYPES for x in items)
    if mark is _StringValues:
        return all(
            type(x) is dict and all(type(k) is str and type(v) is str for k, v in x.items()) for x in items
        )
    if mark is _Volume:  # its source is its first key other than name, which becomes part of a pointer
        return all(
            type(x) is dict and all(type(k) is str for k in x) and type(x.get("name")) in _NAME_TYPES
            for x in items
        )
    return all(type(x) is mark for x in items)


class _LazyPod(EffectivePod):
    """An effective pod of a template that cannot fail to build: its network fields are set, the others
    are built (all at once) on first use. It is an :class:`EffectivePod` in every way."""

    __slots__ = ("named_ports",)
    named_ports: dict[tuple[str, str], int]

    def __eq__(self, other: object) -> bool:
        # As two EffectivePods compare (the dataclass's __eq__ compares only pods of one class).
        if not isinstance(other, EffectivePod):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = EffectivePod.__hash__

    def __getattr__(self, name: str) -> Any:
        # Called only for a field not set yet (a slot never assigned): build them all now, once.
        if name not in _LAZY_FIELDS:
            raise AttributeError(name)
        for key, value in _pod_fields(self.obj, self.template_path).items():
            if key in _LAZY_FIELDS:
                object.__setattr__(self, key, value)
        return object.__getattribute__(self, name)


_FIELDS = tuple(EffectivePod.__dataclass_fields__)
_LIGHT_FIELDS = frozenset({"obj", "template_path", "labels", "host_network"})
_LAZY_FIELDS = frozenset(_FIELDS) - _LIGHT_FIELDS


def _light_pod(obj: Obj, template_path: str) -> EffectivePod | None:
    """A lazily built effective pod of ``obj``, or ``None`` when some field has a type that would make
    building it fail (or could: the check is conservative)."""
    template: Any = obj.raw
    at = ""
    for token in _pointer.split(template_path):
        template = template.get(token)
        if template is None:
            template = {}
        elif type(template) is not dict:
            return None
        at = f"{at}/{token}"
    if not _fits(template, _TEMPLATE):
        return None
    metadata = template.get("metadata") or {}
    labels = metadata.get("labels") or {}
    spec = template.get("spec") or {}
    named: dict[tuple[str, str], int] = {}
    for list_name in CONTAINER_LISTS:
        for container in spec.get(list_name) or ():
            for port in container.get("ports") or ():
                name, number = port.get("name"), port.get("containerPort")
                if name and number:
                    named.setdefault((name, port.get("protocol") or "TCP"), number)
    pod = object.__new__(_LazyPod)
    setattr_ = object.__setattr__
    setattr_(pod, "obj", obj)
    setattr_(pod, "template_path", template_path)
    setattr_(pod, "labels", {k: v for k, v in labels.items() if isinstance(v, str)})
    setattr_(pod, "host_network", _Reader(obj).boolean(spec, f"{at}/spec", "hostNetwork", "pod"))
    setattr_(pod, "named_ports", named)
    return pod


def named_ports(pod: EffectivePod) -> dict[tuple[str, str], int]:
    """Named container ports, ``(name, protocol) -> port`` (containers, and sidecar initContainers that
    declare ports), the first of each name and protocol; a lazily built pod knows them without building
    its containers."""
    known = getattr(pod, "named_ports", None)  # (a copy of a lazy pod, dataclasses.replace's, has none)
    if known is not None:
        return dict(known)
    named: dict[tuple[str, str], int] = {}
    for container in pod.containers:
        for port in container.ports:
            if port.name and port.container_port:
                named.setdefault((port.name, port.protocol), port.container_port)
    return named


def _service_account(read: _Reader, spec: Mapping[str, Any], spec_at: str) -> Field[str]:
    """``serviceAccountName``, else the deprecated ``serviceAccount`` (empty strings count as unset)."""
    name = read.string(spec, spec_at, "serviceAccountName", "pod")
    legacy = read.string(spec, spec_at, "serviceAccount", "pod")
    return legacy if legacy.value and not name.value else name


def _toleration(read: _Reader, path: str, raw: Mapping[str, Any]) -> Toleration:
    return Toleration(
        key=read.string(raw, path, "key", "pod").value or "",
        operator=read.string(raw, path, "operator", "pod").value or "Equal",
        value=read.string(raw, path, "value", "pod").value or "",
        effect=read.string(raw, path, "effect", "pod").value or "",
        path=path,
    )


def _string_list(read: _Reader, raw: Mapping[str, Any], at: str, key: str) -> tuple[str, ...]:
    """A list of strings, as is: the common case checked in one pass, the reader's error otherwise."""
    value = raw.get(key)
    if value is None:
        return ()
    if type(value) is list and all(type(item) is str for item in value):
        return tuple(value)
    return tuple(field.value or "" for field in read.strings(raw, at, key, "container"))


def _node_selector(read: _Reader, spec: Mapping[str, Any], spec_at: str) -> Mapping[str, Field[str]]:
    if "nodeSelector" not in spec:
        return {}
    at = f"{spec_at}/nodeSelector"
    fields = {}
    for key, value in read.mapping(spec, spec_at, "nodeSelector").items():
        path = _pointer.join(at, key)  # label keys hold '/': node-role.kubernetes.io~1control-plane
        if not isinstance(value, str):
            raise read.wrong(path, "a string", value)
        fields[str(key)] = Field(value, path, "pod")
    return fields


def _node_affinity(read: _Reader, spec: Mapping[str, Any], spec_at: str) -> tuple[NodeRequirement, ...]:
    if "affinity" not in spec:
        return ()
    at = f"{spec_at}/affinity/nodeAffinity"
    affinity = read.mapping(read.mapping(spec, spec_at, "affinity"), f"{spec_at}/affinity", "nodeAffinity")
    terms: list[tuple[str, Mapping[str, Any], bool]] = []
    required_at = f"{at}/requiredDuringSchedulingIgnoredDuringExecution"
    required = read.mapping(affinity, at, "requiredDuringSchedulingIgnoredDuringExecution")
    terms += [(path, term, True) for path, term in read.mappings(required, required_at, "nodeSelectorTerms")]
    for path, preferred in read.mappings(affinity, at, "preferredDuringSchedulingIgnoredDuringExecution"):
        terms.append((f"{path}/preference", read.mapping(preferred, path, "preference"), False))
    found = []
    for term_at, term, is_required in terms:
        for path, expression in read.mappings(term, term_at, "matchExpressions"):
            found.append(
                NodeRequirement(
                    key=read.string(expression, path, "key", "pod").value or "",
                    operator=read.string(expression, path, "operator", "pod").value or "",
                    values=tuple(v.value or "" for v in read.strings(expression, path, "values", "pod")),
                    path=path,
                    required=is_required,
                )
            )
    return tuple(found)


def _volume(read: _Reader, path: str, raw: Mapping[str, Any]) -> Volume:
    name = read.string(raw, path, "name", "pod").value or ""
    kinds = [k for k in raw if k != "name"]
    kind = kinds[0] if kinds else None
    source = raw.get(kind) if kind else None
    return Volume(
        name=name,
        type=kind,
        path=_pointer.join(path, kind) if kind else path,
        source=source if isinstance(source, dict) else {},
    )


@dataclass(frozen=True, slots=True)
class _Annotations:
    """The pod template's annotations and their pointer, for the legacy profile annotations."""

    values: Mapping[str, str]
    path: str

    def profile(self, key: str) -> Field[str]:
        """A legacy seccomp/AppArmor annotation, translated to the field's type name."""
        return self.set_profile(key) or Field(None, _pointer.join(self.path, key))

    def set_profile(self, key: str) -> Field[str] | None:
        """:meth:`profile` when the annotation is written, else ``None`` (without building a pointer)."""
        value = self.values.get(key)
        if value is None:
            return None
        return Field(_legacy_profile(value), _pointer.join(self.path, key), "annotation")


class _PodLevel:
    """The pod fields containers inherit (field table rows with a ``pod`` pointer), read once per pod."""

    def __init__(
        self, read: _Reader, spec: Mapping[str, Any], spec_at: str, annotations: _Annotations
    ) -> None:
        self.fields = _pod_leaves(read, spec, spec_at, _INHERITED, "name")
        self.se_linux_options = _selinux(
            read, read.mapping(spec, spec_at, "securityContext"), f"{spec_at}/securityContext", "pod"
        )
        self.annotations = annotations
        self._own: dict[str, Field[Any]] = {}
        self._inherited: tuple[Field[Any] | None, ...] | None = None

    def own(self, row: PodField) -> Field[Any]:
        """What the pod itself sets for an inherited field: its field, else its legacy annotation
        (once per pod: every container asks)."""
        found = self._own.get(row.name)
        if found is None:
            found = self.fields[row.name]
            if row.pod_annotation is not None:
                found = _first(found, self.annotations.profile(row.pod_annotation))
            self._own[row.name] = found
        return found

    def inherited(self) -> tuple[Field[Any] | None, ...]:
        """Per row of ``_CONTAINER_LEAVES``, what a container that sets neither the field nor its legacy
        annotation inherits from the pod (``None``: nothing), as ``_effective`` decides; once per pod."""
        if self._inherited is None:
            self._inherited = tuple(
                found if row.pod is not None and (found := self.own(row)).source is not None else None
                for row, *_ in _CONTAINER_LEAVES
            )
        return self._inherited


_READERS: dict[str, Callable[..., Field[Any]]] = {
    "boolean": _Reader.boolean,
    "integer": _Reader.integer,
    "string": _Reader.string,
}
_SCALAR_TYPES = frozenset(_READERS)
_CONTAINER_SCALARS = tuple(row for row in FIELDS if row.container is not None and row.type in _SCALAR_TYPES)
_INHERITED = tuple(row for row in _CONTAINER_SCALARS if row.pod is not None)
_POD_SCALARS = tuple(row for row in FIELDS if row.container is None and row.type in _SCALAR_TYPES)
_SECCOMP = pod_field("seccompProfile")


def _pod_leaves(
    read: _Reader, spec: Mapping[str, Any], spec_at: str, rows: tuple[PodField, ...], by: str
) -> dict[str, Field[Any]]:
    """``_leaf`` of each row's pod pointer, by the row's ``name`` or ``attr``; each parent mapping
    (``securityContext``) looked up once, not once per field under it."""
    found: dict[str, Field[Any]] = {}
    parents_read: dict[str, tuple[Mapping[str, Any], str]] = {}
    for row in rows:
        parents, _, key = (row.pod or "").rpartition("/")
        parent = parents_read.get(parents)
        if parent is None:
            node, at = spec, spec_at
            for token in parents.split("/") if parents else ():
                node, at = read.mapping(node, at, token), f"{at}/{token}"
            parent = parents_read[parents] = (node, at)
        found[getattr(row, by)] = _READERS[row.type](read, parent[0], parent[1], key, "pod")
    return found


# Per container scalar row: the row, its parent mappings (``securityContext``) as one key and as a path,
# the field's key and the reader of its type.
_CONTAINER_LEAVES = tuple(
    (row, parents, tuple(parents.split("/")) if parents else (), key, _READERS[row.type])
    for row in _CONTAINER_SCALARS
    for parents, _, key in [(row.container or "").rpartition("/")]
)


def _container_scalars(
    read: _Reader, raw: Mapping[str, Any], path: str, name: str, pod: _PodLevel
) -> dict[str, Field[Any]]:
    """The effective scalar fields of one container, as ``_leaf`` and ``_effective`` of each row give
    them; each parent mapping is looked up once per container, not once per field under it, and what
    the pod sets for the inherited rows once per pod (:meth:`_PodLevel.inherited`). (This runs for every
    field of every container: ``_effective`` is written inline, the reader called only for a set field.)"""
    found: dict[str, Field[Any]] = {}
    parents_read: dict[str, tuple[Mapping[str, Any], str]] = {}
    annotations = pod.annotations
    legacy = bool(annotations.values)
    for (row, parents, chain, key, reader), inherited in zip(_CONTAINER_LEAVES, pod.inherited(), strict=True):
        parent = parents_read.get(parents)
        if parent is None:
            node, at = raw, path
            for token in chain:
                node, at = read.mapping(node, at, token), f"{at}/{token}"
            parent = parents_read[parents] = (node, at)
        if parent[0].get(key) is not None:  # the container's own field
            found[row.attr] = reader(read, parent[0], parent[1], key, "container")
            continue
        if legacy and row.container_annotation is not None:
            annotation = annotations.set_profile(row.container_annotation + name)
            if annotation is not None:
                found[row.attr] = annotation
                continue
        found[row.attr] = inherited or _unset(f"{parent[1]}/{key}")
    return found


def _selinux(read: _Reader, sc: Mapping[str, Any], at: str, level: str) -> Field[Mapping[str, Any]]:
    options = sc.get("seLinuxOptions")
    if options is None:
        return Field(None, f"{at}/seLinuxOptions")
    if not isinstance(options, dict):
        raise read.wrong(f"{at}/seLinuxOptions", "a mapping", options)
    return Field(options, f"{at}/seLinuxOptions", level)


def _legacy_profile(value: str) -> str:
    """Translate a legacy seccomp/AppArmor annotation value to the field's type name."""
    if value.startswith("localhost/"):
        return "Localhost"
    return LEGACY_PROFILES.get(value, value)


def _container(
    read: _Reader, raw: Mapping[str, Any], list_name: str, index: int, path: str, pod: _PodLevel
) -> EffectiveContainer:
    name = read.string(raw, path, "name", "container").value or f"#{index}"
    sc_at = f"{path}/securityContext"
    sc = read.mapping(raw, path, "securityContext")
    caps_at = f"{sc_at}/capabilities"
    caps = read.mapping(sc, sc_at, "capabilities")
    add = [
        _capability(read, value, f"{caps_at}/add/{i}")
        for i, value in enumerate(read.scalars(caps, caps_at, "add"))
    ]
    drop = [
        _capability(read, value, f"{caps_at}/drop/{i}").value
        for i, value in enumerate(read.scalars(caps, caps_at, "drop"))
    ]
    return EffectiveContainer(
        name=name,
        list_name=list_name,
        index=index,
        path=path,
        image=read.string(raw, path, "image", "container"),
        **_container_scalars(read, raw, path, name, pod),
        capabilities_add=tuple(add),
        capabilities_drop=Field(
            tuple(d for d in drop if d is not None),
            f"{caps_at}/drop",
            "container" if "drop" in caps else None,
        ),
        se_linux_options=_first(_selinux(read, sc, sc_at, "container"), pod.se_linux_options),
        ports=tuple(_port(read, at, port) for at, port in read.mappings(raw, path, "ports")),
        env=tuple(_env(read, at, variable) for at, variable in read.mappings(raw, path, "env")),
        command=_string_list(read, raw, path, "command"),
        args=_string_list(read, raw, path, "args"),
    )


def _capability(read: _Reader, value: Any, path: str) -> Field[str]:
    if not isinstance(value, str):
        raise read.wrong(path, "a string", value)
    return Field(value, path, "container")


def _port(read: _Reader, at: str, raw: Mapping[str, Any]) -> Port:
    return Port(
        container_port=read.integer(raw, at, "containerPort", "container").value,
        host_port=read.integer(raw, at, "hostPort", "container"),
        protocol=read.string(raw, at, "protocol", "container").value or "TCP",
        name=read.string(raw, at, "name", "container").value,
    )


def _env(read: _Reader, at: str, raw: Mapping[str, Any]) -> EnvVar:
    name = raw.get("name")
    if type(name) is not str:  # (the common case without a Field: pods have dozens of variables)
        name = read.string(raw, at, "name", "container").value or ""
    value = raw.get("value")
    # A number or boolean is still a literal value (the API server would refuse it, but it is written).
    text = value if type(value) is str else str(value)
    literal = value is not None and text != "" and ("$" not in text or not _only_reference(text))
    if literal:
        at = f"{at}/value"
        at = _PATHS.setdefault(at, at)
    return EnvVar(name, at, literal)


_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.-]*\)")


def _only_reference(value: str) -> bool:
    """``$(USER):$(PASSWORD)``: the value is composed from other variables, not written here.

    What remains once the references are taken out (``$$`` escapes a literal ``$``) holds no
    letter or digit.
    """
    remainder = _REFERENCE.sub("", value.replace("$$", "\0"))
    return remainder != value and not any(c.isalnum() for c in remainder)
