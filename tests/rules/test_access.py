"""sa.* and rbac.*: small inventories, one semantic per case; assert which object, field and severity fire."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, MINIMAL_POD, as_kind, findings, mutate
from rbacdocs import binding, cluster_role, group, role, rule, sa, user

Doc = dict[str, Any]
SPEC = "/spec/template/spec"


def workload(name: str = "web", namespace: str = "shop", **spec: Any) -> Doc:
    """A Deployment of the minimal pod; ``spec`` fields replace its pod spec's (DELETE removes one)."""
    deployment = as_kind(MINIMAL_POD, "Deployment")
    deployment["metadata"] = {"name": name, "namespace": namespace}
    return mutate(deployment, *((f"{SPEC}/{key}", value) for key, value in spec.items()))


def account(name: str, namespace: str = "shop", **fields: Any) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        **fields,
    }


def fired(rule_id: str, *docs: Doc) -> list[tuple[str, str, str]]:
    """``(Kind/name, pointer, severity)`` of each finding, sorted."""
    return sorted(
        (f"{f.object.kind}/{f.object.name}", f.location.path, f.severity.label)
        for f in findings(rule_id, *docs)
    )


def messages(rule_id: str, *docs: Doc) -> list[str]:
    return sorted(f.message for f in findings(rule_id, *docs))


# --- sa.default ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([workload(serviceAccountName=DELETE, automountServiceAccountToken=DELETE)], [("Deployment/web", f"{SPEC}/serviceAccountName", "medium")], id="unset"),
        pytest.param([workload(serviceAccountName="default", automountServiceAccountToken=DELETE)], [("Deployment/web", f"{SPEC}/serviceAccountName", "medium")], id="explicit-default"),
        pytest.param([workload(serviceAccountName=DELETE, serviceAccount="default", automountServiceAccountToken=DELETE)], [("Deployment/web", f"{SPEC}/serviceAccount", "medium")], id="legacy-field"),
        pytest.param([workload(serviceAccountName="", serviceAccount="app")], [], id="empty-name-legacy-field-counts"),
        pytest.param([workload(serviceAccountName="app")], [], id="own-account"),
        pytest.param([workload(serviceAccountName=DELETE)], [("Deployment/web", f"{SPEC}/serviceAccountName", "low")], id="token-not-mounted-is-low"),
        pytest.param([workload(serviceAccountName=DELETE, automountServiceAccountToken=DELETE), account("default", automountServiceAccountToken=False)], [("Deployment/web", f"{SPEC}/serviceAccountName", "low")], id="account-opts-out"),
        pytest.param([workload(serviceAccountName=DELETE, automountServiceAccountToken=True), account("default", automountServiceAccountToken=False)], [("Deployment/web", f"{SPEC}/serviceAccountName", "medium")], id="pod-overrides-account"),
    ],
)  # fmt: skip
def test_default(docs: list[Doc], expected: list[tuple[str, str, str]]) -> None:
    assert fired("sa.default", *docs) == expected


def test_default_message() -> None:
    assert messages(
        "sa.default", workload(serviceAccountName=DELETE, automountServiceAccountToken=DELETE)
    ) == ["the workload runs as ServiceAccount 'shop/default' (serviceAccountName is not set)"]


# --- sa.shared ----------------------------------------------------------------------------------------


def test_shared_reports_once_on_the_service_account() -> None:
    docs = [
        workload("web", serviceAccountName="app"),
        workload("worker", serviceAccountName="app"),
        account("app"),
    ]
    assert fired("sa.shared", *docs) == [("ServiceAccount/app", "/metadata/name", "medium")]
    assert messages("sa.shared", *docs) == [
        "2 components share ServiceAccount 'shop/app': Deployment 'web', Deployment 'worker'"
    ]


def test_shared_without_the_account_object_points_at_a_workload() -> None:
    docs = [workload("worker", serviceAccountName="app"), workload("web", serviceAccountName="app")]
    assert fired("sa.shared", *docs) == [("Deployment/web", f"{SPEC}/serviceAccountName", "medium")]


