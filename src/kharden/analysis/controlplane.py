"""Control-plane components and their effective flags, from static pods, k3s/RKE2 configs and kubelet files.

A :class:`Component` is one running kube-apiserver, etcd, kube-scheduler, kube-controller-manager or
kubelet, found

- in a Pod whose container runs the component's program (a kubeadm or RKE2 static pod read from a node,
  a manifest, or the mirror pod a cluster snapshot shows in kube-system);
- in a k3s configuration (k3s runs the components in its own process with flags it sets itself,
  overridden by the ``kube-apiserver-arg`` ... entries of config.yaml and of its unit's command line);
- for the kubelet, in its systemd unit, flag files and KubeletConfiguration.

:meth:`Component.setting` answers "what is the value of ``--flag``" exactly as the component would:
the last occurrence written, else what the distribution passes, else the component's default for the
Kubernetes version of the scan (:data:`DEFAULT_KUBE_VERSION` unless ``--kube-version``, the cluster or
a node root's kube-apiserver says otherwise; a default that depends on an assumed version is recorded
in :attr:`ControlPlane.assumptions`). Every answer names where it was decided, to point a finding at.

Defaults assumed (Kubernetes 1.33, etcd 3.5): kube-apiserver ``--anonymous-auth=true``,
``--profiling=true``, ``--authorization-mode=AlwaysAllow``, ``--audit-log-maxage``,
``--audit-log-maxbackup`` and ``--audit-log-maxsize`` 0, no ``--insecure-port`` (removed in 1.24;
before 1.20 it defaulted to 8080 on 127.0.0.1); kube-scheduler and kube-controller-manager
``--bind-address=0.0.0.0``, ``--profiling=true``; etcd ``--client-cert-auth=false``,
``--peer-client-cert-auth=false``, ``--listen-client-urls=http://localhost:2379``; kubelet flags
``--read-only-port=10255``, ``--anonymous-auth=true``, ``--authorization-mode=AlwaysAllow``, but in a
KubeletConfiguration file (v1beta1) ``readOnlyPort: 0``, ``authentication.anonymous.enabled: false``,
``authorization.mode: Webhook``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _flags, _hostpath, _pointer
from ..errors import InputError
from ..inventory import Inventory
from ..model import Obj
from .distribution import component_args, distributions
from .staticpods import MIRROR_ANNOTATION

__all__ = [
    "APISERVER",
    "CONTROLLER_MANAGER",
    "DEFAULT_KUBE_VERSION",
    "ETCD",
    "KUBELET",
    "SCHEDULER",
    "Component",
    "ControlPlane",
    "FileState",
    "KubeVersion",
    "Setting",
    "parse_version",
]

APISERVER = "kube-apiserver"
ETCD = "etcd"
SCHEDULER = "kube-scheduler"
CONTROLLER_MANAGER = "kube-controller-manager"
KUBELET = "kubelet"
NODE_API = "node.kharden.io/v1alpha1"

DEFAULT_KUBE_VERSION = (1, 33)
"""The Kubernetes version whose defaults kharden assumes when neither ``--kube-version``, the cluster,
nor a node root's kube-apiserver says which one runs."""

# Component defaults when a flag is absent (Kubernetes 1.33, etcd 3.5).
DEFAULTS: dict[str, dict[str, str]] = {
    APISERVER: {
        "anonymous-auth": "true",
        "profiling": "true",
        "insecure-port": "0",
        # "Defaults to AlwaysAllow if --authorization-config is not used" (kube-apiserver --help)
        "authorization-mode": "AlwaysAllow",
        "audit-log-maxage": "0",
        "audit-log-maxbackup": "0",
        "audit-log-maxsize": "0",
    },
    SCHEDULER: {"bind-address": "0.0.0.0", "profiling": "true"},  # noqa: S104 - the default being judged
    CONTROLLER_MANAGER: {"bind-address": "0.0.0.0", "profiling": "true"},  # noqa: S104
    ETCD: {
        "client-cert-auth": "false",
        "peer-client-cert-auth": "false",
        "auto-tls": "false",
        "peer-auto-tls": "false",
        "listen-client-urls": "http://localhost:2379",
        "listen-peer-urls": "http://localhost:2380",
    },
    KUBELET: {"read-only-port": "10255", "anonymous-auth": "true", "authorization-mode": "AlwaysAllow"},
}

