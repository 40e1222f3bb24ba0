"""netpol.dashboard and netpol.tiller: detection by image, name and labels; the Dashboard's critical conditions."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import MINIMAL_POD, as_kind, findings, mutate
from rbacdocs import binding, cluster_role, rule, sa

Doc = dict[str, Any]
CONTAINER = "/spec/template/spec/containers/0"


def deployment(
    name: str = "ui",
    image: str = "registry.example.com/ui:1",
    labels: dict[str, str] | None = None,
    **container: Any,
) -> Doc:
    doc = as_kind(MINIMAL_POD, "Deployment")
    doc["metadata"] = {"name": name, "namespace": "kubernetes-dashboard"}
    changes: list[tuple[str, Any]] = [
        (f"{CONTAINER}/image", image),
        ("/spec/template/spec/serviceAccountName", "kubernetes-dashboard"),
    ]
    changes += [(f"{CONTAINER}/{key}", value) for key, value in container.items()]
    if labels:
        changes.append(("/spec/template/metadata/labels", labels))
    return mutate(doc, *changes)


def service(kind: str, name: str = "kubernetes-dashboard", selector: dict[str, str] | None = None) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "kubernetes-dashboard"},
        "spec": {"type": kind, "selector": selector or {"app": "minimal"}, "ports": [{"port": 443}]},
    }


def ingress(service_name: str, api_version: str = "networking.k8s.io/v1") -> Doc:
    if api_version == "networking.k8s.io/v1":
        backend: Doc = {"service": {"name": service_name, "port": {"number": 443}}}
    else:
        backend = {"serviceName": service_name, "servicePort": 443}
    return {
        "apiVersion": api_version,
        "kind": "Ingress",
        "metadata": {"name": "dashboard", "namespace": "kubernetes-dashboard"},
        "spec": {
            "rules": [{"host": "dash.example.com", "http": {"paths": [{"path": "/", "backend": backend}]}}]
        },
    }


def result(rule_id: str, *docs: Doc) -> list[tuple[str, str, str]]:
    return [(f.location.path, f.severity.label, f.message) for f in findings(rule_id, *docs)]


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        pytest.param(deployment(image="kubernetesui/dashboard:v2.7.0"), f"{CONTAINER}/image", id="v2-image"),
        pytest.param(deployment(image="docker.io/kubernetesui/dashboard-api:1.10.1"), f"{CONTAINER}/image", id="v3-api-image"),
        pytest.param(deployment(image="k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1"), f"{CONTAINER}/image", id="v1-image"),
        pytest.param(deployment(image="mirror.example.com/kubernetesui/dashboard:v2.7.0"), f"{CONTAINER}/image", id="mirrored-image"),
        pytest.param(deployment(name="kubernetes-dashboard"), "/metadata/name", id="name"),
        pytest.param(deployment(labels={"k8s-app": "kubernetes-dashboard"}), "/spec/template/metadata/labels/k8s-app", id="label"),
    ],
)  # fmt: skip
def test_dashboard_detected(doc: Doc, path: str) -> None:
    assert [(p, severity) for p, severity, _ in result("netpol.dashboard", doc)] == [(path, "high")]


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(deployment(image="kubernetesui/metrics-scraper:v1.0.8", labels={"k8s-app": "dashboard-metrics-scraper"}), id="metrics-scraper"),
        pytest.param(deployment(image="grafana/grafana:10.4.0", labels={"app": "grafana-dashboard"}), id="other-dashboard"),
        pytest.param(deployment(image="dashboard.example.com/shop/web:1.0"), id="the-word-in-the-registry-only"),
    ],
)  # fmt: skip
def test_dashboard_not_detected(doc: Doc) -> None:
    assert result("netpol.dashboard", doc) == []


@pytest.mark.parametrize(
    ("args", "path"),
    [
        pytest.param(["--enable-skip-login"], f"{CONTAINER}/args/0", id="skip-login"),
        pytest.param(
            ["--auto-generate-certificates", "--disable-settings-authorizer=true"],
            f"{CONTAINER}/args/1",
            id="settings-authorizer",
        ),
    ],
)
def test_dashboard_open_flags_are_critical(args: list[str], path: str) -> None:
    doc = deployment(image="kubernetesui/dashboard:v2.7.0", args=args)
    [(found, severity, message)] = result("netpol.dashboard", doc)
    assert (found, severity) == (path, "critical")
    assert message.endswith(f"; it runs with {args[-1]}")


def test_dashboard_flag_set_false_is_not_critical() -> None:
    doc = deployment(image="kubernetesui/dashboard:v2.7.0", args=["--enable-skip-login=false"])
    assert [severity for _, severity, _ in result("netpol.dashboard", doc)] == ["high"]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        pytest.param([service("NodePort")], "NodePort Service 'kubernetes-dashboard' exposes it", id="node-port"),
        pytest.param([service("LoadBalancer")], "LoadBalancer Service 'kubernetes-dashboard' exposes it", id="load-balancer"),
        pytest.param([service("ClusterIP"), ingress("kubernetes-dashboard")], "Ingress 'dashboard' exposes it (through Service 'kubernetes-dashboard')", id="ingress"),
        pytest.param([service("ClusterIP"), ingress("kubernetes-dashboard", "extensions/v1beta1")], "Ingress 'dashboard' exposes it (through Service 'kubernetes-dashboard')", id="legacy-ingress"),
        pytest.param(
            [cluster_role("unused", rule("", "pods", "get")), binding("dashboard-admin", "ClusterRole", "cluster-admin", sa("kubernetes-dashboard", "kubernetes-dashboard"))],
            "its ServiceAccount 'kubernetes-dashboard/kubernetes-dashboard' is cluster-admin"
            " (ClusterRoleBinding 'dashboard-admin' -> ClusterRole 'cluster-admin' (built in) rule 0)",
            id="cluster-admin",
        ),
        pytest.param(
            [cluster_role("reader", rule("", "pods", "get")), binding("dashboard-read", "ClusterRole", "reader", sa("kubernetes-dashboard", "kubernetes-dashboard")), binding("dashboard-admin", "ClusterRole", "cluster-admin", sa("kubernetes-dashboard", "kubernetes-dashboard"))],
            "its ServiceAccount 'kubernetes-dashboard/kubernetes-dashboard' is cluster-admin"
            " (ClusterRoleBinding 'dashboard-admin' -> ClusterRole 'cluster-admin' (built in) rule 0)",
            id="cluster-admin-after-another-binding",
        ),
    ],
)  # fmt: skip
def test_dashboard_critical_conditions(extra: list[Doc], reason: str) -> None:
    doc = deployment(image="kubernetesui/dashboard:v2.7.0")
    assert result("netpol.dashboard", doc, *extra) == [
        (
            f"{CONTAINER}/image",
            "critical",
            f"the Kubernetes Dashboard is deployed (image: kubernetesui/dashboard:v2.7.0); {reason}",
        )
    ]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([service("NodePort", selector={"app": "other"})], id="service-selects-other-pods"),
        pytest.param([service("ClusterIP")], id="cluster-ip-service"),
        pytest.param([binding("dashboard-admin", "ClusterRole", "cluster-admin", sa("kubernetes-dashboard", "kubernetes-dashboard"), namespace="kubernetes-dashboard")], id="admin-of-its-namespace-only"),
    ],
)  # fmt: skip
def test_dashboard_not_critical(extra: list[Doc]) -> None:
    doc = deployment(image="kubernetesui/dashboard:v2.7.0")
    assert [severity for _, severity, _ in result("netpol.dashboard", doc, *extra)] == ["high"]


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        pytest.param(deployment(image="gcr.io/kubernetes-helm/tiller:v2.16.12"), f"{CONTAINER}/image", id="image"),
        pytest.param(deployment(image="ghcr.io/helm/tiller:v2.17.0"), f"{CONTAINER}/image", id="ghcr-image"),
        pytest.param(deployment(name="tiller-deploy"), "/metadata/name", id="name"),
        pytest.param(deployment(labels={"app": "helm", "name": "tiller"}), "/spec/template/metadata/labels", id="labels"),
    ],
)  # fmt: skip
def test_tiller(doc: Doc, path: str) -> None:
    assert [(p, severity) for p, severity, _ in result("netpol.tiller", doc)] == [(path, "critical")]


def test_tiller_passes_helm_3_tools() -> None:
    assert result("netpol.tiller", deployment(image="alpine/helm:3.14.0", labels={"app": "helm"})) == []
    assert result("netpol.tiller", deployment(image="tiller.example.com/helm/helm:3.14.0")) == []
