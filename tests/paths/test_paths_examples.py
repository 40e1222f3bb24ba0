"""The bundled examples: the insecure shop (with its control-plane node) has attack paths, the hardened one none."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES
from kharden.attack_paths import PathsResult, load
from kharden.paths import GOALS
from kharden.scan import ScanOptions

DASHBOARD = "workload:Deployment/kube-system/kubernetes-dashboard"
API = "workload:Deployment/shop/api"
WEB = "workload:Deployment/shop/web"
DEBUG = "workload:Pod/shop/debug"
LOG_AGENT = "workload:DaemonSet/shop/log-agent"


@pytest.fixture(scope="module")
def insecure() -> PathsResult:
    return load([str(EXAMPLES / "insecure")], ScanOptions(node_roots=(str(EXAMPLES / "insecure-node"),)))


def test_the_insecure_shop_is_entered_where_it_is_exposed(insecure: PathsResult) -> None:
    assert insecure.errors == ()
    graph = insecure.analysis.graph
    assert sorted(graph.entries) == sorted([DASHBOARD, API, WEB, DEBUG])
    reasons = {r.text for r in graph.entries[WEB].reasons}
    assert reasons == {"LoadBalancer Service 'web' exposes it", "Ingress 'web' routes to it (Service 'web')"}


def test_every_entry_point_reaches_every_goal(insecure: PathsResult) -> None:
    analysis = insecure.analysis
    reached = {(p.entry, p.goal) for p in analysis.paths}
    assert reached == {(entry, goal) for entry in (DASHBOARD, API, WEB, DEBUG) for goal in GOALS}
    # The shortest: the metadata API and etcd (http on the node's address, nothing in between) in one step.
    lengths = {(p.entry, p.goal): len(p) for p in analysis.paths}
    assert lengths[(WEB, "cloud")] == 1
    assert lengths[(WEB, "etcd")] == 1
    assert lengths[(WEB, "cluster-admin")] == 2


def test_the_steps_the_examples_comments_describe(insecure: PathsResult) -> None:
    steps = insecure.analysis.graph.steps
    # "The API could not read its ConfigMap: so its ServiceAccount became cluster-admin."
    [admin] = steps[("sa:shop/shop-api", "goal:cluster-admin")]
    assert [(e.rule, str(e.object)) for e in admin.evidence] == [
        ("rbac.cluster-admin", "ClusterRoleBinding shop-api-admin")
    ]
    # The log agent is privileged, mounts the Docker socket and tolerates every taint.
    escapes = steps[(LOG_AGENT, "node:control-plane")]
    assert {e.evidence[0].rule for e in escapes} == {"pod.privileged", "pod.sensitive-mount"}
    assert all(e.evidence[-1].rule == "exposure.workload-on-control-plane" for e in escapes)
    # The deployer Role ('*' on core, apps, batch) lets the default ServiceAccount create pods in 'shop'.
    assert [e.evidence[0].rule for e in steps[("sa:shop/default", "newpod:shop")]] == ["rbac.workload-create"]
    # The kubelet answers anyone (--anonymous-auth=true, --authorization-mode=AlwaysAllow in etc/default/kubelet).
    [kubelet] = steps[(WEB, "kubelet:*")]
    assert [e.rule for e in kubelet.evidence] == [
        "exposure.kubelet-auth",
        "exposure.kubelet-auth",
        "netpol.egress-open",
    ]


def test_the_insecure_shops_choke_points(insecure: PathsResult) -> None:
    choke = insecure.analysis.choke
    assert choke is not None
    assert choke.method == "minimum cut"
    assert choke.uncuttable == ()
    assert choke.cut == choke.paths == len(insecure.analysis.paths)
    fixes = {(str(p.key[0]), p.key[1], p.key[2]) for p in choke.points}
    assert fixes == {
        ("Namespace shop", None, "Egress"),
        ("Deployment kube-system/kubernetes-dashboard", None, "Egress"),
        ("Pod shop/debug", "/spec/hostNetwork", ""),
        ("RoleBinding shop/deployer", "/subjects/0", ""),
        # The Dashboard's token: it breaks both its own cluster-admin and the skip-login that hands it over.
        (
            "Deployment kube-system/kubernetes-dashboard",
            "/spec/template/spec/automountServiceAccountToken",
            "",
        ),
        ("ClusterRoleBinding shop-api-admin", "/subjects/0", ""),
    }
    assert str(choke.points[0].key[0]) == "Namespace shop"  # ranked first: it cuts the most paths
    assert all(p.holds > 0 for p in choke.points)  # none is there for nothing


def test_without_the_node_files_there_is_no_etcd_or_kubelet_step() -> None:
    analysis = load([str(EXAMPLES / "insecure")]).analysis
    network = {(s, t) for (s, t), found in analysis.graph.steps.items() for e in found if e.kind == "network"}
    assert not {t for _, t in network} & {"goal:etcd", "kubelet:*"}
    # etcd is still reached, through a control-plane node (a privileged pod can name it).
    assert all("node:control-plane" in p.vertices for p in analysis.paths if p.goal == "etcd")


@pytest.mark.parametrize("sources", [("exposed",), ("any",)])
def test_the_hardened_shop_has_no_path(sources: tuple[str, ...]) -> None:
    found = load([str(EXAMPLES / "hardened")], sources=sources)
    assert found.errors == ()
    assert found.analysis.graph.entries  # web is still behind its Ingress
    assert found.analysis.paths == ()
    assert found.analysis.choke is not None
    assert found.analysis.choke.points == ()
