"""The shortcuts of the attack-path count (issue 18, third round) give what the direct computation gives,
on random inputs: RBAC grants made once per binding and rule, the first write covering a namespace looked
up, and the workloads a permission limited to some names reaches found by name."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any, cast

import pytest
from pathdocs import Doc, context_of, namespace, service_account, workload

from kharden.analysis.rbac import Grant, Rbac
from kharden.model import Finding, ObjRef
from kharden.paths.build import _Builder, _covers, _first_covering, build_graph
from kharden.paths.entries import add_entries
from kharden.paths.findings import on_paths, pairs_through
from kharden.paths.model import GOALS, Evidence, counting_only
from kharden.paths.rbacview import (
    BIND,
    EVERYTHING,
    EXEC,
    SECRETS_READ,
    TOKEN,
    UPDATE_ROLES,
    WORKLOAD_WRITE,
    Held,
    RbacView,
)
from rbacdocs import binding, cluster_role, group, role, rule, sa

NAMESPACES = ["shop", "ops", "lab"]
VERBS = ["get", "list", "create", "update", "patch", "bind", "escalate", "impersonate", "*"]
RESOURCES = [
    ("", "pods"),
    ("", "pods/exec"),
    ("", "secrets"),
    ("", "serviceaccounts/token"),
    ("apps", "deployments"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("", "*"),
]


def _random_rbac(seed: int) -> list[Doc]:
    """Roles and ClusterRoles of random rules (some limited to names), bound at random to accounts and
    groups, several subjects per binding."""
    chance = random.Random(seed)  # noqa: S311 - a reproducible RBAC, not a secret
    docs: list[Doc] = []

    def rules() -> list[dict[str, Any]]:
        found = []
        for _ in range(chance.randrange(1, 4)):
            picked = chance.sample(RESOURCES, chance.randrange(1, 3))
            groups = ",".join(dict.fromkeys(g for g, _ in picked)) or ""
            names = chance.choice(["", "", "web api", "admin"])
            verbs = " ".join(chance.sample(VERBS, chance.randrange(1, 4)))
            found.append(rule(groups, " ".join(r for _, r in picked), verbs, names=names))
        return found

    cluster_roles = [f"c{i}" for i in range(4)]
    docs += [cluster_role(name, *rules()) for name in cluster_roles]
    roles = [(ns, f"r{i}") for i, ns in enumerate(NAMESPACES * 2)]
    docs += [role(ns, name, *rules()) for ns, name in roles]
    subjects = [
        sa("shop", "web"),
        sa("shop", "api"),
        sa("ops", "tool"),
        group("system:serviceaccounts"),
        group("system:serviceaccounts:shop"),
        group("system:authenticated"),
    ]
    for index in range(12):
        named = chance.sample(subjects, chance.randrange(1, 4))
        if chance.random() < 0.4:
            ns, name = chance.choice(roles)
            docs.append(binding(f"b{index}", "Role", name, *named, namespace=ns))
        else:
            scope = chance.choice([None, *NAMESPACES])
            docs.append(
                binding(f"b{index}", "ClusterRole", chance.choice(cluster_roles), *named, namespace=scope)
            )
    return docs


def _who_can_once(rbac: Rbac, requests: Any) -> dict[Any, list[Grant]]:
    """Subject -> the grants of ``who_can`` for each request in turn, each (binding, subject, rule) once."""
    seen: set[tuple[int, str, int]] = set()
    found: dict[Any, list[Grant]] = {}
    for request in requests:
        for grant in rbac.who_can(request, some_object=True):
            key = (id(grant.binding), grant.subject_path, id(grant.rule))
            if key not in seen:
                seen.add(key)
                found.setdefault(grant.subject, []).append(grant)
    return found


@pytest.mark.parametrize("seed", range(12))
def test_grants_asked_per_binding_are_who_can_each_grant_once(seed: int) -> None:
    rbac = context_of(*_random_rbac(seed)).rbac
    view = RbacView(rbac)
    for requests in (EVERYTHING, SECRETS_READ, WORKLOAD_WRITE, EXEC, BIND, UPDATE_ROLES, TOKEN):
        found = view._granted(requests)
        direct = _who_can_once(rbac, requests)
        assert list(found) == list(direct)  # subjects in the same order
        assert found == direct  # each subject's grants in the same order


def test_grants_asked_per_binding_keep_a_binding_with_two_subjects_and_two_rules_apart() -> None:
    docs = [
        cluster_role("maker", rule("", "pods", "create"), rule("apps", "deployments", "create patch")),
        binding("makers", "ClusterRole", "maker", sa("shop", "web"), sa("shop", "web"), namespace="shop"),
    ]
    rbac = context_of(*docs).rbac
    found = RbacView(rbac)._granted(WORKLOAD_WRITE)
    assert found == _who_can_once(rbac, WORKLOAD_WRITE)
    [(subject, grants)] = found.items()
    # The rule that creates pods for both subjects as written (the same account twice), then the one that
    # creates and patches Deployments: each once, though it allows two requests.
    assert [(g.subject_path, g.rule.index) for g in grants] == [
        ("/subjects/0", 0),
        ("/subjects/1", 0),
        ("/subjects/0", 1),
        ("/subjects/1", 1),
    ]
    assert str(subject) == "ServiceAccount 'shop/web'"


def _fact(index: int) -> Evidence:
    return Evidence(f"fact {index}", "rbac.escalate", ObjRef("RoleBinding", "shop", f"b{index}"))


@pytest.mark.parametrize("seed", range(20))
def test_the_first_covering_write_is_the_one_searched_for(seed: int) -> None:
    chance = random.Random(seed)  # noqa: S311 - reproducible cases, not a secret
    held = [
        Held(
            chance.choice([None, *NAMESPACES, "elsewhere"]),
            chance.choice([None, None, frozenset({"admin"})]),
            _fact(index),
        )
        for index in range(chance.randrange(0, 8))
    ]
    first = _first_covering(held)
    for ns in [*NAMESPACES, "nowhere"]:
        assert first(ns) is next((h for h in held if _covers(h, ns, None)), None)


def _workloads(chance: random.Random) -> list[Doc]:
    docs: list[Doc] = [namespace(ns) for ns in NAMESPACES]
    for ns in NAMESPACES:
        for name in chance.sample(["web", "api", "db", "admin", "job"], chance.randrange(0, 5)):
            for kind in chance.sample(["Deployment", "StatefulSet", "DaemonSet"], chance.randrange(1, 3)):
                docs.append(workload(name, ns, kind=kind))
    return docs


@pytest.mark.parametrize("seed", range(12))
def test_a_permission_limited_to_names_reaches_the_workloads_of_those_names_in_order(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    chance = random.Random(seed)  # noqa: S311 - reproducible cases, not a secret
    builder = _Builder(context_of(*_workloads(chance)), lateral=False)
    builder.build()
    steps: list[str] = []
    monkeypatch.setattr(builder, "_edge", lambda source, target, *_: steps.append(target))
    for _ in range(10):
        names = frozenset(chance.sample(["web", "api", "db", "admin", "job", "none"], chance.randrange(1, 4)))
        held = Held(chance.choice([None, *NAMESPACES, "nowhere"]), names, _fact(0))
        steps.clear()
        builder._to_pods("sa:shop/web", held, "runs commands in {} (exec)", [held.evidence])
        direct = [
            target
            for ns in builder._scope(held)
            for pod, target in builder.workloads.get(ns, ())
            if pod.obj.ref.name in names
        ]
        assert steps == direct


def _finding(rule_id: str, obj: ObjRef, path: str | None, number: int) -> Finding:
    """What the count reads of a finding: its rule, object, field and fingerprint."""
    location = SimpleNamespace(path=path)
    return cast(
        "Finding", SimpleNamespace(rule=rule_id, object=obj, location=location, fingerprint=f"f{number}")
    )


def test_counts_summed_goal_by_goal_are_the_pairs_of_each_finding() -> None:
    """``on_paths`` keeps two sums per (rule, object) goal by goal; the direct count ORs, per goal, the
    entry points of the finding's field with those of its rule anywhere on the object."""
    from test_paths_scale import COUNTED  # noqa: PLC0415 - the cases whose counts are pinned there

    for docs in COUNTED:
        context = context_of(*docs)
        with counting_only():
            graph = build_graph(context)
            add_entries(context, graph)
        index = pairs_through(graph, GOALS)
        findings = [
            _finding(rule_id, obj, path, number)
            for number, (rule_id, obj, path) in enumerate(
                [(*key, path) for key, fields in index.items() for path in [*fields, "/elsewhere", None]]
                + [("pod.privileged", ObjRef("Deployment", "shop", "nowhere"), "/spec")]
            )
        ]
        direct = {}
        for finding in findings:
            on = index.get((finding.rule, finding.object), {})
            exact, anywhere = on.get(finding.location.path, {}), on.get(None, {})
            found = sum(
                (exact.get(g, 0) | anywhere.get(g, 0)).bit_count() for g in exact.keys() | anywhere.keys()
            )
            if found:
                direct[finding.fingerprint] = found
        assert direct  # something counted
        assert on_paths(context, findings) == direct


