"""RBAC semantics, one per test (https://kubernetes.io/docs/reference/access-authn-authz/rbac/)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kharden.analysis.rbac import PolicyRule, Rbac, Request, Subject, parse_request
from kharden.inventory import Inventory
from kharden.sources.documents import Collected
from rbacdocs import binding, cluster_role, group, role, rule, sa, user


def build(*docs: dict[str, Any], file: str = "rbac.yaml") -> Rbac:
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all(docs, sort_keys=False).encode(), file)
    return Rbac(Inventory(collected.objects).objects)


def who(
    engine: Rbac, verb: str, resource: str, namespace: str | None = None, name: str | None = None
) -> list[str]:
    """The subjects allowed, each once (several rules may allow the same request)."""
    return sorted({str(g.subject) for g in engine.who_can(parse_request(verb, resource, name), namespace)})


# --- matching: verbs, apiGroups, resources, subresources, resourceNames, URLs -----------------------


@pytest.mark.parametrize(
    ("written", "request_", "allowed"),
    [
        pytest.param(rule("", "pods", "get"), Request.of("get", "pods"), True, id="exact"),
        pytest.param(rule("", "pods", "get"), Request.of("list", "pods"), False, id="other-verb"),
        pytest.param(rule("", "pods", "Get"), Request.of("get", "pods"), False, id="verbs-are-case-sensitive"),
        pytest.param(rule("", "pods", "*"), Request.of("delete", "pods"), True, id="verb-wildcard"),
        pytest.param(rule("", "pods", "*"), Request.of("escalate", "pods"), True, id="verb-wildcard-includes-escalate"),
        pytest.param(rule("apps", "secrets", "get"), Request.of("get", "secrets"), False, id="secrets-in-apps-is-not-core-secrets"),
        pytest.param(rule("", "secrets", "get"), Request.of("get", "secrets", "apps"), False, id="core-secrets-is-not-apps-secrets"),
        pytest.param(rule("*", "secrets", "get"), Request.of("get", "secrets"), True, id="group-wildcard"),
        pytest.param({"resources": ["secrets"], "verbs": ["get"]}, Request.of("get", "secrets"), False, id="no-apiGroups-allows-nothing"),
        pytest.param(rule("", "*", "get"), Request.of("get", "secrets"), True, id="resource-wildcard"),
        pytest.param(rule("", "*", "create"), Request.of("create", "pods/exec"), True, id="resource-wildcard-covers-subresources"),
        pytest.param(rule("", "pods", "create"), Request.of("create", "pods/exec"), False, id="resource-does-not-cover-its-subresources"),
        pytest.param(rule("", "pods/exec", "create"), Request.of("create", "pods/exec"), True, id="subresource-exact"),
        pytest.param(rule("", "pods/exec", "create"), Request.of("create", "pods"), False, id="subresource-is-not-the-resource"),
        pytest.param(rule("", "pods/*", "create"), Request.of("create", "pods/exec"), False, id="resource-slash-star-is-literal"),
        pytest.param(rule("apps", "*/scale", "update"), Request.of("update", "deployments/scale", "apps"), True, id="star-slash-subresource"),
        pytest.param(rule("apps", "*/scale", "update"), Request.of("update", "deployments", "apps"), False, id="star-slash-subresource-not-the-resource"),
        pytest.param(rule("", "secrets", "get", "db"), Request.of("get", "secrets", name="db"), True, id="resourceNames-named"),
        pytest.param(rule("", "secrets", "get", "db"), Request.of("get", "secrets", name="other"), False, id="resourceNames-other-name"),
        pytest.param(rule("", "secrets", "list", "db"), Request.of("list", "secrets"), False, id="resourceNames-never-an-unnamed-request"),
    ],
)  # fmt: skip
def test_rule_allows(written: dict[str, Any], request_: Request, allowed: bool) -> None:
    engine = build(cluster_role("r", written))
    role_ = engine.role(next(iter(engine.roles)))
    assert role_ is not None
    assert role_.written[0].rule.allows(request_) is allowed


@pytest.mark.parametrize(
    ("names", "request_", "allowed"),
    [
        pytest.param("db", Request.of("list", "secrets"), True, id="list-of-some-objects"),
        pytest.param("app", Request.of("create", "pods"), False, id="create-names-no-object"),
        pytest.param(
            "app", Request.of("deletecollection", "pods"), False, id="deletecollection-names-no-object"
        ),
        pytest.param(
            "app", Request.of("create", "pods/exec"), True, id="create-on-a-subresource-names-its-object"
        ),
    ],
)
def test_rule_allows_some_object(names: str, request_: Request, allowed: bool) -> None:
    resource = request_.combined_resource
    written = PolicyRule(
        frozenset({request_.verb}), frozenset({""}), frozenset({resource}), frozenset(names.split())
    )
    assert written.allows(request_, some_object=True) is allowed
    assert written.allows(request_) is False


@pytest.mark.parametrize(
    ("urls", "url", "allowed"),
    [
        pytest.param(["/metrics"], "/metrics", True, id="exact"),
        pytest.param(["/metrics"], "/metrics/cadvisor", False, id="no-prefix-without-star"),
        pytest.param(["/api/*"], "/api/v1", True, id="trailing-star-is-a-prefix"),
        pytest.param(["*"], "/healthz", True, id="star"),
    ],
)
def test_non_resource_urls(urls: list[str], url: str, allowed: bool) -> None:
    written = PolicyRule(frozenset({"get"}), non_resource_urls=frozenset(urls))
    assert written.allows(Request("get", url=url, cluster_scoped=True)) is allowed
    assert not written.allows(Request.of("get", "pods"))


# --- bindings and scope -----------------------------------------------------------------------------


def test_role_binding_grants_in_its_namespace_only() -> None:
    engine = build(
        role("shop", "reader", rule("", "secrets", "get")),
        binding("b", "Role", "reader", sa("shop", "app"), namespace="shop"),
    )
    assert who(engine, "get", "secrets", "shop") == ["ServiceAccount 'shop/app'"]
    assert who(engine, "get", "secrets", "other") == []
    assert [g.scope for g in engine.who_can(Request.of("get", "secrets"))] == ["shop"]


def test_role_binding_to_cluster_role_grants_in_its_namespace_only() -> None:
    engine = build(
        cluster_role("reader", rule("", "secrets", "get")),
        binding("b", "ClusterRole", "reader", user("alice"), namespace="shop"),
    )
    assert who(engine, "get", "secrets", "shop") == ["User 'alice'"]
    assert who(engine, "get", "secrets", "other") == []


def test_role_binding_never_grants_cluster_scoped_resources_or_urls() -> None:
    engine = build(
        cluster_role(
            "nodes",
            rule("", "nodes nodes/proxy", "get create"),
            {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
        ),
        binding("b", "ClusterRole", "nodes", user("alice"), namespace="shop"),
    )
    assert who(engine, "get", "nodes") == []
    assert who(engine, "create", "nodes/proxy", "shop") == []
    assert who(engine, "get", "/metrics") == []


def test_cluster_role_binding_grants_everywhere() -> None:
    engine = build(
        cluster_role(
            "r", rule("", "secrets nodes", "get"), {"nonResourceURLs": ["/metrics"], "verbs": ["get"]}
        ),
        binding("b", "ClusterRole", "r", user("alice")),
    )
    assert who(engine, "get", "secrets", "any") == ["User 'alice'"]
    assert who(engine, "get", "nodes") == ["User 'alice'"]
    assert who(engine, "get", "/metrics") == ["User 'alice'"]


def test_role_binding_finds_its_role_in_its_own_namespace() -> None:
    engine = build(
        role("other", "reader", rule("", "secrets", "get")),
        binding("b", "Role", "reader", user("alice"), namespace="shop"),
    )
    assert [(b.label, str(b.role_ref)) for b in engine.unresolved] == [
        ("RoleBinding 'shop/b'", "Role 'shop/reader'")
    ]


def test_cluster_role_binding_cannot_name_a_role() -> None:
    engine = build(
        role("shop", "reader", rule("", "secrets", "get")), binding("b", "Role", "reader", user("alice"))
    )
    assert who(engine, "get", "secrets", "shop") == []
    assert len(engine.unresolved) == 1


def test_service_account_subject_without_namespace_is_the_binding_namespace() -> None:
    engine = build(
        role("shop", "reader", rule("", "secrets", "get")),
        binding("b", "Role", "reader", sa(None, "app"), namespace="shop"),
    )
    assert who(engine, "get", "secrets", "shop") == ["ServiceAccount 'shop/app'"]


def test_service_account_user_name_is_the_service_account() -> None:
    engine = build(
        cluster_role("r", rule("", "secrets", "get")),
        binding("b", "ClusterRole", "r", user("system:serviceaccount:shop:app")),
    )
    granted = engine.permissions(Subject.service_account("shop", "app")).allows(
        Request.of("get", "secrets"), "x"
    )
    assert [(str(g.subject), g.subject_path) for g in granted] == [
        ("ServiceAccount 'shop/app'", "/subjects/0")
    ]


def test_service_account_holds_what_its_groups_hold() -> None:
    engine = build(
        cluster_role("r", rule("", "configmaps", "get")),
        binding("ns-accounts", "ClusterRole", "r", group("system:serviceaccounts:shop")),
        binding("all-authenticated", "ClusterRole", "r", group("system:authenticated")),
    )
    shop = engine.permissions(Subject.service_account("shop", "app"))
    other = engine.permissions(Subject.service_account("other", "app"))
    assert sorted(g.binding.label for g in shop.grants) == [
        "ClusterRoleBinding 'all-authenticated'",
        "ClusterRoleBinding 'ns-accounts'",
    ]
    assert [g.binding.label for g in other.grants] == ["ClusterRoleBinding 'all-authenticated'"]
    anonymous = engine.permissions(Subject("User", "system:anonymous"))
    assert anonymous.grants == ()


# --- aggregation ------------------------------------------------------------------------------------

SELECT_MONITORING = [{"matchLabels": {"example.com/aggregate-to-monitoring": "true"}}]
MONITORING = {"example.com/aggregate-to-monitoring": "true"}


def test_aggregation_collects_the_rules_of_selected_cluster_roles() -> None:
    engine = build(
        cluster_role("monitoring", rule("", "secrets", "get"), aggregate=SELECT_MONITORING),
        cluster_role("pods", rule("", "pods", "list"), labels=MONITORING),
        cluster_role("unlabelled", rule("", "nodes", "list")),
        binding("b", "ClusterRole", "monitoring", user("alice")),
    )
    assert who(engine, "list", "pods") == ["User 'alice'"]
    assert who(engine, "list", "nodes") == []
    # The controller overwrites an aggregated role's own rules.
    assert who(engine, "get", "secrets") == []
    grant = engine.who_can(Request.of("list", "pods"))[0]
    assert (
        grant.chain()
        == "ClusterRoleBinding 'b' -> ClusterRole 'monitoring' aggregated ClusterRole 'pods' rule 0 (rbac.yaml:24)"
    )


def test_aggregation_is_transitive_and_survives_cycles() -> None:
    engine = build(
        cluster_role("top", aggregate=[{"matchLabels": {"level": "middle"}}]),
        cluster_role(
            "middle",
            labels={"level": "middle", "cycle": "yes"},
            aggregate=[{"matchLabels": {"level": "leaf"}}, {"matchLabels": {"cycle": "yes"}}],
        ),
        cluster_role("leaf", rule("", "pods", "list"), labels={"level": "leaf"}),
        binding("b", "ClusterRole", "top", user("alice")),
    )
    assert who(engine, "list", "pods") == ["User 'alice'"]


def test_empty_selector_aggregates_every_cluster_role_but_no_selector_nothing() -> None:
    engine = build(
        cluster_role("everything", aggregate=[{}]),
        cluster_role("nothing", aggregate=[]),
        cluster_role("pods", rule("", "pods", "list")),
        binding("a", "ClusterRole", "everything", user("alice")),
        binding("b", "ClusterRole", "nothing", user("bob")),
    )
    assert who(engine, "list", "pods") == ["User 'alice'"]
    # ... built-in roles included: cluster-admin is a ClusterRole of every cluster.
    assert who(engine, "escalate", "clusterroles.rbac.authorization.k8s.io") == ["User 'alice'"]


def test_aggregation_with_match_expressions() -> None:
    engine = build(
        cluster_role(
            "agg", aggregate=[{"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]}]
        ),
        cluster_role("a", rule("", "pods", "list"), labels={"team": "a"}),
        cluster_role("c", rule("", "nodes", "list"), labels={"team": "c"}),
        binding("b", "ClusterRole", "agg", user("alice")),
    )
    assert who(engine, "list", "pods") == ["User 'alice'"]
    assert who(engine, "list", "nodes") == []


# --- built-in roles ---------------------------------------------------------------------------------


def test_binding_to_built_in_edit_resolves_with_its_aggregation() -> None:
    engine = build(binding("devs", "ClusterRole", "edit", group("devs"), namespace="shop"))
    assert who(engine, "get", "secrets", "shop") == ["Group 'devs'"]
    assert who(engine, "create", "pods/exec", "shop") == ["Group 'devs'"]
    assert (
        who(engine, "create", "rolebindings.rbac.authorization.k8s.io", "shop") == []
    )  # admin's, not edit's
    grant = engine.who_can(Request.of("get", "secrets"))[0]
    assert grant.chain() == (
        "RoleBinding 'shop/devs' -> ClusterRole 'edit' (built in) aggregated ClusterRole 'system:aggregate-to-edit' (built in) rule 0"
    )


def test_built_in_admin_aggregates_edit_view_and_labelled_roles_of_the_scan() -> None:
    engine = build(
        cluster_role(
            "crd-admin",
            rule("example.com", "widgets", "create"),
            labels={"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
        ),
        binding("admins", "ClusterRole", "admin", user("alice"), namespace="shop"),
        binding("viewers", "ClusterRole", "view", user("bob"), namespace="shop"),
    )
    assert who(engine, "create", "widgets.example.com", "shop") == ["User 'alice'"]
    assert who(engine, "list", "pods", "shop") == ["User 'alice'", "User 'bob'"]
    assert who(engine, "get", "secrets", "shop") == ["User 'alice'"]  # view never reads secrets


def test_a_bootstrap_role_redefined_by_the_scan_is_what_the_api_server_reconciles() -> None:
    # The API server adds back view's aggregation rule; the aggregation controller then overwrites the
    # object's rules with the aggregated ones (storage_rbac.go, clusterroleaggregation controller).
    view = cluster_role("view", rule("", "secrets", "get"))
    engine = build(view, binding("b", "ClusterRole", "view", user("alice")))
    assert who(engine, "get", "secrets") == []
    assert who(engine, "list", "pods") == ["User 'alice'"]
    # annotated autoupdate: "false", the object is left as written
    view["metadata"]["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "false"}
    engine = build(view, binding("b", "ClusterRole", "view", user("alice")))
    assert who(engine, "get", "secrets") == ["User 'alice'"]
    assert who(engine, "list", "pods") == []


def test_binding_uses_the_copy_of_its_role_in_its_own_file() -> None:
    collected = Collected()
    for file, verbs in (("a.yaml", "get"), ("b.yaml", "list")):
        docs = [cluster_role("r", rule("", "secrets", verbs)), binding("b", "ClusterRole", "r", user(file))]
        collected.add_stream(yaml.safe_dump_all(docs).encode(), file)
    engine = Rbac(collected.objects)
    assert who(engine, "get", "secrets") == ["User 'a.yaml'"]
    assert who(engine, "list", "secrets") == ["User 'b.yaml'"]


# --- stock bindings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("docs", "stock"),
    [
        pytest.param([binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated"))], True, id="discovery"),
        pytest.param([binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated"), group("devs"))], False, id="discovery-extra-subject"),
        pytest.param(
            [binding("system:discovery", "ClusterRole", "system:discovery", group("system:authenticated")),
             cluster_role("system:discovery", {"nonResourceURLs": ["/api"], "verbs": ["get"]}, rule("", "secrets", "get"))],
            False, id="discovery-role-changed",
        ),
        pytest.param(
            [binding("system:public-info-viewer", "ClusterRole", "system:public-info-viewer", group("system:unauthenticated")),
             cluster_role("system:public-info-viewer", {"nonResourceURLs": ["/healthz", "/version"], "verbs": ["get"]})],
            True, id="older-role-grants-less",
        ),
        pytest.param([binding("cluster-admin", "ClusterRole", "cluster-admin", group("system:masters"))], True, id="cluster-admin-masters"),
        pytest.param([binding("cluster-admin", "ClusterRole", "cluster-admin", group("admins"))], False, id="cluster-admin-other-group"),
        pytest.param([binding("system:controller:job-controller", "ClusterRole", "system:controller:job-controller", sa("kube-system", "job-controller"))], True, id="controller"),
        pytest.param([binding("system:controller:job-controller", "ClusterRole", "system:controller:job-controller", sa("kube-system", "other"))], False, id="controller-other-account"),
        pytest.param([binding("system:kube-dns", "ClusterRole", "edit", sa("kube-system", "kube-dns"))], False, id="stock-name-other-role"),
    ],
)  # fmt: skip
def test_stock_bindings(docs: list[dict[str, Any]], stock: bool) -> None:
    engine = build(*docs)
    assert [b.stock for b in engine.bindings] == [stock]


# --- errors and requests ----------------------------------------------------------------------------


def test_wrong_type_is_an_input_error_with_line_and_the_object_is_left_out() -> None:
    engine = build(
        cluster_role("r", {"apiGroups": [""], "resources": ["pods"], "verbs": "get"}),
        binding("b", "ClusterRole", "r", user("alice")),
    )
    assert [str(e) for e in engine.errors] == [
        "rbac.yaml:10: ClusterRole r: verbs must be a list, not a string (/rules/0/verbs)"
    ]
    assert [str(b.role_ref) for b in engine.unresolved] == ["ClusterRole 'r'"]


@pytest.mark.parametrize(
    ("verb", "resource", "expected"),
    [
        pytest.param("get", "secrets", ("", "secrets", "", None, False), id="core"),
        pytest.param("update", "deployments", ("apps", "deployments", "", None, False), id="preferred-group"),
        pytest.param(
            "update",
            "deployments.extensions/scale",
            ("extensions", "deployments", "scale", None, False),
            id="group-and-subresource",
        ),
        pytest.param("create", "pods/exec", ("", "pods", "exec", None, False), id="subresource"),
        pytest.param("get", "nodes", ("", "nodes", "", None, True), id="cluster-scoped"),
        pytest.param("list", "widgets", ("example.com", "widgets", "", None, True), id="custom-resource"),
        pytest.param("get", "/metrics", ("", "", "", "/metrics", True), id="url"),
    ],
)
def test_parse_request(verb: str, resource: str, expected: tuple[str, str, str, str | None, bool]) -> None:
    parsed = parse_request(verb, resource, custom={"widgets": ("example.com", True)})
    assert (parsed.group, parsed.resource, parsed.subresource, parsed.url, parsed.cluster_scoped) == expected


def test_parse_request_refuses_an_unknown_bare_resource() -> None:
    with pytest.raises(ValueError, match="unknown resource 'widgets'"):
        parse_request("get", "widgets")
