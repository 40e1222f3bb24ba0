"""The probe plan: a few connections, chosen from the NetworkPolicy engine's answers, that prove or
disprove that the network enforces the policies.

What the plan holds (``kharden probe --plan`` prints it):

- **denied** probes: for every policy that denies something, one connection that the policies
  deny. An ingress denial is tested from a source whose own egress allows the connection, an
  egress denial towards a destination whose ingress allows it (or an address outside the
  cluster), so that a blocked connection can only be the denying side's doing. One probe tests
  every policy that isolates its pod in that direction (policies are additive): pairs are chosen
  to cover the policies, not the pods, reusing probe pods where they can.
- **control** probes: connections the policies allow, from the probe pods and into the
  listeners of the denied probes. A denied probe that was blocked proves something only if the
  same pods could connect where the policies allow it; when a control fails, the denied probes
  that share its pods are inconclusive.
- **metadata** probes: the cloud metadata API (169.254.169.254:80, and [fd00:ec2::254]:80 where
  the cluster has IPv6 pods) from probe pods whose policies deny it.
- **internet** probes: a public address from probe pods whose policies deny it, when no pod
  destination can test their egress policies.

Two things keep a verdict honest. Only sure answers are used: a connection the engine allows
only by assuming the labels of a namespace the scan does not hold is never a control, nor
denied. And ``ipBlock`` is left to the plugin for pod addresses (the engine reads it as
cluster-external only; Calico also matches pod IPs): a pod-to-pod pair is not planned as denied
when the deciding side has an ipBlock that covers addresses pods may have.

The plan holds at most ``2 x`` the number of policies that deny something (``max_probes``
lowers it); every denying policy that no probe tests is listed with the reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from ..analysis._netsets import AddressSet
from ..analysis.netpol import EGRESS, INGRESS, External, Network, PodClass, Policy, Side
from ..errors import UsageError

__all__ = [
    "DEFAULT_INTERNET",
    "METADATA_V4",
    "METADATA_V6",
    "PRIVATE_ADDRESSES",
    "Address",
    "Plan",
    "PlanOptions",
    "Probe",
    "make_plan",
    "parse_address",
    "pod_addresses",
]

PROTOCOL = "TCP"
METADATA_V4 = "169.254.169.254:80"
METADATA_V6 = "[fd00:ec2::254]:80"
DEFAULT_INTERNET = "1.1.1.1:443"
FALLBACK_PORT = 8080
PRIVATE_ADDRESSES = AddressSet.union(
    AddressSet.parse(c)
    for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
"""Where pod addresses may be when the cluster does not say (no Node podCIDRs, no pod IPs)."""
_CHECKS = 256
"""Candidates examined exactly per search: bounds the time of a plan on a large cluster."""

DENIED, CONTROL, METADATA, INTERNET = "denied", "control", "metadata", "internet"


@dataclass(frozen=True, slots=True)
class Address:
    """An address outside the cluster that probes connect to: ``host`` and ``port``."""

    name: str
    host: str
    port: int

    @property
    def endpoint(self) -> External:
        return External(self.name, AddressSet.parse(self.host))

    @property
    def ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if self.ipv6 else f"{self.host}:{self.port}"


def parse_address(name: str, text: str) -> Address:
    """``HOST:PORT`` or ``[HOST]:PORT`` (an IP address, no name); :class:`UsageError` otherwise."""
    spec = text.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port_text = rest.removeprefix(":") if rest.startswith(":") else ""
    else:
        host, _, port_text = spec.rpartition(":")
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise UsageError(f"{name} {text!r}: expected ADDRESS:PORT or [IPv6]:PORT, e.g. 1.1.1.1:443") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"{name} {text!r}: port {port} is outside 1-65535")
    return Address(name, str(address), port)


@dataclass(frozen=True)
class PlanOptions:
    internet: Address | None = field(default_factory=lambda: parse_address("the Internet", DEFAULT_INTERNET))
    """The public address that Internet probes connect to; ``None``: no Internet probe."""
    metadata: tuple[Address, ...] = (parse_address("the metadata API", METADATA_V4),)
    """The metadata API addresses; [fd00:ec2::254]:80 is added by :func:`make_plan` for IPv6 clusters."""
    max_probes: int | None = None
    """At most this many probes (default: twice the number of policies that deny something)."""
    pod_addresses: AddressSet = PRIVATE_ADDRESSES
    """Addresses the cluster's pods may have (see :func:`pod_addresses`)."""
    ipv6: bool = False
    """The cluster has IPv6 pod addresses: probe the metadata API's IPv6 address too."""


