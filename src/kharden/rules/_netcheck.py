"""Helpers the network rules share: naming pods, and one finding per workload.

Network findings are about workloads: each workload whose pods no policy covers (hostNetwork pods
among them: no policy can select them) gets its own finding, and so does each workload a policy
rule lets through, once per rule (keyed by the rule, so that the findings of one workload stay
apart). Annotations, baselines and counts then speak for one workload, never for its neighbours.
A workload no policy covers is reported on its pod labels (what a policy's podSelector would match),
or on its hostNetwork field; a workload a rule lets through is reported on that rule (or its peer), the
place to change, with the workload as the finding's object: its annotations suppress it, and an ignore
annotation on the NetworkPolicy suppresses what its rules open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..analysis.netpol import EGRESS, External, Grant, Network, Peer, PodClass, Rule, workload_ref
from ..analysis.podspec import EffectivePod
from ..analysis.selectors import LabelSelector
from ..model import Hit, Severity

__all__ = [
    "RuleHits",
    "Workload",
    "pods_of",
    "reach_hits",
    "selector_text",
    "uncovered_hits",
    "workload_of",
    "workloads",
]

_SHOWN = 4


def pods_of(classes: Sequence[PodClass]) -> str:
    """``Deployment 'web', StatefulSet 'db'`` (at most four names, then ``and 3 more``)."""
    names = list(dict.fromkeys(name for cls in classes for name in cls.workloads()))
    if len(names) <= _SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:_SHOWN])} and {len(names) - _SHOWN} more"


@dataclass(frozen=True, slots=True)
class Workload:
    """A workload of the network: its name, and the first of its pods (whose object findings are on)."""

    name: str
    """``Deployment 'web'``; a Pod whose controller is outside the scan is named by that controller."""
    namespace: str
    pod: EffectivePod
    host_network: bool

    @property
    def path(self) -> str:
        """Where its findings no policy decides point: its hostNetwork field, or the labels a podSelector
        would match."""
        field = "spec/hostNetwork" if self.host_network else "metadata/labels"
        return f"{self.pod.template_path}/{field}"

    def hit(self, message: str, key: str | None = None, severity: Severity | None = None) -> Hit:
        """A finding on the workload, at :attr:`path`."""
        return Hit(path=self.path, message=message, obj=self.pod.obj, key=key, severity=severity)


def workload_of(classes: Iterable[PodClass]) -> dict[int, Workload]:
    """The workload of each pod of ``classes`` (by ``id``): one per namespace, kind and name, which its
    first pod in the order the network holds them stands for."""
    found: dict[tuple[str, str, str], Workload] = {}
    of: dict[int, Workload] = {}
    for cls in classes:
        for pod in cls.pods:
            kind, name = workload_ref(pod.obj)
            workload = found.get((cls.namespace, kind, name))
            if workload is None:
                workload = found[(cls.namespace, kind, name)] = Workload(
                    f"{kind} {name!r}", cls.namespace, pod, cls.host_network
                )
            of[id(pod)] = workload
    return of


def workloads(classes: Iterable[PodClass]) -> list[Workload]:
    """The workloads of ``classes``, once each, in the order the network holds them (each the one
    :func:`workload_of` gives its pods)."""
    found: dict[tuple[str, str, str], Workload] = {}
    for cls in classes:
        for (kind, name), pod in cls.first_pods():
            key = (cls.namespace, kind, name)
            if key not in found:
                found[key] = Workload(f"{kind} {name!r}", cls.namespace, pod, cls.host_network)
    return list(found.values())


def uncovered_hits(classes: Iterable[PodClass], verb: str, direction: str) -> Iterator[Hit]:
    """A finding for each workload of ``classes``, which no policy covers in ``direction``."""
    for workload in workloads(classes):
        where = f"pods of {workload.name} in namespace {workload.namespace!r} {verb}"
        if workload.host_network:
            yield workload.hit(f"{where}: they use hostNetwork, which NetworkPolicies never select")
        else:
            yield workload.hit(f"{where}: no NetworkPolicy selects them for {direction.lower()}")


class RuleHits:
    """Findings for the workloads that policy rules let through, each (workload, rule) once.

    The key is the rule (and its peer): two copies of one NetworkPolicy in the scan (variants of an
    install) open the same path once.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[int, str]] = set()

    def __call__(
        self,
        rule: Rule,
        peer: Peer | None,
        classes: Iterable[PodClass],
        before: str,
        after: str,
        severity: Severity | None = None,
    ) -> Iterator[Hit]:
        """A finding for each workload of ``classes`` that ``rule`` (through ``peer``, when given) lets
        through: the message is ``before``, the pods (``pods of Deployment 'web'``), ``after``, and where
        the rule is written."""
        path = rule.path if peer is None else peer.path
        key = f"{rule}" if peer is None else f"{rule} peer {peer.index}"
        for workload in workloads(classes):
            if (id(workload.pod.obj), key) in self._seen:
                continue
            self._seen.add((id(workload.pod.obj), key))
            message = f"{before}pods of {workload.name}{after}"
            yield Hit(path, message, obj=workload.pod.obj, key=key, severity=severity, at=rule.policy.obj)


def selector_text(selector: LabelSelector) -> str:
    return "{}" if selector.selects_everything else str(selector)


def reach_hits(
    network: Network, target: External, port: tuple[str, int] | None, verb: str, reaches: str
) -> Iterator[Hit]:
    """Findings for the workloads that can reach ``target`` (on ``port`` when given): one per workload
    no policy covers, one per workload and rule that lets it through."""
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
    yield from uncovered_hits(uncovered, verb + where, EGRESS)
    rule_hits = RuleHits()
    for (rule, peer), (grant, classes) in granted.items():
        if port is None and rule.dns_only:
            # DNS only: a resolver anywhere is reachable, and through it a DNS tunnel, not the whole Internet
            dest = "any address (the rule has no 'to')" if peer is None else f"ipBlock {peer.ip_block}"
            after = f" send DNS on {grant.ports} to {dest}: a path for tunnelling data out"
            yield from rule_hits(rule, peer, classes, f"{rule} lets ", after, Severity.LOW)
            continue
        if peer is None or peer.addresses is None:
            how = "the rule has no 'to': every destination"
        elif len(target.addresses.v4) + len(target.addresses.v6) > 2:
            how = f"ipBlock {peer.ip_block}"
        else:
            how = f"ipBlock {peer.ip_block} covers {peer.addresses & target.addresses}"
        ports = where or f" on {grant.ports}"
        yield from rule_hits(rule, peer, classes, f"{rule} lets ", f" {reaches}{ports} ({how})")