@pytest.mark.parametrize(
    "docs",
    [
        pytest.param([workload("web", serviceAccountName="app"), workload("web", "other", serviceAccountName="app")], id="other-namespace"),
        pytest.param([workload("web", serviceAccountName="app"), workload("web", serviceAccountName="app")], id="copies-of-one-workload"),
        pytest.param([workload("web", serviceAccountName=DELETE), workload("worker", serviceAccountName=DELETE)], id="default-is-sa-default"),
    ],
)  # fmt: skip
def test_shared_passes(docs: list[Doc]) -> None:
    assert fired("sa.shared", *docs) == []


def mirror_pod(name: str = "kube-apiserver-cp1") -> Doc:
    """The mirror pod the kubelet posts for a static pod, as a cluster snapshot holds it."""
    pod = mutate(
        as_kind(MINIMAL_POD, "Pod"),
        ("/spec/serviceAccountName", DELETE),
        ("/spec/automountServiceAccountToken", DELETE),
    )
    pod["metadata"] = {
        "name": name,
        "namespace": "kube-system",
        "annotations": {"kubernetes.io/config.mirror": "0f3c"},
    }
    return pod


@pytest.mark.parametrize(
    ("rule_id", "plain_pod"),
    [
        ("sa.default", [("Pod/c", "/spec/serviceAccountName", "medium")]),
        ("sa.automount", [("Pod/c", "/spec/automountServiceAccountToken", "low")]),
        ("sa.shared", []),
    ],
)
def test_mirror_pods_run_without_a_service_account(
    rule_id: str, plain_pod: list[tuple[str, str, str]]
) -> None:
    # A static pod's spec may not name a ServiceAccount and gets no token: nothing to report.
    assert fired(rule_id, mirror_pod("a"), mirror_pod("b")) == []
    plain = mirror_pod("c")
    del plain["metadata"]["annotations"]
    assert fired(rule_id, plain, mirror_pod("d")) == plain_pod


# --- sa.automount -------------------------------------------------------------------------------------

MOUNTED = {"serviceAccountName": "app", "automountServiceAccountToken": DELETE}
READER = cluster_role("reader", rule("", "configmaps", "get"))


@pytest.mark.parametrize(
    ("docs", "fires"),
    [
        pytest.param([workload(**MOUNTED)], True, id="no-binding"),
        pytest.param([workload(**MOUNTED), READER, binding("b", "ClusterRole", "reader", sa("shop", "app"))], False, id="bound"),
        pytest.param([workload(**MOUNTED), READER, binding("b", "ClusterRole", "reader", user("system:serviceaccount:shop:app"))], False, id="bound-by-user-name"),
        pytest.param([workload(**MOUNTED), READER, binding("b", "ClusterRole", "reader", group("system:serviceaccounts:shop"))], False, id="bound-by-namespace-group"),
        pytest.param([workload(**MOUNTED), READER, binding("b", "ClusterRole", "reader", sa("other", "app"))], True, id="other-namespace-bound"),
        pytest.param([workload(**MOUNTED), READER, binding("b", "ClusterRole", "reader", group("system:serviceaccounts"))], True, id="all-accounts-group-does-not-count"),
        pytest.param([workload(**MOUNTED), binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated"))], True, id="stock-binding-does-not-count"),
        pytest.param([workload(serviceAccountName="app")], False, id="pod-opts-out"),
        pytest.param([workload(**MOUNTED), account("app", automountServiceAccountToken=False)], False, id="account-opts-out"),
    ],
)  # fmt: skip
def test_automount(docs: list[Doc], fires: bool) -> None:
    expected = [("Deployment/web", f"{SPEC}/automountServiceAccountToken", "low")] if fires else []
    assert fired("sa.automount", *docs) == expected


def test_automount_pod_overrides_account() -> None:
    docs = [
        workload(serviceAccountName="app", automountServiceAccountToken=True),
        account("app", automountServiceAccountToken=False),
    ]
    assert messages("sa.automount", *docs) == [
        "the token of ServiceAccount 'shop/app' is mounted (automountServiceAccountToken: true), though no"
        " binding in this scan grants that ServiceAccount anything"
    ]


# --- rbac.wildcard ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        pytest.param(rule("", "pods", "*"), ["/rules/0/verbs"], id="verbs"),
        pytest.param(rule("apps", "*/scale", "update"), ["/rules/0/resources"], id="star-slash-subresource"),
        pytest.param(rule("*", "pods", "get"), ["/rules/0/apiGroups"], id="apiGroups"),
        pytest.param(rule("", "pods", "get"), [], id="none"),
        pytest.param({"nonResourceURLs": ["*"], "verbs": ["get"]}, [], id="urls-are-not-in-the-rule"),
    ],
)  # fmt: skip
def test_wildcard(written: Doc, expected: list[str]) -> None:
    assert [path for _, path, _ in fired("rbac.wildcard", cluster_role("r", written))] == expected


