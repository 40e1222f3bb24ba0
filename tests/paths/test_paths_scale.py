"""The shortcuts that keep the attack-path counts of a scan near-linear give what the direct computation
gives: each is checked against it on a table of cases."""

from __future__ import annotations

import random
from dataclasses import replace

import networkx as nx
import pytest
from pathdocs import Doc, analyse, context_of, deny, ingress, namespace, policy, service_account, workload

from kharden.analysis.rbac import Request, Subject
from kharden.model import ObjRef
from kharden.paths.build import _Builder, build_graph
from kharden.paths.entries import add_entries
from kharden.paths.findings import Index, pairs_through
from kharden.paths.graph import AttackGraph
from kharden.paths.model import GOALS, Edge, Evidence, FindingKey, Vertex, counting_only
from kharden.paths.netview import NetView
from kharden.paths.rbacview import SECRETS_READ, WORKLOAD_WRITE, Held, RbacView
from kharden.rules import get as get_rule
from rbacdocs import binding, cluster_role, group, role, rule, sa


def _to(app: str) -> list[Doc]:
    return [{"podSelector": {"matchLabels": {"app": app}}}]


NETWORK = (
    namespace("shop"),
    namespace("ops"),
    namespace("lab"),
    workload("web"),
    workload("api"),
    workload("db"),
    workload("tool", "ops"),
    workload("probe", "ops", hostNetwork=True),
    workload("free", "lab"),
    deny("Egress"),
    policy(
        "web-out",
        podSelector={"matchLabels": {"app": "web"}},
        policyTypes=["Egress"],
        egress=[{"to": _to("api")}],
    ),
    policy(
        "api-out",
        podSelector={"matchLabels": {"app": "api"}},
        policyTypes=["Egress"],
        egress=[{"to": _to("db")}],
    ),
    policy(
        "db-in",
        podSelector={"matchLabels": {"app": "db"}},
        policyTypes=["Ingress"],
        ingress=[{"from": [{"namespaceSelector": {}}]}],
    ),
    policy(
        "tool-out", "ops", podSelector={"matchLabels": {"app": "tool"}}, policyTypes=["Egress"], egress=[{}]
    ),
)


def test_senders_keep_every_class_that_reaches_and_leave_out_egress_that_never_matches() -> None:
    network = context_of(*NETWORK).network
    net = NetView(network)
    classes = network.classes[:-1]
    assert len(classes) == 6
    left_out = 0
    for destination in classes:
        sources = list(net.sources(destination))
        senders = list(net.senders(destination))
        reaching = [s for s in sources if net.between(s, destination) is not None]
        # In the same order as sources(), every class that connects kept, and nothing new.
        assert [s for s in senders if s in reaching] == reaching
        assert [s for s in sources if s in senders] == senders
        left_out += len(sources) - len(senders)
    assert left_out > 0  # the shop's default-deny egress: its pods send nowhere but where rules say


RBAC = (
    namespace("shop"),
    namespace("ops"),
    role("shop", "creator", rule("", "pods", "create"), rule("apps", "deployments", "create patch")),
    cluster_role("secret-reader", rule("", "secrets", "get list", names="one two")),
    binding(
        "creator",
        "Role",
        "creator",
        sa("shop", "web"),
        group("system:serviceaccounts:shop"),
        namespace="shop",
    ),
    binding("everyone", "ClusterRole", "secret-reader", group("system:serviceaccounts")),
    binding("authenticated", "ClusterRole", "secret-reader", group("system:authenticated")),
    binding("ops", "ClusterRole", "secret-reader", sa("ops", "tool"), namespace="ops"),
)
SUBJECTS = [("shop", "web"), ("shop", "api"), ("ops", "tool"), ("ops", "default"), ("lab", "x")]
ASKED = [
    (WORKLOAD_WRITE, "create pods or pod controllers", "rbac.workload-create"),
    (SECRETS_READ, "read secrets", "rbac.secrets-read"),
]


def _direct(view: RbacView, subject: Subject, requests: list[Request], what: str, rule_id: str) -> list[Held]:
    """What ``held`` gives, built per subject and grant as it was before grants were built once."""
    found = []
    for identity in subject.identities():
        for grant in view._granted(tuple(requests)).get(identity, ()):
            names = grant.rule.rule.resource_names
            where = "cluster-wide" if grant.scope is None else f"in namespace {grant.scope!r}"
            only = f" (only {', '.join(sorted(names))})" if names else ""
            text = f"{what}{only} {where} for {grant.subject}: {grant.chain()}"
            fix = get_rule(rule_id).remediation
            evidence = Evidence.at(grant.binding.obj, grant.subject_path, text, rule=rule_id, fix=fix)
            found.append(Held(grant.scope, names or None, evidence))
    return found


