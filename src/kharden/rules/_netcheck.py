"""Helpers the network rules share: naming pods, and where a finding about a namespace points.

Network findings are about groups of pods. The pods that no policy covers (hostNetwork pods
among them: no policy can select them) are reported once per namespace, on the Namespace object
when the scan holds it (a default-deny policy there is the fix), else on their first workload;
pods let through by a rule are reported on that rule (or the peer of it that matches).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ..analysis.netpol import EGRESS, External, Grant, Network, Peer, PodClass, Rule
from ..analysis.selectors import LabelSelector
from ..model import Hit, Severity

__all__ = ["by_namespace", "pods_of", "reach_hits", "rule_hit", "selector_text", "uncovered_hit"]

_SHOWN = 4


def pods_of(classes: Sequence[PodClass]) -> str:
    """``Deployment 'web', StatefulSet 'db'`` (at most four names, then ``and 3 more``)."""
    names: list[str] = []
    for cls in classes:
        names += [n for n in cls.workloads() if n not in names]
    if len(names) <= _SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:_SHOWN])} and {len(names) - _SHOWN} more"


def by_namespace(classes: Iterable[PodClass]) -> Iterator[tuple[str, list[PodClass]]]:
    """Classes grouped by namespace, namespaces in the order the network holds them."""
    groups: dict[str, list[PodClass]] = {}
    for cls in classes:
        groups.setdefault(cls.namespace, []).append(cls)
    yield from groups.items()


def uncovered_hit(
    network: Network, namespace: str, classes: Sequence[PodClass], verb: str, direction: str
) -> Hit:
    """A finding about the pods of ``namespace`` that no policy covers in ``direction``: on the Namespace
    object when the scan holds it, else on the first workload. hostNetwork pods are named apart."""
    regular = [c for c in classes if not c.host_network]
    host = [c for c in classes if c.host_network]
    if regular:
        message = (
            f"pods of {pods_of(regular)} in namespace {namespace!r} {verb}:"
            f" no NetworkPolicy selects them for {direction.lower()}"
        )
        if host:
            message += f"; so do {pods_of(host)}, on hostNetwork, which NetworkPolicies never select"
    else:
        message = (
            f"pods of {pods_of(host)} in namespace {namespace!r} {verb}:"
            " they use hostNetwork, which NetworkPolicies never select"
        )
    ns = network.namespaces[namespace]
    if ns.obj is not None:
        return Hit(path="/metadata/name", message=message, obj=ns.obj)
    pod = (regular or host)[0].pods[0]
    return Hit(path=f"{pod.template_path}/metadata/labels", message=message, obj=pod.obj)


def rule_hit(rule: Rule, grant: Grant | None, message: str, severity: Severity | None = None) -> Hit:
    """A finding on the peer of ``rule`` that lets traffic through, or on the rule when it has no peers."""
    peer = grant.peer if grant is not None else None
    path = rule.path if peer is None else peer.path
    return Hit(path=path, message=message, obj=rule.policy.obj, severity=severity)


def selector_text(selector: LabelSelector) -> str:
    return "{}" if selector.selects_everything else str(selector)


def reach_hits(
    network: Network, target: External, port: tuple[str, int] | None, verb: str, reaches: str
) -> Iterator[Hit]:
    """Findings for pods that can reach ``target`` (on ``port`` when given), grouped by what lets them."""
    uncovered: list[PodClass] = []
    granted: dict[tuple[Rule, Peer | None], tuple[Grant, list[PodClass]]] = {}
    for cls in network.classes[:-1]:
        if cls.host_network:
            uncovered.append(cls)
            continue
        side = network.side(EGRESS, cls, target)
        grants = side.grants if port is None else side.grants_for(*port)
        for grant in grants:
            if grant.rule is None:
                uncovered.append(cls)
            else:
                granted.setdefault((grant.rule, grant.peer), (grant, []))[1].append(cls)
    where = "" if port is None else f" on {port[1]}/{port[0]}"
    for namespace, classes in by_namespace(uncovered):
        yield uncovered_hit(network, namespace, classes, verb + where, EGRESS)
    for (rule, peer), (grant, classes) in granted.items():
        if port is None and rule.dns_only:
            # DNS only: a resolver anywhere is reachable, and through it a DNS tunnel, not the whole Internet
            dest = "any address (the rule has no 'to')" if peer is None else f"ipBlock {peer.ip_block}"
            message = f"{rule} lets pods of {pods_of(classes)} send DNS on {grant.ports} to {dest}: a path"
            yield rule_hit(rule, grant, message + " for tunnelling data out", Severity.LOW)
            continue
        if peer is None or peer.addresses is None:
            how = "the rule has no 'to': every destination"
        elif len(target.addresses.v4) + len(target.addresses.v6) > 2:
            how = f"ipBlock {peer.ip_block}"
        else:
            how = f"ipBlock {peer.ip_block} covers {peer.addresses & target.addresses}"
        ports = where or f" on {grant.ports}"
        yield rule_hit(rule, grant, f"{rule} lets pods of {pods_of(classes)} {reaches}{ports} ({how})")
