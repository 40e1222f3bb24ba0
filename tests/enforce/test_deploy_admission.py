"""deploy/admission/ (the webhook in a cluster): scans clean, valid objects, and sends the webhook what it judges."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from vap import ENV

from kharden.analysis.podspec import TEMPLATE_KINDS
from kharden.cli import _parser
from kharden.enforce.review import INVENTORY_RULES
from kharden.scan import scan

DEPLOY = Path(__file__).parent.parent.parent / "deploy"
BASE = DEPLOY / "admission"


def _objects() -> list[dict[str, Any]]:
    found = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


OBJECTS = _objects()


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    (found,) = [o for o in OBJECTS if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return found


@pytest.mark.skipif(not (shutil.which("kubectl") or shutil.which("kustomize")), reason="renders with kubectl")
@pytest.mark.parametrize("path", [BASE, DEPLOY], ids=["deploy/admission", "deploy"])
def test_deploy_scans_clean(path: Path) -> None:
    report = scan([str(path)])
    assert report.errors == []
    assert [(f.rule, f.object.name, f.location.path, f.message) for f in report.active] == []
    if path == BASE:
        assert report.stats.objects == 13
        assert {(f.rule, f.object.name) for f in report.findings} == {
            ("image.not-pinned", "kharden-admission")
        }


def test_the_built_in_objects_validate_against_the_openapi_schema() -> None:
    errors = []
    for obj in OBJECTS:
        if obj["apiVersion"].startswith("cert-manager.io/"):
            continue
        try:
            kubernetes_validate.validate(json.loads(json.dumps(obj)), "1.30", strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{obj['kind']}: {'/'.join(map(str, e.path))}: {e.message}")
    assert errors == []


def test_the_deployment_runs_the_webhook_restricted_with_two_replicas() -> None:
    deployment = _one("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = _parser().parse_args(container["args"])
    assert (args.command, args.action_command, args.action, args.port) == (
        "admission",
        "webhook",
        "deny",
        8443,
    )
    assert (args.tls_cert, args.tls_key) == ("/tls/tls.crt", "/tls/tls.key")
    assert pod["serviceAccountName"] == "kharden-admission"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert _one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    secret = next(v for v in pod["volumes"] if v["name"] == "tls")["secret"]["secretName"]
    assert secret == _one("Certificate", "kharden-admission")["spec"]["secretName"]


def test_the_service_account_may_only_get_roles() -> None:
    role = _one("ClusterRole")
    assert role["rules"] == [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "clusterroles"], "verbs": ["get"]}
    ]
    binding = _one("ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kharden-admission", "namespace": "kharden-admission"}
    ]


_PLURALS = {
    "Pod": "pods",
    "ReplicationController": "replicationcontrollers",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "Service": "services",
    "Namespace": "namespaces",
    "RoleBinding": "rolebindings",
    "ClusterRoleBinding": "clusterrolebindings",
    "Role": "roles",
    "ClusterRole": "clusterroles",
}


def test_the_webhook_configuration_sends_what_the_webhook_judges() -> None:
    configuration = _one("ValidatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "kharden-admission/kharden-admission"
    }
    sent = set()
    policies = {}
    for webhook in configuration["webhooks"]:
        assert webhook["timeoutSeconds"] == 5
        assert webhook["sideEffects"] == "None"
        assert webhook["admissionReviewVersions"] == ["v1"]
        assert webhook["clientConfig"]["service"]["path"] == "/validate"
        excluded = webhook["namespaceSelector"]["matchExpressions"][0]
        assert excluded == {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", "kharden-admission"],
        }
        for rule in webhook["rules"]:
            assert rule["operations"] == ["CREATE", "UPDATE"]
            sent |= set(rule["resources"])
            policies.update(dict.fromkeys(rule["resources"], webhook["failurePolicy"]))
    judged = {_PLURALS[kind] for kind in (*TEMPLATE_KINDS, *INVENTORY_RULES)} | {"pods/ephemeralcontainers"}
    assert sent == judged
    assert {r for r, p in policies.items() if p == "Ignore"} == {
        "rolebindings",
        "clusterrolebindings",
        "roles",
        "clusterroles",
        "namespaces",
    }


@pytest.mark.parametrize(
    ("webhook", "username", "sent"),
    [
        ("workloads.admission.kharden.io", "alice", True),
        ("workloads.admission.kharden.io", "system:serviceaccount:kube-system:replicaset-controller", True),
        ("workloads.admission.kharden.io", "system:node:worker-1", False),
        ("rbac.admission.kharden.io", "alice", True),
        ("rbac.admission.kharden.io", "system:serviceaccount:argocd:argocd-application-controller", True),
        (
            "rbac.admission.kharden.io",
            "system:serviceaccount:kube-system:clusterrole-aggregation-controller",
            False,
        ),
        ("rbac.admission.kharden.io", "system:apiserver", False),
        ("rbac.admission.kharden.io", "system:kube-controller-manager", False),
    ],
)
def test_match_conditions(webhook: str, username: str, sent: bool) -> None:
    configuration = _one("ValidatingWebhookConfiguration")
    (found,) = [w for w in configuration["webhooks"] if w["name"] == webhook]
    data = {"request": {"userInfo": {"username": username}}, "object": {"metadata": {"name": "x"}}}
    results = [ENV.compile(c["expression"]).eval(data=data).value() for c in found["matchConditions"]]
    assert all(results) is sent
    deleting = {**data, "object": {"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}}}
    if webhook.startswith("workloads"):
        assert not all(
            ENV.compile(c["expression"]).eval(data=deleting).value() for c in found["matchConditions"]
        )
