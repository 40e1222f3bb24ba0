"""NetworkPolicy reachability: what can reach what, by the meaning of the policies, and why.

The semantics, from https://kubernetes.io/docs/concepts/services-networking/network-policies/
(anchors below) and the API reference of NetworkPolicy v1:

- A pod is isolated for ingress (egress) only when some NetworkPolicy of its namespace selects it
  and has that direction in ``policyTypes`` (#the-two-sorts-of-pod-isolation); ``policyTypes``
  defaults to Ingress, plus Egress when the policy has egress rules (:mod:`._netparse`).
- What an isolated pod may do in a direction is the union of the rules of every policy that
  isolates it (#networkpolicy-resource: "policies are additive"). A policy without rules of a
  direction (``ingress: []``) only isolates, so it allows nothing; a rule without ``from``/``to``
  (``{}``) allows every peer, and one without ``ports`` every port.
- A connection needs both: the egress side of the source and the ingress side of the
  destination (#the-two-sorts-of-pod-isolation).
- A peer's ``podSelector`` alone selects pods of the policy's namespace; ``namespaceSelector``
  alone selects every pod of the matching namespaces; both in one peer select the matching pods
  of the matching namespaces (AND), while two peers are alternatives (OR)
  (#behavior-of-to-and-from-selectors). Namespaces always carry
  ``kubernetes.io/metadata.name`` (#targeting-a-namespace-by-its-name).
- ``ipBlock`` (``cidr`` minus ``except``) selects addresses outside the cluster: "These should be
  cluster-external IPs, since Pod IPs are ephemeral and unpredictable" (#networkpolicy-resource).
  Pods are reached through selectors; an ipBlock never stands for a pod here.
- Ports: protocol (TCP by default), a number, a range up to ``endPort``
  (#targeting-a-range-of-ports), or a name resolved against the destination pod's container
  ports. A named port towards an address outside the cluster matches nothing.
- hostNetwork pods: "the network plugin ... ignores hostNetwork pods when matching podSelector
  and namespaceSelector. Traffic to/from hostNetwork pods is treated the same as all other
  traffic to/from the node IP. (This is the most common implementation.)"
  (#networkpolicies-and-hostnetwork-pods). They are never selected, never isolated, and never a
  selector peer: they are reported as not covered.

Pods are grouped into classes: same namespace, labels, hostNetwork and named ports. Pods of one
class are indistinguishable to every policy, so the cost grows with classes, not replicas. Sets
of classes are Python integers used as bit sets.

What the scan does not hold is treated conservatively (traffic is assumed allowed) and said so:

- a namespace with pods or policies but no Namespace object: only its ``kubernetes.io/metadata.name``
  label is known; a namespaceSelector that needs other labels is assumed to match it (``assumed``);
- pods of namespaces outside the scan are one pseudo-class, :attr:`Network.outside`: any
  selector that some unknown namespace and pod could satisfy is assumed to match it, and its own
  policies are unknown (assumed to allow everything).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Protocol

from ..errors import InputError
from ..inventory import Inventory
from ..model import Obj
from ._netparse import EGRESS, INGRESS, NamedPorts, Peer, Policy, PortSpec, Rule, read_policy
from ._netsets import (
    ALL_ADDRESSES,
    ALL_PORTS,
    METADATA_API,
    NO_PORTS,
    PUBLIC_ADDRESSES,
    AddressSet,
    PortSet,
)
from .podspec import TEMPLATE_KINDS, EffectivePod, named_ports
from .selectors import EVERYTHING, LabelSelector, Requirement
from .services import Service, ServicePort

__all__ = [
    "ANYWHERE",
    "EGRESS",
    "INGRESS",
    "INTERNET",
    "METADATA",
    "METADATA_API",
    "NAME_LABEL",
    "PUBLIC_ADDRESSES",
    "AddressSet",
    "Answer",
    "Connection",
    "Endpoint",
    "External",
    "Grant",
    "Namespace",
    "Network",
    "Peer",
    "PodClass",
    "Policy",
    "PortSet",
    "PortSpec",
    "Rule",
    "Side",
    "bit_flags",
    "bit_indexes",
    "build_network",
    "target_port",
    "workload_ref",
]

NAME_LABEL = "kubernetes.io/metadata.name"
OUTSIDE = "*"
"""The namespace name of :attr:`Network.outside`."""

# Keys of the named-port maps, for Rule.ports_for's cache: 0 has no names (and stands for any
# address outside the cluster), 1 is unknown (a pod outside the scan), 2+ are the pods' own maps.
_NO_NAMES, _UNKNOWN_NAMES = 0, 1


@dataclass(frozen=True, slots=True)
class Namespace:
    index: int
    name: str
    labels: Mapping[str, str]
    obj: Obj | None
    """The Namespace object; ``None`` when the scan does not hold it (only its name label is known)."""

    @property
    def known(self) -> bool:
        return self.obj is not None


@dataclass(eq=False, slots=True)
class PodClass:
    """Pods that no policy can tell apart: one namespace, one label set, the same named ports."""

    index: int
    namespace: str
    labels: Mapping[str, str]
    host_network: bool
    named_ports: NamedPorts | None
    """``(name, protocol) -> port``; ``None`` when unknown (pods outside the scan)."""
    ports_key: int
    pods: list[EffectivePod] = field(default_factory=list)
    ingress_policies: list[Policy] = field(default_factory=list)
    egress_policies: list[Policy] = field(default_factory=list)
    _refs: list[tuple[str, str]] | None = None
    _firsts: list[tuple[tuple[str, str], EffectivePod]] | None = None

    @property
    def outside(self) -> bool:
        return self.namespace == OUTSIDE

    def policies(self, direction: str) -> list[Policy]:
        return self.ingress_policies if direction == INGRESS else self.egress_policies

    def workloads(self) -> list[str]:
        """``Deployment 'web'`` for each workload of the class, in scan order, without repeats."""
        return [f"{kind} {name!r}" for kind, name in self.refs()]

    def refs(self) -> list[tuple[str, str]]:
        """``(kind, name)`` of each workload of the class, in scan order, without repeats."""
        if self._refs is None:
            self._refs = list(dict.fromkeys(workload_ref(pod.obj) for pod in self.pods))
        return self._refs

    def first_pods(self) -> list[tuple[tuple[str, str], EffectivePod]]:
        """``(kind, name)`` of each workload of the class and its first pod, in scan order (made once per
        class: each network rule asks)."""
        if self._firsts is None:
            firsts: dict[tuple[str, str], EffectivePod] = {}
            for pod in self.pods:
                firsts.setdefault(workload_ref(pod.obj), pod)
            self._firsts = list(firsts.items())
        return self._firsts

    def __str__(self) -> str:
        if self.outside:
            return "pods of namespaces not in the scan"
        return ", ".join(f"{kind} {self.namespace}/{name}" for kind, name in self.refs())


def workload_ref(obj: Obj) -> tuple[str, str]:
    """A Pod whose controller is outside the scan is named by that controller (``ReplicaSet web-5d9``)."""
    if obj.ref.kind == "Pod":
        owners = obj.metadata.get("ownerReferences")
        for owner in owners if isinstance(owners, list) else ():
            if isinstance(owner, Mapping) and owner.get("controller") is True:
                kind, name = owner.get("kind"), owner.get("name")
                if isinstance(kind, str) and kind in TEMPLATE_KINDS and isinstance(name, str):  # not a Node
                    return kind, name
    return obj.ref.kind, obj.ref.name


@dataclass(frozen=True, slots=True)
class External:
    """Addresses outside the cluster: the Internet, the metadata API, an address the user names."""

    name: str
    addresses: AddressSet
    description: str = ""
    """What the addresses are, when listing them would not say it (the Internet)."""

    def __str__(self) -> str:
        return self.name


INTERNET = External(
    "the Internet", PUBLIC_ADDRESSES, "public addresses: outside the special-purpose ranges of RFC 6890"
)
METADATA = External("the metadata API", METADATA_API)
ANYWHERE = External("any address", ALL_ADDRESSES)
_ALL_IPV4 = AddressSet.parse("0.0.0.0/0")

Endpoint = PodClass | External


@dataclass(frozen=True, slots=True)
class Grant:
    """One reason traffic is allowed: a rule (and the peer of it that matches), or no isolation.

    ``rule`` is ``None`` when no policy isolates the pod in that direction, or when no policy
    governs it at all (see :attr:`Side.note`). ``peer`` is ``None`` when the rule has no
    ``from``/``to`` (every peer). ``assumed`` marks a match that rests on the labels of a
    namespace the scan does not hold.
    """

    rule: Rule | None
    peer: Peer | None
    ports: PortSet
    assumed: bool = False


@dataclass(frozen=True, slots=True)
class Side:
    """What one direction decides: egress of the source, or ingress of the destination."""

    direction: str
    policies: tuple[Policy, ...]
    """The policies that isolate the pod in this direction (none: it is not isolated)."""
    grants: tuple[Grant, ...]
    note: str = ""
    """Why NetworkPolicy does not decide this side (an address, a hostNetwork pod, ...), else ``""``."""

    @property
    def ports(self) -> PortSet:
        ports = NO_PORTS
        for grant in self.grants:
            ports |= grant.ports
        return ports

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    def grants_for(self, protocol: str, port: int) -> list[Grant]:
        return [g for g in self.grants if g.ports.contains(protocol, port)]


_OPEN = (Grant(None, None, ALL_PORTS),)


@dataclass(frozen=True, slots=True)
class Connection:
    source: Endpoint
    destination: Endpoint
    egress: Side
    ingress: Side

    @property
    def ports(self) -> PortSet:
        return self.egress.ports & self.ingress.ports

    def allows(self, protocol: str, port: int) -> bool:
        return self.ports.contains(protocol, port)


@dataclass(frozen=True, slots=True)
class Answer:
    """A connection and the destination port asked about (``asked``: as written, maybe a port name)."""

    connection: Connection
    port: int | None
    """``asked`` as a number (a name resolved on the destination pod; ``None`` when it has no such port)."""
    protocol: str
    asked: int | str | None

    @property
    def ports(self) -> PortSet:
        return self.connection.ports

    @property
    def allowed(self) -> bool:
        if self.asked is None:
            return bool(self.ports)
        return self.port is not None and self.connection.allows(self.protocol, self.port)


class Network:
    """The pods, namespaces and policies of a scan, and the questions about them.

    Built once per scan (:func:`build_network`, or ``ScanContext.network``).
    """

    def __init__(
        self,
        namespaces: Sequence[Namespace],
        classes: Sequence[PodClass],
        policies: Sequence[Policy],
        inventory: Inventory | None = None,
    ) -> None:
        self.inventory = inventory
        """The scan's objects, when the network was built from a scan (to find running Pods by name)."""
        self.namespaces: dict[str, Namespace] = {ns.name: ns for ns in namespaces}
        self.classes: list[PodClass] = list(classes)
        self.outside = self.classes[-1]
        self.policies: list[Policy] = list(policies)
        count = len(self.classes)
        self.all_bits = (1 << count) - 1
        self.outside_bit = 1 << self.outside.index
        self.ns_masks: list[int] = [0] * len(namespaces)
        self.class_ns: list[int] = [0] * count
        for cls in self.classes[:-1]:
            ns = self.namespaces[cls.namespace].index
            self.ns_masks[ns] |= 1 << cls.index
            self.class_ns[cls.index] = ns
        self.class_ns[-1] = len(namespaces)
        # A policy's classes are its namespace's, at or above that namespace's lowest class (build_network
        # puts each namespace's classes together): read them off a bit set shifted down to there, rather
        # than off one tens of thousands of bits wide (each step of which costs the whole width).
        self._ns_low = [(mask & -mask).bit_length() - 1 if mask else 0 for mask in self.ns_masks]
        self._index = _LabelIndex([c for c in self.classes[:-1] if not c.host_network])
        # Namespaces whose labels the scan holds are matched by label index (a large cluster asks tens of
        # selectors of ten thousand namespaces); the others' labels are unknown, asked one by one.
        self._ns_index = _LabelIndex([ns for ns in namespaces if ns.known])
        self._unknown_namespaces = [ns for ns in namespaces if not ns.known]
        self._namespace_cache: dict[LabelSelector, tuple[int, int, bool]] = {}
        self._to_external: dict[tuple[Any, ...], Side] = {}
        """Egress sides towards an address, by the address and the policies (by ``id``) of the source."""
        self._of_namespace: dict[str, list[PodClass]] = {}
        self._by_label: dict[str, dict[tuple[str, str], list[PodClass]]] = {}
        self._known_names = frozenset(self.namespaces)
        self.isolated_bits = {INGRESS: 0, EGRESS: 0}
        self._isolated_in: dict[str, dict[int, int]] = {INGRESS: {}, EGRESS: {}}
        """The classes each namespace's policies isolate, shifted down to the namespace's lowest class: OR-ed
        into ``isolated_bits`` once per namespace rather than per policy (each OR costs the whole width)."""
        # Per direction and namespace, the policy lists of its classes, lowest first (while compiling).
        lists: dict[tuple[str, int], list[list[Policy]]] = {}
        for policy in self.policies:
            self._compile(policy, lists)
        for direction, by_namespace in self._isolated_in.items():
            for ns_index, local in by_namespace.items():
                self.isolated_bits[direction] |= local << self._ns_low[ns_index]
        # Whether each class is isolated, one byte per class: shifting a bit set of tens of thousands of
        # classes down to one class's bit costs the whole width, and rules ask it of every class.
        self._isolated = {d: bit_flags(bits) for d, bits in self.isolated_bits.items()}

    # -- building ------------------------------------------------------------------------------

    def _compile(self, policy: Policy, lists_of: dict[tuple[str, int], list[list[Policy]]]) -> None:
        ns = self.namespaces[policy.namespace]
        policy.selected = self._index.bits(policy.pod_selector) & self.ns_masks[ns.index]
        if not policy.selected:
            return  # it isolates nothing: no question ever reaches its rules
        for direction in (INGRESS, EGRESS):
            for rule in policy.rules(direction):
                self._compile_rule(rule, ns)
            if direction not in policy.types:
                continue
            low = self._ns_low[ns.index]
            local = policy.selected >> low
            isolated = self._isolated_in[direction]
            isolated[ns.index] = isolated.get(ns.index, 0) | local
            lists = lists_of.get((direction, ns.index))
            if lists is None:
                width = (self.ns_masks[ns.index] >> low).bit_length()
                lists = lists_of[(direction, ns.index)] = [
                    cls.policies(direction) for cls in self.classes[low : low + width]
                ]
            # Each selected class's list, picked in C: a namespace of hundreds of classes under hundreds of
            # policies that each select most of them is a hundred thousand appends.
            for found in compress(lists, bit_flags(local)):
                found.append(policy)

    def _compile_rule(self, rule: Rule, ns: Namespace) -> None:
        if rule.peers is None:
            rule.classes, rule.addresses = self.all_bits, ALL_ADDRESSES
            return
        peer_bits = []
        addresses = []
        for peer in rule.peers:
            if peer.addresses is not None:
                addresses.append(peer.addresses)
                peer_bits.append((0, 0))
            else:
                peer_bits.append(self._peerbit_indexes(peer, ns))
        rule.peer_bits = tuple(peer_bits)
        rule.classes = 0
        for bits, _ in peer_bits:
            rule.classes |= bits
        rule.addresses = AddressSet.union(addresses)

    def _peerbit_indexes(self, peer: Peer, ns: Namespace) -> tuple[int, int]:
        """``(classes the peer matches, those among them matched only by assumption)``."""
        pods = self._index.bits(peer.pod_selector or EVERYTHING)
        if peer.namespace_selector is None:
            return pods & self.ns_masks[ns.index], 0
        sure, maybe, outside = self._namespacebit_indexes(peer.namespace_selector)
        bits, assumed = pods & (sure | maybe), pods & maybe
        if outside and (peer.pod_selector is None or _satisfiable(peer.pod_selector, None)):
            bits |= self.outside_bit
            assumed |= self.outside_bit
        return bits, assumed

    def _namespacebit_indexes(self, selector: LabelSelector) -> tuple[int, int, bool]:
        """Classes of the namespaces ``selector`` matches surely, or by assumption; and whether it
        may match a namespace outside the scan."""
        cached = self._namespace_cache.get(selector)
        if cached is None:
            sure = maybe = 0
            masks = self.ns_masks
            for index in bit_indexes(self._ns_index.bits(selector)):
                sure |= masks[index]
            for ns in self._unknown_namespaces:
                match = _namespace_match(selector, ns)
                if match:
                    sure |= masks[ns.index]
                elif match is None:
                    maybe |= masks[ns.index]
            cached = (sure, maybe, _satisfiable(selector, self._known_names))
            self._namespace_cache[selector] = cached
        return cached

    # -- questions -----------------------------------------------------------------------------

    def classes_of(self, namespace: str) -> list[PodClass]:
        """The classes of a namespace's pods (one list per namespace, made once: read-only)."""
        found = self._of_namespace.get(namespace)
        if found is None:
            ns = self.namespaces.get(namespace)
            found = [] if ns is None else [self.classes[i] for i in bit_indexes(self.ns_masks[ns.index])]
            self._of_namespace[namespace] = found
        return found

    def isolated(self, cls: PodClass, direction: str) -> bool:
        flags = self._isolated[direction]
        return cls.index < len(flags) and flags[cls.index] == 1

    def side(self, direction: str, subject: Endpoint, other: Endpoint) -> Side:
        """How ``subject``'s policies treat traffic with ``other``.

        For egress ``subject`` is the source and ``other`` the destination; for ingress,
        ``subject`` is the destination and ``other`` the source.
        """
        if isinstance(subject, External):
            return Side(direction, (), _OPEN, f"{subject} is not a pod: no NetworkPolicy applies to it")
        if subject.outside:
            return Side(
                direction,
                (),
                _OPEN,
                "the policies of namespaces not in the scan are unknown: assumed to allow",
            )
        if subject.host_network:
            return Side(
                direction,
                (),
                _OPEN,
                "hostNetwork pods are not selected by NetworkPolicies: nothing restricts them",
            )
        policies = subject.policies(direction)
        if not policies:
            return Side(direction, (), _OPEN)
        if direction == EGRESS and isinstance(other, External):
            # Towards an address, egress depends on the policies alone: the classes of a namespace under the
            # same policies share one answer (tens of policies each, asked per class, on a large scan).
            key = (other, *map(id, policies))
            found = self._to_external.get(key)
            if found is None:
                found = self._to_external[key] = self._decide(direction, policies, subject, other)
            return found
        return self._decide(direction, policies, subject, other)

    def _decide(self, direction: str, policies: Sequence[Policy], subject: PodClass, other: Endpoint) -> Side:
        """What ``policies``, those of ``subject`` in ``direction``, grant towards ``other``."""
        destination = other if direction == EGRESS else subject
        named, key = _named(destination)
        grants = []
        for policy in policies:
            for rule in policy.rules(direction):
                for peer, assumed in self._matches(rule, other):
                    ports = rule.ports_for(named, key)
                    if ports:
                        grants.append(Grant(rule, peer, ports, assumed))
                    break
        return Side(direction, tuple(policies), tuple(grants))

    def _matches(self, rule: Rule, other: Endpoint) -> Iterator[tuple[Peer | None, bool]]:
        """The peers of ``rule`` that match ``other`` (``None``: the rule has no from/to)."""
        if rule.peers is None:
            yield None, False
            return
        if isinstance(other, External):
            for peer in rule.peers:
                if peer.addresses is not None and peer.addresses.intersects(other.addresses):
                    yield peer, False
            return
        bit = 1 << other.index
        if not rule.classes & bit:
            return
        matching = [
            (p, bool(assumed & bit))
            for p, (bits, assumed) in zip(rule.peers, rule.peer_bits, strict=True)
            if bits & bit
        ]
        yield from sorted(matching, key=lambda m: m[1])  # a sure match first

    def connection(self, source: Endpoint, destination: Endpoint) -> Connection:
        return Connection(
            source,
            destination,
            self.side(EGRESS, source, destination),
            self.side(INGRESS, destination, source),
        )

    def uncovered(self, direction: str) -> list[PodClass]:
        """Pods of the scan that no policy isolates in ``direction`` (hostNetwork pods included)."""
        return [c for c in self.classes[:-1] if not self.isolated(c, direction)]

    def rules(self, direction: str) -> Iterator[Rule]:
        """Rules of ``direction`` whose policy isolates that direction of at least one pod."""
        for policy in self.policies:
            if policy.selected:
                yield from policy.rules(direction)

    def selected(self, policy: Policy) -> list[PodClass]:
        low = self._ns_low[self.namespaces[policy.namespace].index]
        return [self.classes[low + i] for i in bit_indexes(policy.selected >> low)]

    def admits_every_namespace(self, peer: Peer) -> bool:
        """Whether the peer matches every pod of every namespace (``namespaceSelector: {}``).

        A namespaceSelector counts as every namespace when its only requirements are on
        ``kubernetes.io/metadata.name`` and match every namespace of the scan
        (``Exists``, or ``NotIn`` names the scan does not hold).
        """
        selector = peer.namespace_selector
        if selector is None or (peer.pod_selector is not None and not peer.pod_selector.selects_everything):
            return False
        if any(r.key != NAME_LABEL or r.operator not in ("Exists", "NotIn") for r in selector.requirements):
            return False
        return all(selector.matches(ns.labels) for ns in self.namespaces.values())

    def backends(self, service: Service) -> list[PodClass]:
        """The pods a Service sends to: its selector over the pods of its namespace."""
        namespace = service.obj.ref.namespace or "default"
        key = service.selector.index_key
        classes = self.classes_of(namespace) if key is None else self._labelled(namespace).get(key, ())
        return [c for c in classes if service.selector.matches(c.labels)]

    def _labelled(self, namespace: str) -> dict[tuple[str, str], list[PodClass]]:
        """A namespace's classes by each of their labels (in class order), made once per namespace."""
        found = self._by_label.get(namespace)
        if found is None:
            found = self._by_label[namespace] = {}
            for cls in self.classes_of(namespace):
                for item in cls.labels.items():
                    found.setdefault(item, []).append(cls)
        return found

    def open_ingress(self, cls: PodClass, protocol: str, port: int) -> Grant | None:
        """What lets any source, inside or outside the cluster, reach ``cls`` on ``port``: no
        isolation, a rule without ``from``, or an ipBlock that covers every IPv4 address."""
        for grant in self.side(INGRESS, cls, ANYWHERE).grants_for(protocol, port):
            peer = grant.peer
            if peer is None or (peer.addresses is not None and peer.addresses.covers(_ALL_IPV4)):
                return grant
        return None


