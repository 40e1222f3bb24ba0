"""The reachability proof of generated NetworkPolicies, by kharden's own engine (``kharden reach``).

With the generated policies added to those in force:

(a) every connection the manifests say must flow (each :class:`~.networkpolicies.Need`, pod class by
    pod class and port by port) is allowed, unless a policy in force already isolated that side
    (kharden adds nothing there; such connections are listed, not counted as failures);
(b) no pod reaches the metadata API (169.254.169.254, fd00:ec2::254) except through a policy in force,
    on the host network, or in a namespace left out of the generation: each is listed;
(c) nothing crosses namespaces without a reason: every generated policy selects exactly the pods it
    was written for, each of its rules admits exactly the pods of its needs, and in the namespace
    matrix every cell that the generated policies open (beyond what the default deny alone leaves) is
    a pair of namespaces some need connects.

A failure of the generated policies themselves is a bug of kharden, reported as such.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..analysis._netmatrix import Matrix, matrix
from ..analysis._netsets import AddressSet, PortSet
from ..analysis.netpol import (
    EGRESS,
    INGRESS,
    INTERNET,
    METADATA,
    Connection,
    Endpoint,
    External,
    Network,
    PodClass,
)
from .model import GENERATED_BY
from .networkpolicies import Need, Party, Plan

__all__ = ["Proof", "prove"]


@dataclass
class Proof:
    checked: int = 0
    """Connections checked for (a): pairs of pod classes (or addresses) and ports."""
    allowed: int = 0
    unchecked: set[str] = field(default_factory=set)
    """(a) needs of pods the scan does not hold, in a namespace it holds (kube-dns in a partial scan)."""
    existing_blocks: list[str] = field(default_factory=list)
    """(a) needs that a policy in force denies."""
    metadata: list[str] = field(default_factory=list)
    """(b) pods that still reach the metadata API, and why (never a generated policy)."""
    crossings: int = 0
    """(c) namespace pairs the generated policies open."""
    failures: list[str] = field(default_factory=list)
    """What the generated policies get wrong: always a bug."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        return [
            f"reachability proof: {self.allowed:,} of {self.checked:,} needed connections allowed"
            + (f" ({len(self.existing_blocks)} denied by policies in force)" if self.existing_blocks else "")
            + (
                f"; {len(self.unchecked)} needs not checked: their pods are not in the scan"
                if self.unchecked
                else ""
            ),
            "reachability proof: no pod reaches the metadata API through a generated policy"
            + (
                f" ({len(self.metadata)} paths through what kharden does not govern)" if self.metadata else ""
            ),
            f"reachability proof: {self.crossings:,} namespace pairs opened, each by a reason",
        ]


def prove(plan: Plan) -> Proof:
    proof = Proof()
    after, _ = plan.after()
    before = plan.before
    if len(after.classes) != len(before.classes):  # pragma: no cover - the same pods make the same classes
        proof.failures.append("the network after generation has different pod classes")
        return proof
    _needs(plan, after, proof)
    _metadata(plan, after, proof)
    _selection(plan, after, proof)
    _matrix(plan, after, proof)
    return proof


# -- (a) -------------------------------------------------------------------------------------------


def _endpoints(network: Network, party: Party | None, need: Need) -> list[Endpoint]:
    """The pod classes (or addresses) of one side of a need; none when its pods are not in the scan but
    their namespace is (the engine has nothing to ask about)."""
    if party is None:
        if need.kind == "internet":
            return [INTERNET]
        return [
            External("addresses", AddressSet.union(_block(cidr, excepts) for cidr, excepts in need.blocks))
        ]
    if not party.bits:
        return [] if party.namespace in network.namespaces else [network.outside]
    return [network.classes[i] for i in _bits(party.bits)]


def _block(cidr: str, excepts: tuple[str, ...]) -> AddressSet:
    found = AddressSet.parse(cidr)
    for carved in excepts:
        found -= AddressSet.parse(carved)
    return found


def _needs(plan: Plan, after: Network, proof: Proof) -> None:
    before = plan.before
    cache: dict[tuple[int, int], Connection] = {}
    for need in plan.needs:
        sources = _endpoints(after, need.source, need)
        targets = _endpoints(after, need.target, need)
        if not sources or not targets:
            proof.unchecked.add(need.reason)
            continue
        for src in sources:
            for dst in targets:
                key = (id(src), id(dst))
                conn = cache.get(key)
                if conn is None:
                    conn = cache[key] = after.connection(src, dst)
                for ports in _wanted(need, dst):
                    proof.checked += 1
                    if conn.ports & ports:
                        proof.allowed += 1
                        continue
                    _blocked(need, src, dst, conn, before, proof)


