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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from .. import _pointer
from ..errors import InputError
from ..model import Hit, Obj, Severity

__all__ = [
    "CONTAINER_LISTS",
    "EffectiveContainer",
    "EffectivePod",
    "EnvVar",
    "Field",
    "Port",
    "Volume",
    "effective_pod",
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

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def pod_template_path(obj: Obj) -> str | None:
    """The pointer of ``obj``'s pod template, ``""`` for a Pod, ``None`` if it has none."""
    return _TEMPLATE_PATHS.get((obj.ref.group, obj.ref.kind))


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


@dataclass(frozen=True, slots=True)
class Port:
    container_port: int | None
    host_port: Field[int]
    protocol: str


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    path: str
    literal: bool
    """True when the variable has a literal, non-empty ``value`` (not ``valueFrom``, not only ``$(REF)``)."""


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    type: str | None
    """The volume source key (``hostPath``, ``emptyDir``, ...); ``None`` when the volume names none."""
    path: str
    """Pointer of the volume source (``/spec/volumes/0/hostPath``)."""
    source: Mapping[str, Any]


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

    @property
    def kind_label(self) -> str:
        return {"initContainers": "init container", "ephemeralContainers": "ephemeral container"}.get(
            self.list_name, "container"
        )

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
    fs_group: Field[int]
    supplemental_groups: tuple[Field[int], ...]
    sysctls: tuple[Field[str], ...]
    se_linux_options: Field[Mapping[str, Any]]
    volumes: tuple[Volume, ...]
    is_windows: bool
    host_users: Field[bool]
    """``hostUsers: false`` runs the pod in a user namespace: its root is not the node's root."""

    def hit(self, at: Field[Any] | str, message: str, severity: Severity | None = None) -> Hit:
        path = at if isinstance(at, str) else at.path
        return Hit(path=path, message=message, severity=severity)


class _Reader:
    """Typed access to raw fields; a wrong type is an InputError at the field's line.

    Raw objects are plain dicts and lists (from the YAML loader or JSON): checking
    ``dict`` rather than the ``Mapping`` ABC keeps this hot path fast.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: Obj) -> None:
        self.obj = obj

    def wrong(self, path: str, expected: str, value: Any) -> InputError:
        location = self.obj.locate(path)
        name = path.rsplit("/", 1)[-1] or "object"
        got = {
            bool: "boolean",
            int: "integer",
            float: "number",
            str: "string",
            list: "list",
            dict: "mapping",
        }.get(type(value), type(value).__name__)
        return InputError(
            f"{self.obj.ref}: {name} must be {expected}, not a {got} ({path})",
            file=location.file,
            line=location.line,
        )

    def mapping(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.wrong(path, "a mapping", value)
        return value

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.wrong(path, "a list", value)
        return value

    def boolean(self, parent: Mapping[str, Any], key: str, path: str) -> bool | None:
        value = parent.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise self.wrong(path, "true or false", value)

    def integer(self, parent: Mapping[str, Any], key: str, path: str) -> int | None:
        value = parent.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise self.wrong(path, "an integer", value)

    def string(self, parent: Mapping[str, Any], key: str, path: str) -> str | None:
        value = parent.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self.wrong(path, "a string", value)


def _first(*candidates: Field[T]) -> Field[T]:
    """The first field that is set; else the first (where the container should set it)."""
    for candidate in candidates:
        if candidate.is_set:
            return candidate
    return candidates[0]


def _field(value: T | None, path: str, source: str) -> Field[T]:
    return Field(value, path, source if value is not None else None)


def effective_pod(obj: Obj, template_path: str) -> EffectivePod:
    """Build the effective pod of ``obj`` whose template is at ``template_path``.

    Raises :class:`InputError` when a field the rules read has the wrong type.
    """
    read = _Reader(obj)
    if template_path:
        template = _lookup(obj.raw, template_path, read)
        meta_path, spec_path = template_path + "/metadata", template_path + "/spec"
    else:
        template = obj.raw
        meta_path, spec_path = "/metadata", "/spec"
    metadata = read.mapping(template, "metadata", meta_path)
    annotations = {
        k: v
        for k, v in read.mapping(metadata, "annotations", meta_path + "/annotations").items()
        if isinstance(v, str)
    }
    spec = read.mapping(template, "spec", spec_path)
    psc_path = spec_path + "/securityContext"
    psc = read.mapping(spec, "securityContext", psc_path)
    pod = _PodLevel(read, psc, psc_path, annotations, meta_path + "/annotations")

    containers: list[EffectiveContainer] = []
    for list_name in CONTAINER_LISTS:
        list_path = f"{spec_path}/{list_name}"
        for index, raw in enumerate(read.items(spec, list_name, list_path)):
            path = f"{list_path}/{index}"
            if not isinstance(raw, dict):
                raise read.wrong(path, "a mapping", raw)
            containers.append(_container(read, raw, list_name, index, path, pod))

    os_spec = read.mapping(spec, "os", spec_path + "/os")
    windows = os_spec.get("name") == "windows" or pod.host_process.value is True
    groups = read.items(psc, "supplementalGroups", psc_path + "/supplementalGroups")
    sysctls = read.items(psc, "sysctls", psc_path + "/sysctls")
    return EffectivePod(
        obj=obj,
        template_path=template_path,
        spec_path=spec_path,
        annotations=annotations,
        containers=tuple(containers),
        host_network=_field(
            read.boolean(spec, "hostNetwork", spec_path + "/hostNetwork"), spec_path + "/hostNetwork", "pod"
        ),
        host_pid=_field(read.boolean(spec, "hostPID", spec_path + "/hostPID"), spec_path + "/hostPID", "pod"),
        host_ipc=_field(read.boolean(spec, "hostIPC", spec_path + "/hostIPC"), spec_path + "/hostIPC", "pod"),
        run_as_group=pod.run_as_group,
        fs_group=_field(read.integer(psc, "fsGroup", psc_path + "/fsGroup"), psc_path + "/fsGroup", "pod"),
        supplemental_groups=tuple(
            _field(
                _int_item(read, g, f"{psc_path}/supplementalGroups/{i}"),
                f"{psc_path}/supplementalGroups/{i}",
                "pod",
            )
            for i, g in enumerate(groups)
        ),
        sysctls=tuple(_sysctl(read, s, f"{psc_path}/sysctls/{i}") for i, s in enumerate(sysctls)),
        se_linux_options=pod.se_linux_options,
        volumes=tuple(_volumes(read, spec, spec_path)),
        is_windows=windows,
        host_users=_field(
            read.boolean(spec, "hostUsers", spec_path + "/hostUsers"), spec_path + "/hostUsers", "pod"
        ),
    )


def _lookup(raw: Mapping[str, Any], pointer: str, read: _Reader) -> Mapping[str, Any]:
    node: Mapping[str, Any] = raw
    path = ""
    for token in _pointer.split(pointer):
        path += "/" + _pointer.escape(token)
        node = read.mapping(node, token, path)
    return node


def _int_item(read: _Reader, value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise read.wrong(path, "an integer", value)


def _sysctl(read: _Reader, raw: Any, path: str) -> Field[str]:
    if not isinstance(raw, dict):
        raise read.wrong(path, "a mapping", raw)
    name = read.string(raw, "name", path + "/name")
    return Field(name or "", path + "/name", "pod")


def _volumes(read: _Reader, spec: Mapping[str, Any], spec_path: str) -> list[Volume]:
    volumes = []
    for index, raw in enumerate(read.items(spec, "volumes", spec_path + "/volumes")):
        path = f"{spec_path}/volumes/{index}"
        if not isinstance(raw, dict):
            raise read.wrong(path, "a mapping", raw)
        name = read.string(raw, "name", path + "/name") or ""
        kinds = [k for k in raw if k != "name"]
        kind = kinds[0] if kinds else None
        source = raw.get(kind) if kind else None
        volumes.append(
            Volume(
                name=name,
                type=kind,
                path=f"{path}/{_pointer.escape(kind)}" if kind else path,
                source=source if isinstance(source, dict) else {},
            )
        )
    return volumes


class _PodLevel:
    """The pod securityContext fields containers inherit, read once per pod."""

    def __init__(
        self,
        read: _Reader,
        psc: Mapping[str, Any],
        path: str,
        annotations: Mapping[str, str],
        annotations_path: str,
    ) -> None:
        self.run_as_non_root = _field(
            read.boolean(psc, "runAsNonRoot", path + "/runAsNonRoot"), path + "/runAsNonRoot", "pod"
        )
        self.run_as_user = _field(
            read.integer(psc, "runAsUser", path + "/runAsUser"), path + "/runAsUser", "pod"
        )
        self.run_as_group = _field(
            read.integer(psc, "runAsGroup", path + "/runAsGroup"), path + "/runAsGroup", "pod"
        )
        self.se_linux_options = _selinux(read, psc, path, "pod")
        self.seccomp = _profile(read, psc, "seccompProfile", path, "pod")
        self.apparmor = _profile(read, psc, "appArmorProfile", path, "pod")
        windows = read.mapping(psc, "windowsOptions", path + "/windowsOptions")
        self.host_process = _field(
            read.boolean(windows, "hostProcess", path + "/windowsOptions/hostProcess"),
            path + "/windowsOptions/hostProcess",
            "pod",
        )
        self.annotations = annotations
        self.annotations_path = annotations_path
        legacy = annotations.get(SECCOMP_POD_ANNOTATION)
        self.seccomp_annotation: Field[str] = Field(
            _legacy_profile(legacy) if legacy is not None else None,
            _pointer.join(annotations_path, SECCOMP_POD_ANNOTATION),
            "annotation" if legacy is not None else None,
        )


def _selinux(read: _Reader, sc: Mapping[str, Any], path: str, level: str) -> Field[Mapping[str, Any]]:
    options = sc.get("seLinuxOptions")
    if options is None:
        return Field(None, path + "/seLinuxOptions")
    if not isinstance(options, dict):
        raise read.wrong(path + "/seLinuxOptions", "a mapping", options)
    return Field(options, path + "/seLinuxOptions", level)


def _profile(read: _Reader, sc: Mapping[str, Any], key: str, path: str, level: str) -> Field[str]:
    """A seccompProfile or appArmorProfile ``type``; the pointer is that of the type field."""
    profile = read.mapping(sc, key, f"{path}/{key}")
    kind = read.string(profile, "type", f"{path}/{key}/type")
    return _field(kind, f"{path}/{key}/type", level)


def _legacy_profile(value: str) -> str:
    """Translate a legacy seccomp/AppArmor annotation value to the field's type name."""
    if value in {"runtime/default", "docker/default"}:
        return "RuntimeDefault"
    if value.startswith("localhost/"):
        return "Localhost"
    if value == "unconfined":
        return "Unconfined"
    return value


def _container(
    read: _Reader, raw: Mapping[str, Any], list_name: str, index: int, path: str, pod: _PodLevel
) -> EffectiveContainer:
    name = read.string(raw, "name", path + "/name") or f"#{index}"
    sc_path = path + "/securityContext"
    sc = read.mapping(raw, "securityContext", sc_path)

    def own_bool(key: str) -> Field[bool]:
        return _field(read.boolean(sc, key, f"{sc_path}/{key}"), f"{sc_path}/{key}", "container")

    def own_int(key: str) -> Field[int]:
        return _field(read.integer(sc, key, f"{sc_path}/{key}"), f"{sc_path}/{key}", "container")

    caps_path = sc_path + "/capabilities"
    caps = read.mapping(sc, "capabilities", caps_path)
    add = read.items(caps, "add", caps_path + "/add")
    drop = read.items(caps, "drop", caps_path + "/drop")
    for i, cap in enumerate([*add, *drop]):
        if not isinstance(cap, str):
            where = f"{caps_path}/add/{i}" if i < len(add) else f"{caps_path}/drop/{i - len(add)}"
            raise read.wrong(where, "a string", cap)

    container_seccomp = _profile(read, sc, "seccompProfile", sc_path, "container")
    seccomp_annotation_key = SECCOMP_CONTAINER_ANNOTATION + name
    legacy_seccomp = pod.annotations.get(seccomp_annotation_key)
    container_seccomp_annotation: Field[str] = Field(
        _legacy_profile(legacy_seccomp) if legacy_seccomp is not None else None,
        _pointer.join(pod.annotations_path, seccomp_annotation_key),
        "annotation" if legacy_seccomp is not None else None,
    )
    apparmor_annotation_key = APPARMOR_CONTAINER_ANNOTATION + name
    legacy_apparmor = pod.annotations.get(apparmor_annotation_key)
    container_apparmor_annotation: Field[str] = Field(
        _legacy_profile(legacy_apparmor) if legacy_apparmor is not None else None,
        _pointer.join(pod.annotations_path, apparmor_annotation_key),
        "annotation" if legacy_apparmor is not None else None,
    )
    windows = read.mapping(sc, "windowsOptions", sc_path + "/windowsOptions")
    image = read.string(raw, "image", path + "/image")
    return EffectiveContainer(
        name=name,
        list_name=list_name,
        index=index,
        path=path,
        image=_field(image, path + "/image", "container"),
        run_as_non_root=_first(own_bool("runAsNonRoot"), pod.run_as_non_root),
        run_as_user=_first(own_int("runAsUser"), pod.run_as_user),
        run_as_group=_first(own_int("runAsGroup"), pod.run_as_group),
        privileged=own_bool("privileged"),
        allow_privilege_escalation=own_bool("allowPrivilegeEscalation"),
        capabilities_add=tuple(Field(c, f"{caps_path}/add/{i}", "container") for i, c in enumerate(add)),
        capabilities_drop=Field(tuple(drop), caps_path + "/drop", "container" if "drop" in caps else None),
        read_only_root_filesystem=own_bool("readOnlyRootFilesystem"),
        proc_mount=_field(
            read.string(sc, "procMount", sc_path + "/procMount"), sc_path + "/procMount", "container"
        ),
        seccomp_profile=_first(
            container_seccomp, container_seccomp_annotation, pod.seccomp, pod.seccomp_annotation
        ),
        apparmor_profile=_first(
            _profile(read, sc, "appArmorProfile", sc_path, "container"),
            container_apparmor_annotation,
            pod.apparmor,
        ),
        se_linux_options=_first(_selinux(read, sc, sc_path, "container"), pod.se_linux_options),
        host_process=_first(
            _field(
                read.boolean(windows, "hostProcess", sc_path + "/windowsOptions/hostProcess"),
                sc_path + "/windowsOptions/hostProcess",
                "container",
            ),
            pod.host_process,
        ),
        ports=tuple(_ports(read, raw, path)),
        env=tuple(_env(read, raw, path)),
    )


def _ports(read: _Reader, container: Mapping[str, Any], path: str) -> list[Port]:
    ports = []
    for index, raw in enumerate(read.items(container, "ports", path + "/ports")):
        port_path = f"{path}/ports/{index}"
        if not isinstance(raw, dict):
            raise read.wrong(port_path, "a mapping", raw)
        host_port = read.integer(raw, "hostPort", port_path + "/hostPort")
        ports.append(
            Port(
                container_port=read.integer(raw, "containerPort", port_path + "/containerPort"),
                host_port=_field(host_port, port_path + "/hostPort", "container"),
                protocol=read.string(raw, "protocol", port_path + "/protocol") or "TCP",
            )
        )
    return ports


def _env(read: _Reader, container: Mapping[str, Any], path: str) -> list[EnvVar]:
    variables = []
    for index, raw in enumerate(read.items(container, "env", path + "/env")):
        env_path = f"{path}/env/{index}"
        if not isinstance(raw, dict):
            raise read.wrong(env_path, "a mapping", raw)
        name = read.string(raw, "name", env_path + "/name") or ""
        value = raw.get("value")
        # A number or boolean is still a literal value (the API server would refuse it, but it is written).
        literal = value is not None and str(value) != "" and not _only_reference(str(value))
        variables.append(EnvVar(name=name, path=env_path + ("/value" if literal else ""), literal=literal))
    return variables


_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_.-]*\)")


def _only_reference(value: str) -> bool:
    """``$(USER):$(PASSWORD)``: the value is composed from other variables, not written here.

    What remains once the references are taken out (``$$`` escapes a literal ``$``) holds no
    letter or digit.
    """
    remainder = _REFERENCE.sub("", value.replace("$$", "\0"))
    return remainder != value and not any(c.isalnum() for c in remainder)
