"""Where an attacker starts: workloads reachable from outside the cluster, or the ones the user names.

Exposed workloads are those behind an Ingress (any Ingress is taken as reachable: ingress
controllers are), a LoadBalancer or NodePort Service, a Service with ``externalIPs``, a
``hostPort``, or on ``hostNetwork`` (the node's own addresses). ``--from`` names workloads
instead (``NAMESPACE/NAME``, ``NAMESPACE/KIND/NAME``, ``NAMESPACE/*``, ``*/*``, or a running Pod by
its name), as if they were compromised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..analysis.context import ScanContext
from ..analysis.podspec import EffectivePod
from ..analysis.runtime import owner_chain
from ..analysis.services import Ingress, Service
from ..errors import UsageError
from .build import workload_id
from .graph import AttackGraph
from .model import Evidence

__all__ = ["ANY", "EXPOSED", "add_entries", "exposed", "named"]

EXPOSED = "exposed"
"""The default ``--from``: the workloads reachable from outside the cluster."""
ANY = "any"
"""``--from any``: every workload is an entry point (any pod may be compromised)."""


def add_entries(context: ScanContext, graph: AttackGraph, sources: Sequence[str] = (EXPOSED,)) -> None:
    """Mark where paths start: ``exposed``, ``any``, and workloads named ``NAMESPACE/NAME``."""
    if EXPOSED in sources:
        for vertex, reasons in exposed(context, graph).items():
            graph.add_entry(vertex, reasons)
    if ANY in sources:
        for each in list(graph.vertices.values()):
            if each.kind == "workload":
                graph.add_entry(each.id, [Evidence("assumed compromised (--from any)")])
    specs = [s for s in sources if s not in {EXPOSED, ANY}]
    if specs:
        for vertex, reasons in named(context, graph, specs).items():
            graph.add_entry(vertex, reasons)


def exposed(context: ScanContext, graph: AttackGraph) -> dict[str, list[Evidence]]:
    """Workload vertex -> why it is reachable from outside, for every exposed workload of the graph."""
    services = context.services
    by_namespace: dict[str, list[Service]] = {}
    # Each pod is checked against the Services that may select it: those indexed under one of its labels
    # (every Service selecting it has its selector's first equality among them), and those not indexed.
    by_label: dict[tuple[str, str, str], list[int]] = {}
    unindexed: dict[str, list[int]] = {}
    for service in services.services:
        namespace = service.obj.ref.namespace or "default"
        position = len(by_namespace.setdefault(namespace, []))
        by_namespace[namespace].append(service)
        key = service.selector.index_key
        if key is None:
            unindexed.setdefault(namespace, []).append(position)
        else:
            by_label.setdefault((namespace, *key), []).append(position)
    routes: dict[tuple[str | None, str], list[tuple[Ingress, str]]] = {}
    for ingress in services.ingresses:
        for name, path in ingress.backends:
            routes.setdefault((ingress.obj.ref.namespace, name), []).append((ingress, path))
    found: dict[str, list[Evidence]] = {}
    for pod in _pods(context, graph):
        reasons: list[Evidence] = []
        namespace = pod.obj.ref.namespace or "default"
        in_namespace = by_namespace.get(namespace, [])
        candidates = [*unindexed.get(namespace, ())]
        for item in pod.labels.items():
            candidates += by_label.get((namespace, *item), ())
        for service in (in_namespace[position] for position in sorted(candidates)):
            if not service.selector.matches(pod.labels) or service.selector.selects_nothing:
                continue
            kind = service.type.value
            if kind in {"LoadBalancer", "NodePort"}:
                reasons.append(
                    Evidence.at(service.obj, service.type.path, f"{kind} Service {service.name!r} exposes it")
                )
            if service.external_ips:
                first = service.external_ips[0]
                reasons.append(
                    Evidence.at(
                        service.obj, first.path, f"Service {service.name!r} has externalIP {first.value}"
                    )
                )
            for ingress, path in routes.get((service.obj.ref.namespace, service.name), ()):
                reasons.append(
                    Evidence.at(
                        ingress.obj,
                        path,
                        f"Ingress {ingress.obj.ref.name!r} routes to it (Service {service.name!r})",
                    )
                )
        for container in pod.containers:
            for port in container.ports:
                if port.host_port.value:
                    reasons.append(
                        Evidence.at(
                            pod.obj,
                            port.host_port.path,
                            f"container {container.name!r} listens on the node's port {port.host_port.value}",
                        )
                    )
        if pod.host_network.value is True:
            reasons.append(
                Evidence.at(pod.obj, pod.host_network.path, "it runs on the node's network (hostNetwork)")
            )
        if reasons:
            found[workload_id(pod.obj)] = list(dict.fromkeys(reasons))
    return found


def named(context: ScanContext, graph: AttackGraph, specs: Sequence[str]) -> dict[str, list[Evidence]]:
    """Workload vertex -> "assumed compromised" for each workload the specs name; :class:`UsageError`
    for a spec that names none."""
    pods = _pods(context, graph)
    found: dict[str, list[Evidence]] = {}
    for spec in specs:
        matched = _match(context, pods, spec)
        if not matched:
            names = sorted({p.obj.ref.namespace or "default" for p in pods})
            hint = f" (namespaces with workloads: {', '.join(names[:10])})" if names else ""
            raise UsageError(f"--from {spec!r}: no workload matches{hint}")
        for pod in matched:
            reason = Evidence.at(pod.obj, None, f"assumed compromised (--from {spec})")
            found.setdefault(workload_id(pod.obj), []).append(reason)
    return found


def _pods(context: ScanContext, graph: AttackGraph) -> list[EffectivePod]:
    return [pod for pod in context.pods if workload_id(pod.obj) in graph.vertices]


def _match(context: ScanContext, pods: Iterable[EffectivePod], spec: str) -> list[EffectivePod]:
    parts = spec.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise UsageError(f"--from {spec!r}: expected NAMESPACE/NAME, NAMESPACE/KIND/NAME, NAMESPACE/* or */*")
    namespace, name, kind = parts[0], parts[-1], parts[1] if len(parts) == 3 else None
    found = []
    running = _running_names(context, namespace, name) if name != "*" else set()
    for pod in pods:
        ref = pod.obj.ref
        if namespace not in ("*", ref.namespace or "default"):
            continue
        if kind is not None and ref.kind.lower() != kind.lower():
            continue
        if name in ("*", ref.name) or id(pod.obj) in running:
            found.append(pod)
    return found


def _running_names(context: ScanContext, namespace: str, name: str) -> set[int]:
    """The workloads (by object identity) that own a running Pod named ``name``."""
    inventory = context.inventory
    found = set()
    for pod in inventory.of_kind("Pod"):
        if pod.ref.name == name and (namespace in ("*", pod.ref.namespace)):
            chain = owner_chain(inventory, pod)
            found.add(id(chain[-1] if chain else pod))
    return found
