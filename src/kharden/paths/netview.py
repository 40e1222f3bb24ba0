"""The NetworkPolicy engine as the attack graph asks it: can this pod reach that one, or that address,
and which policy (or missing policy) decides it.

A connection needs the source's egress and the destination's ingress; each side is a fact of
the step (fixing either breaks it). A side that no policy isolates is the namespace's missing
default-deny policy (one fix for the namespace); a side a rule lets through is that rule (a finding
when it admits every namespace or every address, else a rule written on purpose, which can still
be narrowed); a hostNetwork pod is outside NetworkPolicy altogether (``netpol.host-network``).

The findings of those facts are each workload's own (``netpol.egress-open``, ``netpol.ingress-open``,
``exposure.metadata-api``: one per workload, on its pod labels or hostNetwork field when no policy
covers it, on the policy rule that lets it through otherwise, see ``rules/_netcheck.py``). A side is
computed once per pod class, which several workloads may share; :meth:`NetView.bind` gives the fact of
a step the findings of the workload whose pod takes it, so that each finding counts the paths through
its own workload.

To keep pod pairs from growing with the square of the pods, the sources that may reach a pod are
first narrowed with the engine's bit sets (the classes each ingress rule matches), then each
remaining pair is asked with ``Network.connection`` when a policy isolates either side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ..analysis._netsets import ALL_PORTS
from ..analysis.netpol import EGRESS, INGRESS, External, Grant, Network, PodClass, PortSet, Side, bit_indexes
from ..analysis.podspec import EffectivePod
from ..rules import get as get_rule
from ..rules._netcheck import Workload, workload_of
from .model import Evidence, FindingKey

__all__ = ["NetView"]

_Findings = Callable[[EffectivePod, Workload], tuple[FindingKey, ...]]
"""The findings of a fact for the pod whose step rests on it, and that pod's workload."""