@dataclass(eq=False, slots=True)
class Probe:
    """One connection to try, and what the policies say about it."""

    id: str
    kind: str
    """``denied``, ``control``, ``metadata`` or ``internet``."""
    source: PodClass
    destination: PodClass | Address
    port: int
    expected: bool
    """Whether the policies allow it."""
    direction: str | None = None
    """For a denied probe, the side that denies it: ``Ingress`` (the destination's) or ``Egress``."""
    policies: tuple[Policy, ...] = ()
    """The policies that decide the denial: a connection that gets through shows them not enforced."""
    protocol: str = PROTOCOL

    @property
    def to_pod(self) -> bool:
        return isinstance(self.destination, PodClass)

    def destination_text(self) -> str:
        if isinstance(self.destination, PodClass):
            return f"{_name(self.destination)}:{self.port}/{self.protocol}"
        return f"{self.destination.name} ({self.destination})"

    def __str__(self) -> str:
        return f"{_name(self.source)} -> {self.destination_text()}"


@dataclass(slots=True)
class Plan:
    probes: list[Probe]
    denying: list[Policy]
    """Policies that deny something (isolate some pod without allowing everything)."""
    untested: list[tuple[Policy, str]]
    """Denying policies that no probe tests, and why."""
    limit: int

    @property
    def sources(self) -> list[PodClass]:
        """The classes a probe pod is created for, in plan order."""
        return list(dict.fromkeys(p.source for p in self.probes))

    @property
    def listeners(self) -> dict[PodClass, list[int]]:
        """The classes a listener pod is created for, and the ports it listens on."""
        found: dict[PodClass, list[int]] = {}
        for probe in self.probes:
            if isinstance(probe.destination, PodClass):
                ports = found.setdefault(probe.destination, [])
                if probe.port not in ports:
                    ports.append(probe.port)
        return found


def _name(cls: PodClass) -> str:
    kind, name = cls.refs()[0]
    return f"{kind} {cls.namespace}/{name}"


def pod_addresses(pod_cidrs: Iterable[str], pod_ips: Iterable[str]) -> AddressSet:
    """Where the cluster's pods may have addresses: the Nodes' ``podCIDRs`` when the cluster says,
    else the addresses of its running pods, else :data:`PRIVATE_ADDRESSES` with them."""
    cidrs = []
    for text in pod_cidrs:
        try:
            cidrs.append(AddressSet.parse(text))
        except ValueError:
            continue
    if cidrs:
        return AddressSet.union(cidrs)
    seen = []
    for text in pod_ips:
        try:
            seen.append(AddressSet.parse(text))
        except ValueError:
            continue
    return AddressSet.union([PRIVATE_ADDRESSES, *seen])


def make_plan(network: Network, options: PlanOptions | None = None) -> Plan:
    """The probe plan for ``network`` (see the module's documentation)."""
    return _Planner(network, options or PlanOptions()).plan()


