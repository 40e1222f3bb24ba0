"""``kharden admission webhook`` end to end: its own process, real TLS on 127.0.0.1, httpx as the client.

Allow, deny, warnings, dry-run (the mode and the request's ``dryRun``), suppressions, what only a webhook
sees (bindings with their role read from a cluster, Services, Namespaces), malformed and oversized
requests, objects it cannot judge, Secrets never logged, health, readiness, metrics, and the certificate
rotated while requests keep coming.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webhookproc import Webhook, admission_review

from conftest import MINIMAL_POD, as_kind, mutate
from kharden.cli import main

sys.path.insert(0, str(Path(__file__).parent.parent / "cluster"))
from fakeapi import Behaviour, Certs, FakeApiServer, make_certs, write_kubeconfig

PRIVILEGED = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))
SECRET_VALUE = "s3cr3t-value-never-logged"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("webhook-pki"))


@pytest.fixture(scope="module")
def deny(pki: Certs) -> Iterator[Webhook]:
    with Webhook(
        pki.server_cert, pki.server_key, pki.ca_cert, "--no-cluster", "--max-body", "200000"
    ) as hook:
        yield hook


def _container(response: dict[str, Any]) -> str:
    return str(response.get("status", {}).get("message", ""))


def test_a_hardened_pod_is_allowed_and_a_privileged_deployment_denied(deny: Webhook) -> None:
    allowed = deny.review(MINIMAL_POD)
    assert allowed["allowed"] is True
    assert "warnings" not in allowed
    review = admission_review(as_kind(PRIVILEGED, "Deployment"))
    with deny.client() as client:
        answer = client.post("/validate", json=review).json()["response"]
    assert answer["uid"] == review["request"]["uid"]
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    message = answer["status"]["message"]
    assert message.startswith(
        "kharden denied Deployment test/minimal: pod.privileged: container 'app' runs privileged"
    )
    assert "(fix: set securityContext.privileged to false" in message
    # privileged: true also allows privilege escalation; the minimal pod passes every other rule.
    assert (
        "; pod.privilege-escalation: container 'app' allows privilege escalation: it is privileged" in message
    )
    assert message.count("(fix: ") == 2


def test_every_pod_template_kind_and_the_request_namespace(deny: Webhook) -> None:
    cronjob = as_kind(PRIVILEGED, "CronJob")
    del cronjob["metadata"]["namespace"]
    review = admission_review(cronjob)
    review["request"]["namespace"] = "batch-ns"
    with deny.client() as client:
        answer = client.post("/validate", json=review).json()["response"]
    assert answer["allowed"] is False
    assert "CronJob batch-ns/minimal" in answer["status"]["message"]


def test_dry_run_requests_are_judged_the_same(deny: Webhook) -> None:
    answer = deny.review(PRIVILEGED, dry_run=True)
    assert answer["allowed"] is False
    deny.wait_for_log(" (dry run): denied [pod.privilege-escalation, pod.privileged]")


def test_an_update_that_leaves_the_template_alone_is_allowed(deny: Webhook) -> None:
    old = as_kind(PRIVILEGED, "Deployment")
    scaled = mutate(old, ("/spec/replicas", 3))
    assert deny.review(scaled, operation="UPDATE", old=old)["allowed"] is True
    changed = mutate(scaled, ("/spec/template/spec/containers/0/image", "registry.example.com/other:1"))
    assert deny.review(changed, operation="UPDATE", old=old)["allowed"] is False
    assert deny.review(None, operation="DELETE", old=old)["allowed"] is True


def test_a_suppression_annotation_allows(deny: Webhook) -> None:
    annotated = mutate(
        PRIVILEGED, ("/metadata/annotations", {"kharden.io/ignore": "pod.privilege*=debug pod"})
    )
    answer = deny.review(annotated)
    assert answer["allowed"] is True
    assert "warnings" not in answer


def test_objects_kharden_cannot_judge_are_allowed_with_a_warning(deny: Webhook) -> None:
    wrong_type = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", "yes"))
    answer = deny.review(wrong_type)
    assert answer["allowed"] is True
    assert answer["warnings"] == [
        "kharden could not judge Pod test/minimal: Pod test/minimal: privileged must be true or false, not a"
        " string (/spec/containers/0/securityContext/privileged)"
    ]
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "shop"}}
    answer = deny.review(config_map)
    assert answer["allowed"] is True
    assert answer["warnings"] == [
        "kharden could not judge ConfigMap shop/c: kharden has no rule for ConfigMap"
    ]


def test_secret_data_is_never_logged(deny: Webhook) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"password": SECRET_VALUE},
        "stringData": {"token": SECRET_VALUE},
    }
    answer = deny.review(secret)
    assert answer["allowed"] is True
    assert SECRET_VALUE not in str(answer)
    env = mutate(PRIVILEGED, ("/spec/containers/0/env", [{"name": "PASSWORD", "value": SECRET_VALUE}]))
    assert deny.review(env)["allowed"] is False
    with deny.client() as client:
        bad = client.post("/validate", content=b'{"apiVersion": "' + SECRET_VALUE.encode() + b'"')
    assert bad.status_code == 400
    assert SECRET_VALUE not in bad.text
    deny.wait_for_log("Secret shop/db")
    assert SECRET_VALUE not in deny.logs


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 400, "the body is not JSON"),
        (b"[1, 2]", 400, "the body is not an AdmissionReview"),
        (
            b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}',
            400,
            "not an admission.k8s.io/v1",
        ),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', 400, "has no request"),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}',
            400,
            "has no uid",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u",'
            b' "operation": "CREATE", "kind": {"kind": "Pod"}, "object": [1]}}',
            400,
            "object is not an object",
        ),
        (b"{" + b'"x": "' + b"a" * 300_000 + b'"}', 400, "larger than 200000 bytes"),
    ],
)
def test_malformed_and_oversized_reviews_get_400(
    deny: Webhook, body: bytes, status: int, message: str
) -> None:
    with deny.client() as client:
        answer = client.post("/validate", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == status
        assert message in answer.text
        assert client.get("/healthz").status_code == 200


def test_an_oversized_body_without_content_length_gets_400(deny: Webhook) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 10_000

    with deny.client() as client:
        answer = client.post("/validate", content=chunks())
    assert answer.status_code == 400
    assert "larger than 200000 bytes" in answer.text


def test_routes_health_readiness_and_metrics(deny: Webhook) -> None:
    deny.review(as_kind(PRIVILEGED, "Deployment"))
    with deny.client() as client:
        assert client.get("/healthz").text == "ok\n"
        assert client.get("/readyz").status_code == 200
        assert client.get("/nope").status_code == 404
        assert client.get("/validate").status_code == 405
        metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'kharden_admission_requests_total{kind="Deployment",operation="CREATE",verdict="denied"}' in text
    assert 'kharden_admission_denials_total{action="deny",rule="pod.privileged"}' in text
    assert 'kharden_admission_review_duration_seconds_bucket{le="0.05"}' in text
    assert "kharden_admission_bad_requests_total" in text


def test_warn_and_dry_run_modes(pki: Certs) -> None:
    deployment = as_kind(PRIVILEGED, "Deployment")
    with Webhook(pki.server_cert, pki.server_key, pki.ca_cert, "--no-cluster", "--action", "warn") as warn:
        answer = warn.review(deployment)
        assert answer["allowed"] is True
        assert answer["warnings"] == [
            "pod.privileged: container 'app' runs privileged (securityContext.privileged: true) (fix: set"
            " securityContext.privileged to false (and windowsOptions.hostProcess to false))",
            "pod.privilege-escalation: container 'app' allows privilege escalation: it is privileged, which always"
            " allows it (fix: set securityContext.allowPrivilegeEscalation: false on every container)",
        ]
    with Webhook(pki.server_cert, pki.server_key, pki.ca_cert, "--no-cluster", "--action", "dry-run") as dry:
        answer = dry.review(deployment)
        assert answer == {"uid": answer["uid"], "allowed": True}
        dry.wait_for_log("would deny (dry-run) [pod.privilege-escalation, pod.privileged]")
        with dry.client() as client:
            text = client.get("/metrics").text
        assert 'verdict="would-deny"' in text
        assert 'kharden_admission_denials_total{action="dry-run",rule="pod.privileged"} 1.0' in text


def test_config_rules_severities_and_fail_on(pki: Certs, tmp_path: Path) -> None:
    config = tmp_path / ".kharden.yaml"
    config.write_text(
        "ignore:\n"
        "  - rule: pod.privilege*\n"
        "    namespace: tools\n"
        "    reason: debug tools run privileged\n"
        "severity:\n"
        "  pod.host-namespaces: low\n"
        "fail-on: medium\n"
    )
    host_pid = mutate(MINIMAL_POD, ("/spec/hostPID", True))
    in_tools = mutate(
        PRIVILEGED,
        ("/metadata/namespace", "tools"),
        ("/spec/containers/0/securityContext/allowPrivilegeEscalation", True),
    )
    with Webhook(
        pki.server_cert, pki.server_key, pki.ca_cert, "--no-cluster", "--config", str(config)
    ) as hook:
        assert hook.review(in_tools)["allowed"] is True
        assert hook.review(PRIVILEGED)["allowed"] is False
        answer = hook.review(host_pid)
        assert answer["allowed"] is True
        assert answer["warnings"][0].startswith(
            "pod.host-namespaces: the pod shares the node's process namespace"
        )


CLUSTER_OBJECTS = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "secret-reader"},
        # Aggregated: the cluster stored the rules the aggregation controller collected.
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "pod-viewer"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "hidden", "namespace": "shop"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}],
    },
]


def _binding(kind: str, role_kind: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": f"bind-{role}"}
    if kind == "RoleBinding":
        metadata["namespace"] = "shop"
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [subject],
    }


SA = {"kind": "ServiceAccount", "name": "app", "namespace": "shop"}


def test_bindings_are_judged_on_the_grant_of_the_role_read_from_the_cluster(
    pki: Certs, tmp_path: Path
) -> None:
    (tmp_path / "api").mkdir()
    api_certs = make_certs(tmp_path / "api")
    behaviour = Behaviour(forbidden={("rbac.authorization.k8s.io", "roles")})
    with FakeApiServer(CLUSTER_OBJECTS, api_certs, behaviour) as api:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, api_certs)
        with Webhook(pki.server_cert, pki.server_key, pki.ca_cert, "--kubeconfig", str(kubeconfig)) as hook:
            secrets = hook.review(_binding("ClusterRoleBinding", "ClusterRole", "secret-reader", SA))
            assert secrets["allowed"] is False
            assert (
                "rbac.secrets-read: grants ServiceAccount 'shop/app' get, list on secrets"
                in secrets["status"]["message"]
            )
            assert hook.review(_binding("RoleBinding", "ClusterRole", "pod-viewer", SA))["allowed"] is True
            # A built-in role needs no read; the answer is cached (one GET per role).
            admin = hook.review(_binding("ClusterRoleBinding", "ClusterRole", "cluster-admin", SA))
            assert "rbac.cluster-admin" in admin["status"]["message"]
            hook.review(_binding("ClusterRoleBinding", "ClusterRole", "secret-reader", SA))
            hidden = hook.review(_binding("RoleBinding", "Role", "hidden", SA))
            assert hidden["allowed"] is True
            assert hidden["warnings"][0].startswith(
                "kharden could not judge RoleBinding shop/bind-hidden: cannot read Role shop/hidden (403 Forbidden)"
            )
            default = hook.review(
                _binding("RoleBinding", "ClusterRole", "pod-viewer", {**SA, "name": "default"})
            )
            assert "rbac.default-sa-bound" in default["status"]["message"]
    role_reads = [r.path for r in api.requests if "/roles/" in r.path or "/clusterroles/" in r.path]
    assert role_reads.count("/apis/rbac.authorization.k8s.io/v1/clusterroles/secret-reader") == 1
    assert {r.method for r in api.requests} == {"GET"}


def test_services_and_namespaces(deny: Webhook) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443}], "selector": {"app": "web"}},
    }
    open_lb = deny.review(service)
    assert "exposure.loadbalancer-open: the load balancer accepts connections from any address" in _container(
        open_lb
    )
    ranged = mutate(service, ("/spec/loadBalancerSourceRanges", ["203.0.113.0/24"]))
    assert deny.review(ranged)["allowed"] is True
    external = mutate(service, ("/spec/type", "ClusterIP"), ("/spec/externalIPs", ["198.51.100.7"]))
    assert "exposure.external-ips" in _container(deny.review(external))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert "admission.pod-security: namespace 'shop' enforces no Pod Security level" in _container(
        deny.review(namespace)
    )
    restricted = mutate(namespace, ("/metadata/labels", {"pod-security.kubernetes.io/enforce": "restricted"}))
    assert deny.review(restricted)["allowed"] is True


def _rotate(target: Certs, source: Certs) -> None:
    """Replace the served files as a Secret volume update does: each file swapped atomically."""
    for new, old in ((source.server_cert, target.server_cert), (source.server_key, target.server_key)):
        staged = old.with_suffix(".new")
        shutil.copyfile(new, staged)
        staged.replace(old)


def test_the_certificate_is_reloaded_under_load_without_a_failed_review(tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = make_certs(tmp_path / "first")
    second = make_certs(tmp_path / "second")
    served = Certs(first.ca_cert, tmp_path / "tls.crt", tmp_path / "tls.key")
    shutil.copyfile(first.server_cert, served.server_cert)
    shutil.copyfile(first.server_key, served.server_key)
    results: list[str] = []
    stop = threading.Event()
    with Webhook(served.server_cert, served.server_key, first.ca_cert, "--no-cluster") as hook:

        def load(fresh_connections: bool) -> None:
            client = hook.client(first.ca_cert, second.ca_cert)
            try:
                while not stop.is_set():
                    if fresh_connections:
                        client.close()
                        client = hook.client(first.ca_cert, second.ca_cert)
                    try:
                        answer = client.post("/validate", json=admission_review(PRIVILEGED))
                        ok = answer.status_code == 200 and answer.json()["response"]["allowed"] is False
                        results.append("ok" if ok else f"bad {answer.status_code}")
                    except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                        results.append(f"error {type(e).__name__}: {e}")
            finally:
                client.close()

        workers = [threading.Thread(target=load, args=(fresh,)) for fresh in (False, True, True)]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        with (
            hook.client(second.ca_cert) as only_new,
            pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            only_new.get("/healthz")
        _rotate(served, second)
        hook.wait_for_log(f"certificate {served.server_cert} reloaded", timeout=15)
        time.sleep(1.0)
        with hook.client(second.ca_cert) as only_new:
            assert only_new.get("/healthz").status_code == 200
        stop.set()
        for worker in workers:
            worker.join(20)
        with hook.client(second.ca_cert) as client:
            metrics = client.get("/metrics").text
    failures = [r for r in results if r != "ok"]
    assert failures == []
    assert len(results) > 50
    assert 'kharden_admission_certificate_reloads_total{result="reloaded"} 1.0' in metrics


def test_the_command_refuses_missing_certificates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["admission", "webhook", "--tls-cert", str(tmp_path / "x.crt"), "--tls-key", str(tmp_path / "x.key")]
    )
    assert code == 2
    assert "x.crt: no such file" in capsys.readouterr().err
