"""The NetworkPolicy engine as the attack graph asks it: can this pod reach that one, or that address,
and which policy (or missing policy) decides it.

A connection needs the source's egress and the destination's ingress; each side is a fact of
the step (fixing either breaks it). A side that no policy isolates is the namespace's missing
default-deny policy (the finding ``netpol.egress-open``, ``netpol.ingress-open`` or
``exposure.metadata-api`` on the Namespace); a side a rule lets through is that rule (a finding
when it admits every namespace or every address, else a rule written on purpose, which can still
be narrowed); a hostNetwork pod is outside NetworkPolicy altogether (``netpol.host-network``).

To keep pod pairs from growing with the square of the pods, the sources that may reach a pod are
first narrowed with the engine's bit sets (the classes each ingress rule matches), then each
remaining pair is asked with ``Network.connection`` when a policy isolates either side.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.netpol import EGRESS, INGRESS, External, Grant, Network, PodClass, Side
from ..analysis.podspec import EffectivePod
from ..rules import get as get_rule
from .model import Evidence

__all__ = ["NetView"]


class NetView:
    def __init__(self, network: Network) -> None:
        self.network = network
        self._class: dict[int, PodClass] = {}
        for cls in network.classes[:-1]:
            for pod in cls.pods:
                self._class[id(pod)] = cls

    def class_of(self, pod: EffectivePod) -> PodClass | None:
        return self._class.get(id(pod))

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
        return (self._side_fact(cls, side, grants[0], open_rule, open_rule),)

    def sources(self, destination: PodClass, *, other_namespaces: bool) -> Iterator[PodClass]:
        """Classes that may reach ``destination`` on some port by the ingress side alone (a superset)."""
        network = self.network
        candidates = network.all_bits
        if not destination.host_network and network.isolated(destination, INGRESS):
            candidates = 0
            for policy in destination.ingress_policies:
                for rule in policy.ingress:
                    candidates |= rule.classes
        for cls in network.classes[:-1]:
            if not candidates >> cls.index & 1 or cls is destination:
                continue
            if other_namespaces and cls.namespace == destination.namespace:
                continue
            yield cls

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
            return _host_network(cls)
        if grant.rule is None:
            return self._uncovered(cls, side.direction, open_rule)
        rule = grant.rule
        peer = grant.peer
        path = rule.path if peer is None else peer.path
        what = "every peer" if peer is None else str(peer)
        if rule_id is not None and peer is not None and peer.namespace_selector is not None:
            path = f"{peer.path}/namespaceSelector"
        if rule_id == "exposure.metadata-api" and peer is not None:
            path = peer.path
        fix = (
            get_rule(rule_id).remediation
            if rule_id
            else f"narrow {rule} to the peers and ports it must allow"
        )
        return Evidence.at(
            rule.policy.obj, path, f"{rule} allows {what} on {rule.ports_text()}", rule=rule_id, fix=fix
        )

    def _uncovered(self, cls: PodClass, direction: str, rule_id: str) -> Evidence:
        """No policy isolates ``cls`` in ``direction``: the fact is on its Namespace (else its workload)."""
        rule = get_rule(rule_id)
        if cls.host_network:
            return _host_network(cls)
        namespace = self.network.namespaces[cls.namespace]
        text = f"no NetworkPolicy isolates the pods of namespace {cls.namespace!r} for {direction.lower()}"
        obj = namespace.obj if namespace.obj is not None else cls.pods[0].obj
        return Evidence.at(obj, None, text, rule=rule.id, fix=rule.remediation, aspect=direction)


def _admits_everyone(network: Network, grant: Grant) -> bool:
    """A rule that admits every namespace (or every peer): what the ``*-open`` findings report."""
    if grant.rule is None:
        return True
    if grant.peer is None:
        return True
    return network.admits_every_namespace(grant.peer)


def _host_network(cls: PodClass) -> Evidence:
    pod = cls.pods[0]
    rule = get_rule("netpol.host-network")
    return Evidence.at(
        pod.obj,
        pod.host_network.path,
        f"{pod.obj.ref} uses hostNetwork: no NetworkPolicy applies to it",
        rule=rule.id,
        fix=rule.remediation,
    )
