"""Attack paths with known answers: each case asserts the exact path (its vertices) or its absence, and
the choke point where there is one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pathdocs import (
    Doc,
    analyse,
    deny,
    ingress,
    namespace,
    path_to,
    policy,
    routes,
    service,
    service_account,
    summaries,
    workload,
)

from kharden.errors import UsageError
from kharden.rules import admission as admission_rules
from rbacdocs import binding, cluster_role, group, role, rule, sa

WEB = "workload:Deployment/shop/web"
ANY_NODE = "node:*"


def creator(account: str = "web", ns: str = "shop") -> list[Doc]:
    """A Role that creates pods, bound to ServiceAccount ``account``."""
    return [
        service_account(account, ns),
        role(ns, "creator", rule("", "pods", "create")),
        binding("creator", "Role", "creator", sa(ns, account), namespace=ns),
    ]


# -- the cases of the issue -------------------------------------------------------------------------


def test_public_ingress_to_a_pod_that_creates_pods_is_three_steps_from_a_node() -> None:
    found = analyse(namespace(), workload(account="web"), ingress(), creator(), deny("Egress"))
    assert routes(found, "node") == {WEB: [WEB, "sa:shop/web", "newpod:shop", ANY_NODE]}
    path = path_to(found, WEB, "node")
    assert [h.edges[0].kind for h in path.hops] == ["token", "rbac", "newpod"]
    # Each step carries its evidence: the token's field, the binding's subject, the namespace's Pod Security.
    token, grant, psa = (h.edges[0].evidence[0] for h in path.hops)
    assert (token.object and token.object.name, token.path) == (
        "web",
        "/spec/template/spec/automountServiceAccountToken",
    )
    assert (grant.rule, grant.object and grant.object.kind, grant.path) == (
        "rbac.workload-create",
        "RoleBinding",
        "/subjects/0",
    )
    assert (psa.rule, psa.object and psa.object.name) == ("admission.pod-security", "shop")


def test_removing_the_binding_removes_the_path() -> None:
    [account, created_role, _] = creator()
    found = analyse(namespace(), workload(account="web"), ingress(), account, created_role, deny("Egress"))
    assert routes(found, "node") == {}
    assert found.paths == ()


def test_a_pod_with_the_docker_socket_is_one_step_from_its_node() -> None:
    socket = workload(
        "agent",
        container={"volumeMounts": [{"name": "docker", "mountPath": "/var/run/docker.sock"}]},
        volumes=[{"name": "docker", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}}],
        automountServiceAccountToken=False,
    )
    found = analyse(namespace(), socket, service("agent", kind="NodePort"), deny("Egress"))
    agent = "workload:Deployment/shop/agent"
    assert routes(found, "node") == {agent: [agent, "node:worker"]}
    [step] = path_to(found, agent, "node").hops[0].edges
    assert step.kind == "escape"
    assert [(e.rule, e.path) for e in step.evidence] == [
        ("pod.sensitive-mount", "/spec/template/spec/volumes/0/hostPath/path")
    ]


def test_a_default_deny_policy_removes_the_metadata_edge() -> None:
    open_cluster = analyse(namespace(), workload(automountServiceAccountToken=False), ingress())
    assert routes(open_cluster, "cloud") == {WEB: [WEB, "goal:cloud"]}
    [fact] = path_to(open_cluster, WEB, "cloud").hops[0].edges[0].evidence
    assert (fact.rule, fact.object and str(fact.object), fact.aspect) == (
        "exposure.metadata-api",
        "Namespace shop",
        "Egress",
    )
    closed = analyse(namespace(), workload(automountServiceAccountToken=False), ingress(), deny("Egress"))
    assert routes(closed, "cloud") == {}
    assert (WEB, "goal:cloud") not in closed.graph.steps


def test_an_egress_rule_that_excepts_the_metadata_address_removes_the_edge_too() -> None:
    allow = policy(
        "internet",
        policyTypes=["Egress"],
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}],
    )
    leaky = policy("leaky", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])
    base = (namespace(), workload(automountServiceAccountToken=False), ingress())
    assert routes(analyse(*base, allow), "cloud") == {}
    found = analyse(*base, leaky)
    [fact] = path_to(found, WEB, "cloud").hops[0].edges[0].evidence
    assert (fact.rule, str(fact.object), fact.path) == (
        "exposure.metadata-api",
        "NetworkPolicy shop/leaky",
        "/spec/egress/0/to/0",
    )


def test_two_paths_through_one_binding_have_that_binding_as_choke_point() -> None:
    reader = cluster_role("secret-reader", rule("", "secrets", "get list"))
    found = analyse(
        namespace(),
        workload("web1", account="deployer"),
        ingress("web1"),
        workload("web2", account="deployer"),
        service("web2", kind="LoadBalancer"),
        service_account("deployer"),
        reader,
        binding("readers", "ClusterRole", "secret-reader", sa("shop", "deployer")),
        deny("Egress"),
    )
    assert routes(found, "secrets") == {
        "workload:Deployment/shop/web1": [
            "workload:Deployment/shop/web1",
            "sa:shop/deployer",
            "goal:secrets",
        ],
        "workload:Deployment/shop/web2": [
            "workload:Deployment/shop/web2",
            "sa:shop/deployer",
            "goal:secrets",
        ],
    }
    assert found.choke is not None
    [point] = found.choke.points
    assert (str(point.key[0]), point.key[1]) == ("ClusterRoleBinding readers", "/subjects/0")
    assert point.rules == ("rbac.secrets-read",)
    assert (point.paths_cut, point.holds) == (2, 2)
    assert (found.choke.cut, found.choke.paths, found.choke.uncuttable) == (2, 2, ())


# -- ways out of a container --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "container", "escapes"),
    [
        ({}, {"securityContext": {"privileged": True}}, ["pod.privileged"]),
        ({}, {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}, ["pod.dangerous-capabilities"]),
        (
            {},
            {"securityContext": {"capabilities": {"add": ["CAP_SYS_MODULE"]}}},
            ["pod.dangerous-capabilities"],
        ),
        ({}, {"securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}, []),
        ({}, {"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}, []),
        (
            {"hostPID": True},
            {"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}},
            ["pod.dangerous-capabilities", "pod.host-namespaces"],
        ),
        ({"hostPID": True, "hostIPC": True}, {}, []),
        ({"hostUsers": False}, {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}, []),
        (
            {"hostUsers": False, "hostPID": True},
            {"securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}},
            [],
        ),
        (
            {"hostPID": True},
            {"securityContext": {"capabilities": {"add": ["SYS_PTRACE", "SYS_ADMIN"]}}},
            ["pod.dangerous-capabilities", "pod.dangerous-capabilities", "pod.host-namespaces"],
        ),
        ({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}, {}, ["pod.sensitive-mount"]),
        ({"volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}]}, {}, []),
    ],
)
def test_ways_out_onto_the_node(spec: Doc, container: Doc, escapes: list[str]) -> None:
    pod = workload("app", container=container, automountServiceAccountToken=False, **spec)
    found = analyse(namespace(), pod, service("app", kind="NodePort"), deny("Egress"))
    steps = found.graph.steps.get(("workload:Deployment/shop/app", "node:worker"), [])
    assert sorted(e.rule or "" for step in steps for e in step.evidence) == escapes


def test_a_pod_that_tolerates_the_control_plane_taint_lands_there_too() -> None:
    pod = workload(
        "agent",
        kind="DaemonSet",
        container={"securityContext": {"privileged": True}},
        tolerations=[{"operator": "Exists"}],
        automountServiceAccountToken=False,
    )
    found = analyse(namespace(), pod, service("agent", kind="NodePort"), deny("Egress"))
    agent = "workload:DaemonSet/shop/agent"
    assert routes(found, "cluster-admin") == {agent: [agent, "node:control-plane", "goal:cluster-admin"]}
    [step] = found.graph.steps[(agent, "node:control-plane")]
    assert [e.rule for e in step.evidence] == ["pod.privileged", "exposure.workload-on-control-plane"]
    assert [e.rule for e in found.graph.steps[(agent, "node:worker")][0].evidence] == ["pod.privileged"]


def test_workloads_on_manifests_share_the_nodes_their_selectors_allow() -> None:
    escaping = workload(
        "escape",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
        nodeSelector={"pool": "a"},
    )
    found = analyse(
        namespace(),
        escaping,
        service("escape", kind="NodePort"),
        workload("same", account="admin", nodeSelector={"pool": "a"}),
        workload("other", account="admin2", nodeSelector={"pool": "b"}),
        workload("free", automountServiceAccountToken=False),
        service_account("admin"),
        service_account("admin2"),
        deny("Egress"),
    )
    spot = "node:worker[pool=a]"
    assert found.graph.vertices[spot].label == "a worker node labelled pool=a"
    # The escape lands on a node labelled as the pod selects; that node may run the pods that select
    # the same labels (or none), not those pinned elsewhere.
    assert ("workload:Deployment/shop/escape", spot) in found.graph.steps
    steps = found.graph.steps
    assert (spot, "workloads:worker[pool=a]") in steps
    assert (spot, "workloads:worker[pool=b]") not in steps
    assert ("workloads:worker[pool=a]", "workload:Deployment/shop/same") in steps
    assert ("workloads:worker[pool=a]", "sa:shop/admin") in steps
    assert ("workloads:worker[pool=b]", "sa:shop/admin2") in steps
    assert {t for s, t in steps if s == spot} == {
        "workloads:worker[pool=a]",
        "workloads:worker",
        "goal:cloud",
    }
    # A worker node whose labels nobody pins may be labelled anything: it may run every group.
    assert {t for s, t in steps if s == "node:worker"} == {
        "workloads:worker",
        "workloads:worker[pool=a]",
        "workloads:worker[pool=b]",
        "goal:cloud",
    }


# -- RBAC ---------------------------------------------------------------------------------------------


def test_pod_security_keeps_privileged_pods_out_but_not_the_namespace_service_accounts() -> None:
    found = analyse(
        namespace(**{"pod-security.kubernetes.io/enforce": "restricted"}),
        workload(account="web"),
        ingress(),
        creator(),
        service_account("admin"),
        binding("admin", "ClusterRole", "cluster-admin", sa("shop", "admin")),
        deny("Egress"),
    )
    assert ("newpod:shop", ANY_NODE) not in found.graph.steps
    assert routes(found, "node") == {
        WEB: [WEB, "sa:shop/web", "newpod:shop", "sa:shop/admin", "goal:cluster-admin", ANY_NODE]
    }


def test_a_baseline_namespace_refuses_privileged_pods_and_an_unlabelled_one_admits_them() -> None:
    baseline = analyse(
        namespace(**{"pod-security.kubernetes.io/enforce": "baseline"}),
        workload(account="web"),
        ingress(),
        creator(),
    )
    assert ("newpod:shop", ANY_NODE) not in baseline.graph.steps
    unlabelled = analyse(namespace(), workload(account="web"), ingress(), creator())
    [step] = unlabelled.graph.steps[("newpod:shop", ANY_NODE)]
    assert [(e.rule, e.path) for e in step.evidence] == [("admission.pod-security", "/metadata/labels")]


def test_pod_security_findings_are_read_by_their_namespace_not_their_wording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """paths asks admission.pod-security which namespaces admit privileged pods by the findings' object
    (the Namespace), so that rewording the message changes nothing; a level decided by the PodSecurity
    configuration's default is a fact on the configuration (one fix), and the finding the Namespace's."""
    monkeypatch.setattr(admission_rules, "_message", lambda *_: "reworded")
    unlabelled = analyse(namespace(), workload(account="web"), ingress(), creator())
    [step] = unlabelled.graph.steps[("newpod:shop", ANY_NODE)]
    assert [(e.rule, e.object and e.object.kind, e.path, e.text) for e in step.evidence] == [
        ("admission.pod-security", "Namespace", "/metadata/labels", "reworded")
    ]
    baseline = analyse(
        namespace(**{"pod-security.kubernetes.io/enforce": "baseline"}),
        workload(account="web"),
        ingress(),
        creator(),
    )
    assert ("newpod:shop", ANY_NODE) not in baseline.graph.steps
    config: Doc = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [
            {
                "name": "PodSecurity",
                "configuration": {
                    "apiVersion": "pod-security.admission.config.k8s.io/v1",
                    "kind": "PodSecurityConfiguration",
                    "defaults": {"enforce": "privileged"},
                },
            }
        ],
    }
    defaulted = analyse(namespace(), config, workload(account="web"), ingress(), creator())
    [step] = defaulted.graph.steps[("newpod:shop", ANY_NODE)]
    [fact] = step.evidence
    assert (fact.object and fact.object.kind, fact.path) == (
        "AdmissionConfiguration",
        "/plugins/0/configuration/defaults",
    )
    assert [(rule, obj.kind, obj.name, path) for rule, obj, path in fact.counted] == [
        ("admission.pod-security", "Namespace", "shop", "/plugins/0/configuration/defaults")
    ]


def test_a_token_not_mounted_is_no_step() -> None:
    found = analyse(
        namespace(), workload(account="web", automountServiceAccountToken=False), ingress(), creator()
    )
    assert (WEB, "sa:shop/web") not in found.graph.steps
    assert routes(found, "node") == {}


def test_a_projected_token_is_a_token_even_without_automount() -> None:
    projected = {"projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
    pod = workload(account="web", automountServiceAccountToken=False, volumes=[{"name": "t", **projected}])
    found = analyse(namespace(), pod, ingress(), creator(), deny("Egress"))
    [step] = found.graph.steps[(WEB, "sa:shop/web")]
    assert step.evidence[0].path == "/spec/template/spec/volumes/0/projected/sources/0/serviceAccountToken"


def test_reading_a_token_secret_gives_its_service_account() -> None:
    secret: Doc = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {
            "name": "admin-token",
            "namespace": "shop",
            "annotations": {"kubernetes.io/service-account.name": "admin"},
        },
    }
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        role("shop", "reader", rule("", "secrets", "get", names="admin-token")),
        binding("reader", "Role", "reader", sa("shop", "web"), namespace="shop"),
        service_account("admin"),
        binding("admin", "ClusterRole", "cluster-admin", sa("shop", "admin")),
        secret,
        deny("Egress"),
    )
    assert routes(found, "cluster-admin") == {
        WEB: [WEB, "sa:shop/web", "sa:shop/admin", "goal:cluster-admin"]
    }
    [step] = found.graph.steps[("sa:shop/web", "sa:shop/admin")]
    assert [e.rule for e in step.evidence] == ["rbac.secrets-read", None]
    assert str(step.evidence[1].object) == "Secret shop/admin-token"


@pytest.mark.parametrize(
    ("rules", "cluster_admin"),
    [
        ([rule("", "groups", "impersonate")], True),
        ([rule("", "groups", "impersonate", names="developers")], False),
        ([rule("rbac.authorization.k8s.io", "clusterroles", "bind")], False),
        (
            [
                rule("rbac.authorization.k8s.io", "clusterroles", "bind", names="cluster-admin"),
                rule("rbac.authorization.k8s.io", "clusterrolebindings", "create"),
            ],
            True,
        ),
        (
            [
                rule("rbac.authorization.k8s.io", "clusterroles", "escalate"),
                rule("rbac.authorization.k8s.io", "clusterroles", "update"),
            ],
            True,
        ),
        ([rule("rbac.authorization.k8s.io", "clusterrolebindings", "create")], False),
        (
            [
                rule("certificates.k8s.io", "certificatesigningrequests", "create"),
                rule("certificates.k8s.io", "certificatesigningrequests/approval", "update"),
                rule(
                    "certificates.k8s.io", "signers", "approve", names="kubernetes.io/kube-apiserver-client"
                ),
            ],
            True,
        ),
        ([rule("certificates.k8s.io", "certificatesigningrequests/approval", "update")], False),
    ],
)
def test_escalation_to_cluster_admin(rules: list[Doc], cluster_admin: bool) -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role("power", *rules),
        binding("power", "ClusterRole", "power", sa("shop", "web")),
        deny("Egress"),
    )
    expected = {WEB: [WEB, "sa:shop/web", "goal:cluster-admin"]} if cluster_admin else {}
    assert routes(found, "cluster-admin") == expected


def test_impersonating_a_user_who_is_cluster_admin() -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role("as-alice", rule("", "users", "impersonate", names="alice")),
        binding("as-alice", "ClusterRole", "as-alice", sa("shop", "web")),
        binding("alice", "ClusterRole", "cluster-admin", {"kind": "User", "name": "alice"}),
        deny("Egress"),
    )
    assert routes(found, "cluster-admin") == {WEB: [WEB, "sa:shop/web", "goal:cluster-admin"]}
    assert summaries(found, "sa:shop/web", "goal:cluster-admin") == [
        "impersonates user 'alice', who is cluster-admin"
    ]


def test_a_grant_to_every_service_account_is_held_by_each() -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role("lister", rule("", "secrets", "list")),
        binding("everyone", "ClusterRole", "lister", group("system:serviceaccounts")),
        deny("Egress"),
    )
    assert routes(found, "secrets") == {WEB: [WEB, "sa:shop/web", "goal:secrets"]}


def test_nodes_proxy_reaches_the_pods_of_every_node_through_the_kubelet() -> None:
    privileged = workload(
        "agent",
        kind="DaemonSet",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
    )
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role("proxy", rule("", "nodes/proxy", "create")),
        binding("proxy", "ClusterRole", "proxy", sa("shop", "web")),
        privileged,
        deny("Egress"),
        deny("Ingress"),
    )
    agent = "workload:DaemonSet/shop/agent"
    assert routes(found, "node") == {WEB: [WEB, "sa:shop/web", "kubelet:*", agent, "node:worker"]}


def test_exec_reaches_the_pods_of_its_namespace_only() -> None:
    privileged = workload(
        "agent", container={"securityContext": {"privileged": True}}, automountServiceAccountToken=False
    )
    elsewhere = workload(
        "agent",
        "ops",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
    )
    found = analyse(
        namespace(),
        namespace("ops"),
        workload(account="web"),
        ingress(),
        service_account("web"),
        role("shop", "exec", rule("", "pods/exec", "create")),
        binding("exec", "Role", "exec", sa("shop", "web"), namespace="shop"),
        privileged,
        elsewhere,
        deny("Egress"),
        deny("Ingress", "ops"),
        deny("Egress", "ops"),
    )
    steps = found.graph.steps
    assert ("sa:shop/web", "exec:shop") in steps
    assert ("exec:shop", "workload:Deployment/shop/agent") in steps
    assert ("exec:shop", "workload:Deployment/ops/agent") not in steps
    assert routes(found, "node") == {
        WEB: [WEB, "sa:shop/web", "exec:shop", "workload:Deployment/shop/agent", "node:worker"]
    }


# -- the network --------------------------------------------------------------------------------------


def _lateral(*extra: Doc) -> list[Doc]:
    return [
        namespace(),
        namespace("tools"),
        workload(automountServiceAccountToken=False),
        *ingress(),
        workload(
            "priv",
            "tools",
            container={"securityContext": {"privileged": True}},
            automountServiceAccountToken=False,
        ),
        workload("plain", "tools", automountServiceAccountToken=False),
        deny("Egress", "tools"),
        *extra,
    ]


def test_a_pod_that_escapes_is_reached_over_the_pod_network() -> None:
    found = analyse(*_lateral())
    priv = "workload:Deployment/tools/priv"
    assert routes(found, "node") == {WEB: [WEB, "network:*", priv, "node:worker"]}
    [out] = found.graph.steps[(WEB, "network:*")]
    [into] = found.graph.steps[("network:*", priv)]
    assert [(e.rule, str(e.object), e.aspect) for e in (*out.evidence, *into.evidence)] == [
        ("netpol.egress-open", "Namespace shop", "Egress"),
        ("netpol.ingress-open", "Namespace tools", "Ingress"),
    ]
    # A workload whose compromise gives nothing but its network position is no target.
    assert ("network:*", "workload:Deployment/tools/plain") not in found.graph.steps
    assert routes(analyse(*_lateral(), lateral=False), "node") == {}


def test_a_restricted_egress_reaches_only_what_its_rules_allow() -> None:
    to_tools = policy(
        "to-tools",
        policyTypes=["Egress"],
        egress=[{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tools"}}}]}],
    )
    found = analyse(*_lateral(deny("Egress"), to_tools))
    priv = "workload:Deployment/tools/priv"
    assert routes(found, "node") == {WEB: [WEB, priv, "node:worker"]}
    [step] = found.graph.steps[(WEB, priv)]
    assert [(e.rule, str(e.object), e.path) for e in step.evidence] == [
        (None, "NetworkPolicy shop/to-tools", "/spec/egress/0/to/0"),
        ("netpol.ingress-open", "Namespace tools", None),
    ]
    only_web = policy(
        "to-web", policyTypes=["Egress"], egress=[{"to": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]
    )
    assert routes(analyse(*_lateral(deny("Egress"), only_web)), "node") == {}


def test_a_default_deny_ingress_policy_removes_the_lateral_step() -> None:
    found = analyse(*_lateral(deny("Ingress", "tools")))
    assert routes(found, "node") == {}


def test_a_rule_that_admits_the_namespace_keeps_it_and_names_itself() -> None:
    allow = policy(
        "from-shop",
        "tools",
        podSelector={"matchLabels": {"app": "priv"}},
        policyTypes=["Ingress"],
        ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}}]}],
    )
    found = analyse(*_lateral(deny("Ingress", "tools"), allow))
    priv = "workload:Deployment/tools/priv"
    [step] = found.graph.steps[(WEB, priv)]
    ingress_fact = step.evidence[1]
    assert (ingress_fact.rule, str(ingress_fact.object), ingress_fact.path) == (
        None,
        "NetworkPolicy tools/from-shop",
        "/spec/ingress/0/from/0",
    )
    assert ingress_fact.fix is not None
    assert ingress_fact.fix.startswith("narrow ingress rule 0")


def _dashboard(*args: str, token: bool = True) -> list[Doc]:
    dashboard = workload(
        "kubernetes-dashboard",
        "kube-system",
        account="kubernetes-dashboard",
        container={"image": "kubernetesui/dashboard:v2.7.0", "args": list(args)},
        automountServiceAccountToken=token,
    )
    return [
        namespace(),
        workload(automountServiceAccountToken=False),
        *ingress(),
        dashboard,
        service_account("kubernetes-dashboard", "kube-system"),
        binding("dashboard", "ClusterRole", "cluster-admin", sa("kube-system", "kubernetes-dashboard")),
    ]


def test_the_dashboards_skip_login_hands_over_its_service_account() -> None:
    found = analyse(*_dashboard("--enable-skip-login"), lateral=False)
    account = "sa:kube-system/kubernetes-dashboard"
    assert routes(found, "cluster-admin") == {WEB: [WEB, account, "goal:cluster-admin"]}
    [step] = found.graph.steps[(WEB, account)]
    assert [(e.rule, e.path) for e in step.evidence[:2]] == [
        ("netpol.dashboard", "/spec/template/spec/containers/0/args/0"),
        (None, "/spec/template/spec/automountServiceAccountToken"),
    ]
    assert routes(analyse(*_dashboard(), lateral=False), "cluster-admin") == {}
    # Without its token, the Dashboard signs nobody in as anything.
    assert (
        routes(analyse(*_dashboard("--enable-skip-login", token=False), lateral=False), "cluster-admin") == {}
    )


def test_tiller_runs_charts_for_every_pod_that_reaches_it() -> None:
    tiller = workload(
        "tiller-deploy",
        "kube-system",
        account="tiller",
        container={"image": "gcr.io/kubernetes-helm/tiller:v2.16.12"},
    )
    found = analyse(
        namespace(),
        workload(automountServiceAccountToken=False),
        ingress(),
        tiller,
        service_account("tiller", "kube-system"),
        binding("tiller", "ClusterRole", "cluster-admin", sa("kube-system", "tiller")),
        lateral=False,
    )
    assert routes(found, "cluster-admin") == {WEB: [WEB, "sa:kube-system/tiller", "goal:cluster-admin"]}


# -- entry points and limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exposure", "exposed"),
    [
        (ingress, True),
        (lambda: [service(kind="LoadBalancer")], True),
        (lambda: [service(kind="NodePort")], True),
        (lambda: [service()], False),
        (lambda: [{**service(), "spec": {**service()["spec"], "externalIPs": ["203.0.113.7"]}}], True),
    ],
)
def test_entry_points_by_service(exposure: Callable[[], list[Doc]], exposed: bool) -> None:
    found = analyse(namespace(), workload(automountServiceAccountToken=False), exposure())
    assert (WEB in found.graph.entries) is exposed


def test_host_port_and_host_network_are_entry_points() -> None:
    port = workload("port", container={"ports": [{"containerPort": 80, "hostPort": 8080}]})
    host = workload("host", hostNetwork=True)
    found = analyse(namespace(), port, host)
    assert sorted(found.graph.entries) == ["workload:Deployment/shop/host", "workload:Deployment/shop/port"]


def test_from_names_workloads_and_refuses_what_matches_nothing() -> None:
    docs = (namespace(), workload(account="web"), creator(), deny("Egress"))
    found = analyse(*docs, sources=["shop/web"])
    assert list(found.graph.entries) == [WEB]
    assert routes(found, "node") == {WEB: [WEB, "sa:shop/web", "newpod:shop", ANY_NODE]}
    assert list(analyse(*docs, sources=["shop/deployment/web"]).graph.entries) == [WEB]
    assert list(analyse(*docs, sources=["any"]).graph.entries) == [WEB]
    with pytest.raises(UsageError, match="no workload matches"):
        analyse(*docs, sources=["shop/nothing"])
    with pytest.raises(UsageError, match="expected NAMESPACE/NAME"):
        analyse(*docs, sources=["web"])
    with pytest.raises(UsageError, match="unknown goal"):
        analyse(*docs, goals=["root"])


def test_max_length_keeps_shorter_paths_only() -> None:
    docs = (namespace(), workload(account="web"), ingress(), creator(), deny("Egress"))
    assert routes(analyse(*docs, max_length=3), "node") == {
        WEB: [WEB, "sa:shop/web", "newpod:shop", ANY_NODE]
    }
    assert routes(analyse(*docs, max_length=2), "node") == {}


# -- more RBAC steps, through the hubs that keep the graph small --------------------------------------------


def test_token_requests_and_impersonation_reach_every_service_account_of_the_namespace() -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        service_account("admin"),
        binding("admin", "ClusterRole", "cluster-admin", sa("shop", "admin")),
        role("shop", "tokens", rule("", "serviceaccounts/token", "create")),
        binding("tokens", "Role", "tokens", sa("shop", "web"), namespace="shop"),
        deny("Egress"),
    )
    assert routes(found, "cluster-admin") == {
        WEB: [WEB, "sa:shop/web", "tokens:shop", "sa:shop/admin", "goal:cluster-admin"]
    }
    assert summaries(found, "sa:shop/web", "tokens:shop") == [
        "requests a token for a token of any ServiceAccount of namespace shop"
    ]


def test_creating_a_token_secret_and_reading_it_back() -> None:
    def docs(*verbs: str) -> list[Doc]:
        return [
            namespace(),
            workload(account="web"),
            *ingress(),
            service_account("web"),
            service_account("admin"),
            binding("admin", "ClusterRole", "cluster-admin", sa("shop", "admin")),
            role("shop", "secrets", *(rule("", "secrets", verb) for verb in verbs)),
            binding("secrets", "Role", "secrets", sa("shop", "web"), namespace="shop"),
            deny("Egress"),
        ]

    both = analyse(*docs("create", "get"))
    [step] = both.graph.steps[("sa:shop/web", "tokens:shop")]
    assert [e.rule for e in step.evidence] == [None, "rbac.secrets-read"]
    assert step.evidence[0].fix == "remove create on secrets"
    assert routes(analyse(*docs("get")), "cluster-admin") == {}
    assert routes(analyse(*docs("create")), "cluster-admin") == {}


def test_exec_on_every_pod_of_the_cluster_goes_through_one_vertex() -> None:
    privileged = workload(
        "agent",
        "ops",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
    )
    found = analyse(
        namespace(),
        namespace("ops"),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role("exec", rule("", "pods/exec", "create")),
        binding("exec", "ClusterRole", "exec", sa("shop", "web")),
        privileged,
        deny("Egress"),
        deny("Egress", "ops"),
    )
    agent = "workload:Deployment/ops/agent"
    assert routes(found, "node") == {WEB: [WEB, "sa:shop/web", "exec:*", agent, "node:worker"]}
    assert {t for s, t in found.graph.steps if s == "exec:*"} == {WEB, agent}


def test_a_mutating_webhook_rewrites_the_next_pods_of_every_namespace() -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        cluster_role(
            "hooks", rule("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "create")
        ),
        binding("hooks", "ClusterRole", "hooks", sa("shop", "web")),
        deny("Egress"),
    )
    assert routes(found, "node") == {WEB: [WEB, "sa:shop/web", "admission", "newpod:shop", ANY_NODE]}
    [step] = found.graph.steps[("sa:shop/web", "admission")]
    assert step.evidence[0].rule == "rbac.admission-write"


# -- a cluster: real placement ----------------------------------------------------------------------------


def _running(name: str, node: str, ns: str = "shop", **spec: Any) -> list[Doc]:
    """A Deployment ``name`` with a ReplicaSet and one Pod running on ``node``."""
    deployment = workload(name, ns, **spec)
    deployment["metadata"]["uid"] = f"uid-{name}"
    replicas = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-1",
            "namespace": ns,
            "uid": f"uid-{name}-1",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": name,
                    "uid": f"uid-{name}",
                    "controller": True,
                }
            ],
        },
        "spec": deployment["spec"],
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-1-a",
            "namespace": ns,
            "labels": {"app": name},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{name}-1",
                    "uid": f"uid-{name}-1",
                    "controller": True,
                }
            ],
        },
        "spec": {**deployment["spec"]["template"]["spec"], "nodeName": node},
    }
    return [deployment, replicas, pod]


def _nodes() -> list[Doc]:
    control_plane = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "cp1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
    }
    workers = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {"pool": n}}}
        for n in ("n1", "n2")
    ]
    return [control_plane, *workers]


def test_on_a_cluster_an_escape_lands_on_the_node_the_pod_runs_on() -> None:
    found = analyse(
        namespace(),
        *_nodes(),
        *_running(
            "priv",
            "n1",
            container={"securityContext": {"privileged": True}},
            automountServiceAccountToken=False,
        ),
        service("priv", kind="NodePort"),
        *_running("admin", "n1", account="admin", automountServiceAccountToken=False),
        *_running("other", "n2", account="other"),
        service_account("admin"),
        service_account("other"),
        binding("admin", "ClusterRole", "cluster-admin", sa("shop", "admin")),
        deny("Egress"),
    )
    priv = "workload:Deployment/shop/priv"
    assert {t for s, t in found.graph.steps if s == priv} == {"node:n1"}
    # The kubelet's credentials get the admin ServiceAccount's token, mounted or not: it runs on n1.
    assert routes(found, "cluster-admin") == {priv: [priv, "node:n1", "sa:shop/admin", "goal:cluster-admin"]}
    [step] = found.graph.steps[("node:n1", "sa:shop/admin")]
    assert [(str(e.object), e.path) for e in step.evidence] == [("Pod shop/admin-1-a", "/spec/nodeName")]
    assert ("node:n1", "sa:shop/other") not in found.graph.steps


def test_on_a_cluster_a_workload_without_pods_lands_where_it_can_be_scheduled() -> None:
    pending = workload(
        "pending",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
        nodeSelector={"pool": "n2"},
    )
    found = analyse(namespace(), *_nodes(), pending, service("pending", kind="NodePort"), deny("Egress"))
    assert {t for s, t in found.graph.steps if s == "workload:Deployment/shop/pending"} == {"node:n2"}
    tolerant = workload(
        "tolerant",
        container={"securityContext": {"privileged": True}},
        automountServiceAccountToken=False,
        tolerations=[
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
        ],
    )
    found = analyse(namespace(), *_nodes(), tolerant, service("tolerant", kind="NodePort"), deny("Egress"))
    assert {t for s, t in found.graph.steps if s == "workload:Deployment/shop/tolerant"} == {
        "node:cp1",
        "node:n1",
        "node:n2",
    }
    [step] = found.graph.steps[("workload:Deployment/shop/tolerant", "node:cp1")]
    assert [e.rule for e in step.evidence] == ["pod.privileged", "exposure.workload-on-control-plane"]


@pytest.mark.parametrize(("names", "admin"), [("", True), ("edit", True), ("view", False)])
def test_binding_roles_in_one_namespace_makes_its_admin_when_the_role_creates_pods(
    names: str, admin: bool
) -> None:
    found = analyse(
        namespace(),
        workload(account="web"),
        ingress(),
        service_account("web"),
        role(
            "shop",
            "binder",
            rule("rbac.authorization.k8s.io", "clusterroles", "bind", names=names),
            rule("rbac.authorization.k8s.io", "rolebindings", "create"),
        ),
        binding("binder", "Role", "binder", sa("shop", "web"), namespace="shop"),
        deny("Egress"),
    )
    expected = {WEB: [WEB, "sa:shop/web", "newpod:shop", ANY_NODE]} if admin else {}
    assert routes(found, "node") == expected