class _Planner:
    def __init__(self, network: Network, options: PlanOptions) -> None:
        self.network = network
        self.options = options
        self.classes = network.classes
        eligible = 0
        for cls in network.classes[:-1]:
            if not cls.host_network:
                eligible |= 1 << cls.index
        self.eligible = eligible
        self.probes: list[Probe] = []
        self.source_bits = 0
        self.listener_bits = 0
        self.validated_sources = 0
        self.validated_listeners = 0
        self.listen_ports: dict[int, list[int]] = {}
        self.ns_bits = {ns: network.ns_masks[n.index] for ns, n in network.namespaces.items()}
        self.metadata = list(options.metadata)
        if options.ipv6 and not any(a.ipv6 for a in self.metadata):
            self.metadata.append(parse_address("the metadata API", METADATA_V6))

    # -- the plan ---------------------------------------------------------------------------------

    def plan(self) -> Plan:
        denying = [p for p in self.network.policies if self._denying_directions(p)]
        limit = self.options.max_probes if self.options.max_probes is not None else 2 * len(denying)
        covered: set[tuple[int, str]] = set()
        untested: list[tuple[Policy, str]] = []
        for policy in denying:
            for direction in self._denying_directions(policy):
                if (id(policy), direction) in covered:
                    continue
                if len(self.probes) >= limit:
                    untested.append((policy, f"the plan is full ({limit} probes)"))
                    break
                probe = self._denied(policy, direction)
                if probe is None:
                    untested.append((policy, self._why_untested(policy, direction)))
                    continue
                self._add(probe)
                covered.update((id(p), probe.direction or direction) for p in probe.policies)
        self._listener_controls(limit)
        self._externals(limit, self.metadata)
        self._source_controls(limit)
        self._externals(limit, [self.options.internet] if self.options.internet else [])
        tested = {id(p) for probe in self.probes for p in probe.policies}
        untested = [(p, why) for p, why in _unique(untested) if id(p) not in tested]
        for index, probe in enumerate(self.probes, 1):
            probe.id = f"p{index}"
        return Plan(self.probes, denying, untested, limit)

    def _add(self, probe: Probe) -> None:
        self.probes.append(probe)
        self.source_bits |= 1 << probe.source.index
        if isinstance(probe.destination, PodClass):
            self.listener_bits |= 1 << probe.destination.index
            ports = self.listen_ports.setdefault(probe.destination.index, [])
            if probe.port not in ports:
                ports.append(probe.port)

    def _denying_directions(self, policy: Policy) -> list[str]:
        """The directions in which the policy isolates some pod of the scan without allowing everything."""
        if not policy.selected & self.eligible:
            return []
        found = []
        for direction in (INGRESS, EGRESS):
            if direction not in policy.types:
                continue
            rules = policy.rules(direction)
            if any(r.peers is None and r.ports is None for r in rules):
                continue  # a rule that allows every peer on every port: nothing is denied
            found.append(direction)
        return found

    def _why_untested(self, policy: Policy, direction: str) -> str:
        if direction == INGRESS:
            return (
                "no pair found: every pod of the scan that it could deny is allowed by another policy,"
                " or its own egress policies deny it too, or an ipBlock may cover pod addresses"
            )
        return (
            "no pair found: every destination it could deny is allowed by another policy or denies the"
            " connection itself, or an ipBlock may cover pod addresses"
        )

    # -- denied probes ----------------------------------------------------------------------------

    def _denied(self, policy: Policy, direction: str) -> Probe | None:
        subjects = policy.selected & self.eligible
        prefer = self.listener_bits if direction == INGRESS else self.source_bits
        for subject in self._ordered(subjects, prefer, None, limit=8):
            found = self._ingress_denied(subject) if direction == INGRESS else self._egress_denied(subject)
            if found is not None:
                return found
        return None

    def _ingress_denied(self, destination: PodClass) -> Probe | None:
        for port in self._ports(destination, self._ingress_ports(destination)):
            allowed, ambiguous = self._ingress_allowed(destination, port)
            if ambiguous:
                continue
            candidates = self.eligible & ~allowed
            for source in self._ordered(
                candidates, self.source_bits, destination.namespace, last=destination
            ):
                if self._sure(self.network.side(EGRESS, source, destination), port):
                    return _denial(DENIED, source, destination, port, INGRESS)
        return None

    def _egress_denied(self, source: PodClass) -> Probe | None:
        for port in self._ports(None, self._egress_ports(source)):
            allowed, ambiguous = self._egress_allowed(source, port)
            if ambiguous:
                continue
            candidates = self.eligible & ~allowed
            for destination in self._ordered(candidates, self.listener_bits, source.namespace, last=source):
                if self.network.side(EGRESS, source, destination).grants_for(PROTOCOL, port):
                    continue  # a named port of this destination lets it through after all
                if self._sure(self.network.side(INGRESS, destination, source), port):
                    return _denial(DENIED, source, destination, port, EGRESS)
        internet = self.options.internet
        if internet is not None and self._denied_to(source, internet):
            return _denial(INTERNET, source, internet, internet.port, EGRESS)
        for address in self.metadata:
            if self._denied_to(source, address):
                return _denial(METADATA, source, address, address.port, EGRESS)
        return None

    def _denied_to(self, source: PodClass, address: Address) -> bool:
        side = self.network.side(EGRESS, source, address.endpoint)
        return side.isolated and not side.grants_for(PROTOCOL, address.port)

    # -- controls and external probes -------------------------------------------------------------

    def _listener_controls(self, limit: int) -> None:
        """An allowed connection into every listener of a denied probe, while the plan has room."""
        for probe in list(self.probes):
            if len(self.probes) >= limit:
                return
            listener = probe.destination
            if not isinstance(listener, PodClass) or self.validated_listeners >> listener.index & 1:
                continue
            control = self._control_into(listener, probe.port)
            if control is not None:
                self._add_control(control)

    def _source_controls(self, limit: int) -> None:
        """An allowed connection from every probe pod that has none yet, while the plan has room."""
        for source in [p.source for p in self.probes]:
            if len(self.probes) >= limit:
                return
            if self.validated_sources >> source.index & 1:
                continue
            control = self._control_from(source)
            if control is not None:
                self._add_control(control)

    def _add_control(self, control: Probe) -> None:
        self._add(control)
        self.validated_sources |= 1 << control.source.index
        if isinstance(control.destination, PodClass):
            self.validated_listeners |= 1 << control.destination.index

    def _control_into(self, listener: PodClass, port: int) -> Probe | None:
        for candidate_port in dict.fromkeys([port, *self._ingress_ports(listener)]):
            allowed, ambiguous = self._ingress_allowed(listener, candidate_port)
            if ambiguous:
                continue
            unvalidated = self.source_bits & ~self.validated_sources
            for source in self._ordered(
                self.eligible & allowed, unvalidated, listener.namespace, limit=32, last=listener
            ):
                if self._allowed(source, listener, candidate_port):
                    return Probe("", CONTROL, source, listener, candidate_port, expected=True)
        return None

    def _control_from(self, source: PodClass) -> Probe | None:
        reach = self._egress_reach(source)
        candidates = self.eligible & reach
        for destination in self._ordered(
            candidates, self.listener_bits, source.namespace, limit=24, last=source
        ):
            ports = self.listen_ports.get(destination.index, [])
            for port in self._ports(destination, [*ports, *self._ingress_ports(destination)])[:3]:
                if self._allowed(source, destination, port):
                    return Probe("", CONTROL, source, destination, port, expected=True)
        internet = self.options.internet
        if internet is not None and self._sure(
            self.network.side(EGRESS, source, internet.endpoint), internet.port
        ):
            # No pod to connect to: the Internet address shows that the probe pod can send at all (where the
            # cluster has no way out, this control fails and the pod's denied probes are inconclusive).
            return Probe("", CONTROL, source, internet, internet.port, expected=True)
        return None

    def _egress_reach(self, source: PodClass) -> int:
        """Classes some egress rule of ``source`` admits on some port (every class when not isolated)."""
        if not source.egress_policies:
            return self.network.all_bits
        reach = 0
        for policy in source.egress_policies:
            for rule in policy.egress:
                reach |= self.network.all_bits if rule.peers is None else rule.classes
        return reach

    def _externals(self, limit: int, addresses: Sequence[Address]) -> None:
        """``addresses`` (the metadata API, the Internet) from every probe pod whose policies deny them."""
        done = {(p.source.index, str(p.destination)) for p in self.probes if not p.to_pod}
        for address in addresses:
            for source in [p.source for p in self.probes]:
                if len(self.probes) >= limit:
                    return
                key = (source.index, str(address))
                if key in done or not self._denied_to(source, address):
                    continue
                done.add(key)
                kind = METADATA if address in self.metadata else INTERNET
                self._add(_denial(kind, source, address, address.port, EGRESS))

    # -- the engine's answers, as bit sets --------------------------------------------------------

    def _ingress_allowed(self, destination: PodClass, port: int) -> tuple[int, bool]:
        """Classes that ``destination``'s ingress may admit on ``port`` (assumed matches included), and
        whether an ipBlock there may cover pod addresses (then pod sources are left to the plugin)."""
        if not destination.ingress_policies:
            return self.network.all_bits, False
        allowed, ambiguous = 0, False
        for policy in destination.ingress_policies:
            for rule in policy.ingress:
                if not rule.ports_for(destination.named_ports, destination.ports_key).contains(
                    PROTOCOL, port
                ):
                    continue
                if rule.peers is None:
                    return self.network.all_bits, False
                allowed |= rule.classes
                if rule.addresses and rule.addresses.intersects(self.options.pod_addresses):
                    ambiguous = True
        return allowed, ambiguous

    def _egress_allowed(self, source: PodClass, port: int) -> tuple[int, bool]:
        """Classes ``source``'s egress may reach on ``port`` (a named port may match any), and whether an
        ipBlock there may cover pod addresses."""
        if not source.egress_policies:
            return self.network.all_bits, False
        allowed, ambiguous = 0, False
        for policy in source.egress_policies:
            for rule in policy.egress:
                if rule.fixed_ports is not None and not rule.fixed_ports.contains(PROTOCOL, port):
                    continue
                if rule.peers is None:
                    return self.network.all_bits, False
                allowed |= rule.classes
                if rule.addresses and rule.addresses.intersects(self.options.pod_addresses):
                    ambiguous = True
        return allowed, ambiguous

    def _allowed(self, source: PodClass, destination: PodClass, port: int) -> bool:
        """Both sides surely allow: a control. No ipBlock may be what allows it (pods are selectors' job)."""
        egress = self.network.side(EGRESS, source, destination)
        ingress = self.network.side(INGRESS, destination, source)
        return self._sure(egress, port) and self._sure(ingress, port)

    @staticmethod
    def _sure(side: Side, port: int) -> bool:
        """The side allows ``port`` by something other than an assumption (or is not isolated at all)."""
        if not side.isolated:
            return not side.note
        return any(not g.assumed for g in side.grants_for(PROTOCOL, port))

    # -- choosing ---------------------------------------------------------------------------------

    def _ordered(
        self,
        bits: int,
        prefer: int,
        namespace: str | None,
        limit: int = _CHECKS,
        last: PodClass | None = None,
    ) -> Iterator[PodClass]:
        """Classes of ``bits``: those of ``prefer`` first, then of ``namespace``, then the rest, ``last``
        at the end (a pod of the same class as the other end reads less clearly); at most ``limit``."""
        seen = 0
        held = 0 if last is None else bits & (1 << last.index)
        bits &= ~held
        remaining = bits
        tiers = [bits & prefer]
        if namespace is not None:
            tiers.append(bits & self.ns_bits.get(namespace, 0) & ~prefer)
        for bits_of_tier in [*tiers, remaining]:
            tier = bits_of_tier & remaining
            while tier and seen < limit:
                low = tier & -tier
                tier ^= low
                remaining &= ~low
                seen += 1
                yield self.classes[low.bit_length() - 1]
            if seen >= limit:
                return
        if held and last is not None:
            yield last

    def _ports(self, destination: PodClass | None, preferred: Sequence[int]) -> list[int]:
        ports = list(preferred)
        if destination is not None:
            ports += self._own_ports(destination)
        ports.append(FALLBACK_PORT)
        return list(dict.fromkeys(ports))[:4]

    @staticmethod
    def _own_ports(pods: PodClass) -> list[int]:
        """The TCP ports the pods of the class declare."""
        ports = []
        for pod in pods.pods[:1]:
            for container in pod.containers:
                for port in container.ports:
                    if port.container_port and port.protocol == PROTOCOL:
                        ports.append(port.container_port)
        return ports

    @staticmethod
    def _ingress_ports(destination: PodClass) -> list[int]:
        """The first TCP port of each range ``destination``'s ingress rules name: "X may, Y may not"."""
        ports = []
        for policy in destination.ingress_policies:
            for rule in policy.ingress:
                resolved = rule.ports_for(destination.named_ports, destination.ports_key)
                ports += [lo for lo, _ in resolved.tcp if rule.ports is not None]
        return list(dict.fromkeys(ports))[:3]

    @staticmethod
    def _egress_ports(source: PodClass) -> list[int]:
        ports = []
        for policy in source.egress_policies:
            for rule in policy.egress:
                if rule.fixed_ports is not None and rule.ports is not None:
                    ports += [lo for lo, _ in rule.fixed_ports.tcp]
        return list(dict.fromkeys(ports))[:3]


def _denial(kind: str, source: PodClass, destination: PodClass | Address, port: int, direction: str) -> Probe:
    """A connection the policies of ``direction``'s side deny: those of the destination for ingress."""
    subject = destination if direction == INGRESS else source
    assert isinstance(subject, PodClass)
    return Probe(
        "",
        kind,
        source,
        destination,
        port,
        expected=False,
        direction=direction,
        policies=tuple(subject.policies(direction)),
    )


def _unique(pairs: Iterable[tuple[Policy, str]]) -> list[tuple[Policy, str]]:
    seen: set[int] = set()
    out = []
    for policy, why in pairs:
        if id(policy) not in seen:
            seen.add(id(policy))
            out.append((policy, why))
    return out
