"""Network rules (netpol.*, exposure.metadata-api, exposure.nodeport): which object, field and severity."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from conftest import findings, scan_text
from kharden.model import Finding, Severity, Suppression
from kharden.rules import select
from kharden.scan import evaluate
from kharden.sources.documents import Collected
from netdocs import Doc, deployment, namespace, policy


def egress(*rules: Doc) -> Doc:
    return policy(name="egress", policyTypes=["Egress"], egress=list(rules))


def to_block(cidr: str, *excepts: str, ports: list[Doc] | None = None) -> Doc:
    block: Doc = {"cidr": cidr}
    if excepts:
        block["except"] = list(excepts)
    rule: Doc = {"to": [{"ipBlock": block}]}
    if ports is not None:
        rule["ports"] = ports
    return rule


def service(selector: Doc | None = None, target: Any = 8080, kind: str = "NodePort") -> Doc:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": kind, "selector": selector if selector is not None else {"app": "web"},
                 "ports": [{"port": 80, "targetPort": target, "nodePort": 30080}]},
    }  # fmt: skip


def where(found: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f"{f.object.kind}/{f.object.name}", f.location.path, f.severity.label) for f in found]


LABELS = "/spec/template/metadata/labels"
HOST_NETWORK = "/spec/template/spec/hostNetwork"
DENY_ALL = policy(name="deny-all", policyTypes=["Ingress", "Egress"])
DNS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
DENY_INGRESS = policy(name="deny-ingress", policyTypes=["Ingress"])

OPEN_CASES = [
    # ingress-open
    pytest.param("netpol.ingress-open", [namespace(), deployment()], [("Deployment/web", LABELS, "high")], id="ingress-no-policy-with-namespace"),
    pytest.param("netpol.ingress-open", [namespace(), deployment(), deployment(name="api")], [("Deployment/web", LABELS, "high"), ("Deployment/api", LABELS, "high")], id="ingress-no-policy-each-workload"),
    pytest.param("netpol.ingress-open", [deployment(), DENY_INGRESS], [], id="ingress-default-deny"),
    pytest.param("netpol.ingress-open", [deployment(), DENY_INGRESS, policy(ingress=[{"from": [{"namespaceSelector": {}}]}])],
                 [("Deployment/web", "/spec/ingress/0/from/0", "high")], id="ingress-every-namespace"),
    pytest.param("netpol.ingress-open", [deployment(), policy(ingress=[{"from": [{"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}}]}])],
                 [("Deployment/web", "/spec/ingress/0/from/0", "high")], id="ingress-name-label-exists-is-every-namespace"),
    pytest.param("netpol.ingress-open", [deployment(), policy(ingress=[{"ports": [{"port": 8080}]}])],
                 [("Deployment/web", "/spec/ingress/0", "high")], id="ingress-rule-without-from"),
    pytest.param("netpol.ingress-open", [deployment(), policy(ingress=[{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "prometheus"}}}]}])],
                 [], id="ingress-every-namespace-but-some-pods"),
    pytest.param("netpol.ingress-open", [deployment(), policy(ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]}])],
                 [], id="ingress-some-namespaces"),
    pytest.param("netpol.ingress-open", [deployment(), DENY_INGRESS, policy(podSelector={"matchLabels": {"app": "gone"}}, ingress=[{}])],
                 [], id="ingress-rule-of-a-policy-selecting-nothing"),
    pytest.param("netpol.ingress-open", [deployment(), DENY_INGRESS, deployment(name="agent", host_network=True)],
                 [("Deployment/agent", HOST_NETWORK, "high")], id="ingress-host-network-is-uncovered"),
    # egress-open
    pytest.param("netpol.egress-open", [namespace(), deployment()], [("Deployment/web", LABELS, "medium")], id="egress-no-policy"),
    pytest.param("netpol.egress-open", [deployment(), DENY_INGRESS], [("Deployment/web", LABELS, "medium")], id="egress-ingress-policy-only"),
    pytest.param("netpol.egress-open", [deployment(), egress({})], [("Deployment/web", "/spec/egress/0", "medium")], id="egress-rule-without-to"),
    pytest.param("netpol.egress-open", [deployment(), egress({"to": [{"namespaceSelector": {}}], "ports": [{"port": 9090}]})],
                 [("Deployment/web", "/spec/egress/0/to/0", "medium")], id="egress-every-namespace"),
    pytest.param("netpol.egress-open", [deployment(), egress({"to": [{"podSelector": {}}]}, to_block("0.0.0.0/0"))], [], id="egress-own-namespace-and-addresses"),
]  # fmt: skip

EXTERNAL_CASES = [
    # internet-egress
    pytest.param("netpol.internet-egress", [deployment()], [("Deployment/web", LABELS, "medium")], id="internet-no-policy"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("0.0.0.0/0", "10.0.0.0/8", ports=[{"port": 443}]))],
                 [("Deployment/web", "/spec/egress/0/to/0", "medium")], id="internet-https"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("::/0"))], [("Deployment/web", "/spec/egress/0/to/0", "medium")], id="internet-ipv6"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("10.0.0.0/8"), to_block("fd00::/8"), to_block("100.64.0.0/10"))], [], id="internet-private-ranges"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("0.0.0.0/0", ports=[{"port": "http"}]))], [], id="internet-named-port-matches-no-address"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1"))], [], id="internet-everything-excepted"),
    pytest.param("netpol.internet-egress", [deployment(), egress({"to": [{"namespaceSelector": {}}]})], [], id="internet-pods-only"),
    # DNS only (port 53, no 'to' or any address): not open egress; DNS to any address is low
    pytest.param("netpol.egress-open", [deployment(), egress({"ports": DNS})], [], id="egress-dns-only-is-not-open"),
    pytest.param("netpol.egress-open", [deployment(), egress({"ports": [*DNS, {"port": 443}]})],
                 [("Deployment/web", "/spec/egress/0", "medium")], id="egress-dns-and-https-is-open"),
    pytest.param("netpol.internet-egress", [deployment(), egress({"ports": DNS})],
                 [("Deployment/web", "/spec/egress/0", "low")], id="internet-dns-to-any-address-is-low"),
    pytest.param("netpol.internet-egress", [deployment(), egress(to_block("0.0.0.0/0", ports=DNS))],
                 [("Deployment/web", "/spec/egress/0/to/0", "low")], id="internet-dns-to-every-ipv4-is-low"),
    # metadata-api
    pytest.param("exposure.metadata-api", [namespace(), deployment()], [("Deployment/web", LABELS, "high")], id="metadata-no-policy"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("0.0.0.0/0", "169.254.169.254/32"))], [], id="metadata-excepted"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("0.0.0.0/0", "169.254.0.0/16"))], [], id="metadata-excepted-by-a-wider-range"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("169.254.0.0/16", ports=[{"port": 53, "protocol": "UDP"}]))], [], id="metadata-range-on-another-port"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("0.0.0.0/0", ports=[{"port": 1, "endPort": 1024}]))],
                 [("Deployment/web", "/spec/egress/0/to/0", "high")], id="metadata-port-range"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("169.254.169.254/32", ports=[{"port": 80}]))],
                 [("Deployment/web", "/spec/egress/0/to/0", "high")], id="metadata-address-itself"),
    pytest.param("exposure.metadata-api", [deployment(), egress(to_block("fd00::/8"))], [("Deployment/web", "/spec/egress/0/to/0", "high")], id="metadata-ipv6"),
    pytest.param("exposure.metadata-api", [deployment(), egress({"ports": [{"port": 80}]})], [("Deployment/web", "/spec/egress/0", "high")], id="metadata-rule-without-to"),
    pytest.param("exposure.metadata-api", [deployment(), egress({"to": [{"namespaceSelector": {}}]})], [], id="metadata-pods-only"),
]  # fmt: skip

SELECTS_NOTHING_CASES = [
    pytest.param([deployment(), policy(podSelector={"matchLabels": {"app": "gone"}})], [("NetworkPolicy/p", "/spec/podSelector", "low")], id="renamed-app"),
    pytest.param([deployment(), policy(podSelector={"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]})],
                 [("NetworkPolicy/p", "/spec/podSelector", "low")], id="not-in-the-only-app"),
    pytest.param([deployment(name="agent", host_network=True), policy(podSelector={"matchLabels": {"app": "agent"}})],
                 [("NetworkPolicy/p", "/spec/podSelector", "low")], id="host-network-pods-only"),
    pytest.param([deployment(), policy(podSelector={"matchLabels": {"app": "web"}})], [], id="selects-web"),
    pytest.param([deployment(), policy(ns="payments", podSelector={"matchLabels": {"app": "ledger"}})], [], id="namespace-without-pods-in-the-manifests"),
]  # fmt: skip

NODEPORT_CASES = [
    pytest.param([deployment(), service()], "high", "no NetworkPolicy selects Deployment 'web' for ingress", id="no-policy"),
    pytest.param([deployment(), service(), DENY_INGRESS], "medium", None, id="default-deny"),
    pytest.param([deployment(), service(), policy(ingress=[{"from": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}])], "medium", None, id="sources-restricted"),
    pytest.param([deployment(), service(), policy(ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])], "high",
                 "ingress rule 0 of NetworkPolicy shop/p admits ipBlock 0.0.0.0/0 to Deployment 'web' on 8080/TCP", id="every-ipv4-address"),
    pytest.param([deployment(), service(target="http"), policy(ingress=[{"ports": [{"port": "http"}]}])], "high",
                 "ingress rule 0 of NetworkPolicy shop/p admits every source to Deployment 'web' on 8080/TCP", id="named-target-port"),
    pytest.param([deployment(), service(), policy(ingress=[{"ports": [{"port": 9090}]}])], "medium", None, id="open-on-another-port"),
    pytest.param([deployment(), service(selector={"app": "gone"})], "medium", None, id="selects-no-pod"),
    pytest.param([deployment(host_network=True), service(), DENY_INGRESS], "high", "Deployment 'web' uses hostNetwork, which NetworkPolicies never select", id="host-network-backend"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "docs", "expected"), OPEN_CASES + EXTERNAL_CASES)
def test_network_rules(rule: str, docs: list[Doc], expected: list[tuple[str, str, str]]) -> None:
    assert where(findings(rule, *docs)) == expected


@pytest.mark.parametrize(("docs", "expected"), SELECTS_NOTHING_CASES)
def test_selects_nothing(docs: list[Doc], expected: list[tuple[str, str, str]]) -> None:
    assert where(findings("netpol.selects-nothing", *docs)) == expected


def test_selects_nothing_judges_every_namespace_of_a_cluster() -> None:
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all([policy(ns="payments", podSelector={})]).encode(), "cluster.yaml")
    collected.evidence.add("C")
    report = evaluate(collected, select(["netpol.selects-nothing"]))
    assert [(f.object.name, f.message) for f in report.findings] == [
        ("p", "podSelector {} matches no pod of namespace 'payments'")
    ]


@pytest.mark.parametrize(("docs", "severity", "reason"), NODEPORT_CASES)
def test_nodeport(docs: list[Doc], severity: str, reason: str | None) -> None:
    (found,) = findings("exposure.nodeport", *docs)
    assert (found.object.kind, found.object.name, found.location.path) == ("Service", "web", "/spec/type")
    assert found.severity == Severity.parse(severity)
    opened = "the Service opens 30080/TCP on every node (type: NodePort)"
    if reason is None:
        assert found.message == opened
    else:
        assert found.message == f"{opened} and nothing restricts who reaches its pods: {reason}"


def test_other_service_types_are_not_nodeports() -> None:
    assert (
        findings("exposure.nodeport", deployment(), service(kind="LoadBalancer"), service(kind="ClusterIP"))
        == []
    )


def test_messages_name_pods_policy_and_ports() -> None:
    web, api = findings(
        "exposure.metadata-api",
        deployment(),
        deployment(name="api"),
        egress(to_block("0.0.0.0/0", "10.0.0.0/8", ports=[{"port": 80}, {"port": 443}])),
    )
    opens = "reach the metadata API on 80/TCP (ipBlock 0.0.0.0/0 except 10.0.0.0/8 covers 169.254.169.254)"
    assert web.message == f"egress rule 0 of NetworkPolicy shop/egress lets pods of Deployment 'web' {opens}"
    assert api.message == f"egress rule 0 of NetworkPolicy shop/egress lets pods of Deployment 'api' {opens}"
    # Each workload is the finding's object; both point at the rule's peer, the place to change.
    assert [(f.object.name, f.location.file, f.location.line, f.location.column) for f in (web, api)] == [
        ("web", "test.yaml", 53, 7),
        ("api", "test.yaml", 53, 7),
    ]
    assert web.fingerprint != api.fingerprint
    web, agent = findings(
        "netpol.ingress-open", namespace(), deployment(), deployment(name="agent", host_network=True)
    )
    assert web.message == (
        "pods of Deployment 'web' in namespace 'shop' accept ingress from every namespace: no NetworkPolicy"
        " selects them for ingress"
    )
    assert agent.message == (
        "pods of Deployment 'agent' in namespace 'shop' accept ingress from every namespace: they use"
        " hostNetwork, which NetworkPolicies never select"
    )
    (wide,) = findings(
        "netpol.internet-egress", deployment(), egress(to_block("0.0.0.0/0", ports=[{"port": 443}]))
    )
    assert wide.message == (
        "egress rule 0 of NetworkPolicy shop/egress lets pods of Deployment 'web' reach the Internet on 443/TCP"
        " (ipBlock 0.0.0.0/0)"
    )
    assert (wide.location.line, wide.location.column, wide.location.path) == (32, 7, "/spec/egress/0/to/0")


def test_one_finding_per_workload() -> None:
    """Seven workloads no policy covers are seven findings, each on its workload, each its own fingerprint."""
    found = findings("netpol.egress-open", namespace(), *(deployment(name=f"w{i}") for i in range(7)))
    assert [(f.object.name, f.location.path) for f in found] == [(f"w{i}", LABELS) for i in range(7)]
    assert len({f.fingerprint for f in found}) == 7


def test_one_finding_per_workload_and_opening_rule() -> None:
    """A workload two rules open has a finding for each; copies of one policy open it once."""
    two_rules = policy(ingress=[{"ports": [{"port": 8080}]}, {"from": [{"namespaceSelector": {}}]}])
    found = findings("netpol.ingress-open", deployment(), two_rules, two_rules)
    assert sorted(f.message.split(" admits")[0] for f in found) == [
        "ingress rule 0 of NetworkPolicy shop/p",
        "ingress rule 1 of NetworkPolicy shop/p",
    ]
    assert len({f.fingerprint for f in found}) == 2


def test_nodeport_without_a_fixed_node_port() -> None:
    svc = service()
    del svc["spec"]["ports"][0]["nodePort"]
    (found,) = findings("exposure.nodeport", deployment(), svc, DENY_INGRESS)
    assert found.message == "the Service opens a node port for 80/TCP on every node (type: NodePort)"


def test_a_workload_annotation_speaks_for_that_workload_only() -> None:
    """The ignore annotation of web silences web's finding, not debug's; debug's own annotation silences its own."""
    web = deployment()
    web["spec"]["template"]["metadata"]["annotations"] = {
        "kharden.io/ignore": "netpol.ingress-open=fronted by a WAF"
    }
    debug = deployment(name="debug", host_network=True)
    found = findings("netpol.ingress-open", namespace(), web, debug)
    assert [(f.object.name, f.suppressed is not None) for f in found] == [("web", True), ("debug", False)]
    debug["metadata"]["annotations"] = {"kharden.io/ignore": "netpol.ingress-open=node agent"}
    found = findings("netpol.ingress-open", namespace(), web, debug)
    assert [(f.object.name, f.suppressed is not None) for f in found] == [("web", True), ("debug", True)]