def test_a_permission_in_every_namespace_counts_as_its_steps_to_each_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While counting, a permission given on the same facts in every namespace steps once, to a free vertex
    that stands for every namespace's new pod (its own steps count nothing): every finding lies on the
    pairs it lies on when the permission steps to each namespace's new pod."""

    def counted(docs: list[Doc]) -> tuple[int, Any]:
        context = context_of(*docs)
        with counting_only():
            graph = build_graph(context)
            add_entries(context, graph, ["any"])
        return len(graph.free), pairs_through(graph, GOALS)

    cases = []
    for seed in range(16):
        chance = random.Random(seed)  # noqa: S311 - reproducible cases, not a secret
        docs = [*_random_rbac(seed), *_workloads(chance)]
        free, index = counted(docs)
        cases.append((docs, free, index))
    every = _Builder._scope
    # A copy of the namespaces is never "every namespace known": each namespace's new pod is stepped to.
    monkeypatch.setattr(_Builder, "_scope", lambda self, held: list(every(self, held)))
    used = 0
    for docs, free, index in cases:
        none, direct = counted(docs)
        assert none == 0
        assert index == direct
        used += free > 0 and bool(direct)
    assert used >= 4  # the free vertex was stepped through, on paths that count


@pytest.mark.parametrize("seed", range(8))
def test_an_account_granted_nothing_of_what_is_asked_steps_as_its_groups(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account that bindings name but grant nothing of what its steps ask (``build.ASKED``) is given the
    steps of its namespace's accounts that hold what their groups hold, and those of a namespace whose group
    is granted nothing are every such namespace's: the count is the one asking RBAC per account and per
    namespace gives; and the steps ask RBAC about nothing but ``ASKED``."""
    from kharden.paths import build  # noqa: PLC0415

    chance = random.Random(seed)  # noqa: S311 - reproducible cases, not a secret
    docs = [*_random_rbac(seed), *_workloads(chance)]
    # Bound by name, granted only what no step asks (reading ConfigMaps).
    docs += [
        role("lab", "reader", rule("", "configmaps", "get list")),
        binding("read", "Role", "reader", sa("lab", "quiet"), sa("ops", "tool"), namespace="lab"),
        service_account("quiet", "lab"),
    ]
    asked: list[Any] = []
    replays: list[bool] = []
    held, holds_itself = RbacView.held, RbacView.holds_itself

    def spy(self: RbacView, subject: Any, requests: Any, *rest: Any) -> Any:
        asked.append(requests)
        return held(self, subject, requests, *rest)

    def spy_holds(self: RbacView, subject: Any, lists: Any) -> bool:
        found = holds_itself(self, subject, lists)
        replays.append(self.named(subject) and not found)
        return found

    def counted() -> Any:
        context = context_of(*docs)
        with counting_only():
            graph = build_graph(context)
            add_entries(context, graph, ["any"])
        return pairs_through(graph, GOALS)

    monkeypatch.setattr(RbacView, "held", spy)
    monkeypatch.setattr(RbacView, "holds_itself", spy_holds)
    replayed = counted()
    assert any(replays)  # lab/quiet at least: named, granted nothing asked
    assert asked
    assert all(any(requests is each for each in build.ASKED) for requests in asked)
    # Asked per named account, and per namespace (its group always taken as granted something).
    monkeypatch.setattr(
        RbacView, "holds_itself", lambda self, subject, _: subject.kind == "Group" or self.named(subject)
    )
    assert counted() == replayed