def target_port(port: ServicePort, cls: PodClass) -> int | None:
    """The container port a Service port sends to on the pods of ``cls`` (``None``: no such name)."""
    target = port.target if port.target is not None else port.port
    if isinstance(target, str):
        return (cls.named_ports or {}).get((target, port.protocol))
    return target


def _named(destination: Endpoint) -> tuple[NamedPorts | None, int]:
    if isinstance(destination, External):
        return {}, _NO_NAMES
    return destination.named_ports, destination.ports_key


def bit_indexes(value: int) -> list[int]:
    """Indices of the set bits of ``value``, lowest first.

    Peeling the lowest bit off costs the whole integer each time: fine for a few bits, quadratic for a
    row of thousands of classes or namespaces. Those are read off :func:`bit_flags` in C instead.
    """
    if value.bit_count() <= _FEW_BITS:
        found = []
        while value:
            low = value & -value
            found.append(low.bit_length() - 1)
            value ^= low
        return found
    low = (value & -value).bit_length() - 1  # from the lowest set bit: a class's bits sit thousands up
    value >>= low
    return list(compress(range(low, low + value.bit_length()), bit_flags(value)))


def bit_flags(value: int) -> bytes:
    """One byte per bit of ``value``, lowest first: 1 where the bit is set, else 0.

    ``itertools.compress(items, bit_flags(value))`` picks the items of the set bits without a Python
    loop (the binary digits, reversed, with '0' and '1' translated to 0 and 1).
    """
    return bin(value)[:1:-1].encode().translate(_BIT_FLAGS)


