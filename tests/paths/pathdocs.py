"""Small clusters for the attack-path tests: workloads, how they are exposed, RBAC, policies; and the analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from kharden.analysis.context import ScanContext
from kharden.inventory import Inventory
from kharden.paths import EXPOSED, GOALS, Analysis, Path, analyze
from kharden.sources.documents import Collected

Doc = dict[str, Any]


def namespace(name: str = "shop", **labels: str) -> Doc:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def workload(
    name: str = "web",
    ns: str = "shop",
    *,
    account: str | None = None,
    kind: str = "Deployment",
    container: Doc | None = None,
    **spec: Any,
) -> Doc:
    """A workload labelled ``app: NAME`` running as ServiceAccount ``account`` (its token mounted unless
    ``automountServiceAccountToken: False`` is in ``spec``)."""
    pod_spec: Doc = {
        "containers": [{"name": "app", "image": "registry.example.com/app:1", **(container or {})}]
    }
    if account is not None:
        pod_spec["serviceAccountName"] = account
    pod_spec.update(spec)
    api = "v1" if kind == "Pod" else "apps/v1"
    if kind == "Pod":
        return {
            "apiVersion": api,
            "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": pod_spec,
        }
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    }


def service_account(name: str, ns: str = "shop") -> Doc:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}


def service(name: str = "web", ns: str = "shop", kind: str = "ClusterIP") -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def ingress(name: str = "web", ns: str = "shop") -> list[Doc]:
    """A Service ``name`` and an Ingress routing to it: the workload ``name`` is exposed."""
    return [
        service(name, ns),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "rules": [
                    {
                        "host": f"{name}.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ]
            },
        },
    ]


def policy(name: str, ns: str = "shop", **spec: Any) -> Doc:
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def deny(direction: str, ns: str = "shop") -> Doc:
    """A default-deny policy for ``Ingress`` or ``Egress`` in ``ns``."""
    return policy(f"deny-{direction.lower()}", ns, policyTypes=[direction])


def context_of(*docs: Doc | list[Doc]) -> ScanContext:
    """The scan context of ``docs`` (lists flattened), read as one manifest file."""
    flat: list[Doc] = []
    for doc in docs:
        flat += doc if isinstance(doc, list) else [doc]
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all(flat, sort_keys=False).encode(), "cluster.yaml")
    assert not collected.errors, collected.errors
    return ScanContext(Inventory(collected.objects), frozenset("MG"))


def analyse(
    *docs: Doc | list[Doc],
    sources: Sequence[str] = (EXPOSED,),
    goals: Sequence[str] = GOALS,
    max_length: int | None = None,
    lateral: bool = True,
) -> Analysis:
    context = context_of(*docs)
    found = analyze(context, sources=sources, goals=goals, max_length=max_length, lateral=lateral)
    assert not context.errors, context.errors
    return found


def routes(analysis: Analysis, goal: str) -> dict[str, list[str]]:
    """Entry vertex -> the vertices of its shortest path to ``goal``."""
    return {p.entry: list(p.vertices) for p in analysis.paths if p.goal == goal}


def path_to(analysis: Analysis, entry: str, goal: str) -> Path:
    [found] = [p for p in analysis.paths if p.entry == entry and p.goal == goal]
    return found


def summaries(analysis: Analysis, source: str, target: str) -> list[str]:
    return [e.summary for e in analysis.graph.steps.get((source, target), [])]