def test_a_rule_opened_path_is_the_workloads_finding_on_the_rule() -> None:
    """A rule that lets two workloads through: one finding each, on the rule; the workload's annotation
    silences its own, the policy's annotation silences what its rules open."""
    web = deployment()
    web["spec"]["template"]["metadata"]["annotations"] = {"kharden.io/ignore": "netpol.ingress-open=WAF"}
    wide = policy(name="wide", ingress=[{"from": [{"namespaceSelector": {}}]}])
    found = findings("netpol.ingress-open", web, deployment(name="api"), wide)
    assert sorted((f.object.name, f.location.path, f.suppressed is not None) for f in found) == [
        ("api", "/spec/ingress/0/from/0", False),
        ("web", "/spec/ingress/0/from/0", True),
    ]
    wide["metadata"]["annotations"] = {"kharden.io/ignore": "netpol.*=the mesh authorizes every call"}
    found = findings("netpol.ingress-open", web, deployment(name="api"), wide)
    assert sorted((f.object.name, f.suppressed) for f in found) == [
        ("api", Suppression("annotation", "the mesh authorizes every call")),
        ("web", Suppression("annotation", "WAF")),
    ]


def test_a_baseline_of_one_workload_does_not_cover_another() -> None:
    from kharden.baseline import Baseline  # noqa: PLC0415
    from kharden.suppress import Policy  # noqa: PLC0415

    docs = [namespace(), deployment(), policy(podSelector={"matchLabels": {"app": "web"}}, ingress=[{}])]
    (web,) = findings("netpol.ingress-open", *docs)
    policy_ = Policy(baseline=Baseline("baseline.json", {web.fingerprint: web.severity}))
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all([*docs, deployment(name="api")]).encode(), "test.yaml")
    report = evaluate(collected, select(["netpol.ingress-open"]), policy_)
    assert [(f.object.name, f.suppressed is not None) for f in report.findings] == [
        ("web", True),
        ("api", False),
    ]