_BIT_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
_FEW_BITS = 8


class _Labelled(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


class _LabelIndex:
    """Which classes (or namespaces) carry each label and key: a selector becomes ANDs and ORs of bit sets."""

    def __init__(self, classes: Iterable[_Labelled]) -> None:
        pairs: dict[tuple[str, str], list[int]] = {}
        keys: dict[str, list[int]] = {}
        every = []
        for cls in classes:
            index = cls.index
            every.append(index)
            for item in cls.labels.items():
                pairs.setdefault(item, []).append(index)
                keys.setdefault(item[0], []).append(index)
        self.all = _bits_of(every)
        # A label most classes lack (``app: web``) is kept as its classes' indexes, not as a bit set as wide
        # as the classes' (a few kilobytes apiece: a large cluster's label index was 37 MiB); made a bit set
        # when asked, once per selector (``_cache``).
        self.pairs: dict[tuple[str, str], _Classes] = {item: _compact(found) for item, found in pairs.items()}
        self.keys: dict[str, _Classes] = {key: _compact(found) for key, found in keys.items()}
        self._cache: dict[LabelSelector, int] = {}

    def bits(self, selector: LabelSelector) -> int:
        cached = self._cache.get(selector)
        if cached is None:
            cached = 0 if selector.selects_nothing else self.all
            for r in selector.requirements:
                cached &= self._requirement(r)
            self._cache[selector] = cached
        return cached

    def _requirement(self, r: Requirement) -> int:
        if r.operator in ("In", "NotIn"):
            found = 0
            for value in r.values:
                found |= _bits(self.pairs.get((r.key, value), 0))
            return found if r.operator == "In" else self.all & ~found
        if r.operator == "Exists":
            return _bits(self.keys.get(r.key, 0))
        return self.all & ~_bits(self.keys.get(r.key, 0))


_Classes = int | tuple[int, ...]
"""Classes (or namespaces) as a bit set, or as their indexes where that is smaller (``_compact``)."""


def _compact(indexes: list[int]) -> _Classes:
    """``indexes`` as a tuple where a tuple is smaller than their bit set (a pointer apiece, the
    ints being the classes' own, against a bit per class up to the highest)."""
    return tuple(indexes) if 8 * len(indexes) < max(indexes) // 8 else _bits_of(indexes)


def _bits(classes: _Classes) -> int:
    return classes if isinstance(classes, int) else _bits_of(classes)


def _bits_of(indexes: Sequence[int]) -> int:
    """The bit set of ``indexes`` (in any order), made in one pass (OR-ing each bit in costs the whole
    width each time)."""
    if not indexes:
        return 0
    if len(indexes) == 1:
        return 1 << indexes[0]
    flags = bytearray((max(indexes) >> 3) + 1)
    for index in indexes:
        flags[index >> 3] |= 1 << (index & 7)
    return int.from_bytes(flags, "little")


def _namespace_match(selector: LabelSelector, ns: Namespace) -> bool | None:
    """Whether ``selector`` matches the namespace; ``None`` when that depends on labels the scan
    does not know (a namespace without its Namespace object)."""
    if ns.known or selector.selects_nothing:
        return selector.matches(ns.labels)
    result: bool | None = True
    for r in selector.requirements:
        if r.key == NAME_LABEL:
            if not r.matches(ns.labels):
                return False
        else:
            result = None
    return result


def _satisfiable(selector: LabelSelector, known_names: frozenset[str] | None) -> bool:
    """Whether some object the scan does not hold could match ``selector``.

    With ``known_names``, the object is a namespace: it carries ``kubernetes.io/metadata.name``
    with a name the scan does not hold. Otherwise it is a pod with any labels at all.
    """
    if selector.selects_nothing:
        return False
    by_key: dict[str, list[Requirement]] = defaultdict(list)
    for r in selector.requirements:
        by_key[r.key].append(r)
    for key, requirements in by_key.items():
        name_key = known_names is not None and key == NAME_LABEL
        must_exist, must_not = name_key, False
        allowed: frozenset[str] | None = None
        forbidden = set(known_names) if name_key and known_names is not None else set()
        for r in requirements:
            if r.operator == "In":
                must_exist = True
                allowed = r.values if allowed is None else allowed & r.values
            elif r.operator == "NotIn":
                forbidden |= r.values
            elif r.operator == "Exists":
                must_exist = True
            else:
                must_not = True
        if must_exist and must_not:
            return False
        if not must_not and allowed is not None and not allowed - forbidden:
            return False
    return True


# -- building from a scan ----------------------------------------------------------------------


def build_network(inventory: Inventory, pods: Iterable[EffectivePod]) -> tuple[Network, list[InputError]]:
    """The network of a scan: its Namespaces and NetworkPolicies, and its pods
    (effective pods of workload templates or running Pods, once per workload). Policies the API
    server would refuse are left out and returned as errors."""
    errors: list[InputError] = []
    declared: dict[str, Obj] = {}
    policies: list[Policy] = []
    for obj in inventory.objects:
        if obj.ref.kind == "Namespace" and obj.ref.api_version == "v1":
            declared.setdefault(obj.ref.name, obj)
        elif obj.ref.kind == "NetworkPolicy" and obj.ref.group == "networking.k8s.io":
            try:
                policies.append(read_policy(obj))
            except InputError as e:
                errors.append(e)

    groups: dict[tuple[Any, ...], list[EffectivePod]] = {}
    features: dict[tuple[Any, ...], tuple[str, dict[str, str], bool, dict[tuple[str, str], int]]] = {}
    for pod in pods:
        namespace = pod.obj.ref.namespace or "default"
        labels = dict(pod.labels)
        host_network = pod.host_network.value is True
        named = named_ports(pod)
        key = (namespace, frozenset(labels.items()), host_network, frozenset(named.items()))
        if key not in groups:
            groups[key] = []
            features[key] = (namespace, labels, host_network, named)
        groups[key].append(pod)

    names = set(declared) | {f[0] for f in features.values()} | {p.namespace for p in policies}
    namespaces = []
    for index, name in enumerate(sorted(names)):
        namespace_obj = declared.get(name)
        # "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all
        # namespaces": https://kubernetes.io/docs/concepts/services-networking/network-policies/#targeting-a-namespace-by-its-name
        labels = {**(namespace_obj.labels if namespace_obj is not None else {}), NAME_LABEL: name}
        namespaces.append(Namespace(index, name, labels, namespace_obj))
    ns_index = {ns.name: ns.index for ns in namespaces}

    port_keys: dict[frozenset[tuple[tuple[str, str], int]], int] = {frozenset(): _NO_NAMES}
    classes: list[PodClass] = []
    for key in sorted(groups, key=lambda k: ns_index[k[0]]):
        namespace, labels, host_network, named = features[key]
        ports_key = port_keys.setdefault(key[3], len(port_keys) + 1)
        classes.append(PodClass(len(classes), namespace, labels, host_network, named, ports_key, groups[key]))
    classes.append(PodClass(len(classes), OUTSIDE, {}, False, None, _UNKNOWN_NAMES))
    return Network(namespaces, classes, policies, inventory), errors
