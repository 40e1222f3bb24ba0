"""``kharden reach``: NetworkPolicy questions over the same inputs as ``scan``.

>>> from kharden.reach import load, endpoint, ask
>>> network, errors = load(["k8s/"])                                   # doctest: +SKIP
>>> answers = ask(network, endpoint(network, "shop/web"),
...               endpoint(network, "169.254.169.254:80/TCP"))         # doctest: +SKIP
>>> any(a.allowed for a in answers)                                    # doctest: +SKIP

Endpoints are written as

- ``NAMESPACE/NAME``: the workload (Deployment, StatefulSet, ..., or a bare Pod) or running Pod
  of that name; ``NAMESPACE/KIND/NAME`` when names repeat across kinds; ``NAMESPACE/*``: every
  pod of the namespace; ``*/*``: every pod of the scan;
- an address or CIDR (``169.254.169.254``, ``10.0.0.0/8``, ``[fd00:ec2::254]``): outside the cluster;
- either, followed by ``:PORT`` or ``:PORT/PROTOCOL`` (``:80/TCP``, ``:53/UDP``, ``:http``) on the
  destination. Without a port the answer is the set of ports allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .analysis._netmatrix import Matrix, matrix
from .analysis._netsets import PROTOCOLS, AddressSet
from .analysis.context import ScanContext
from .analysis.netpol import INTERNET, METADATA, Answer, Endpoint, External, Network, PodClass
from .analysis.podspec import pod_template_path
from .errors import UsageError
from .inventory import Inventory
from .model import ErrorRecord, Obj
from .scan import ScanOptions, acyclic_work, collect

__all__ = [
    "Answer",
    "Target",
    "address_column",
    "ask",
    "endpoint",
    "load",
    "namespace_matrix",
]

_PORT = re.compile(r"^(?P<port>[A-Za-z0-9-]+)(?:/(?P<protocol>[A-Za-z]+))?$")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed endpoint: the pods or addresses it stands for, and the port asked about."""

    text: str
    endpoints: tuple[Endpoint, ...]
    port: int | str | None = None
    protocol: str = "TCP"


def load(paths: Sequence[str], options: ScanOptions | None = None) -> tuple[Network, list[ErrorRecord]]:
    """Read ``paths`` as ``scan`` does and build the network; input errors are returned, not raised."""
    with acyclic_work():
        collected = collect(paths, options or ScanOptions())
        context = ScanContext(
            Inventory(collected.objects), frozenset(collected.evidence), cluster=collected.cluster
        )
        network = context.network
    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    return network, errors


def endpoint(network: Network, text: str) -> Target:
    """Parse an endpoint argument (see the module's documentation); :class:`UsageError` when it names
    nothing."""
    spec = text.strip()
    host, port, protocol = spec, None, "TCP"
    addresses = _addresses(spec)
    if addresses is None:
        if spec.startswith("["):
            host, _, rest = spec[1:].partition("]")
            port_text = rest.removeprefix(":") if rest.startswith(":") else None
            if rest and port_text is None:
                raise UsageError(f"{text!r}: expected [ADDRESS]:PORT[/PROTOCOL]")
        else:
            head, colon, tail = spec.rpartition(":")
            host, port_text = (head, tail) if colon else (spec, None)
        if port_text is not None:
            port, protocol = _port(text, port_text)
        addresses = _addresses(host)
    if addresses is not None:
        return Target(text, (External(host, addresses),), port, protocol)
    return Target(text, tuple(_pods(network, text, host)), port, protocol)


def _addresses(text: str) -> AddressSet | None:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return AddressSet.parse(text)


def _port(text: str, port_text: str) -> tuple[int | str, str]:
    match = _PORT.match(port_text)
    protocol = (match["protocol"] or "TCP").upper() if match else ""
    if match is None or protocol not in PROTOCOLS:
        raise UsageError(
            f"{text!r}: the port must read PORT or PORT/PROTOCOL (TCP, UDP or SCTP), like 80/TCP"
        )
    port = match["port"]
    if port.isdigit():
        number = int(port)
        if not 1 <= number <= 65535:
            raise UsageError(f"{text!r}: port {number} is outside 1-65535")
        return number, protocol
    return port, protocol


def _pods(network: Network, text: str, ref: str) -> list[PodClass]:
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(
            f"{text!r}: expected NAMESPACE/NAME, NAMESPACE/KIND/NAME, NAMESPACE/*, */* or an address"
        )
    namespace, name, kind = parts[0], parts[-1], parts[1] if len(parts) == 3 else None
    if namespace == "*" and name == "*" and kind is None:
        return network.classes[:-1]
    classes = network.classes_of(namespace)
    if name == "*" and kind is None:
        found = list(classes)  # the network's list is shared: read-only
    else:
        found = [c for c in classes if any(_names(p.obj, network, kind, name) for p in c.pods)]
    if not found:
        known = sorted({p.obj.ref.name for c in classes for p in c.pods})
        hint = f" (workloads there: {', '.join(known[:10])})" if known else " (the scan holds no pod there)"
        raise UsageError(f"{text!r}: no workload or pod {name!r} in namespace {namespace!r}{hint}")
    return found


def _names(obj: Obj, network: Network, kind: str | None, name: str) -> bool:
    """Whether ``obj`` (a workload of a class) is ``kind``/``name`` or owns a running Pod of that name."""
    if obj.ref.name == name and (kind is None or obj.ref.kind.lower() == kind.lower()):
        return True
    inventory = network.inventory
    if inventory is None or (kind is not None and kind.lower() != "pod"):
        return False
    pod = inventory.get("Pod", obj.ref.namespace, name)
    while pod is not None and pod is not obj:
        owner = inventory.controller(pod)
        if owner is None or pod_template_path(owner) is None:
            return False
        pod = owner
    return pod is obj


def ask(network: Network, source: Target, destination: Target) -> list[Answer]:
    """One answer per pair of source and destination endpoints (pods of one class, or addresses)."""
    answers = []
    for src in source.endpoints:
        for dst in destination.endpoints:
            if isinstance(src, External) and isinstance(dst, External):
                raise UsageError(
                    "one side must be pods of the scan: NetworkPolicy says nothing between addresses"
                )
            port = destination.port
            number = (
                port if isinstance(port, int) or port is None else _resolve(dst, port, destination.protocol)
            )
            answers.append(Answer(network.connection(src, dst), number, destination.protocol, port))
    return answers


def _resolve(destination: Endpoint, name: str, protocol: str) -> int | None:
    if isinstance(destination, External) or destination.named_ports is None:
        return None
    return destination.named_ports.get((name, protocol))


def address_column(text: str) -> External:
    """``NAME=CIDR[,CIDR...]`` for ``--address``."""
    name, sep, cidrs = text.partition("=")
    if not sep or not name.strip() or not cidrs.strip():
        raise UsageError(f"--address {text!r}: expected NAME=CIDR (e.g. etcd=10.0.0.10/32)")
    sets = []
    for cidr in cidrs.split(","):
        found = _addresses(cidr.strip())
        if found is None:
            raise UsageError(f"--address {text!r}: {cidr.strip()!r} is not an address or CIDR")
        sets.append(found)
    return External(name.strip(), AddressSet.union(sets))


def namespace_matrix(network: Network, addresses: Sequence[External] = ()) -> Matrix:
    """The namespace-to-namespace matrix with columns for the Internet, the metadata API and ``addresses``."""
    return matrix(network, (INTERNET, METADATA, *addresses))