def test_held_is_built_once_per_grant_and_is_what_each_subject_holds() -> None:
    view = RbacView(context_of(*RBAC).rbac)
    found: dict[tuple[str, str, str], list[Held]] = {}
    for ns, name in SUBJECTS:
        subject = Subject.service_account(ns, name)
        for requests, what, rule_id in ASKED:
            held = view.held(subject, requests, what, rule_id)
            assert held == _direct(view, subject, requests, what, rule_id)
            found[(ns, name, rule_id)] = held
    creators = found[("shop", "web", "rbac.workload-create")]
    # Its own subject and its namespace's group: the binding's two subjects, once per rule of the Role.
    assert [h.evidence.path for h in creators] == ["/subjects/0"] * 2 + ["/subjects/1"] * 2
    assert [h.evidence.path for h in found[("shop", "api", "rbac.workload-create")]] == ["/subjects/1"] * 2
    assert found[("lab", "x", "rbac.workload-create")] == []
    readers = found[("ops", "tool", "rbac.secrets-read")]
    assert [(h.scope, h.names) for h in readers] == [
        ("ops", frozenset({"one", "two"})),
        (None, frozenset({"one", "two"})),
        (None, frozenset({"one", "two"})),
    ]
    # The grants to groups are the same objects for every account that holds them: built once.
    shared = found[("ops", "default", "rbac.secrets-read")]
    assert len(shared) == 2
    assert all(a is b for a, b in zip(shared, found[("lab", "x", "rbac.secrets-read")], strict=True))
    # A list of requests is found by its identity, or else by what it asks: one answer either way.
    assert view._granted(list(SECRETS_READ)) is view._granted(SECRETS_READ)


def _reference_pairs(graph: AttackGraph, goals: tuple[str, ...]) -> Index:
    """The index as networkx finds it: Dijkstra's distances, the steps one closer, topologically sorted."""
    bit = {entry: 1 << index for index, entry in enumerate(graph.entries)}
    index: Index = {}
    reverse = graph.graph.reverse(copy=False)
    for goal in goals:
        targets = graph.goal_vertices(goal)
        if not targets:
            continue
        distance = nx.multi_source_dijkstra_path_length(reverse, set(targets), weight=lambda *_: 1)
        closer: nx.DiGraph[str] = nx.DiGraph()
        closer.add_edges_from(
            (u, v) for u, v in graph.steps if v in distance and distance.get(u) == distance[v] + 1
        )
        reached: dict[str, int] = {}
        for vertex in nx.topological_sort(closer):
            entries = reached.get(vertex, 0) | bit.get(vertex, 0)
            if not entries:
                continue
            for target in closer.successors(vertex):
                reached[target] = reached.get(target, 0) | entries
                for edge in graph.steps[(vertex, target)]:
                    for fact in edge.evidence:
                        for rule_id, obj, path in fact.counted:
                            fields = index.setdefault((rule_id, obj), {}).setdefault(path, {})
                            fields[goal] = fields.get(goal, 0) | entries
    return index


def _random_graph(seed: int, size: int) -> AttackGraph:
    """Workloads, hubs and goals joined at random, each step resting on facts of a few rules."""
    chance = random.Random(seed)  # noqa: S311 - a reproducible graph, not a secret
    graph = AttackGraph()
    names = [f"v{i}" for i in range(size)]
    goals = {f"g-{goal}": goal for goal in GOALS}
    for name in names:
        graph.add_vertex(Vertex(name, "workload", name))
    for vertex, goal in goals.items():
        graph.add_vertex(Vertex(vertex, "goal", vertex, goal=goal))
    everything = [*names, *goals]
    for _ in range(size * 3):
        source, target = chance.choice(names), chance.choice(everything)
        facts = tuple(
            Evidence(
                "fact",
                chance.choice(["rbac.a", "netpol.b", "pods.c"]),
                ObjRef("Deployment", "ns", f"o{chance.randrange(size // 2)}"),
                chance.choice([None, "/spec/x", "/spec/y"]),
            )
            for _ in range(chance.randrange(3))
        )
        graph.add_edge(Edge(source, target, "rbac", "step", facts))
    for name in chance.sample(names, size // 5):
        graph.add_entry(name, ())
    return graph


@pytest.mark.parametrize("seed", range(8))
def test_pairs_through_is_what_networkx_finds(seed: int) -> None:
    graph = _random_graph(seed, 60 + 20 * seed)
    assert pairs_through(graph, GOALS) == _reference_pairs(graph, GOALS)
    goals = [v for v in graph.vertices if v.startswith("g-")]
    reverse = graph.graph.reverse(copy=False)
    assert graph.steps_to(goals) == nx.multi_source_dijkstra_path_length(reverse, goals, weight=lambda *_: 1)


def test_pairs_through_counts_on_the_cases_of_the_issue() -> None:
    creator = [
        service_account("web"),
        role("shop", "creator", rule("", "pods", "create")),
        binding("creator", "Role", "creator", sa("shop", "web"), namespace="shop"),
    ]
    found = analyse(namespace(), workload(account="web"), ingress(), creator, deny("Egress"))
    index = pairs_through(found.graph, GOALS)
    assert index == _reference_pairs(found.graph, GOALS)
    assert index  # the binding and the token lie on the path to a node


def _token_secret(name: str, ns: str, account: str) -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": name,
            "namespace": ns,
            "annotations": {"kubernetes.io/service-account.name": account},
        },
    }