def test_wildcard_message_and_role() -> None:
    assert fired("rbac.wildcard", role("shop", "r", rule("", "pods", "get"), rule("*", "*", "*"))) == [
        ("Role/r", "/rules/1/verbs", "high")
    ]
    assert messages("rbac.wildcard", role("shop", "r", rule("*", "*", "*"))) == [
        "rule 0 of Role 'shop/r' allows '*' in verbs, resources and apiGroups"
    ]


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(cluster_role("cluster-admin", rule("*", "*", "*")), id="built-in-role"),
        pytest.param(cluster_role("system:controller:namespace-controller", rule("*", "*", "delete")), id="controller-role"),
        pytest.param(cluster_role("agg", rule("*", "*", "*"), aggregate=[{"matchLabels": {"a": "b"}}]), id="aggregated-role-rules-are-overwritten"),
    ],
)  # fmt: skip
def test_wildcard_passes(doc: Doc) -> None:
    assert fired("rbac.wildcard", doc) == []


# --- rbac.cluster-admin -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([binding("ops", "ClusterRole", "cluster-admin", sa("ops", "deployer"))], [("/subjects/0", "critical")], id="cluster-wide"),
        pytest.param([binding("ops", "ClusterRole", "cluster-admin", sa("ops", "deployer"), namespace="ops")], [("/subjects/0", "high")], id="role-binding-is-one-namespace"),
        pytest.param([binding("ops", "ClusterRole", "cluster-admin", group("system:masters"), user("alice"))], [("/subjects/1", "critical")], id="system-subjects-are-exempt"),
        pytest.param([binding("cluster-admin", "ClusterRole", "cluster-admin", group("system:masters"))], [], id="stock-binding"),
        pytest.param(
            [cluster_role("agg", aggregate=[{"matchLabels": {"power": "all"}}]), cluster_role("all", rule("*", "*", "*"), labels={"power": "all"}),
             binding("ops", "ClusterRole", "agg", user("alice"))],
            [("/subjects/0", "critical")], id="equivalent-after-aggregation",
        ),
        pytest.param([cluster_role("almost", rule("", "*", "*")), binding("ops", "ClusterRole", "almost", user("alice"))], [], id="core-group-only-is-not-cluster-admin"),
    ],
)  # fmt: skip
def test_cluster_admin(docs: list[Doc], expected: list[tuple[str, str]]) -> None:
    assert [(path, severity) for _, path, severity in fired("rbac.cluster-admin", *docs)] == expected


def test_cluster_admin_message_names_the_chain() -> None:
    assert messages(
        "rbac.cluster-admin", binding("ops", "ClusterRole", "cluster-admin", sa("ops", "deployer"))
    ) == [
        "grants ServiceAccount 'ops/deployer' every permission in the whole cluster, as cluster-admin:"
        " ClusterRoleBinding 'ops' -> ClusterRole 'cluster-admin' (built in) rule 0"
    ]


# --- rbac.secrets-read --------------------------------------------------------------------------------