# What k3s (and RKE2 without its static pods) passes to the components it runs (k3s pkg/daemons).
_K3S_FLAGS: dict[str, dict[str, str]] = {
    APISERVER: {
        "anonymous-auth": "false",
        "profiling": "false",
        "enable-admission-plugins": "NodeRestriction",
        "authorization-mode": "Node,RBAC",
        "tls-cert-file": "/var/lib/rancher/{d}/server/tls/serving-kube-apiserver.crt",
        "tls-private-key-file": "/var/lib/rancher/{d}/server/tls/serving-kube-apiserver.key",
        "client-ca-file": "/var/lib/rancher/{d}/server/tls/client-ca.crt",
        "kubelet-certificate-authority": "/var/lib/rancher/{d}/server/tls/server-ca.crt",
        "kubelet-client-certificate": "/var/lib/rancher/{d}/server/tls/client-kube-apiserver.crt",
        "kubelet-client-key": "/var/lib/rancher/{d}/server/tls/client-kube-apiserver.key",
        "etcd-servers": "unix://kine.sock",
    },
    SCHEDULER: {"bind-address": "127.0.0.1", "profiling": "false"},
    CONTROLLER_MANAGER: {"bind-address": "127.0.0.1", "profiling": "false"},
    ETCD: {
        "client-cert-auth": "true",
        "peer-client-cert-auth": "true",
        "listen-client-urls": "https://127.0.0.1:2379",
        "cert-file": "/var/lib/rancher/{d}/server/tls/etcd/server-client.crt",
        "key-file": "/var/lib/rancher/{d}/server/tls/etcd/server-client.key",
        "trusted-ca-file": "/var/lib/rancher/{d}/server/tls/etcd/server-ca.crt",
        "peer-cert-file": "/var/lib/rancher/{d}/server/tls/etcd/peer-server-client.crt",
        "peer-key-file": "/var/lib/rancher/{d}/server/tls/etcd/peer-server-client.key",
        "peer-trusted-ca-file": "/var/lib/rancher/{d}/server/tls/etcd/peer-ca.crt",
    },
    KUBELET: {
        "read-only-port": "0",
        "anonymous-auth": "false",
        "authorization-mode": "Webhook",
        "authentication-token-webhook": "true",
    },
}
_K3S_ETCD_APISERVER = {
    "etcd-servers": "https://127.0.0.1:2379",
    "etcd-cafile": "/var/lib/rancher/{d}/server/tls/etcd/server-ca.crt",
    "etcd-certfile": "/var/lib/rancher/{d}/server/tls/etcd/client.crt",
    "etcd-keyfile": "/var/lib/rancher/{d}/server/tls/etcd/client.key",
}
_ARG_KEYS = {
    APISERVER: "kube-apiserver-arg",
    ETCD: "etcd-arg",
    SCHEDULER: "kube-scheduler-arg",
    CONTROLLER_MANAGER: "kube-controller-manager-arg",
    KUBELET: "kubelet-arg",
}
# Kubelet settings: flag -> (KubeletConfiguration pointer, file default, how a config value reads as a flag).
KUBELET_CONFIG = {
    "read-only-port": ("/readOnlyPort", "0"),
    "anonymous-auth": ("/authentication/anonymous/enabled", "false"),
    "authorization-mode": ("/authorization/mode", "Webhook"),
}