GROUP_GRANTS = [
    # Every account of shop creates pods, execs into "api" and requests tokens for "web" and "api".
    [
        role("shop", "group", rule("", "pods", "create"), rule("", "pods/exec", "create", names="api")),
        role("shop", "tokens", rule("", "serviceaccounts/token", "create", names="web api")),
        binding("group", "Role", "group", group("system:serviceaccounts:shop"), namespace="shop"),
        binding("tokens", "Role", "tokens", group("system:serviceaccounts:shop"), namespace="shop"),
    ],
    # Every account of the cluster reads Secrets (the token Secrets of web, of an ops account).
    [
        cluster_role("reader", rule("", "secrets", "get list")),
        binding("reader", "ClusterRole", "reader", group("system:serviceaccounts")),
        _token_secret("web-token", "shop", "web"),
        _token_secret("tool-token", "ops", "tool"),
    ],
    # Bound by name as well as by group, and impersonation of named accounts.
    [
        cluster_role("imp", rule("", "serviceaccounts", "impersonate", names="web tool")),
        binding("imp", "ClusterRole", "imp", group("system:authenticated"), sa("shop", "api")),
        binding("admin", "ClusterRole", "cluster-admin", sa("ops", "tool")),
    ],
]


@pytest.mark.parametrize("grants", range(len(GROUP_GRANTS)))
def test_accounts_that_hold_only_their_groups_grants_get_the_steps_asked_one_by_one(
    grants: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = (
        namespace("shop"),
        namespace("ops"),
        workload("web", account="web"),
        workload("api", account="api"),
        workload("db"),
        workload("tool", "ops", account="tool"),
        service_account("web"),
        service_account("api"),
        service_account("tool", "ops"),
        GROUP_GRANTS[grants],
    )
    grouped = build_graph(context_of(*docs))
    monkeypatch.setattr(RbacView, "named", lambda *_: True)  # every account asked on its own
    direct = build_graph(context_of(*docs))
    assert list(grouped.steps) == list(direct.steps)
    assert grouped.steps == direct.steps
    rbac_steps = [pair for pair, edges in direct.steps.items() if any(e.kind == "rbac" for e in edges)]
    assert len({source for source, _ in rbac_steps}) >= 3  # several accounts share the group's steps


def test_a_facts_kept_hash_is_its_fields_hash() -> None:
    ref = ObjRef("Deployment", "shop", "web")
    fact = Evidence("text", "pod.privileged", ref, "/spec/x", fix="fix it")
    same = Evidence("text", "pod.privileged", ref, "/spec/x", fix="fix it")
    assert hash(fact) == hash(same)
    assert fact == same
    assert len({fact, same}) == 1
    bound = replace(fact, findings=(("netpol.egress-open", ref, None),))
    assert bound != fact
    assert hash(bound) == hash(replace(same, findings=bound.findings))  # not the hash kept by ``fact``
    graph = AttackGraph()
    for vertex in ("a", "b"):
        graph.add_vertex(Vertex(vertex, "workload", vertex))
    for facts in [(fact,), (same,), (bound,), (fact,)]:
        graph.add_edge(Edge("a", "b", "rbac", "step", facts))
    assert [e.evidence for e in graph.steps[("a", "b")]] == [(fact,), (bound,)]
    assert len(graph) == 2


def _as_added(graph: AttackGraph) -> nx.DiGraph[str]:
    """The networkx graph made by adding each vertex and step as it came (the weight: the least)."""
    found: nx.DiGraph[str] = nx.DiGraph()
    found.add_nodes_from(graph.vertices)
    for edge in graph.edges():
        weight = 1 + min(len(edge.evidence), 9) / 1000
        if found.has_edge(edge.source, edge.target):
            data = found[edge.source][edge.target]
            data["weight"] = min(data["weight"], weight)
        else:
            found.add_edge(edge.source, edge.target, weight=weight)
    return found


def _layout(
    graph: nx.DiGraph[str],
) -> tuple[list[str], list[tuple[str, str, float]], list[tuple[str, list[str]]]]:
    """Nodes, edges with their weights, and each node's predecessors: all in networkx's order."""
    edges = [(u, v, float(data["weight"])) for u, v, data in graph.edges(data=True)]
    return list(graph.nodes), edges, [(v, list(graph.pred[v])) for v in graph.nodes]


@pytest.mark.parametrize("seed", range(4))
def test_the_networkx_graph_built_when_asked_is_the_one_built_step_by_step(seed: int) -> None:
    graph = _random_graph(seed, 40 + 10 * seed)
    assert _layout(graph.graph) == _layout(_as_added(graph))
    for source, target in graph.succ.items():
        assert target == list(graph.graph.successors(source))
    # Kept current once built: a new vertex, a new pair, a cheaper step between a known pair.
    graph.add_vertex(Vertex("late", "workload", "late"))
    graph.add_edge(Edge("late", "v0", "rbac", "late step"))
    first = next(iter(graph.steps))
    graph.add_edge(Edge(*first, "rbac", "a step on no fact"))
    assert _layout(graph.graph) == _layout(_as_added(graph))


def _exposed(*docs: Doc | list[Doc]) -> tuple[Doc | list[Doc], ...]:
    """``docs`` with the shop's web workload exposed, privileged, with a token and a hostPath."""
    web = workload(
        "web",
        account="web",
        container={"image": "registry.example.com/app:1", "securityContext": {"privileged": True}},
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
    )
    dashboard = workload(
        "kubernetes-dashboard",
        "kube-system",
        account="kubernetes-dashboard",
        container={"image": "kubernetesui/dashboard:v2.7.0", "args": ["--enable-skip-login"]},
    )
    admin = binding("dashboard", "ClusterRole", "cluster-admin", sa("kube-system", "kubernetes-dashboard"))
    return (*docs, web, *ingress(), dashboard, service_account("kubernetes-dashboard", "kube-system"), admin)


SECRET_MAKERS = [
    cluster_role("read", rule("", "secrets", "get list")),
    cluster_role("make", rule("", "secrets", "create")),
    binding("read-shop", "ClusterRole", "read", sa("shop", "web"), namespace="shop"),
    binding("read-all", "ClusterRole", "read", sa("shop", "web")),
    *(
        binding(f"make-{ns}", "ClusterRole", "make", sa("shop", "web"), namespace=ns)
        for ns in ("shop", "ops")
    ),
    binding("make-all", "ClusterRole", "make", sa("shop", "web")),
]
"""Readers times makers of Secrets, in several scopes: a token Secret made and read back."""

COUNTED = [
    _exposed(namespace("shop"), namespace("ops"), SECRET_MAKERS),
    _exposed(*NETWORK[:3]),
    _exposed(*NETWORK),
    *(
        _exposed(namespace("shop"), namespace("ops"), grants, workload("tool", "ops", account="tool"))
        for grants in GROUP_GRANTS
    ),
]


@pytest.mark.parametrize("docs", range(len(COUNTED)))
def test_a_graph_made_only_to_count_counts_what_the_whole_graph_does(docs: int) -> None:
    context = context_of(*COUNTED[docs])
    whole = build_graph(context)
    add_entries(context, whole)
    with counting_only():
        counted = build_graph(context)
        add_entries(context, counted)
    assert list(counted.entries) == list(whole.entries)
    # The same pairs, each vertex's in the same order, resting on the same findings; only those are kept.
    # Left out: the steps onto a ServiceAccount that steps nowhere, made once RBAC's steps are known.
    onward = counted.onward()
    expected = _leading(whole)
    assert onward == expected
    assert {s: list(targets) for s, targets in onward.items()} == {s: list(t) for s, t in expected.items()}
    assert {t: set(s) for t, s in counted.pred.items()} == _before(expected)
    pairs = sum(map(len, whole.onward().values()))
    assert sum(map(len, onward.values())) < pairs or docs  # the first case has such steps: left out
    assert not counted.steps
    assert not counted.succ
    index = pairs_through(whole, GOALS)
    assert index  # something to count: the cases have paths
    assert pairs_through(counted, GOALS) == index
    # Equal tuples of findings are one object; the same step twice is counted twice (no count minds).
    tuples = [found for targets in onward.values() for found in targets.values()]
    assert len({id(t) for t in tuples if t}) == len({t for t in tuples if t})
    assert len(counted) >= len(tuples)
    assert any(fact.location is not None for edge in whole.edges() for fact in edge.evidence)


_AFTER_RBAC = frozenset({"newpod", "tokens", "network"})
"""The kinds of step onto a ServiceAccount that the builder makes once RBAC's steps are known: a new pod's,
a token hub's and a Dashboard's or Tiller's (``_Builder._leads_on``)."""


def _leading(whole: AttackGraph) -> dict[str, dict[str, tuple[FindingKey, ...]]]:
    """``whole.onward()`` without the steps made once RBAC's are known onto a ServiceAccount that steps
    nowhere: they lie on no path."""
    ends = {v.id for v in whole.vertices.values() if v.kind == "serviceaccount" and v.id not in whole.succ}
    kept: dict[str, dict[str, tuple[FindingKey, ...]]] = {}
    for source, targets in whole.succ.items():
        for target in targets:
            edges = [
                e for e in whole.steps[(source, target)] if target not in ends or e.kind not in _AFTER_RBAC
            ]
            if edges:
                facts = (key for edge in edges for fact in edge.evidence for key in fact.counted)
                kept.setdefault(source, {})[target] = tuple(dict.fromkeys(facts))
    return kept


def _before(onward: dict[str, dict[str, tuple[FindingKey, ...]]]) -> dict[str, set[str]]:
    """Vertex -> the vertices that step onto it."""
    found: dict[str, set[str]] = {}
    for source, targets in onward.items():
        for target in targets:
            found.setdefault(target, set()).add(source)
    return found


def test_a_counting_graph_merges_the_findings_of_a_pairs_steps() -> None:
    ref = ObjRef("Deployment", "shop", "web")
    one, two = ("pod.privileged", ref, "/a"), ("rbac.escalate", ref, None)
    graph = AttackGraph(counting=True)
    for vertex in ("a", "b", "c"):
        graph.add_vertex(Vertex(vertex, "workload", vertex))
    first = (one,)
    graph.add_counted("a", "b", ())
    graph.add_counted("a", "b", first)
    assert graph.found["a"]["b"] is first  # an empty one takes the next as it is
    graph.add_counted("a", "b", (one,))
    assert graph.found["a"]["b"] is first  # nothing new: the tuple is kept
    graph.add_counted("a", "b", (two, one))
    graph.add_counted("a", "a", (two,))  # onto itself: no step
    graph.add_counted("c", "b", ())
    assert graph.onward() == {"a": {"b": (one, two)}, "c": {"b": ()}}
    assert graph.pred == {"b": ["a", "c"]}
    assert len(graph) == 5
    with pytest.raises(ValueError, match="add_counted"):
        graph.add_edge(Edge("a", "c", "rbac", "step"))


def test_a_graph_made_only_to_count_takes_one_secret_maker_per_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    context = context_of(*COUNTED[0])
    whole = build_graph(context)
    counted_makers: list[tuple[str, str | None, str]] = []
    to_accounts = _Builder._to_accounts

    def spied(builder: _Builder, vertex: str, held: Held, summary: str, evidence: list[Evidence]) -> None:
        if summary.startswith("creates a token Secret"):
            counted_makers.append((vertex, held.scope, summary))
        to_accounts(builder, vertex, held, summary, evidence)

    monkeypatch.setattr(_Builder, "_to_accounts", spied)
    with counting_only():
        counted = build_graph(context)
    hubs = ("sa:shop/web", "tokens:shop")
    made = [e for e in whole.steps[hubs] if e.summary.startswith("creates a token Secret")]
    # Read in shop x made in shop or anywhere; read anywhere x made in shop (the others: ops, anywhere).
    assert len(made) == 3
    # One per reader: its scope (shop) once, whichever Secrets it could make.
    assert [(source, scope) for source, scope, _ in counted_makers] == [("sa:shop/web", "shop")] * 2 + [
        ("sa:shop/web", "ops"),
        ("sa:shop/web", None),
    ]
    assert counted.found[hubs[0]][hubs[1]] == whole.onward()[hubs[0]][hubs[1]]