KUBE_PROMETHEUS = """\
# kube-prometheus: the operator creates the Alertmanager pods from this custom resource.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: alertmanager-main, namespace: monitoring}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: alertmanager, alertmanager: main}
  policyTypes: [Ingress]
---
apiVersion: monitoring.coreos.com/v1
kind: Alertmanager
metadata: {name: main, namespace: monitoring}
spec: {replicas: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: grafana, namespace: monitoring}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: grafana}
  template:
    metadata:
      labels: {app.kubernetes.io/name: grafana}
    spec:
      containers:
      - {name: grafana, image: grafana/grafana:10.4.2}
"""


def test_selects_nothing_says_which_namespaces_it_could_not_judge() -> None:
    report = scan_text(KUBE_PROMETHEUS, rules=["netpol.selects-nothing"])
    assert report.findings == []
    assert [(n.rule, n.reason) for n in report.not_evaluated] == [
        (
            "netpol.selects-nothing",
            "not evaluated for 1 namespace with custom resources (an operator may create the pods the"
            " policies select; scan the cluster to judge them): monitoring",
        )
    ]
    # from a cluster every pod is in the scan: the policy is judged
    cluster = scan_text(KUBE_PROMETHEUS, rules=["netpol.selects-nothing"], evidence=["C"])
    assert [f.location.path for f in cluster.findings] == ["/spec/podSelector"]
    assert cluster.not_evaluated == []