SECRETS = role("shop", "secrets", rule("", "secrets", "get list"))


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([SECRETS, binding("b", "Role", "secrets", sa("shop", "app"), namespace="shop")], [("/subjects/0", "high")], id="role-binding"),
        pytest.param([cluster_role("s", rule("", "secrets", "watch")), binding("b", "ClusterRole", "s", sa("shop", "app"))], [("/subjects/0", "critical")], id="cluster-wide"),
        pytest.param([SECRETS, binding("b", "Role", "secrets", sa("shop", "a"), sa("shop", "b"), namespace="shop")], [("/subjects/0", "high"), ("/subjects/1", "high")], id="one-per-subject"),
        pytest.param([role("shop", "s", rule("", "secrets", "get", "tls")), binding("b", "Role", "s", sa("shop", "app"), namespace="shop")], [], id="named-secrets-only"),
        pytest.param([role("shop", "s", rule("apps", "secrets", "get")), binding("b", "Role", "s", sa("shop", "app"), namespace="shop")], [], id="secrets-in-apps-group"),
        pytest.param([role("shop", "s", rule("", "secrets", "create update")), binding("b", "Role", "s", sa("shop", "app"), namespace="shop")], [], id="write-only"),
        pytest.param([binding("b", "ClusterRole", "edit", group("devs"), namespace="shop")], [("/subjects/0", "high")], id="built-in-edit"),
        pytest.param([binding("b", "ClusterRole", "view", group("devs"), namespace="shop")], [], id="built-in-view"),
        pytest.param([SECRETS], [], id="unbound-role"),
    ],
)  # fmt: skip
def test_secrets_read(docs: list[Doc], expected: list[tuple[str, str]]) -> None:
    assert [(path, severity) for _, path, severity in fired("rbac.secrets-read", *docs)] == expected


def test_secrets_read_message_names_subject_chain_and_line() -> None:
    docs = [SECRETS, binding("b", "Role", "secrets", sa("shop", "app"), namespace="shop")]
    assert messages("rbac.secrets-read", *docs) == [
        "grants ServiceAccount 'shop/app' get, list on secrets in namespace 'shop':"
        " RoleBinding 'shop/b' -> Role 'shop/secrets' rule 0 (test.yaml:7)"
    ]


# --- rbac.escalate, pod-exec, workload-create, token-create, admission-write ----------------------------


def grant(written: Doc, namespace: str | None = None) -> list[Doc]:
    """A ClusterRole holding ``written``, bound to User alice (in ``namespace``, or cluster-wide)."""
    return [cluster_role("r", written), binding("b", "ClusterRole", "r", user("alice"), namespace=namespace)]


@pytest.mark.parametrize(
    ("rule_id", "written", "namespace", "fires"),
    [
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "clusterroles", "bind", "cluster-admin"), None, True),
        # bind is asked in the namespace of the RoleBinding being written, for a ClusterRole too
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "clusterroles", "bind", "admin"), "shop", True),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "clusterroles", "escalate"), "shop", False),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "roles", "escalate"), "shop", True),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "roles", "*"), "shop", True),
        ("rbac.escalate", rule("", "users", "impersonate"), None, True),
        ("rbac.escalate", rule("", "users", "impersonate"), "shop", False),  # users are cluster-scoped
        ("rbac.escalate", rule("", "serviceaccounts", "impersonate"), "shop", True),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "rolebindings", "create"), "shop", True),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "rolebindings", "delete get"), "shop", False),
        ("rbac.escalate", rule("rbac.authorization.k8s.io", "clusterrolebindings", "create"), "shop", False),
        ("rbac.pod-exec", rule("", "pods/exec", "create"), "shop", True),
        ("rbac.pod-exec", rule("", "pods/portforward", "create", "db-0"), "shop", True),
        ("rbac.pod-exec", rule("", "pods/exec", "get"), "shop", False),
        ("rbac.pod-exec", rule("", "pods", "create"), "shop", False),
        ("rbac.pod-exec", rule("", "nodes/proxy", "create"), None, True),
        ("rbac.pod-exec", rule("", "nodes/proxy", "create"), "shop", False),
        ("rbac.workload-create", rule("apps", "deployments", "create"), "shop", True),
        ("rbac.workload-create", rule("", "deployments", "create"), "shop", False),
        ("rbac.workload-create", rule("", "pods", "patch"), "shop", True),
        ("rbac.workload-create", rule("", "pods/ephemeralcontainers", "update"), "shop", True),
        ("rbac.workload-create", rule("batch", "cronjobs", "update", "backup"), "shop", True),
        ("rbac.workload-create", rule("apps", "deployments/scale", "update"), "shop", False),
        ("rbac.workload-create", rule("", "pods", "get list delete"), "shop", False),
        ("rbac.token-create", rule("", "serviceaccounts/token", "create"), "shop", True),
        ("rbac.token-create", rule("", "serviceaccounts/token", "create", "builder"), "shop", True),
        ("rbac.token-create", rule("certificates.k8s.io", "certificatesigningrequests/approval", "update"), None, False),
        ("rbac.token-create", rule("", "serviceaccounts", "create get"), "shop", False),
        ("rbac.admission-write", rule("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch"), None, True),
        ("rbac.admission-write", rule("admissionregistration.k8s.io", "validatingadmissionpolicies", "delete"), None, True),
        ("rbac.admission-write", rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "update", "own"), None, False),
        ("rbac.admission-write", rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "get list watch"), None, False),
        ("rbac.admission-write", rule("admissionregistration.k8s.io", "validatingwebhookconfigurations", "patch"), "shop", False),
    ],
)  # fmt: skip
def test_grant_rules(rule_id: str, written: Doc, namespace: str | None, fires: bool) -> None:
    expected = [("RoleBinding/b" if namespace else "ClusterRoleBinding/b", "/subjects/0")] if fires else []
    assert [(obj, path) for obj, path, _ in fired(rule_id, *grant(written, namespace))] == expected


