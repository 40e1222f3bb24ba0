"""The workloads of a network, and a label selector that picks exactly each one's pods.

A workload is a template-carrying object (Deployment, StatefulSet, ...) or, in a cluster read,
the controller its running Pods name: a Pod owned by ReplicaSet ``web-5d9c8`` (its
``pod-template-hash``) belongs to Deployment ``web``. Its pods are the network's classes that hold
them. Labels that change at every rollout or differ per pod (``pod-template-hash``,
``controller-revision-hash``, ``statefulset.kubernetes.io/pod-name``, ...) never enter a selector:
a policy must keep working after the next rollout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..analysis.netpol import Network, PodClass
from ..analysis.podspec import TEMPLATE_KINDS, EffectivePod
from ..analysis.selectors import LabelSelector, Requirement

__all__ = ["VOLATILE_LABELS", "Selector", "Workload", "workloads_of"]

VOLATILE_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-revision-hash",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
        "batch.kubernetes.io/job-completion-index",
    }
)


@dataclass(frozen=True, slots=True)
class Selector:
    """A pod selector as written in a policy: ``matchLabels`` and ``NotIn`` expressions."""

    labels: tuple[tuple[str, str], ...] = ()
    not_in: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.labels:
            out["matchLabels"] = dict(self.labels)
        if self.not_in:
            out["matchExpressions"] = [
                {"key": key, "operator": "NotIn", "values": [value]} for key, value in self.not_in
            ]
        return out

    def parsed(self) -> LabelSelector:
        return LabelSelector(
            tuple(Requirement(k, "In", frozenset({v})) for k, v in self.labels)
            + tuple(Requirement(k, "NotIn", frozenset({v})) for k, v in self.not_in)
        )

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in self.labels] + [f"{k}!={v}" for k, v in self.not_in]
        return ",".join(parts) or "{}"


@dataclass(eq=False)
class Workload:
    namespace: str
    kind: str
    name: str
    pods: list[EffectivePod] = field(default_factory=list)
    """One effective pod per class (the workload's template, or one running Pod of each class)."""
    classes: list[PodClass] = field(default_factory=list)
    """Its classes that policies can select (hostNetwork ones are in ``host_classes``)."""
    host_classes: list[PodClass] = field(default_factory=list)
    selector: Selector | None = None
    """Selects exactly ``classes`` in the namespace; ``None`` when no selector can (see ``twins``)."""
    twins: tuple[str, ...] = ()
    """Workloads whose pods no selector tells apart from this one's (same labels)."""

    @property
    def bits(self) -> int:
        bits = 0
        for cls in self.classes:
            bits |= 1 << cls.index
        return bits

    @property
    def host_network(self) -> bool:
        return not self.classes

    @property
    def slug(self) -> str:
        return self.name

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def workloads_of(network: Network) -> list[Workload]:
    """The workloads of the network's pods, in the network's order, each with its selector."""
    found: dict[tuple[str, str, str], Workload] = {}
    for cls in network.classes[:-1]:
        seen: set[tuple[str, str, str]] = set()
        for pod in cls.pods:
            kind, name = _identity(pod)
            key = (cls.namespace, kind, name)
            workload = found.get(key)
            if workload is None:
                workload = found[key] = Workload(cls.namespace, kind, name)
            if key in seen:
                continue
            seen.add(key)
            workload.pods.append(pod)
            (workload.host_classes if cls.host_network else workload.classes).append(cls)
    by_namespace: dict[str, list[Workload]] = {}
    for workload in found.values():
        by_namespace.setdefault(workload.namespace, []).append(workload)
    for namespace, members in by_namespace.items():
        classes = [c for c in network.classes_of(namespace) if not c.host_network]
        for workload in members:
            if workload.classes:
                _choose_selector(workload, classes, members)
    return list(found.values())


def _identity(pod: EffectivePod) -> tuple[str, str]:
    """``(kind, name)`` of the workload a pod belongs to; a ReplicaSet of a Deployment is the Deployment."""
    obj = pod.obj
    kind, name = obj.ref.kind, obj.ref.name
    if kind == "Pod":
        owners = obj.metadata.get("ownerReferences")
        for owner in owners if isinstance(owners, list) else ():
            if isinstance(owner, Mapping) and owner.get("controller") is True:
                owner_kind, owner_name = owner.get("kind"), owner.get("name")
                if owner_kind in TEMPLATE_KINDS and isinstance(owner_name, str):
                    kind, name = owner_kind, owner_name
                    break
    template_hash = pod.labels.get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]
    return kind, name


def _stable(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in VOLATILE_LABELS}


def _controller_labels(workload: Workload) -> dict[str, str] | None:
    """The workload's own ``spec.selector.matchLabels`` when it is a plain one (it never changes)."""
    obj = workload.pods[0].obj
    if obj.ref.kind == "Pod" or obj.ref.name != workload.name:
        return None
    spec = obj.raw.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    if not isinstance(selector, Mapping) or selector.get("matchExpressions"):
        return None
    labels = selector.get("matchLabels", selector if obj.ref.kind == "ReplicationController" else None)
    if not isinstance(labels, Mapping) or not labels or not all(isinstance(v, str) for v in labels.values()):
        return None
    return _stable({str(k): v for k, v in labels.items()}) or None


def _choose_selector(workload: Workload, classes: Sequence[PodClass], members: Sequence[Workload]) -> None:
    common: dict[str, str] | None = None
    for cls in workload.classes:
        stable = _stable(cls.labels)
        common = stable if common is None else {k: v for k, v in common.items() if stable.get(k) == v}
    candidates = [c for c in (_controller_labels(workload), common) if c]
    mine = {id(c) for c in workload.classes}
    best: Selector | None = None
    for labels in candidates or [{}]:
        selector = _exclude(Selector(tuple(sorted(labels.items()))), workload, classes, mine)
        if selector is not None:
            best = selector
            break
    if best is None:
        owners = {id(c): w for w in members for c in w.classes}
        twins = sorted(
            {
                str(owners[id(c)])
                for c in classes
                if id(c) not in mine
                and id(c) in owners
                and Selector(tuple(sorted((common or {}).items()))).parsed().matches(c.labels)
            }
        )
        workload.twins = tuple(twins)
        return
    workload.selector = best


def _exclude(
    selector: Selector, workload: Workload, classes: Sequence[PodClass], mine: set[int]
) -> Selector | None:
    """``selector`` narrowed with ``NotIn`` until it selects only the workload's classes; ``None`` if it
    cannot be."""
    parsed = selector.parsed()
    not_in = list(selector.not_in)
    for other in classes:
        if id(other) in mine or not parsed.matches(other.labels):
            continue
        key = next(
            (
                k
                for k in sorted(other.labels)
                if k not in VOLATILE_LABELS
                and all(c.labels.get(k) != other.labels[k] for c in workload.classes)
            ),
            None,
        )
        if key is None:
            return None
        not_in.append((key, other.labels[key]))
        parsed = LabelSelector(
            (*parsed.requirements, Requirement(key, "NotIn", frozenset({other.labels[key]})))
        )
    return Selector(selector.labels, tuple(sorted(set(not_in))))
