"""Reading NetworkPolicy objects: the API server's defaults and the validation it would apply.

A policy the API server would refuse (a peer with both ``ipBlock`` and a selector, an
``except`` outside its ``cidr``, ``endPort`` with a named port, ...) is an
:class:`~kharden.errors.InputError` with file and line: it is not in force, so the engine
leaves it out and the report says why.

API reference: https://kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import InputError
from ..model import Location, Obj
from ._netsets import ALL_PORTS, NO_PORTS, PROTOCOLS, AddressSet, PortSet
from .podspec import FieldReader
from .selectors import EVERYTHING, LabelSelector, parse_label_selector

__all__ = ["EGRESS", "INGRESS", "NamedPorts", "Peer", "Policy", "PortSpec", "Rule", "read_policy"]

INGRESS, EGRESS = "Ingress", "Egress"

DNS_PORTS = PortSet(tcp=((53, 53),), udp=((53, 53),))

NamedPorts = Mapping[tuple[str, str], int]
"""``(port name, protocol) -> container port`` of a pod."""


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One entry of a rule's ``ports``: ``port`` is a number, a port name, or ``None`` (every port)."""

    protocol: str
    port: int | str | None = None
    end_port: int | None = None

    def resolve(self, named: NamedPorts | None) -> PortSet:
        """The ports this entry allows on a destination with these named ports.

        A named port is looked up by name and protocol among the destination pod's container
        ports and matches nothing when the pod has no such port. ``named`` is ``None`` for a
        destination whose ports are unknown (a pod outside the scan): the name may be any port.
        """
        if self.port is None:
            return PortSet.of(self.protocol)
        if isinstance(self.port, int):
            return PortSet.of(self.protocol, self.port, self.end_port or self.port)
        if named is None:
            return PortSet.of(self.protocol)
        number = named.get((self.port, self.protocol))
        return PortSet.of(self.protocol, number, number) if number else NO_PORTS

    def __str__(self) -> str:
        if self.port is None:
            return f"every {self.protocol} port"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of a rule's ``from``/``to``: selectors, or an ipBlock."""

    index: int
    path: str
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    addresses: AddressSet | None = None
    """The ipBlock's ``cidr`` minus its ``except`` ranges; ``None`` for a selector peer."""
    ip_block: str = ""
    """The ipBlock as written: ``0.0.0.0/0 except 169.254.169.254/32``."""

    def __str__(self) -> str:
        if self.addresses is not None:
            return f"ipBlock {self.ip_block}"
        if self.namespace_selector is None:
            return f"pods {_selector(self.pod_selector)} of the policy's namespace"
        namespaces = f"namespaces {_selector(self.namespace_selector)}"
        if self.pod_selector is None or self.pod_selector.selects_everything:
            return f"every pod of {namespaces}"
        return f"pods {_selector(self.pod_selector)} of {namespaces}"


def _selector(selector: LabelSelector | None) -> str:
    return "{}" if selector is None or selector.selects_everything else str(selector)


@dataclass(eq=False, slots=True)
class Rule:
    """An ingress or egress rule: ``peers`` and ``ports`` are ``None`` when they allow every one."""

    policy: Policy
    direction: str
    index: int
    path: str
    peers: tuple[Peer, ...] | None
    ports: tuple[PortSpec, ...] | None
    fixed_ports: PortSet | None
    """The ports when none is named (the same for every destination), else ``None``."""
    # Filled in by the engine: the pod classes each peer matches (and those it matches only by
    # assuming labels of a namespace the scan does not hold), their union, and the ipBlocks' union.
    peer_bits: tuple[tuple[int, int], ...] = ()
    classes: int = 0
    addresses: AddressSet = field(default_factory=AddressSet)
    _resolved: dict[int, PortSet] = field(default_factory=dict)

    def ports_for(self, named: NamedPorts | None, key: int = -1) -> PortSet:
        """The ports this rule allows towards a destination; ``key`` caches by named-port map."""
        if self.fixed_ports is not None:
            return self.fixed_ports
        cached = self._resolved.get(key) if key >= 0 else None
        if cached is None:
            cached = NO_PORTS
            for spec in self.ports or ():
                cached |= spec.resolve(named)
            if key >= 0:
                self._resolved[key] = cached
        return cached

    def ports_text(self) -> str:
        return "every port" if self.ports is None else ", ".join(str(p) for p in self.ports)

    @property
    def dns_only(self) -> bool:
        """Whether the rule allows port 53 (UDP, TCP) and nothing else: DNS, not open egress."""
        ports = self.fixed_ports
        return ports is not None and bool(ports) and (ports & DNS_PORTS) == ports

    def __str__(self) -> str:
        return f"{self.direction.lower()} rule {self.index} of {self.policy}"