def test_escalate_message_names_the_objects_a_rule_is_limited_to() -> None:
    docs = grant(rule("rbac.authorization.k8s.io", "clusterroles", "bind", "cluster-admin"))
    assert messages("rbac.escalate", *docs) == [
        "grants User 'alice' bind on clusterroles (rbac.authorization.k8s.io) (only 'cluster-admin') cluster-wide:"
        " ClusterRoleBinding 'b' -> ClusterRole 'r' rule 0 (test.yaml:6)"
    ]


def test_workload_create_message_groups_resources() -> None:
    docs = grant(rule("apps", "deployments daemonsets", "create patch"), "shop")
    assert messages("rbac.workload-create", *docs) == [
        "grants User 'alice' create, patch on deployments, daemonsets (apps) in namespace 'shop':"
        " RoleBinding 'shop/b' -> ClusterRole 'r' rule 0 (test.yaml:6)"
    ]


def test_stock_bindings_are_not_reported() -> None:
    docs = [binding("system:controller:job-controller", "ClusterRole", "system:controller:job-controller", sa("kube-system", "job-controller")),
            cluster_role("system:controller:job-controller", rule("batch", "jobs", "create update patch"), rule("", "pods", "create"))]  # fmt: skip
    assert fired("rbac.workload-create", *docs) == []


# --- rbac.anonymous -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "expected"),
    [
        pytest.param([binding("open", "ClusterRole", "view", group("system:authenticated"))], ["/subjects/0"], id="all-authenticated"),
        pytest.param([binding("open", "ClusterRole", "view", user("alice"), user("system:anonymous"), namespace="shop")], ["/subjects/1"], id="anonymous-user"),
        pytest.param([binding("open", "ClusterRole", "view", group("system:unauthenticated"))], ["/subjects/0"], id="unauthenticated"),
        pytest.param([binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated"))], [], id="stock-discovery"),
        pytest.param([binding("system:public-info-viewer", "ClusterRole", "system:public-info-viewer", group("system:authenticated"), group("system:unauthenticated"))], [], id="stock-public-info"),
        pytest.param(
            [binding("system:basic-user", "ClusterRole", "system:basic-user", group("system:authenticated")),
             cluster_role("system:basic-user", rule("", "secrets", "list"))],
            ["/subjects/0"], id="stock-binding-to-changed-role",
        ),
        pytest.param([binding("all-accounts", "ClusterRole", "view", group("system:serviceaccounts"))], [], id="all-service-accounts-is-not-anonymous"),
    ],
)  # fmt: skip
def test_anonymous(docs: list[Doc], expected: list[str]) -> None:
    assert [
        path for _, path, severity in fired("rbac.anonymous", *docs) if severity == "critical"
    ] == expected
    assert len(findings("rbac.anonymous", *docs)) == len(expected)


# --- rbac.default-sa-bound ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "fires"),
    [
        pytest.param(sa("shop", "default"), True, id="service-account"),
        pytest.param(sa(None, "default"), True, id="service-account-of-the-binding-namespace"),
        pytest.param(user("system:serviceaccount:shop:default"), True, id="user-name"),
        pytest.param(sa("shop", "app"), False, id="own-account"),
        pytest.param(user("default"), False, id="a-user-called-default"),
    ],
)
def test_default_sa_bound(subject: Doc, fires: bool) -> None:
    docs = [binding("b", "ClusterRole", "view", subject, namespace="shop")]
    assert fired("rbac.default-sa-bound", *docs) == (
        [("RoleBinding/b", "/subjects/0", "medium")] if fires else []
    )