class NetView:
    def __init__(self, network: Network) -> None:
        self.network = network
        self._open: dict[tuple[int, str], Evidence | None] = {}
        self._open_under: dict[tuple[Any, ...], Evidence | None] = {}
        self._admitting: dict[tuple[Any, ...], list[tuple[int, Evidence, PortSet]]] = {}
        """What :meth:`wide_open` finds, by direction, named ports (ingress) and policies (by ``id``)."""
        self._egress: dict[int, int] = {}
        self._uncovered_facts: dict[tuple[int, str, str], Evidence] = {}
        self._rule_facts: dict[tuple[int, int, str | None], Evidence] = {}
        self._host_facts: dict[tuple[int, str], Evidence] = {}
        self._class: dict[int, PodClass] = {}
        for cls in network.classes[:-1]:
            for pod in cls.pods:
                self._class[id(pod)] = cls
        self._workloads = workload_of(network.classes[:-1])
        self._per_workload: dict[int, tuple[Evidence, _Findings]] = {}
        """Facts whose findings are each workload's (by ``id``): the fact, and its findings for a pod."""
        self._bound: dict[tuple[int, int], Evidence] = {}

    def class_of(self, pod: EffectivePod) -> PodClass | None:
        return self._class.get(id(pod))

    def bind(self, fact: Evidence, pod: EffectivePod) -> Evidence:
        """``fact`` as the step of ``pod`` rests on it: a side of the pod's class, with the findings of the
        pod's own workload (other facts are returned as they are)."""
        entry = self._per_workload.get(id(fact))
        workload = self._workloads.get(id(pod))
        if entry is None or workload is None:
            return fact
        key = (id(fact), id(pod))
        bound = self._bound.get(key)
        if bound is None:
            bound = self._bound[key] = replace(fact, findings=entry[1](pod, workload))
        return bound

    def _per(self, fact: Evidence, findings: _Findings) -> Evidence:
        self._per_workload[id(fact)] = (fact, findings)
        return fact

    def to_address(
        self, cls: PodClass, target: External, port: tuple[str, int] | None, open_rule: str
    ) -> tuple[Evidence, ...] | None:
        """The facts that let ``cls`` reach ``target`` (on ``port``), or ``None`` when policies block it.

        ``open_rule`` is the rule that reports this traffic as a finding when nothing restricts it.
        """
        side = self.network.side(EGRESS, cls, target)
        grants = side.grants if port is None else side.grants_for(*port)
        if not grants:
            return None
        # exposure.metadata-api reports every rule that lets pods reach the address; netpol.egress-open only
        # the rules that admit every namespace (a narrow rule towards etcd's address is written on purpose).
        every = open_rule == "exposure.metadata-api" or _admits_everyone(self.network, grants[0])
        return (self._side_fact(cls, side, grants[0], open_rule if every else None, open_rule),)

    def sources(self, destination: PodClass) -> Iterator[PodClass]:
        """Classes that may reach ``destination`` on some port by its ingress side alone (a superset)."""
        network = self.network
        last = len(network.classes) - 1  # the class of pods outside the scan
        for index in bit_indexes(self.ingress_bits(destination)):
            cls = network.classes[index]
            if index < last and cls is not destination:
                yield cls

    def senders(self, destination: PodClass) -> Iterator[PodClass]:
        """Classes that may reach ``destination`` on some port by both sides' bit sets (a superset of those
        :meth:`between` connects): the ingress side's, then each source's egress (cached per class), so
        that a source whose egress rules never match ``destination`` is not asked pair by pair."""
        bit = 1 << destination.index
        for source in self.sources(destination):
            if self.egress_bits(source) & bit:
                yield source

    def admitting(self, cls: PodClass) -> list[tuple[int, Evidence, PortSet]]:
        """For a pod isolated for ingress: ``(classes, fact, ports)`` for each peer of its ingress rules that
        admits pods on a port it has (a rule without ``from``: every class). Read-only: classes under the
        same policies with the same named ports share one answer."""
        key = (cls.host_network, cls.ports_key, *map(id, cls.ingress_policies))
        found = self._admitting.get(key)
        if found is None:
            found = self._admitting[key] = self._admitted(cls)
        return found

    def _admitted(self, cls: PodClass) -> list[tuple[int, Evidence, PortSet]]:
        network = self.network
        found = []
        policies = tuple(cls.ingress_policies)
        for policy in policies:
            for rule in policy.ingress:
                ports = rule.ports_for(cls.named_ports, cls.ports_key)
                if not ports:
                    continue
                peers = (
                    [(None, network.all_bits)]
                    if rule.peers is None
                    else [
                        (peer, bits)
                        for peer, (bits, _) in zip(rule.peers, rule.peer_bits, strict=True)
                        if bits
                    ]
                )
                for peer, bits in peers:
                    grant = Grant(rule, peer, ports)
                    fact = self._rule_fact(
                        cls, Side(INGRESS, policies, (grant,)), grant, "netpol.ingress-open"
                    )
                    found.append((bits, fact, ports))
        return found

    def sending(self, source: PodClass, destination: PodClass, ports: PortSet = ALL_PORTS) -> Evidence | None:
        """The fact of an egress rule of ``source`` (isolated for egress) that lets it send to
        ``destination`` on one of ``ports``, or ``None``."""
        bit = 1 << destination.index
        policies = tuple(source.egress_policies)
        for policy in policies:
            for rule in policy.egress:
                if not rule.classes & bit:
                    continue
                allowed = rule.ports_for(destination.named_ports, destination.ports_key) & ports
                if not allowed:
                    continue
                peer = None
                if rule.peers is not None:
                    peer = next(
                        p for p, (bits, _) in zip(rule.peers, rule.peer_bits, strict=True) if bits & bit
                    )
                grant = Grant(rule, peer, allowed)
                return self._rule_fact(source, Side(EGRESS, policies, (grant,)), grant, "netpol.egress-open")
        return None

    def _rule_fact(self, cls: PodClass, side: Side, grant: Grant, open_rule: str) -> Evidence:
        """The fact of a rule that lets traffic through: a finding when it admits every namespace."""
        rule_id = open_rule if _admits_everyone(self.network, grant) else None
        return self._side_fact(cls, side, grant, rule_id, open_rule)

    def ingress_bits(self, cls: PodClass) -> int:
        """The classes ``cls``'s ingress side may admit (every class when no policy isolates it)."""
        return self._side_bits(cls, INGRESS)

    def egress_bits(self, cls: PodClass) -> int:
        """The classes ``cls``'s egress side may reach (every class when no policy isolates it)."""
        found = self._egress.get(cls.index)
        if found is None:
            found = self._egress[cls.index] = self._side_bits(cls, EGRESS)
        return found

    def _side_bits(self, cls: PodClass, direction: str) -> int:
        network = self.network
        if cls.host_network or not network.isolated(cls, direction):
            return network.all_bits
        found = 0
        for policy in cls.policies(direction):
            for rule in policy.ingress if direction == INGRESS else policy.egress:
                found |= rule.classes
        return found

    def wide_open(self, cls: PodClass, direction: str) -> Evidence | None:
        """The fact that opens ``cls`` to every pod in ``direction`` (no policy isolates it, it is on the host
        network, or a rule allows every pod of every namespace), or ``None``."""
        key = (cls.index, direction)
        if key not in self._open:
            self._open[key] = self._wide_open(cls, direction)
        return self._open[key]

    def _wide_open(self, cls: PodClass, direction: str) -> Evidence | None:
        network = self.network
        open_rule = "netpol.egress-open" if direction == EGRESS else "netpol.ingress-open"
        if cls.host_network or not network.isolated(cls, direction):
            return self._uncovered(cls, direction, open_rule)
        # The fact of a rule is the rule's, whatever class it opens: classes under the same policies (and, on
        # ingress, the same named ports) share the answer, asked once rather than per class (tens of
        # policies of thousands of classes, each rule compared with every class, on a large scan).
        key = (direction, cls.ports_key if direction == INGRESS else 0, *map(id, cls.policies(direction)))
        if key not in self._open_under:
            self._open_under[key] = self._opening(cls, direction, open_rule)
        return self._open_under[key]

    def _opening(self, cls: PodClass, direction: str, open_rule: str) -> Evidence | None:
        """The fact of the first rule of ``cls``'s policies (isolating it) that opens it to every pod."""
        network = self.network
        every = network.all_bits & ~network.outside_bit
        for policy in cls.policies(direction):
            for rule in policy.rules(direction):
                # Some port towards every pod: on ingress the pod's own (named) ports decide.
                ports = (
                    rule.ports_for(cls.named_ports, cls.ports_key)
                    if direction == INGRESS
                    else rule.fixed_ports
                )
                if rule.classes & every == every and (rule.ports is None or ports):
                    peer = (
                        None
                        if rule.peers is None
                        else next((p for p in rule.peers if network.admits_every_namespace(p)), None)
                    )
                    if rule.peers is not None and peer is None:
                        continue
                    grant = Grant(rule, peer, ports or ALL_PORTS)
                    side = Side(direction, tuple(cls.policies(direction)), (grant,))
                    return self._side_fact(cls, side, grant, open_rule, open_rule)
        return None

    def between(self, source: PodClass, destination: PodClass) -> tuple[Evidence, ...] | None:
        """The facts that let ``source`` reach ``destination`` on some port, or ``None``."""
        network = self.network
        open_out = source.host_network or not network.isolated(source, EGRESS)
        open_in = destination.host_network or not network.isolated(destination, INGRESS)
        if open_out and open_in:
            egress = self._uncovered(source, EGRESS, "netpol.egress-open")
            ingress = self._uncovered(destination, INGRESS, "netpol.ingress-open")
            return (egress, ingress)
        connection = network.connection(source, destination)
        ports = connection.ports
        if not ports:
            return None
        facts = []
        for side, cls, rule_id in (
            (connection.egress, source, "netpol.egress-open"),
            (connection.ingress, destination, "netpol.ingress-open"),
        ):
            grant = next((g for g in side.grants if g.ports & ports), side.grants[0])
            opening = _admits_everyone(network, grant)
            facts.append(self._side_fact(cls, side, grant, rule_id if opening else None, rule_id))
        return tuple(facts)

    # -- facts ---------------------------------------------------------------------------------------

    def _side_fact(
        self, cls: PodClass, side: Side, grant: Grant, rule_id: str | None, open_rule: str
    ) -> Evidence:
        if cls.host_network:
            return self._host_network(cls, open_rule)
        if grant.rule is None:
            return self._uncovered(cls, side.direction, open_rule)
        rule = grant.rule
        peer = grant.peer
        key = (id(rule), id(peer), rule_id)
        found = self._rule_facts.get(key)
        if found is not None:
            return found
        # The rule's finding points at the rule, or at its peer; the fix of a peer that admits every
        # namespace is its namespaceSelector.
        finding = rule.path if peer is None else peer.path
        path = finding
        what = "every peer" if peer is None else str(peer)
        opens = rule_id not in (None, "exposure.metadata-api")
        if opens and peer is not None and peer.namespace_selector is not None:
            path = f"{peer.path}/namespaceSelector"
        fix = (
            get_rule(rule_id).remediation
            if rule_id
            else f"narrow {rule} to the peers and ports it must allow"
        )
        fact = Evidence.at(
            rule.policy.obj, path, f"{rule} allows {what} on {rule.ports_text()}", rule=rule_id, fix=fix
        )
        if rule_id is not None:  # each workload the rule lets through has its finding, on the rule
            fact = self._per(fact, lambda _, workload: ((rule_id, workload.pod.obj.ref, finding),))
        self._rule_facts[key] = fact
        return fact

    def _uncovered(self, cls: PodClass, direction: str, rule_id: str) -> Evidence:
        """No policy isolates ``cls`` in ``direction``: the fact is on its Namespace (else its workload)."""
        key = (cls.index, direction, rule_id)
        found = self._uncovered_facts.get(key)
        if found is None:
            found = self._uncovered_facts[key] = self._uncovered_fact(cls, direction, rule_id)
        return found

    def _uncovered_fact(self, cls: PodClass, direction: str, rule_id: str) -> Evidence:
        """The namespace's missing default-deny policy (one fix for its workloads); the findings are each
        workload's, on its pod labels."""
        rule = get_rule(rule_id)
        if cls.host_network:
            return self._host_network(cls, rule_id)
        namespace = self.network.namespaces[cls.namespace]
        text = f"no NetworkPolicy isolates the pods of namespace {cls.namespace!r} for {direction.lower()}"
        obj = namespace.obj if namespace.obj is not None else cls.pods[0].obj
        fact = Evidence.at(obj, None, text, rule=rule.id, fix=rule.remediation, aspect=direction)
        return self._per(fact, lambda _, workload: ((rule_id, workload.pod.obj.ref, workload.path),))

    def _host_network(self, cls: PodClass, open_rule: str) -> Evidence:
        """A hostNetwork pod, which no NetworkPolicy selects: its netpol.host-network finding, and its
        workload's ``open_rule`` finding on the same field."""
        key = (cls.index, open_rule)
        found = self._host_facts.get(key)
        if found is None:
            pod = cls.pods[0]
            rule = get_rule("netpol.host-network")
            fact = Evidence.at(
                pod.obj,
                pod.host_network.path,
                f"{pod.obj.ref} uses hostNetwork: no NetworkPolicy applies to it",
                rule=rule.id,
                fix=rule.remediation,
            )
            found = self._host_facts[key] = self._per(
                fact,
                lambda own, workload: (
                    (rule.id, own.obj.ref, own.host_network.path),
                    (open_rule, workload.pod.obj.ref, workload.path),
                ),
            )
        return found


def _admits_everyone(network: Network, grant: Grant) -> bool:
    """A rule that admits every namespace (or every peer): what the ``*-open`` findings report."""
    if grant.rule is None:
        return True
    if grant.peer is None:
        return True
    return network.admits_every_namespace(grant.peer)