@dataclass(eq=False, slots=True)
class Policy:
    """A NetworkPolicy in force: the pods it selects, the directions it isolates, its rules."""

    obj: Obj
    pod_selector: LabelSelector
    types: frozenset[str]
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    selected: int = 0
    """Bit set of the pod classes the policy selects (filled in by the engine)."""

    @property
    def namespace(self) -> str:
        return self.obj.ref.namespace or "default"

    @property
    def name(self) -> str:
        return self.obj.ref.name

    def rules(self, direction: str) -> tuple[Rule, ...]:
        """The rules of ``direction``; none when the policy does not isolate that direction."""
        if direction not in self.types:
            return ()
        return self.ingress if direction == INGRESS else self.egress

    def locate(self, path: str = "") -> Location:
        return self.obj.locate(path)

    def __str__(self) -> str:
        return f"NetworkPolicy {self.namespace}/{self.name}"


def read_policy(obj: Obj) -> Policy:
    """Read a NetworkPolicy; :class:`InputError` when the API server would refuse it."""
    read = FieldReader(obj)
    spec = read.mapping(obj.raw, "", "spec")
    # An absent podSelector is the empty selector: every pod of the namespace.
    pod_selector = _label_selector(read, spec, "/spec", "podSelector", EVERYTHING)
    assert pod_selector is not None
    ingress = read.mappings(spec, "/spec", "ingress")
    egress = read.mappings(spec, "/spec", "egress")
    written = read.scalars(spec, "/spec", "policyTypes")
    for index, value in enumerate(written):
        if value not in (INGRESS, EGRESS):
            raise _invalid(
                read, f"/spec/policyTypes/{index}", f"policyTypes {value!r} is not Ingress or Egress"
            )
    # "If no policyTypes are specified on a NetworkPolicy then by default Ingress will always be set
    # and Egress will be set if the NetworkPolicy has any egress rules" (an empty `egress: []` has
    # none): https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource
    types = frozenset(written) if written else frozenset({INGRESS, EGRESS} if egress else {INGRESS})
    policy = Policy(obj=obj, pod_selector=pod_selector, types=types)
    policy.ingress = tuple(_rule(read, policy, INGRESS, i, at, raw) for i, (at, raw) in enumerate(ingress))
    policy.egress = tuple(_rule(read, policy, EGRESS, i, at, raw) for i, (at, raw) in enumerate(egress))
    return policy


def _rule(
    read: FieldReader, policy: Policy, direction: str, index: int, at: str, raw: Mapping[str, Any]
) -> Rule:
    # "If this field is empty or missing, this rule matches all sources/destinations [ports]":
    # NetworkPolicyIngressRule.from / NetworkPolicyEgressRule.to / .ports in the API reference.
    key = "from" if direction == INGRESS else "to"
    peers = tuple(_peer(read, i, path, peer) for i, (path, peer) in enumerate(read.mappings(raw, at, key)))
    ports = tuple(_port(read, path, port) for path, port in read.mappings(raw, at, "ports"))
    fixed: PortSet | None = None
    if not ports:
        fixed = ALL_PORTS
    elif not any(isinstance(p.port, str) for p in ports):
        fixed = NO_PORTS
        for spec in ports:
            fixed |= spec.resolve({})
    return Rule(
        policy=policy,
        direction=direction,
        index=index,
        path=at,
        peers=peers or None,
        ports=ports or None,
        fixed_ports=fixed,
    )