def test_malformed_rbac_object_is_an_input_error_and_the_scan_goes_on() -> None:
    from conftest import scan_objects  # noqa: PLC0415

    bad = binding("b", "ClusterRole", "cluster-admin", user("alice"))
    bad["subjects"] = "alice"
    report = scan_objects(bad, binding("ok", "ClusterRole", "cluster-admin", user("bob")), rules=["rbac.*"])
    assert [(e.line, e.message) for e in report.errors] == [
        (9, "ClusterRoleBinding b: subjects must be a list, not a string (/subjects)")
    ]
    assert [(f.rule, f.object.name) for f in report.findings if f.rule == "rbac.cluster-admin"] == [
        ("rbac.cluster-admin", "ok")
    ]


STOCK_CLUSTER = [
    # What `kubectl get clusterroles,clusterrolebindings,roles,rolebindings -A -o yaml` shows of a stock cluster.
    cluster_role("cluster-admin", rule("*", "*", "*"), {"nonResourceURLs": ["*"], "verbs": ["*"]}),
    binding("cluster-admin", "ClusterRole", "cluster-admin", group("system:masters")),
    cluster_role("system:kube-controller-manager", rule("*", "*", "list watch"), rule("", "secrets serviceaccounts", "create get update")),
    binding("system:kube-controller-manager", "ClusterRole", "system:kube-controller-manager", user("system:kube-controller-manager")),
    cluster_role("system:controller:generic-garbage-collector", rule("*", "*", "delete get list patch update watch")),
    binding("system:controller:generic-garbage-collector", "ClusterRole", "system:controller:generic-garbage-collector", sa("kube-system", "generic-garbage-collector")),
    binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated")),
    binding("system:public-info-viewer", "ClusterRole", "system:public-info-viewer", group("system:authenticated"), group("system:unauthenticated")),
    binding("system:node-proxier", "ClusterRole", "system:node-proxier", user("system:kube-proxy")),
    binding("system:controller:bootstrap-signer", "Role", "system:controller:bootstrap-signer", sa("kube-system", "bootstrap-signer"), namespace="kube-public"),
    role("kube-public", "system:controller:bootstrap-signer", rule("", "configmaps", "get list watch update", "cluster-info")),
]  # fmt: skip


def test_a_stock_cluster_is_quiet() -> None:
    from conftest import scan_objects  # noqa: PLC0415

    report = scan_objects(*STOCK_CLUSTER, rules=["rbac.*"])
    assert report.errors == []
    assert [(f.rule, f.object.name) for f in report.findings] == []


def test_a_user_binding_to_a_stock_role_is_reported() -> None:
    extra = binding(
        "ci-is-a-controller", "ClusterRole", "system:kube-controller-manager", sa("ci", "deployer")
    )
    assert fired("rbac.secrets-read", *STOCK_CLUSTER, extra) == [
        ("ClusterRoleBinding/ci-is-a-controller", "/subjects/0", "critical")
    ]
    assert fired("rbac.wildcard", *STOCK_CLUSTER, extra) == []  # the role is still the cluster's own
