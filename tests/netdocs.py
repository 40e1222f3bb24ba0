"""Small Namespaces, Deployments and NetworkPolicies for the network engine's and rules' tests."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]


def namespace(name: str = "shop", **labels: str) -> Doc:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(
    ns: str = "shop",
    name: str = "web",
    labels: dict[str, str] | None = None,
    ports: list[tuple[str, int, str]] | None = None,
    host_network: bool = False,
) -> Doc:
    """A Deployment labelled ``app: NAME`` unless told, with a container port ``http`` (8080) unless told."""
    labels = labels if labels is not None else {"app": name}
    container: Doc = {"name": "app", "image": "registry.example.com/app:1"}
    if ports is None:
        ports = [("http", 8080, "TCP")]
    if ports:
        container["ports"] = [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]
    spec: Doc = {"containers": [container]}
    if host_network:
        spec["hostNetwork"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def policy(ns: str = "shop", name: str = "p", **spec: Any) -> Doc:
    """A NetworkPolicy; its podSelector is ``{}`` unless given."""
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