def parse_version(text: str) -> tuple[int, int] | None:
    """``(1, 29)`` from ``1.29``, ``v1.29.3``, ``v1.29.3+k3s1``; ``None`` when it is no version."""
    match = re.match(r"^v?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True, slots=True)
class KubeVersion:
    """The Kubernetes version whose defaults apply, and what said so (``None``: assumed)."""

    version: tuple[int, int]
    source: str | None

    @property
    def stated(self) -> bool:
        return self.source is not None

    @property
    def text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def _kube_version(
    stated: tuple[int, int] | None, cluster: str | None, apiservers: list[Component]
) -> KubeVersion:
    """``--kube-version``, else the cluster's (its ``/version``, else a kube-apiserver mirror pod's image),
    else a node root's kube-apiserver static pod image, else :data:`DEFAULT_KUBE_VERSION` (assumed).

    A kube-apiserver manifest among plain manifest files says nothing of the cluster they are applied to
    (one old example in a repository would change every version-dependent verdict): it is not used.
    """
    if stated is not None:
        return KubeVersion(stated, "--kube-version")
    version = parse_version(cluster) if cluster else None
    if version is not None:
        return KubeVersion(version, f"the cluster ({cluster})")
    for where, wanted in (("a mirror pod of the cluster", True), ("a node root", False)):
        for component in apiservers:
            obj = component.obj
            mirror = MIRROR_ANNOTATION in obj.annotations
            if mirror != wanted or (not mirror and obj.origin.node is None):
                continue
            image = component.container_raw.get("image") if component.container_raw else None
            if isinstance(image, str) and ":" in image.rsplit("/", 1)[-1]:
                version = parse_version(image.rsplit(":", 1)[-1])
                if version is not None:
                    return KubeVersion(version, f"the kube-apiserver image of {where} ({image})")
    return KubeVersion(DEFAULT_KUBE_VERSION, None)


@dataclass(frozen=True, slots=True)
class Setting:
    """The effective value of one flag and what decided it.

    ``source`` is ``"flag"`` (written on the command line or in a config's ``*-arg`` list),
    ``"config"`` (a KubeletConfiguration field), ``"distribution"`` (k3s/RKE2 pass it themselves) or
    ``"default"`` (the component's own default); ``obj``/``path`` point where it was written, or where
    the flag would go. ``component`` names the component whose flag it is (``kube-apiserver``).
    """

    name: str
    value: str | None
    obj: Obj
    path: str
    source: str
    written: str
    component: str = ""

    @property
    def is_set(self) -> bool:
        return self.source in {"flag", "config"}

    def describe(self) -> str:
        """``--anonymous-auth=true`` as written, or ``--anonymous-auth is not set and defaults to true``."""
        if self.source in {"flag", "config"}:
            return self.written
        if self.source == "distribution":
            return f"--{self.name}={self.value} (set by the distribution)"
        if self.value is None:
            return f"--{self.name} is not set"
        return f"--{self.name} is not set and defaults to {self.value}"


@dataclass(frozen=True, slots=True)
class _Written:
    arg: _flags.Arg
    obj: Obj
    path: str
    shown: str = ""
    """How it is written when not as a flag (``client-transport-security.client-cert-auth: true``)."""

    @property
    def text(self) -> str:
        return self.shown or self.arg.text


@dataclass(frozen=True, slots=True)
class FileState:
    """What is known about a file a flag names: the objects read from it, or why there are none."""

    path: str
    """The path as the flag writes it."""
    host: str | None
    objects: tuple[Obj, ...]
    missing_reason: str | None
    """Set when the file could not be evaluated: not found under the root, not on the node, ..."""


@dataclass
class Component:
    """One running component and the flags it was given."""

    name: str
    obj: Obj
    anchor: str
    """Pointer where a new flag would be written (the container's command or the config's arg list)."""
    container: str | None
    node: str | None
    distribution: str
    """``kubeadm`` (a static pod read from a node), ``manifest``, ``k3s``, ``rke2``, ``systemd``."""
    written: list[_Written] = field(default_factory=list)
    implicit: dict[str, str] = field(default_factory=dict)
    implicit_obj: Obj | None = None
    pod_spec: Mapping[str, Any] | None = None
    container_raw: Mapping[str, Any] | None = None
    kube_version: tuple[int, int] = DEFAULT_KUBE_VERSION
    kubelet_config: Obj | None = None
    fix_at: dict[str, tuple[Obj, str]] = field(default_factory=dict)
    """Where an unset flag is decided when not by the flag itself (k3s' ``secrets-encryption``)."""
    kubelet_dropins: list[Obj] = field(default_factory=list)
    """The KubeletConfiguration drop-ins of ``--config-dir``, in the order the kubelet merges them."""
    kubelet_config_path: str | None = None
    unreadable: str | None = None
    """Why the component's configuration cannot be judged (etcd's --config-file is not on the node)."""

    def all(self, name: str) -> list[_Written]:
        return [w for w in self.written if w.arg.name == name]

    def last(self, name: str) -> _Written | None:
        found = self.all(name)
        return found[-1] if found else None

    def setting(self, name: str, default: str | None = None) -> Setting:
        """The effective value of ``--name``: written, else the distribution's, else the default."""
        written = self.last(name)
        if written is not None:
            value = "true" if written.arg.value is None else written.arg.value
            return Setting(name, value, written.obj, written.path, "flag", written.text, self.name)
        files = [*reversed(self.kubelet_dropins), *([self.kubelet_config] if self.kubelet_config else [])]
        if self.name == KUBELET and name in KUBELET_CONFIG and files:
            # --config-dir drop-ins are merged over the --config file in name order (a JSON merge
            # patch each: the last file that sets a field wins), flags over both: kubelet
            # cmd/kubelet/app/server.go, mergeKubeletConfigurations and kubeletConfigFlagPrecedence.
            pointer, file_default = KUBELET_CONFIG[name]
            for source in files:
                value = _at(source.raw, pointer)
                if value is not None:
                    text = _flag_text(value)
                    key = ".".join(_pointer.split(pointer))
                    shown = f"{key}: {text}"
                    return Setting(name, text, source, pointer, "config", shown, self.name)
            if self.kubelet_config is None:  # drop-ins over the flags' own defaults
                default_value = self.default(name)
                unset = f"{pointer} is not set"
                return Setting(name, default_value, files[0], pointer, "default", unset, self.name)
            unset = f"{pointer} is not set"
            return Setting(name, file_default, self.kubelet_config, pointer, "default", unset, self.name)
        if name in self.implicit:
            obj = self.implicit_obj or self.obj
            return Setting(name, self.implicit[name], obj, "", "distribution", "", self.name)
        if default is None:
            default = self.default(name)
        obj, path = self.fix_at.get(name, (self.obj, self.anchor))
        return Setting(name, default, obj, path, "default", "", self.name)

    def default(self, name: str) -> str | None:
        if self.name == APISERVER and name == "insecure-port" and self.kube_version < (1, 20):
            return "8080"
        return DEFAULTS.get(self.name, {}).get(name)

    def has(self, name: str) -> bool:
        return self.last(name) is not None or name in self.implicit

    def items(self, name: str) -> list[tuple[str, Setting]]:
        """A list flag's items (``--enable-admission-plugins=A,B``), across repeated occurrences."""
        occurrences = self.all(name)
        if occurrences:
            return [
                (item.strip(), Setting(name, w.arg.value, w.obj, w.path, "flag", w.text, self.name))
                for w in occurrences
                for item in (w.arg.value or "").split(",")
                if item.strip()
            ]
        setting = self.setting(name)
        return [(item.strip(), setting) for item in (setting.value or "").split(",") if item.strip()]

    def host_path(self, path: str) -> _hostpath.Resolved:
        """Where a path the component names lies on its node."""
        if self.pod_spec is not None and self.container_raw is not None:
            return _hostpath.resolve(self.pod_spec, self.container_raw, path)
        return _hostpath.Resolved(path)


def _at(raw: Mapping[str, Any], pointer: str) -> Any:
    node: Any = raw
    for token in _pointer.split(pointer):
        node = node.get(token) if isinstance(node, Mapping) else None
    return node


def _flag_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class ControlPlane:
    """The components of a scan and the node files their flags point to. Built once per scan."""

    def __init__(
        self,
        inventory: Inventory,
        kube_version: tuple[int, int] | None = None,
        cluster_version: str | None = None,
    ) -> None:
        self.inventory = inventory
        self.node_files = {
            obj.origin.node: obj for obj in inventory.of_kind("NodeFiles") if obj.ref.api_version == NODE_API
        }
        self.components: list[Component] = []
        self._by_file: dict[tuple[str | None, str], list[Obj]] = {}
        for obj in inventory.objects:
            if obj.origin.node is not None and obj.origin.file is not None:
                self._by_file.setdefault((obj.origin.node, obj.origin.file), []).append(obj)
        self.errors: list[InputError] = []
        """Pods whose command or args are not lists of strings (the kubelet would refuse them)."""
        for pod in inventory.of_kind("Pod"):
            if _names_a_program(pod):
                self.components.extend(_pod_components(pod, self.errors))
        self.components.extend(_distribution_components(inventory))
        self.components.extend(_kubelets(inventory, self))
        for etcd in self.of(ETCD):
            self._etcd_config_file(etcd)
        self.version = _kube_version(kube_version, cluster_version, self.of(APISERVER))
        self.kube_version = self.version.version
        self.version_stated = self.version.stated
        self.assumptions: list[str] = []
        """What the scan decided on an assumed Kubernetes version (printed with the report)."""
        for component in self.components:
            component.kube_version = self.kube_version

    def assume(self, what: str) -> None:
        """Record that ``what`` was decided on the assumed version (nothing when the version is known)."""
        if not self.version.stated:
            note = (
                f"Kubernetes {self.version.text} for {what} (no --kube-version, cluster or node root says"
                " which version runs)"
            )
            if note not in self.assumptions:
                self.assumptions.append(note)

    def _etcd_config_file(self, etcd: Component) -> None:
        """etcd with --config-file ignores its other flags and ETCD_* variables: read the file instead."""
        flag = etcd.last("config-file")
        if flag is None or not flag.arg.value:
            return
        state = self.file_at(etcd, flag.arg.value)
        config = next((o for o in state.objects if o.ref.kind == "EtcdConfig"), None)
        if config is None:
            etcd.unreadable = f"etcd --config-file: {state.missing_reason or 'no etcd configuration'}"
            return
        etcd.written = list(_etcd_settings(config))

    def of(self, name: str) -> list[Component]:
        return [c for c in self.components if c.name == name]

    @property
    def node_roots(self) -> list[str]:
        return [root for root in self.node_files if root is not None]

    def file(self, component: Component, name: str) -> FileState | None:
        """The file ``--name`` of ``component`` points to, with the objects read from it."""
        setting = component.setting(name)
        if setting.value is None or setting.source == "default":
            return None
        return self.file_at(component, setting.value)

    def file_at(self, component: Component, path: str) -> FileState:
        resolved = component.host_path(path)
        if resolved.host is None:
            return FileState(path, None, (), f"{path} is not on the node: {resolved.reason}")
        root = component.node
        if root is None or root not in self.node_files:
            return FileState(
                path, resolved.host, (), f"{resolved.host} is a node file (scan it with --node-root)"
            )
        real = _join(root, resolved.host)
        objects = tuple(self._by_file.get((root, real), ()))
        if objects:
            return FileState(path, resolved.host, objects, None)
        missing = self.node_files[root].raw.get("missing")
        if isinstance(missing, list) and resolved.host in missing:
            return FileState(path, resolved.host, (), f"{resolved.host} not found under {root}")
        return FileState(path, resolved.host, (), f"{resolved.host} holds no object kharden could read")


def anonymous_everywhere(authentication: Obj) -> bool:
    """Whether an AuthenticationConfiguration lets anonymous requests reach every path (enabled, and
    no conditions limiting it to paths such as /livez)."""
    anonymous = authentication.raw.get("anonymous")
    return (
        isinstance(anonymous, Mapping)
        and anonymous.get("enabled") is True
        and not anonymous.get("conditions")
    )


def _join(root: str, node_path: str) -> str:
    """The path under the node root that the node source gave a node file (symlinks aside)."""
    return os.path.join(root, *[p for p in node_path.split("/") if p])


def _names_a_program(pod: Obj) -> bool:
    """Whether a container of the pod says ``command`` or ``args`` (no runtime record does): of 200,000
    pods, the few that may run a component, told apart without a generator each (_pod_components)."""
    spec = pod.raw.get("spec")
    if type(spec) is not dict:
        return True  # _pod_components tells (a mapping of another type, or nothing)
    containers = spec.get("containers")
    if type(containers) is not list:
        return True
    for container in containers:
        if type(container) is not dict or "command" in container or "args" in container:
            return True
    return False


def _pod_components(pod: Obj, errors: list[InputError]) -> Iterator[Component]:
    spec = pod.raw.get("spec")
    if not isinstance(spec, Mapping):
        return
    containers = spec.get("containers")
    node = pod.origin.node  # a mirror pod's spec.nodeName names a node, not a root kharden read
    for index, container in enumerate(containers if isinstance(containers, list) else []):
        if not isinstance(container, Mapping) or ("command" not in container and "args" not in container):
            continue  # no program named: no component (most pods of a cluster, every runtime record)
        base = f"/spec/containers/{index}"
        for key in ("command", "args"):
            value = container.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                location = pod.locate(f"{base}/{key}")
                message = f"{pod.ref}: {key} must be a list of strings ({base}/{key})"
                errors.append(InputError(message, file=location.file, line=location.line))
        command = _words(container.get("command"))
        args = _words(container.get("args"))
        found = _flags.component_args(command, args)
        if found is None or found[0] == KUBELET:
            continue
        name, argv, offset = found
        component = Component(
            name=name,
            obj=pod,
            anchor=f"{base}/args" if args or not command else f"{base}/command",
            container=container.get("name") if isinstance(container.get("name"), str) else None,
            node=node,
            distribution="rke2"
            if pod.origin.file and "/rancher/rke2/" in pod.origin.file
            else ("kubeadm" if pod.origin.node is not None else "manifest"),
            pod_spec=spec,
            container_raw=container,
        )
        for arg in _flags.parse_args(argv):
            if offset < 0:
                path = f"{base}/command" if command else f"{base}/args"
            else:
                position = offset + arg.index
                path = (
                    f"{base}/command/{position}"
                    if position < len(command)
                    else f"{base}/args/{position - len(command)}"
                )
            component.written.append(_Written(arg, pod, path))
        if name == ETCD:
            _etcd_environment(component, container, base)
        yield component


def _etcd_environment(component: Component, container: Mapping[str, Any], base: str) -> None:
    """etcd reads ``ETCD_<FLAG>`` variables for flags not given on its command line."""
    env = container.get("env")
    for index, variable in enumerate(env if isinstance(env, list) else []):
        if not isinstance(variable, Mapping):
            continue
        name, value = variable.get("name"), variable.get("value")
        if isinstance(name, str) and name.startswith("ETCD_") and isinstance(value, str):
            flag = name.removeprefix("ETCD_").lower().replace("_", "-")
            if component.last(flag) is None:
                arg = _flags.Arg(flag, value, -1)
                component.written.insert(0, _Written(arg, component.obj, f"{base}/env/{index}/value"))


# etcd's configuration file nests the TLS settings: client-transport-security.cert-file is --cert-file,
# peer-transport-security.cert-file is --peer-cert-file (etcd embed.Config).
_ETCD_TLS_SECTIONS = {"client-transport-security": "", "peer-transport-security": "peer-"}


def _etcd_settings(config: Obj) -> Iterator[_Written]:
    raw = config.raw.get("config")
    for key, value in raw.items() if isinstance(raw, Mapping) else []:
        if key in _ETCD_TLS_SECTIONS and isinstance(value, Mapping):
            for name, item in value.items():
                path = f"/config/{_pointer.escape(key)}/{_pointer.escape(name)}"
                arg = _flags.Arg(_ETCD_TLS_SECTIONS[key] + name, _setting_text(item), -1)
                yield _Written(arg, config, path, f"{key}.{name}: {_setting_text(item)}")
        elif not isinstance(value, Mapping):
            arg = _flags.Arg(key, _setting_text(value), -1)
            yield _Written(arg, config, f"/config/{_pointer.escape(key)}", f"{key}: {arg.value}")


def _setting_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_flag_text(v) for v in value)
    return _flag_text(value)