def _wanted(need: Need, dst: Endpoint) -> Iterator[PortSet]:
    if need.ports is None:
        yield PortSet.of("TCP") | PortSet.of("UDP") | PortSet.of("SCTP")
        return
    for port in need.ports:
        if isinstance(port.port, int):
            yield PortSet.of(port.protocol, port.port, port.port)
        elif isinstance(dst, PodClass) and dst.named_ports is not None:
            number = dst.named_ports.get((port.port, port.protocol))
            if number:  # a pod without the named port is no backend of that port
                yield PortSet.of(port.protocol, number, number)
        else:
            yield PortSet.of(port.protocol)


def _blocked(
    need: Need, src: Endpoint, dst: Endpoint, conn: Connection, before: Network, proof: Proof
) -> None:
    existing = []
    for endpoint, direction, side in ((src, EGRESS, conn.egress), (dst, INGRESS, conn.ingress)):
        if side.ports:
            continue
        if (
            isinstance(endpoint, PodClass)
            and not endpoint.outside
            and before.isolated(before.classes[endpoint.index], direction)
        ):
            names = sorted({str(p) for p in before.classes[endpoint.index].policies(direction)})
            existing.append(f"{direction.lower()} of {endpoint} is governed by {', '.join(names)}")
        else:
            failure = f"kharden bug: the generated policies deny {need.reason} ({src} -> {dst}, {direction})"
            if failure not in proof.failures:
                proof.failures.append(failure)
            return
    line = f"{need.reason}: denied, {'; '.join(existing)}"
    if line not in proof.existing_blocks:
        proof.existing_blocks.append(line)


# -- (b) -------------------------------------------------------------------------------------------


def _metadata(plan: Plan, after: Network, proof: Proof) -> None:
    scope = set(plan.scope)
    reported: set[str] = set()
    for cls in after.classes[:-1]:
        side = after.side(EGRESS, cls, METADATA)
        if not side.ports:
            continue
        if cls.host_network:
            line = f"pods of {cls} run on the host network: no NetworkPolicy applies to them"
        elif cls.namespace not in scope:
            line = f"namespace {cls.namespace}: kharden generated nothing there (system namespace)"
        else:
            rules = [g.rule for g in side.grants if g.rule is not None]
            generated = [r for r in rules if GENERATED_BY in r.policy.obj.annotations]
            if generated or not rules:
                proof.failures.append(
                    f"kharden bug: pods of {cls} reach the metadata API with the generated policies"
                )
                continue
            line = f"pods of {cls} reach the metadata API through {rules[0]} (in force; edit it)"
        if line not in reported:
            reported.add(line)
            proof.metadata.append(line)


# -- (c) -------------------------------------------------------------------------------------------


def _selection(plan: Plan, after: Network, proof: Proof) -> None:
    drafts = {(d.namespace, d.name): d for d in plan.drafts}
    for policy in after.policies:
        if GENERATED_BY not in policy.obj.annotations:
            continue
        draft = drafts[(policy.namespace, policy.name)]
        if policy.selected != draft.bits:
            proof.failures.append(f"kharden bug: {policy} selects other pods than those it was written for")
            continue
        for direction in (INGRESS, EGRESS):
            written = draft.rules[direction]
            for rule, (_, _, needs) in zip(policy.rules(direction), written, strict=True):
                intended = 0
                for need in needs:
                    party = need.source if direction == INGRESS else need.target
                    if party is None:
                        continue
                    intended |= party.bits if party.bits else after.outside_bit
                    if party.selector is None or party.namespace not in after.namespaces:
                        intended |= after.outside_bit if party.namespace not in after.namespaces else 0
                if rule.classes & ~intended:
                    proof.failures.append(f"kharden bug: {rule} admits pods no need names")
                if direction == EGRESS and rule.addresses.intersects(METADATA.addresses):
                    proof.failures.append(f"kharden bug: {rule} lets pods reach the metadata API")


def _matrix(plan: Plan, after: Network, proof: Proof) -> None:
    opened = _cells(matrix(after)) - _cells(matrix(plan.baseline()))
    reasons = set()
    for need in plan.needs:
        if need.source is None or need.target is None:
            continue
        reasons.add((_ns(after, need.source), _ns(after, need.target)))
    proof.crossings = len(opened)
    for source, target in sorted(opened - reasons):
        proof.failures.append(
            f"kharden bug: the generated policies open {source} -> {target} without a reason"
        )


def _ns(network: Network, party: Party) -> str:
    """A party's row or column in the matrix: its namespace, or ``*`` for a namespace the scan lacks."""
    return party.namespace if party.namespace in network.namespaces else "*"


def _cells(found: Matrix) -> set[tuple[str, str]]:
    """The pairs of distinct namespaces (``*`` included) between which something is allowed."""
    return {(a, b) for a, row in found.cells.items() for b in row if a != b and b in found.namespaces}


def _bits(value: int) -> Iterator[int]:
    while value:
        low = value & -value
        yield low.bit_length() - 1
        value ^= low
