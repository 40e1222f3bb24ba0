"""Helpers control-plane rules share: hits on flag settings, naming components, not-evaluated notes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..analysis.context import ScanContext
from ..analysis.controlplane import Component, FileState, Setting
from ..model import Hit, Obj, Severity, Unevaluated

__all__ = [
    "K8S",
    "absent",
    "at",
    "file_objects",
    "is_loopback",
    "is_public",
    "missing_kubelets",
]

K8S = "https://kubernetes.io/docs/reference/command-line-tools-reference/"


def at(setting: Setting, message: str, severity: Severity | None = None, *, item: str | None = None) -> Hit:
    """A hit on where ``setting`` was written (or where it should be).

    Its identity is the component and the flag (``kube-apiserver --profiling``), and ``item`` when the
    problem is one item of a list flag (an admission plugin, an etcd URL): several flags left unset
    point at the same command line, and a written flag's place in it moves when flags are added.
    """
    key = f"{setting.component} --{setting.name}" + (f" {item}" if item is not None else "")
    return Hit(path=setting.path, message=message, obj=setting.obj, severity=severity, key=key)


def file_objects(
    context: ScanContext, component: Component, flag: str, kinds: tuple[str, ...]
) -> Iterator[Obj | Unevaluated]:
    """The objects of ``kinds`` read from the file ``--flag`` names, or why it cannot be evaluated."""
    state: FileState | None = context.control_plane.file(component, flag)
    if state is None:
        return
    if state.missing_reason is not None:
        yield Unevaluated(f"{component.name} --{flag}: {state.missing_reason}")
        return
    found = [o for o in state.objects if o.ref.kind in kinds]
    if not found:
        yield Unevaluated(f"{component.name} --{flag}: {state.host} holds no {' or '.join(kinds)}")
    yield from found


def is_loopback(address: str) -> bool:
    host = _host(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Addresses that are not public: RFC 1918, shared (CGNAT), loopback, link-local, unspecified, ULA.
_NOT_PUBLIC = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
        "169.254.0.0/16", "0.0.0.0/32", "::1/128", "::/128", "fc00::/7", "fe80::/10",
    )
)  # fmt: skip


def is_public(address: str) -> bool | None:
    """Whether an IP is public (not RFC 1918, unique local, loopback, link-local or shared 100.64/10);
    ``None`` for a host name."""
    try:
        ip = ipaddress.ip_address(_host(address))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not any(ip in network for network in _NOT_PUBLIC if network.version == ip.version)


def _host(address: str) -> str:
    text = address.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0]
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text


def absent(context: ScanContext, *names: str) -> Iterator[Unevaluated]:
    """A note for each of ``names`` the scan shows no instance of (a worker node, a k3s server on
    SQLite without etcd, the wrong directory): judging nothing is not a pass."""
    for name in names:
        if not context.control_plane.of(name):
            yield Unevaluated(
                f"no {name} in this scan (no static pod or k3s/RKE2 server configuration runs one)"
            )


def missing_kubelets(context: ScanContext) -> Iterator[Unevaluated]:
    """A node root whose kubelet kharden found no trace of."""
    plane = context.control_plane
    with_kubelet = {c.node for c in plane.of("kubelet")}
    for root in plane.node_roots:
        if root not in with_kubelet:
            yield Unevaluated(f"no kubelet unit, flags or KubeletConfiguration found under {root}")