def _words(value: Any) -> list[str]:
    return [v if isinstance(v, str) else str(v) for v in value] if isinstance(value, list) else []


def _distribution_components(inventory: Inventory) -> Iterator[Component]:
    """k3s runs every component in its own process; RKE2 runs the kubelet so (its others are static pods).

    The settings are k3s' merge of config.yaml, its drop-ins and the unit's command line
    (:mod:`.distribution`); a component's flags are what k3s passes it, then its ``*-arg`` entries.
    """
    for dist in distributions(inventory):
        names = (
            [KUBELET]
            if dist.role == "agent" or dist.name == "rke2"
            else [APISERVER, SCHEDULER, CONTROLLER_MANAGER, KUBELET]
        )
        embedded_etcd = dist.enabled("cluster-init") is not None or (
            bool(dist.string("server")) and not dist.string("datastore-endpoint")
        )
        if dist.role == "server" and dist.name == "k3s" and embedded_etcd:
            names.append(ETCD)
        anchor_obj = dist.anchor
        fix_at: dict[str, tuple[Obj, str]] = {}
        for name in names:
            implicit = {k: v.format(d=dist.name) for k, v in _K3S_FLAGS[name].items()}
            if name == APISERVER:
                if embedded_etcd:
                    implicit.update({k: v.format(d=dist.name) for k, v in _K3S_ETCD_APISERVER.items()})
                if dist.enabled("secrets-encryption") is not None:
                    implicit["encryption-provider-config"] = _flags.K3S_ENCRYPTION_CONFIG.format(dist.name)
                else:
                    written = dist.last("secrets-encryption")
                    decided = (written.obj, written.path) if written else (anchor_obj, dist.path_of(""))
                    fix_at = {"encryption-provider-config": decided}
            key = _ARG_KEYS[name]
            component = Component(
                name=name,
                obj=anchor_obj,
                anchor=f"/config/{key}" if anchor_obj.ref.kind == "DistributionConfig" else "/args",
                container=None,
                node=dist.node,
                distribution=dist.name,
                implicit=implicit,
                implicit_obj=anchor_obj,
                fix_at=fix_at if name == APISERVER else {},
            )
            for flag, value, where, mode in component_args(dist, key):
                arg = _flags.Arg(flag, value, -1)
                own = _Written(arg, where.obj, where.path)
                if mode and flag in implicit:
                    # k3s keeps its own value beside a 'flag+=' ('flag-=') entry, after (before) it.
                    kept = _Written(
                        _flags.Arg(flag, implicit[flag], -1),
                        anchor_obj,
                        component.anchor,
                        f"--{flag}={implicit[flag]} (set by {dist.name})",
                    )
                    component.written.extend([kept, own] if mode == "+" else [own, kept])
                else:
                    component.written.append(own)
            yield component