def _peer(read: FieldReader, index: int, at: str, raw: Mapping[str, Any]) -> Peer:
    pods = _label_selector(read, raw, at, "podSelector", None)
    namespaces = _label_selector(read, raw, at, "namespaceSelector", None)
    block = raw.get("ipBlock")
    if block is None:
        if pods is None and namespaces is None:
            raise _invalid(read, at, "a from/to entry must set podSelector, namespaceSelector or ipBlock")
        return Peer(index, at, pods, namespaces)
    if pods is not None or namespaces is not None:
        raise _invalid(read, at, "ipBlock cannot be combined with podSelector or namespaceSelector")
    block_at = f"{at}/ipBlock"
    block = read.mapping(raw, at, "ipBlock")
    cidr = read.string(block, block_at, "cidr", "policy").value
    if cidr is None:
        raise _invalid(read, block_at, "ipBlock needs a cidr")
    whole = addresses = _cidr(read, f"{block_at}/cidr", cidr)
    excepts = []
    for i, value in enumerate(read.scalars(block, block_at, "except")):
        path = f"{block_at}/except/{i}"
        if not isinstance(value, str):
            raise read.wrong(path, "a string", value)
        carved = _cidr(read, path, value)
        # "except values will be rejected if they are outside the cidr range" (IPBlock, API reference).
        if not whole.covers(carved) or carved == whole:
            raise _invalid(read, path, f"except {value} is not a strict subset of cidr {cidr}")
        addresses -= carved
        excepts.append(value)
    text = cidr + (f" except {', '.join(excepts)}" if excepts else "")
    return Peer(index, at, addresses=addresses, ip_block=text)


def _cidr(read: FieldReader, path: str, value: str) -> AddressSet:
    try:
        return _parsed_cidr(value)
    except ValueError:
        raise _invalid(read, path, f"{value!r} is not a CIDR") from None


_parsed_cidr = lru_cache(maxsize=4096)(AddressSet.parse)
"""``AddressSet.parse``, once per text: a cluster's policies write the same few CIDRs thousands of times."""


def _port(read: FieldReader, at: str, raw: Mapping[str, Any]) -> PortSpec:
    protocol = read.string(raw, at, "protocol", "policy").value or "TCP"
    if protocol not in PROTOCOLS:
        raise _invalid(read, f"{at}/protocol", f"protocol {protocol!r} is not TCP, UDP or SCTP")
    port = raw.get("port")
    end = read.integer(raw, at, "endPort", "policy").value
    if port is None:
        if end is not None:
            raise _invalid(read, f"{at}/endPort", "endPort needs a numeric port")
        return PortSpec(protocol)
    if isinstance(port, str):
        # A port name (IANA_SVC_NAME) has at least one letter; "80" in quotes is refused.
        if not any(c.isalpha() for c in port):
            raise _invalid(read, f"{at}/port", f"port {port!r} is neither a number nor a port name")
        if end is not None:
            raise _invalid(read, f"{at}/endPort", "endPort cannot be used with a named port")
        return PortSpec(protocol, port)
    number = read.integer(raw, at, "port", "policy").value
    assert number is not None
    if not 1 <= number <= 65535:
        raise _invalid(read, f"{at}/port", f"port {number} is outside 1-65535")
    if end is not None and not number <= end <= 65535:
        raise _invalid(read, f"{at}/endPort", f"endPort {end} must be between port {number} and 65535")
    return PortSpec(protocol, number, end)


def _label_selector(
    read: FieldReader, parent: Mapping[str, Any], at: str, key: str, absent: LabelSelector | None
) -> LabelSelector | None:
    raw = parent.get(key)
    if raw is None:
        return absent
    try:
        return parse_label_selector(raw, absent=EVERYTHING)
    except ValueError as e:
        raise _invalid(read, f"{at}/{key}", str(e)) from None


def _invalid(read: FieldReader, path: str, reason: str) -> InputError:
    location = read.obj.locate(path)
    return InputError(f"{read.obj.ref}: {reason} ({path})", file=location.file, line=location.line)
