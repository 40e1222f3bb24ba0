"""Symbolic grants: the engine answers from rules, subject sets and aggregation kept unexpanded.

Each answer must be exactly what expanding every binding's role rule by rule gives (the reference
below), in the same order, on generated inventories with aggregation chains, copies, wildcards,
resourceNames, groups and cluster-scoped resources.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_rbac import build

from conftest import load_bench
from kharden.analysis.rbac import Grant, PolicyRule, Rbac, Request, Role, RuleRef, Subject, parse_request
from rbacdocs import binding, cluster_role, group, rule, sa

SELECT = [{"matchLabels": {"example.com/aggregate-to-ops": "true"}}]
SELECT_INNER = [{"matchLabels": {"example.com/aggregate-to-inner": "true"}}]


def test_an_aggregated_role_refers_to_the_roles_it_aggregates() -> None:
    engine = build(
        cluster_role("ops", aggregate=SELECT),
        cluster_role("inner", aggregate=SELECT_INNER, labels={"example.com/aggregate-to-ops": "true"}),
        cluster_role("pods", rule("", "pods", "get list"), labels={"example.com/aggregate-to-ops": "true"}),
        cluster_role(
            "secrets",
            rule("", "secrets", "get"),
            rule("", "configmaps", "get"),
            labels={"example.com/aggregate-to-inner": "true"},
        ),
    )
    ops = engine.role(next(r for r in engine.roles if r.name == "ops"))
    assert ops is not None
    # The aggregated ClusterRole "inner" only passes its selectors on; the rules stay with their roles.
    assert [r.id.name for r in ops.aggregated] == ["pods", "secrets"]
    assert ops.rule_count == 3
    assert [(ref.role.name, ref.index) for ref in ops.rules] == [("pods", 0), ("secrets", 0), ("secrets", 1)]
    held = engine.rules_where(lambda r: "get" if "secrets" in r.resources else None)
    assert {
        role.id.name: [(ref.role.name, ref.index, v) for ref, v in found]
        for role, found in held.items()
        if role.obj is not None  # the built-in roles (edit, admin) hold secrets too
    } == {
        "ops": [("secrets", 0, "get")],
        "inner": [("secrets", 0, "get")],
        "secrets": [("secrets", 0, "get")],
    }


def test_a_group_binding_is_shared_by_its_members_not_copied() -> None:
    engine = build(
        cluster_role("r", rule("", "configmaps", "get")),
        binding("everyone", "ClusterRole", "r", group("system:authenticated")),
        binding("mine", "ClusterRole", "r", sa("shop", "app")),
    )
    app = engine.permissions(Subject.service_account("shop", "app"))
    other = engine.permissions(Subject.service_account("other", "app"))
    everyone = Subject("Group", "system:authenticated")
    assert dict(app.by_identity)[everyone] is dict(other.by_identity)[everyone]
    assert [b.label for b, _, _ in app.bindings] == [
        "ClusterRoleBinding 'mine'",
        "ClusterRoleBinding 'everyone'",
    ]


def test_holdings_name_each_binding_once_with_its_rules() -> None:
    engine = build(
        cluster_role(
            "r", rule("", "secrets", "get"), rule("", "pods", "get"), rule("", "secrets", "list get")
        ),
        binding("b", "ClusterRole", "r", sa("shop", "a"), sa("shop", "b")),
    )
    (holding,) = engine.holdings(Request.of("get", "secrets"), "shop")
    assert [ref.index for ref in holding.rules] == [0, 2]
    assert len(holding) == 4
    assert [(str(g.subject), g.rule.index) for g in holding] == [
        ("ServiceAccount 'shop/a'", 0),
        ("ServiceAccount 'shop/a'", 2),
        ("ServiceAccount 'shop/b'", 0),
        ("ServiceAccount 'shop/b'", 2),
    ]


# --- the reference: expand every binding's role, rule by rule ---------------------------------------


def expanded_who_can(engine: Rbac, request: Request, namespace: str | None, some_object: bool) -> list[Grant]:
    return [
        Grant(subject, path, b, ref)
        for b in engine.bindings
        if b.role is not None and b.applies(request, namespace)
        for subject, path in b.subjects
        for ref in b.role.rules
        if ref.rule.allows(request, some_object=some_object)
    ]


def expanded_rules_where(
    engine: Rbac, test: Callable[[PolicyRule], Any]
) -> dict[Role, list[tuple[RuleRef, Any]]]:
    found = {}
    for copies in engine.roles.values():
        for role in copies:
            matched = [(ref, test(ref.rule)) for ref in role.rules if test(ref.rule) is not None]
            if matched:
                found[role] = matched
    return found


QUESTIONS = [
    ("get", "secrets", None),
    ("list", "secrets", None),
    ("get", "secrets", "lock-7"),
    ("create", "pods/exec", None),
    ("create", "pods/exec", "lock-3"),
    ("update", "deployments.apps", None),
    ("patch", "deployments.apps/scale", None),
    ("escalate", "roles", None),
    ("impersonate", "users", None),
    ("list", "nodes", None),
    ("get", "/metrics", None),
    ("delete", "widgets.example.com", None),
    ("*", "*", None),
    ("watch", "leases.coordination.k8s.io", "lock-1"),
]


@pytest.fixture(scope="module", params=[1, 2, 3])
def generated(request: pytest.FixtureRequest) -> Rbac:
    """A generated inventory (bench/rbac.py) with aggregation chains, groups, wildcards, resourceNames."""
    return Rbac(load_bench("rbac").generate(700, 700, request.param))


@pytest.mark.parametrize(("verb", "resource", "name"), QUESTIONS)
@pytest.mark.parametrize("namespace", [None, "team-000", "team-005", "elsewhere"])
@pytest.mark.parametrize("some_object", [False, True])
def test_who_can_is_the_expanded_answer(
    generated: Rbac, verb: str, resource: str, name: str | None, namespace: str | None, some_object: bool
) -> None:
    request = parse_request(verb, resource, name, {"widgets": ("example.com", False)})
    found = generated.who_can(request, namespace, some_object=some_object)
    expected = expanded_who_can(generated, request, namespace, some_object)
    assert [(g.subject, g.subject_path, id(g.binding), id(g.rule)) for g in found] == [
        (g.subject, g.subject_path, id(g.binding), id(g.rule)) for g in expected
    ]


def test_rules_where_is_the_expanded_answer(generated: Rbac) -> None:
    tests: list[Callable[[PolicyRule], Any]] = [
        lambda r: True if r.superuser else None,
        lambda r: sorted(r.verbs) if "secrets" in r.resources or "*" in r.resources else None,
        lambda r: len(r.resource_names) or None,
    ]
    for test in tests:
        found = generated.rules_where(test)
        expected = expanded_rules_where(generated, test)
        assert {id(role): [(id(ref), v) for ref, v in refs] for role, refs in found.items()} == {
            id(role): [(id(ref), v) for ref, v in refs] for role, refs in expected.items()
        }
        bound = {id(b.role) for b in generated.bindings if b.role is not None}
        assert {id(role) for role in generated.rules_where(test, bound=True)} == {
            id(role) for role in expected if id(role) in bound
        }
    aggregated = [r for copies in generated.roles.values() for r in copies if r.aggregation is not None]
    assert any(len(r.aggregated) > 10 for r in aggregated)  # the inventory does exercise aggregation
    assert all(r.rule_count == len(r.rules) for r in aggregated)