def _position(obj: Obj) -> int:
    """Where a piece of a command line or a config drop-in comes in its node's order."""
    position = obj.raw.get("position")
    return position if isinstance(position, int) else 0


def _kubelets(inventory: Inventory, plane: ControlPlane) -> Iterator[Component]:
    """The kubelet of each node whose kubeadm-style files (unit, flag files, config) are in the scan."""
    pieces: dict[str | None, list[Obj]] = {}
    for obj in inventory.of_kind("ComponentArgs"):
        if obj.ref.api_version == NODE_API and obj.raw.get("component") == KUBELET:
            pieces.setdefault(obj.origin.node, []).append(obj)
    configs: dict[str | None, list[Obj]] = {}
    for obj in inventory.of_kind("KubeletConfiguration"):
        if obj.origin.node is not None:
            configs.setdefault(obj.origin.node, []).append(obj)
    distribution_nodes = {
        o.origin.node for o in inventory.of_kind("DistributionConfig") if o.ref.api_version == NODE_API
    }
    for node in sorted(set(pieces) | set(configs), key=str):
        if node in distribution_nodes and node not in configs:
            continue  # the k3s/RKE2 kubelet, from its config
        objs = sorted(pieces.get(node, []), key=_position)
        anchor = objs[-1] if objs else configs[node][0]
        component = Component(
            name=KUBELET,
            obj=anchor,
            anchor="/args" if objs else "",
            container=None,
            node=node,
            distribution="systemd",
        )
        for obj in objs:
            for arg in _flags.parse_args(_words(obj.raw.get("args"))):
                component.written.append(_Written(arg, obj, f"/args/{arg.index}"))
        here = configs.get(node, [])
        config_dir = component.last("config-dir")
        if config_dir is not None and config_dir.arg.value and node is not None:
            directory = _join(node, config_dir.arg.value)
            component.kubelet_dropins = sorted(
                (o for o in here if os.path.dirname(o.origin.file or "") == directory),
                key=lambda o: o.origin.file or "",
            )
            here = [o for o in here if o not in component.kubelet_dropins]
        config_flag = component.last("config")
        if config_flag is not None and config_flag.arg.value:
            component.kubelet_config_path = config_flag.arg.value
            if node is not None and node in plane.node_files:
                real = _join(node, config_flag.arg.value)
                found = [o for o in here if o.origin.file == real]
                component.kubelet_config = found[0] if found else None
        elif here:
            component.kubelet_config = here[0]
        yield component
