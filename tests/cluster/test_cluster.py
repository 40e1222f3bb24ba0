"""``kharden scan --cluster`` end to end: lightkube's client against the test API server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fakeapi import GATEKEEPER, KYVERNO, PSP, TOKEN, Behaviour, Certs, FakeApiServer, certs, write_kubeconfig
from fixture import cluster, kyverno_policy, psp

from kharden.cli import main
from kharden.errors import ClusterError
from kharden.model import Report, Severity
from kharden.scan import ScanOptions, scan
from kharden.sources.cluster import ClusterOptions, Progress, read_cluster
from kharden.sources.documents import Collected

__all__ = ["certs"]  # the fixture, imported for pytest


def _scan(
    server: FakeApiServer, tmp_path: Path, certs: Certs, rules: tuple[str, ...] = (), **options: Any
) -> Report:
    kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
    return scan([], ScanOptions(rules=rules, cluster=ClusterOptions(kubeconfig=str(kubeconfig), **options)))


def _objects(report: Report) -> Counter[str]:
    return report.stats.kinds


def test_reads_every_kind_the_rules_need(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        report = _scan(server, tmp_path, certs)
    kinds = _objects(report)
    assert kinds == {
        "Namespace": 5,
        "Node": 4,
        "Pod": 15,
        "Deployment": 2,
        "ReplicaSet": 3,
        "DaemonSet": 1,
        "StatefulSet": 1,
        "CronJob": 1,
        "Job": 1,
        "Service": 2,
        "Ingress": 1,
        "NetworkPolicy": 1,
        "ServiceAccount": 5,
        "ConfigMap": 3,  # kube-system only; shop's app-settings is not read
        "Secret": 1,
        "Role": 1,
        "RoleBinding": 1,
        "ClusterRole": 1,
        "ClusterRoleBinding": 2,
    }
    assert report.errors == []
    # Nothing left out for want of permission: what is not evaluated lacks other evidence (node files).
    assert not [n for n in report.not_evaluated if "list" in n.reason or "snapshot" in n.reason]
    assert {f.location.file for f in report.findings} == {"cluster kind-test"}


def test_pods_are_reported_once_per_owner(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        report = _scan(server, tmp_path, certs, rules=("pod.privileged", "pod.run-as-root"))
    privileged = sorted(
        (f.object.kind, f.object.namespace, f.object.name, f.location.path)
        for f in report.findings
        if f.rule == "pod.privileged"
    )
    assert privileged == [
        (
            "DaemonSet",
            "kube-system",
            "kube-proxy",
            "/spec/template/spec/containers/0/securityContext/privileged",
        ),
        ("Pod", "shop", "debug", "/spec/containers/0/securityContext/privileged"),
    ]
    root = sorted((f.object.kind, f.object.name) for f in report.findings if f.rule == "pod.run-as-root")
    # Mirror pods and bare pods on their own; every controlled pod through its topmost owner.
    assert root == [
        ("DaemonSet", "kube-proxy"),
        ("Deployment", "coredns"),
        ("Pod", "debug"),
        ("Pod", "etcd-cp-1"),
        ("Pod", "kube-apiserver-cp-1"),
        ("Pod", "kube-controller-manager-cp-1"),
        ("Pod", "kube-scheduler-cp-1"),
        ("StatefulSet", "db"),
    ]


def test_node_rules_fire_on_the_right_nodes(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        report = _scan(
            server, tmp_path, certs, rules=("exposure.control-plane-schedulable", "exposure.node-public-ip")
        )
    assert sorted((f.rule, f.object.name, f.location.path, f.message) for f in report.findings) == [
        (
            "exposure.control-plane-schedulable",
            "cp-2",
            "/spec/taints",
            "control-plane node 'cp-2' is schedulable for any pod: its taints"
            " (node-role.kubernetes.io/control-plane:PreferNoSchedule) do not keep pods away",
        ),
        (
            "exposure.node-public-ip",
            "worker-1",
            "/status/addresses/1/address",
            "node 'worker-1' has a public address (ExternalIP: 35.180.1.21)",
        ),
    ]


def test_only_gets_are_sent(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(extra=(*KYVERNO, *GATEKEEPER))) as server:
        _scan(server, tmp_path, certs)
    assert server.requests
    assert {r.method for r in server.requests} == {"GET"}
    assert not [r for r in server.requests if "watch" in r.query]
    assert {r.authorization for r in server.requests} == {f"Bearer {TOKEN}"}
    # Reads are discovery, /version, lists and the gets of named ConfigMaps: nothing else.
    for request in server.requests:
        parts = request.path.strip("/").split("/")
        assert request.path in {"/version", "/api", "/apis"} or parts[-1] in {
            "namespaces", "nodes", "serviceaccounts", "services", "configmaps", "secrets", "replicationcontrollers",
            "deployments", "replicasets", "statefulsets", "daemonsets", "cronjobs", "jobs", "networkpolicies",
            "ingresses", "ingressclasses", "clusterroles", "clusterrolebindings", "roles", "rolebindings",
            "validatingwebhookconfigurations", "mutatingwebhookconfigurations", "validatingadmissionpolicies",
            "validatingadmissionpolicybindings", "pods", "clusterpolicies", "policies", "constrainttemplates",
            "k8srequiredlabels", "istio", "linkerd-config", "kube-flannel-cfg",
        }, request.path  # fmt: skip


def test_secrets_are_read_as_metadata_only(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        report = _scan(server, tmp_path, certs)
    secret_requests = [r for r in server.requests if r.path.endswith("/secrets")]
    assert secret_requests
    assert {r.accept for r in secret_requests} == {
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    }
    assert report.stats.kinds["Secret"] == 1


def test_metadata_only_refused_means_no_secret_is_read(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(metadata_only=False)) as server:
        report = _scan(server, tmp_path, certs)
    assert report.stats.kinds["Secret"] == 0
    reader_unread = [r for r in server.requests if r.path.endswith("/secrets")]
    assert len(reader_unread) == 1  # asked once, as metadata only, never again for the data


def test_pagination_follows_continue_tokens(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        report = _scan(server, tmp_path, certs, page_size=3)
    pod_requests = [r for r in server.requests if r.path == "/api/v1/pods"]
    assert len(pod_requests) == 5  # 15 pods, 3 a page
    assert [r.query.get("limit") for r in pod_requests] == [["3"]] * 5
    assert "continue" not in pod_requests[0].query
    assert all("continue" in r.query for r in pod_requests[1:])
    assert report.stats.kinds["Pod"] == 15


def test_an_expired_continue_token_restarts_the_list(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(expire_continue={"/api/v1/pods"})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        report = _scan(server, tmp_path, certs, page_size=5)
    pod_requests = [r for r in server.requests if r.path == "/api/v1/pods"]
    assert ["continue" in r.query for r in pod_requests] == [False, True, False, True, True]
    assert report.stats.kinds["Pod"] == 15


def test_forbidden_lists_make_rules_not_evaluated(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(forbidden={("", "nodes"), ("", "secrets"), ("apps", "daemonsets")})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        report = _scan(server, tmp_path, certs)
    not_evaluated = {n.rule: n.reason for n in report.not_evaluated}
    assert not_evaluated["exposure.control-plane-schedulable"] == "forbidden to list nodes"
    assert not_evaluated["exposure.node-public-ip"] == "forbidden to list nodes"
    assert not_evaluated["pod.privileged"] == "forbidden to list daemonsets.apps"
    assert "rbac.wildcard" not in not_evaluated
    # The objects that could be read are still evaluated: the bare privileged pod, and kube-proxy's
    # pods on their own now that their DaemonSet is unknown.
    privileged = {(f.object.kind, f.object.name) for f in report.findings if f.rule == "pod.privileged"}
    assert ("Pod", "debug") in privileged
    assert ("Pod", "kube-proxy-cp-1") in privileged
    assert report.stats.kinds["Node"] == 0
    assert report.exit_code(Severity.CRITICAL) == 1


def test_forbidden_in_a_namespace(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(forbidden_namespaces={"kube-system"})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        report = _scan(server, tmp_path, certs, namespaces=("shop", "kube-system"))
    not_evaluated = {n.rule: n.reason for n in report.not_evaluated}
    assert "forbidden to list pods in namespace kube-system" in not_evaluated["pod.privileged"]
    assert {f.object.namespace for f in report.findings if f.object.namespace} == {"shop"}


def _read(server: FakeApiServer, tmp_path: Path, certs: Certs, **options: Any) -> Collected:
    kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
    collected = Collected()
    read_cluster(ClusterOptions(kubeconfig=str(kubeconfig), **options), collected)
    return collected


def test_namespaces_limit_namespaced_reads(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        collected = _read(server, tmp_path, certs, namespaces=("shop",))
    namespaced = {r.path for r in server.requests if "/namespaces/" in r.path}
    assert "/api/v1/namespaces/shop/pods" in namespaced
    assert "/apis/apps/v1/namespaces/shop/deployments" in namespaced
    assert not [r for r in server.requests if r.path == "/api/v1/pods"]
    outside = {
        (o.ref.namespace, o.ref.kind) for o in collected.objects if o.ref.namespace not in {None, "shop"}
    }
    assert outside == {("kube-system", "ConfigMap")}  # CNI and kube-proxy settings, read whatever -n says
    assert collected.stats.kinds["Node"] == 4  # cluster-scoped kinds too
    assert collected.cluster is not None
    assert collected.cluster.namespaces == ("shop",)


def test_legacy_discovery_and_older_groups(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(aggregated=False, extra=(PSP, *KYVERNO))
    with FakeApiServer([*cluster(), psp(), kyverno_policy()], certs, behaviour) as server:
        report = _scan(server, tmp_path, certs)
    assert report.stats.kinds["PodSecurityPolicy"] == 1  # from policy/v1beta1, though policy/v1 is preferred
    assert report.stats.kinds["ClusterPolicy"] == 1
    paths = [r.path for r in server.requests]
    assert "/apis/policy/v1beta1" in paths
    assert "/apis/apps/v1" in paths
    assert "/apis/metrics.k8s.io/v1beta1" not in paths  # groups kharden does not read are not asked about


def test_aggregated_discovery_takes_two_requests(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer([*cluster(), kyverno_policy()], certs, Behaviour(extra=KYVERNO)) as server:
        report = _scan(server, tmp_path, certs)
    discovery = [
        r.path
        for r in server.requests
        if r.path in {"/api", "/apis", "/api/v1"} or (r.path.count("/") == 3 and r.path.startswith("/apis/"))
    ]
    assert discovery == ["/api", "/apis"]
    assert report.stats.kinds["ClusterPolicy"] == 1


def test_unavailable_is_retried(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(unavailable={"/apis/apps/v1/deployments": 2})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        report = _scan(server, tmp_path, certs)
    assert len([r for r in server.requests if r.path == "/apis/apps/v1/deployments"]) == 3
    assert report.stats.kinds["Deployment"] == 2


def test_a_list_that_keeps_failing_is_an_input_error(tmp_path: Path, certs: Certs) -> None:
    """A persistent 503 (as opposed to RBAC forbidding the list) is an input error naming the resource;
    its kind is also unread, so the rules that need it are not evaluated on part of the cluster."""
    behaviour = Behaviour(unavailable={"/apis/networking.k8s.io/v1/ingresses": 10})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        collected = _read(server, tmp_path, certs)
    assert collected.stats.kinds["Ingress"] == 0
    assert collected.stats.kinds["Pod"] == 15  # the read went on
    assert collected.cluster is not None
    reason = (
        "could not list ingresses.networking.k8s.io"
        " (503 Service Unavailable: the server is currently unable to handle the request; 4 attempts)"
    )
    assert dict(collected.cluster.unread) == {"Ingress": reason}
    assert [str(e) for e in collected.errors] == [f"cluster kind-test: {reason}"]


def test_cluster_info(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(extra=KYVERNO)) as server:
        collected = _read(server, tmp_path, certs)
    info = collected.cluster
    assert info is not None
    assert (info.context, info.server, info.version) == ("kind-test", server.url, "v1.31.2")
    assert "" in info.api_groups
    assert "kyverno.io" in info.api_groups
    assert collected.evidence == {"C", "M"}


def test_objects_are_trimmed(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        collected = _read(server, tmp_path, certs)
    by_name = {(o.ref.kind, o.ref.name): o.raw for o in collected.objects}
    assert all("managedFields" not in raw["metadata"] for raw in by_name.values())
    secret = by_name[("Secret", "db")]
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": secret["metadata"]}
    assert "czNjcjN0" not in json.dumps([o.raw for o in collected.objects])
    assert by_name[("Pod", "debug")]["metadata"].get("annotations") == {}
    # A pod whose controller was read is a runtime record; a mirror pod and a bare pod are whole.
    web = by_name[("Pod", "web-5d8f7b9c4-m2p7d")]
    assert web["spec"]["nodeName"] == "cp-2"
    assert web["spec"]["containers"] == [
        {
            "name": "web",
            "image": "ghcr.io/example/web:1.4.2",
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        }
    ]
    assert "volumes" not in web["spec"]
    assert not {"uid", "resourceVersion", "creationTimestamp"} & set(web["metadata"])  # no rule reads them
    assert web["status"]["containerStatuses"] == [{"name": "web", "image": "ghcr.io/example/web:1.4.2"}]
    assert by_name[("Pod", "kube-apiserver-cp-1")]["spec"]["containers"][0]["command"][0] == "kube-apiserver"
    assert "securityContext" in by_name[("Pod", "debug")]["spec"]["containers"][0]


def test_bad_credentials_are_one_error(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs, token="wrong")
        with pytest.raises(ClusterError) as error:
            scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(kubeconfig))))
    assert str(error.value) == (
        f"the API server at {server.url} refused the credentials of context 'kind-test' (401 Unauthorized)"
    )


def test_unreachable_cluster_is_one_error(
    tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}", certs)
    code = main(["scan", "--cluster", "--kubeconfig", str(kubeconfig)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"kharden: error: cannot reach the API server at https://127.0.0.1:{port}: ")
    assert err.count("\n") == 1


def test_untrusted_certificate_is_one_error(
    tmp_path: Path, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from fakeapi import make_certs  # noqa: PLC0415

    other = make_certs(tmp_path_factory.mktemp("other-pki"))
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, other)
        with pytest.raises(
            ClusterError, match=r"cannot reach the API server at .*: .*certificate verify failed"
        ):
            scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(kubeconfig))))


def test_timeout_is_one_error(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(delay=1.0)) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        with pytest.raises(ClusterError) as error:
            scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(kubeconfig), timeout=0.2)))
    assert str(error.value) == f"the API server at {server.url} did not answer within 0.2 s (/api)"


def test_progress_is_reported(tmp_path: Path, certs: Certs) -> None:
    seen: list[Progress] = []
    with FakeApiServer(cluster(), certs) as server:
        _scan(server, tmp_path, certs, progress=seen.append)
    assert seen
    last = seen[-1]
    assert last.done == last.requests
    assert last.objects == 51  # every object read, Secrets included (the named ConfigMaps are absent)


def test_cli_scan_cluster(tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(
            ["scan", "--cluster", "--kubeconfig", str(kubeconfig), "-f", "json", "--rule", "exposure.*"]
        )
    out, err = capsys.readouterr()
    assert err == ""  # not a terminal: no progress line
    assert code == 1
    report = json.loads(out)
    assert {(f["rule"], f["object"]["name"]) for f in report["findings"]} >= {
        ("exposure.node-public-ip", "worker-1"),
        ("exposure.control-plane-schedulable", "cp-2"),
    }
    assert report["findings"][0]["location"]["file"] == "cluster kind-test"


def test_cluster_flags_need_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "x.yaml", "--context", "prod"]) == 2
    assert (
        capsys.readouterr().err == "kharden: error: --context, --kubeconfig and --namespace need --cluster\n"
    )
