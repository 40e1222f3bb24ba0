"""Node and control-plane files under a root directory (``--node-root DIR``; ``--node`` reads ``/``).

Every file becomes objects with file and line positions, as node evidence (``N``):

- **kubeadm**: static pods in ``etc/kubernetes/manifests/`` (or the kubelet's ``staticPodPath``) are
  Pods; the files their flags point to (``--encryption-provider-config``, ``--audit-policy-file``,
  ``--admission-control-config-file`` and the plugin files it names, ``--audit-webhook-config-file``,
  ``--authentication-config``, ``--authorization-config``) are read where the static pod's hostPath
  mounts put them on the node; kubeconfigs ``etc/kubernetes/*.conf``; the kubelet's systemd unit and
  drop-ins, the environment files they name (``var/lib/kubelet/kubeadm-flags.env``,
  ``etc/default/kubelet``), the KubeletConfiguration its ``--config`` names
  (``var/lib/kubelet/config.yaml``) and the ``*.conf`` drop-ins of its ``--config-dir``.
- **RKE2**: ``etc/rancher/rke2/config.yaml`` (and ``config.yaml.d/``), its static pods in
  ``var/lib/rancher/rke2/agent/pod-manifests/``, the ``rke2-server`` unit's flags (the unit is in
  ``/usr/local/lib/systemd/system`` after a tarball install).
- **k3s**: ``etc/rancher/k3s/config.yaml`` (and ``config.yaml.d/``), the ``k3s`` unit's flags, the
  encryption configuration k3s writes, and the files its ``*-arg`` entries point to. How k3s merges
  them is the analysis' business (``analysis/distribution.py``); every file is read as written.
- CNI configurations in ``etc/cni/net.d/`` (and k3s' ``var/lib/rancher/k3s/agent/etc/cni/net.d/``).

What is not a Kubernetes object becomes a small synthetic one of ``node.kharden.io/v1alpha1``:
``ComponentArgs`` (a run of command-line words from one file), ``DistributionConfig`` (a k3s or RKE2
config.yaml), ``EtcdConfig`` (the file of etcd ``--config-file``, RKE2's way), ``CNIConfig`` (a CNI
network configuration) and one ``NodeFiles`` per root naming the
files the flags point to that are missing, so that rules report them as not evaluated.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _flags, _hostpath
from .._files import TooLargeError, read_fd
from .._yaml import Positions, iter_documents
from ..errors import InputError
from ..model import Obj, ObjRef, Origin
from . import _noderoot
from ._noderoot import BlockedError, NodeRoot
from .documents import Collected

__all__ = [
    "APISERVER_FILE_FLAGS",
    "API_VERSION",
    "KUBELET_UNIT",
    "read_node",
]

API_VERSION = "node.kharden.io/v1alpha1"

# kube-apiserver flags naming a file kharden reads (their contents decide rules).
APISERVER_FILE_FLAGS = (
    "encryption-provider-config",
    "audit-policy-file",
    "admission-control-config-file",
    "audit-webhook-config-file",
    "authentication-config",
    "authorization-config",
)
STATIC_POD_DIRS = (
    "/etc/kubernetes/manifests",
    "/var/lib/rancher/rke2/agent/pod-manifests",
    "/var/lib/rancher/k3s/agent/pod-manifests",
)
KUBECONFIGS = (
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/super-admin.conf",
    "/etc/kubernetes/kubelet.conf",
    "/etc/kubernetes/controller-manager.conf",
    "/etc/kubernetes/scheduler.conf",
    "/etc/rancher/k3s/k3s.yaml",
    "/etc/rancher/rke2/rke2.yaml",
)
CNI_DIRS = ("/etc/cni/net.d", "/var/lib/rancher/k3s/agent/etc/cni/net.d")
# systemd's unit search path for the system manager, highest priority first (systemd.unit(5)); RKE2's
# tarball install puts rke2-server.service in /usr/local/lib/systemd/system.
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
KUBELET_UNIT = "kubelet.service"
# The units of a server and of an agent (the first word of the command line says which).
DISTRIBUTIONS = {
    "k3s": ("k3s.service", "k3s-agent.service"),
    "rke2": ("rke2-server.service", "rke2-agent.service"),
}
MAX_FILE_BYTES = 16 * 1024 * 1024
_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".manifest")
_CNI_SUFFIXES = (".conf", ".conflist", ".json")


# What makes a node root a node: a control-plane component or a kubelet was found there.
_COMPONENT_KINDS = frozenset({"Pod", "ComponentArgs", "DistributionConfig", "KubeletConfiguration"})


def read_node(root: str, collected: Collected) -> bool:
    """Read the node files under ``root`` into ``collected``; what cannot be read is an error.

    Returns whether the root holds a control-plane component or a kubelet (a static pod, a k3s or
    RKE2 configuration, the kubelet's unit, flags or configuration): a root without any is the
    wrong directory, or a machine that is no node.
    """
    if not os.path.isdir(root):
        collected.error(InputError("node root is not a directory", file=root))
        return False
    before = len(collected.objects)
    _Node(root, collected).read()
    read = [o for o in collected.objects[before:] if o.ref.kind != "NodeFiles"]
    if read:
        collected.evidence.add("N")
    return any(o.ref.kind in _COMPONENT_KINDS for o in read)


@dataclass
class _Node:
    root: str
    collected: Collected
    read_files: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    layouts: list[str] = field(default_factory=list)
    position: int = 0

    # -- files ---------------------------------------------------------------------------------

    def __post_init__(self) -> None:
        self.fs = NodeRoot(self.root)
        self._failed: set[str] = set()

    def real(self, node_path: str) -> str:
        """Where a node path is under the root, symlinks resolved inside the root (:mod:`._noderoot`)."""
        try:
            return self.fs.path(node_path)
        except OSError:
            return _noderoot.display(self.root, node_path)  # data() says why, once

    def _cannot(self, node_path: str, error: OSError, file: str | None = None) -> None:
        """Record why a node path cannot be read, once: the directory this process may not enter or
        list when that is why (read as another user, kubeadm's 0700 etc/kubernetes/manifests would make
        a control plane look empty), else the path."""
        if isinstance(error, BlockedError) and error.filename:
            what = "directory" if error.directory else "file"
            self._record(error.filename, f"cannot read {what}: {error.strerror}", error.filename)
        else:
            self._record(
                node_path, f"cannot read: {error.strerror}", file or _noderoot.display(self.root, node_path)
            )

    def _record(self, key: str, message: str, file: str) -> None:
        if key not in self._failed:
            self._failed.add(key)
            self.collected.error(InputError(message, file=file))

    def data(self, node_path: str) -> bytes | None:
        """The bytes of a node file, ``None`` when it does not exist; unreadable is an error."""
        try:
            fd, path = self.fs.open_file(node_path)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                self._cannot(node_path, e)
            return None
        try:
            return read_fd(fd, MAX_FILE_BYTES)
        except OSError as e:
            self._cannot(node_path, e, path)
        except TooLargeError:
            self._record(node_path, "file too large for a node configuration file", path)
        finally:
            os.close(fd)
        return None

    def _is(self, node_path: str, *, directory: bool = False) -> bool:
        """Whether ``node_path`` is a regular file (a ``directory``); a link chain too long is an error."""
        try:
            return self.fs.is_directory(node_path) if directory else self.fs.is_file(node_path)
        except OSError as e:
            self._cannot(node_path, e)
            return False

    def listing(self, node_dir: str, suffixes: tuple[str, ...]) -> list[str]:
        try:
            names = sorted(self.fs.list_directory(node_dir))
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.ENOTDIR):
                self._cannot(node_dir, e)
            return []
        found = [posixpath.join(node_dir, n) for n in names if n.endswith(suffixes) and not n.startswith(".")]
        return [p for p in found if self._is(p)]

    def load(self, node_path: str, *, required_by: str | None = None) -> bool:
        """Read a YAML/JSON file of Kubernetes-style objects; a missing required file is recorded."""
        if node_path in self.read_files:
            return True
        data = self.data(node_path)
        if data is None:
            if required_by is not None and node_path not in self.missing:
                self.missing.append(node_path)
            return False
        self.read_files.add(node_path)
        self.collected.add_stream(data, self.real(node_path), node=self.root)
        return True

    def add(
        self,
        kind: str,
        name: str,
        node_path: str,
        body: dict[str, Any],
        positions: Positions | None,
        *,
        counted: bool = True,
    ) -> None:
        raw = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, **body}
        ref = ObjRef(kind, None, name, API_VERSION)
        origin = Origin(self.real(node_path), 1, 1, positions, node=self.root)
        self.collected.add_object(Obj(raw=raw, ref=ref, origin=origin), counted=counted)

    # -- layouts -------------------------------------------------------------------------------

    def read(self) -> None:
        kubelet_config = self.kubelet()
        pod_dirs = list(STATIC_POD_DIRS)
        if kubelet_config and kubelet_config not in pod_dirs:
            pod_dirs.insert(0, kubelet_config)
        for directory in pod_dirs:
            for path in self.listing(directory, _MANIFEST_SUFFIXES):
                self.static_pod(path)
        for distribution in DISTRIBUTIONS:
            self.distribution(distribution)
        for path in KUBECONFIGS:
            self.load(path)
        for directory in CNI_DIRS:
            for path in self.listing(directory, _CNI_SUFFIXES):
                self.cni(directory, path)
        if self._is("/etc/kubernetes", directory=True) and "kubeadm" not in self.layouts:
            self.layouts.insert(0, "kubeadm")
        self.add(
            "NodeFiles",
            self.root,
            "/",
            {"root": self.root, "layouts": self.layouts, "missing": self.missing},
            None,
            counted=False,  # kharden's own notes about the root, not something read from it
        )

    def static_pod(self, node_path: str) -> None:
        data = self.data(node_path)
        if data is None:
            return
        file = self.real(node_path)
        self.read_files.add(node_path)
        before = len(self.collected.objects)
        self.collected.add_stream(data, file, node=self.root)
        for obj in self.collected.objects[before:]:
            if obj.ref.kind == "Pod":
                self.pod_files(obj)

    def pod_files(self, pod: Obj) -> None:
        """Read the files the flags of a static kube-apiserver point to, through its mounts."""
        spec = pod.raw.get("spec")
        containers = spec.get("containers") if isinstance(spec, Mapping) else None
        for container in containers if isinstance(containers, list) else []:
            if not isinstance(container, Mapping):
                continue
            found = _flags.component_args(_words(container.get("command")), _words(container.get("args")))
            if found is None or found[0] not in {"kube-apiserver", "etcd"}:
                continue
            assert isinstance(spec, Mapping)
            for arg in _flags.parse_args(found[1]):
                if found[0] == "etcd":
                    if arg.name == "config-file" and arg.value:
                        host = _hostpath.resolve(spec, container, arg.value).host
                        if host is not None:
                            name, flag = f"etcd:{host}", "etcd --config-file"
                            self.wrapped(host, "EtcdConfig", name, {}, required_by=flag)
                    continue
                if arg.name in APISERVER_FILE_FLAGS and arg.value:
                    resolved = _hostpath.resolve(spec, container, arg.value)
                    if resolved.host is not None:
                        self.apiserver_file(
                            arg.name, resolved.host, lambda p, c=container: _in_pod(spec, c, p)
                        )

    def apiserver_file(self, flag: str, host: str, resolve: Any) -> None:
        """Read one file a kube-apiserver flag names, and the plugin files an admission config names."""
        before = len(self.collected.objects)
        if not self.load(host, required_by=flag) or flag != "admission-control-config-file":
            return
        for obj in self.collected.objects[before:]:
            plugins = obj.raw.get("plugins")
            for plugin in plugins if isinstance(plugins, list) else []:
                path = plugin.get("path") if isinstance(plugin, Mapping) else None
                if isinstance(path, str) and path:
                    # A relative path is relative to the admission configuration file (apiserver docs).
                    target = (
                        resolve(path)
                        if path.startswith("/")
                        else posixpath.join(posixpath.dirname(host), path)
                    )
                    if target is not None:
                        self.load(target, required_by=flag)

    def kubelet(self) -> str | None:
        """Read the kubelet's unit, flag files and configuration; its ``staticPodPath`` if it names one."""
        pieces = _systemd(self, KUBELET_UNIT)
        if pieces is None:
            # No unit file: kubeadm's flag files on their own, in the order its drop-in uses them.
            pieces = []
            for path, variable in (
                ("/var/lib/kubelet/kubeadm-flags.env", "KUBELET_KUBEADM_ARGS"),
                ("/etc/default/kubelet", "KUBELET_EXTRA_ARGS"),
                ("/etc/sysconfig/kubelet", "KUBELET_EXTRA_ARGS"),
            ):
                pieces.extend(p for p in _env_pieces(self, path) if p.source == variable)
        args: list[str] = []
        for piece in pieces:
            self.piece("kubelet", piece)
            args.extend(piece.words)
        config = None
        config_dir = None
        for arg in _flags.parse_args(args):
            if arg.name == "config" and arg.value:
                config = arg.value
            elif arg.name == "config-dir" and arg.value:
                config_dir = arg.value
        if config is None and self.data("/var/lib/kubelet/config.yaml") is not None:
            config = "/var/lib/kubelet/config.yaml"  # kubeadm's, even when its drop-in is not in the tree
        static_pod_path = None
        if config is not None:
            before = len(self.collected.objects)
            self.load(config, required_by="kubelet --config")
            for obj in self.collected.objects[before:]:
                value = obj.raw.get("staticPodPath")
                if obj.ref.kind == "KubeletConfiguration" and isinstance(value, str) and value:
                    static_pod_path = value
        if config_dir is not None:
            for path in self.listing(config_dir, (".conf",)):
                self.load(path)
        return static_pod_path

    def piece(self, component: str, piece: _Piece) -> None:
        self.position += 1
        name = f"{component}:{piece.file}:{piece.source}"
        body = {
            "component": component,
            "position": self.position,
            "file": piece.file,
            "source": piece.source,
            "args": piece.words,
        }
        self.add("ComponentArgs", name, piece.file, body, Positions.of_list(piece.words, piece.marks))

    def distribution(self, name: str) -> None:
        """A k3s or RKE2 node: config.yaml and drop-ins, the server unit's flags, the files they name."""
        configs = [
            f"/etc/rancher/{name}/config.yaml",
            *self.listing(f"/etc/rancher/{name}/config.yaml.d", (".yaml", ".yml")),
        ]
        found = False
        file_args: list[tuple[str, str]] = []
        for path in configs:
            if self.data(path) is None:
                continue
            found = True
            self.position += 1
            body = {"distribution": name, "position": self.position}
            config = self.wrapped(path, "DistributionConfig", f"{name}:{path}", body)
            file_args.extend(_config_file_args(config or {}))
        pieces = [piece for unit in DISTRIBUTIONS[name] for piece in _systemd(self, unit) or []]
        for piece in pieces:
            found = True
            self.piece(name, piece)
            file_args.extend(_cli_file_args(piece.words))
        if not found:
            return
        self.layouts.append(name)
        for flag, path in file_args:
            self.load(path, required_by=flag)
        if name == "k3s":
            self.load(_flags.K3S_ENCRYPTION_CONFIG.format(name))

    def wrapped(
        self, node_path: str, kind: str, name: str, body: dict[str, Any], *, required_by: str | None = None
    ) -> Mapping[str, Any] | None:
        """Read a YAML/JSON file that is no Kubernetes object as a synthetic ``kind`` holding it in
        ``config`` (positions kept); its mapping, or ``None`` when it is missing or unreadable."""
        data = self.data(node_path)
        if data is None:
            if required_by is not None and node_path not in self.missing:
                self.missing.append(node_path)
            return None
        file = self.real(node_path)
        self.read_files.add(node_path)
        self.collected.stats.files += 1
        try:
            document = next(iter_documents(data, file), None)
        except InputError as e:
            self.collected.error(e)
            return None
        config = document.data if document is not None and isinstance(document.data, dict) else {}
        positions = document.positions if document is not None else None
        self.add(kind, name, node_path, {**body, "file": node_path, "config": config}, positions)
        return config

    def cni(self, directory: str, node_path: str) -> None:
        """A CNI network configuration; which one of a directory is in use is the analysis' call."""
        self.wrapped(node_path, "CNIConfig", posixpath.basename(node_path), {"directory": directory})


def _in_pod(spec: Mapping[str, Any], container: Mapping[str, Any], path: str) -> str | None:
    return _hostpath.resolve(spec, container, path).host


def _words(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# -- k3s and RKE2 ------------------------------------------------------------------------------

# Config keys and component args whose value is a file kharden reads.
_DISTRIBUTION_FILE_KEYS = {
    "audit-policy-file": "audit-policy-file",
    "pod-security-admission-config-file": "admission-control-config-file",
}
_ARG_KEYS = ("kube-apiserver-arg", "kubelet-arg")


def _config_file_args(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, flag in _DISTRIBUTION_FILE_KEYS.items():
        value = config.get(key)
        if isinstance(value, str) and value:
            yield flag, value
    for written, values in config.items():
        key = written.removesuffix("+") if isinstance(written, str) else ""  # 'key+:' appends (k3s)
        if key not in _ARG_KEYS:
            continue
        for item in values if isinstance(values, list) else [values] if isinstance(values, str) else []:
            if isinstance(item, str):
                yield from _file_arg(key, item)


def _cli_file_args(words: list[str]) -> Iterator[tuple[str, str]]:
    for arg in _flags.parse_args(words, _flags.K3S_BOOLEAN_FLAGS):
        if arg.value is None:
            continue
        if arg.name in _DISTRIBUTION_FILE_KEYS:
            yield arg.name, arg.value
        elif arg.name in _ARG_KEYS:
            yield from _file_arg(arg.name, arg.value)


def _file_arg(key: str, item: str) -> Iterator[tuple[str, str]]:
    name, _, value = item.lstrip("-").partition("=")
    name = name.rstrip("+-")  # 'flag+=value' appends to k3s' own value of the flag
    if value and (
        (key == "kube-apiserver-arg" and name in APISERVER_FILE_FLAGS)
        or (key == "kubelet-arg" and name == "config")
    ):
        yield name, value


# -- systemd units and environment files -------------------------------------------------------


@dataclass
class _Piece:
    """A run of command-line words written in one place: a unit's ExecStart or a variable's value."""

    file: str
    source: str
    words: list[str]
    marks: list[tuple[int, int]]


_UNIT_LINE = re.compile(r"^\s*(ExecStart|Environment|EnvironmentFile)\s*=\s*(.*?)\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _systemd(node: _Node, unit: str) -> list[_Piece] | None:
    """The command line of ``unit`` in pieces, ``None`` when the unit is not on the node.

    The unit file in /etc wins over /run and /usr/lib; drop-ins ``UNIT.d/*.conf`` apply in file-name
    order (one in /etc hides one of the same name further down). ``ExecStart=`` with no value resets
    the command; ``$VAR`` expands to the words of the variable, ``${VAR}`` to one word. Variables of
    EnvironmentFile= override those of Environment= (systemd.exec).
    """
    main = next((f"{d}/{unit}" for d in UNIT_DIRS if node.data(f"{d}/{unit}") is not None), None)
    dropins: dict[str, str] = {}
    for directory in reversed(UNIT_DIRS):
        for path in node.listing(f"{directory}/{unit}.d", (".conf",)):
            dropins[posixpath.basename(path)] = path
    files = ([main] if main else []) + [dropins[n] for n in sorted(dropins)]
    if not files:
        return None
    exec_start: tuple[str, str, int, int] | None = None
    environment: dict[str, _Piece] = {}
    from_files: dict[str, _Piece] = {}
    for path in files:
        data = node.data(path)
        if data is None:
            continue
        node.read_files.add(path)
        node.collected.stats.files += 1
        for number, line in _logical_lines(data.decode("utf-8", "replace")):
            match = _UNIT_LINE.match(line)
            if match is None:
                continue
            key, value = match.groups()
            column = match.start(2) + 1
            if key == "ExecStart":
                exec_start = (value, path, number, column) if value else None
            elif key == "Environment":
                for word in _flags.split_words(value):
                    name, equals, text = word.partition("=")
                    if equals:
                        words = text.split()
                        at = column + max(value.find(text), 0)
                        marks = [(number, at + o) for o in _offsets(text, words)]
                        environment[name] = _Piece(path, name, words, marks)
            else:  # %N is the unit's name without its suffix
                env_file = value.lstrip("-").replace("%N", unit.removesuffix(".service"))
                for piece in _env_pieces(node, env_file):
                    from_files[piece.source] = piece
    if exec_start is None:
        return []
    environment.update(from_files)
    return _expand(*exec_start, environment)


def _expand(
    command: str, file: str, line_number: int, column: int, environment: dict[str, _Piece]
) -> list[_Piece]:
    """The words of an ExecStart command after its program, with ``$VAR`` and ``${VAR}`` expanded."""
    pieces: list[_Piece] = []
    literal = _Piece(file, "ExecStart", [], [])
    words = _flags.split_words(command.lstrip("@-:+!"))
    at = 0
    for word in words[1:]:  # the program itself is not an argument
        found = command.find(word, at)
        at = found + len(word) if found >= 0 else at
        match = _VARIABLE.fullmatch(word)
        if match is None:
            literal.words.append(word)
            literal.marks.append((line_number, column + max(found, 0)))
            continue
        if literal.words:
            pieces.append(literal)
            literal = _Piece(file, f"ExecStart{len(pieces)}", [], [])
        assignment = environment.get(match.group(1) or match.group(2))
        if assignment is None or not assignment.words:
            continue
        if match.group(1):  # ${VAR}: one word
            assignment = _Piece(
                assignment.file, assignment.source, [" ".join(assignment.words)], assignment.marks[:1]
            )
        pieces.append(assignment)
    if literal.words:
        pieces.append(literal)
    return pieces


def _env_pieces(node: _Node, path: str) -> list[_Piece]:
    """The variables of an environment file (``KEY=value``, quotes honoured), as pieces of words."""
    data = node.data(path)
    if data is None:
        return []
    node.read_files.add(path)
    node.collected.stats.files += 1
    pieces = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")) or "=" not in stripped:
            continue
        name, _, value = stripped.partition("=")
        name = name.removeprefix("export ").strip()
        start = line.index("=") + 2
        # systemd unquotes the value; ``$NAME`` then splits it at white space.
        words = " ".join(_flags.split_words(value)).split()
        offsets = _offsets(value, words)
        pieces.append(_Piece(path, name, words, [(number, start - 1 + o) for o in offsets]))
    return pieces


def _offsets(text: str, words: list[str]) -> list[int]:
    offsets = []
    at = 0
    for word in words:
        found = text.find(word, at)
        offsets.append(max(found, 0))
        at = found + len(word) if found >= 0 else at
    return offsets


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(first line number, line)`` with backslash continuations joined, comments dropped."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not pending:
            first = number
            if line.lstrip().startswith(("#", ";")):
                continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield first, " ".join(pending)
        pending = []
    if pending:
        yield first, " ".join(pending)
