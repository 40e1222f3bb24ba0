"""exposure.loadbalancer-open, exposure.external-ips and exposure.workload-on-control-plane."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import MINIMAL_POD, as_kind, findings, mutate

Doc = dict[str, Any]
SOURCE_RANGES = "/metadata/annotations/service.beta.kubernetes.io~1load-balancer-source-ranges"


def service(spec: Doc | None = None, annotations: dict[str, str] | None = None) -> Doc:
    doc: Doc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [{"port": 443}],
            **(spec or {}),
        },
    }
    if annotations:
        doc["metadata"]["annotations"] = annotations
    return doc


def paths(rule_id: str, *docs: Doc) -> list[str]:
    return sorted(f.location.path for f in findings(rule_id, *docs))


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        pytest.param(service(), ["/spec/type"], id="no-ranges"),
        pytest.param(service({"loadBalancerSourceRanges": ["203.0.113.0/24"]}), [], id="ranges"),
        pytest.param(service({"loadBalancerSourceRanges": ["203.0.113.0/24", "0.0.0.0/0"]}), ["/spec/loadBalancerSourceRanges/1"], id="ranges-with-ipv4-any"),
        pytest.param(service({"loadBalancerSourceRanges": ["::/0"]}), ["/spec/loadBalancerSourceRanges/0"], id="ipv6-any"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/load-balancer-source-ranges": "10.0.0.0/8, 192.168.0.0/16"}), [], id="annotation"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/load-balancer-source-ranges": "0.0.0.0/0"}), [SOURCE_RANGES], id="annotation-any"),
        pytest.param(
            service({"loadBalancerSourceRanges": ["10.0.0.0/8"]}, {"service.beta.kubernetes.io/load-balancer-source-ranges": "0.0.0.0/0"}),
            [], id="field-wins-over-annotation",
        ),
        pytest.param(service(annotations={"service.beta.kubernetes.io/azure-allowed-ip-ranges": "203.0.113.0/24"}), [], id="azure-ranges"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/azure-allowed-service-tags": "Internet"}), ["/metadata/annotations/service.beta.kubernetes.io~1azure-allowed-service-tags"], id="azure-internet-tag"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}), [], id="aws-internal"),
        pytest.param(service(annotations={"networking.gke.io/load-balancer-type": "Internal"}), [], id="gke-internal"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}), [], id="azure-internal"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"}), [], id="aws-lbc-internal-by-default"),
        pytest.param(
            service(annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external", "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}),
            ["/spec/type"], id="aws-lbc-internet-facing",
        ),
        pytest.param(service({"loadBalancerClass": "service.k8s.aws/nlb"}), [], id="aws-lbc-class"),
        pytest.param(service(annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}), ["/spec/type"], id="aws-in-tree-nlb-is-public"),
        pytest.param(service({"type": "ClusterIP"}), [], id="cluster-ip"),
        pytest.param(service({"type": "NodePort"}), [], id="node-port-is-another-rule"),
    ],
)  # fmt: skip
def test_loadbalancer_open(doc: Doc, expected: list[str]) -> None:
    assert paths("exposure.loadbalancer-open", doc) == expected


def test_loadbalancer_open_messages() -> None:
    assert [f.message for f in findings("exposure.loadbalancer-open", service())] == [
        "the load balancer accepts connections from any address: no loadBalancerSourceRanges and no"
        " source-range annotation"
    ]
    opened = service({"loadBalancerSourceRanges": ["0.0.0.0/0"]})
    assert [f.message for f in findings("exposure.loadbalancer-open", opened)] == [
        "the load balancer accepts connections from any address (0.0.0.0/0)"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"type": "ClusterIP", "externalIPs": ["198.51.100.7", "8.8.8.8"]},
            ["/spec/externalIPs"],
            id="cluster-ip",
        ),
        pytest.param({"externalIPs": ["198.51.100.7"]}, ["/spec/externalIPs"], id="load-balancer"),
        pytest.param({"externalIPs": []}, [], id="empty"),
        pytest.param({}, [], id="none"),
    ],
)
def test_external_ips(spec: Doc, expected: list[str]) -> None:
    assert paths("exposure.external-ips", service(spec)) == expected


def test_external_ips_message() -> None:
    doc = service({"type": "ClusterIP", "externalIPs": ["198.51.100.7", "8.8.8.8"]})
    assert [f.message for f in findings("exposure.external-ips", doc)] == [
        "the Service claims external IPs (externalIPs: 198.51.100.7, 8.8.8.8): traffic from pods and nodes to"
        " them goes to this Service"
    ]


# --- exposure.workload-on-control-plane ------------------------------------------------------------------

SPEC = "/spec/template/spec"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
MASTER = "node-role.kubernetes.io/master"


def daemonset(namespace: str = "monitoring", **spec: Any) -> Doc:
    doc = as_kind(MINIMAL_POD, "DaemonSet")
    doc["metadata"]["namespace"] = namespace
    return mutate(doc, *((f"{SPEC}/{key}", value) for key, value in spec.items()))


def affinity(kind: str, *expressions: Doc) -> Doc:
    if kind == "required":
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]
                }
            }
        }
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {"matchExpressions": list(expressions)}}]}}  # fmt: skip


REQUIRED = f"{SPEC}/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0"
PREFERRED = f"{SPEC}/affinity/nodeAffinity/preferredDuringSchedulingIgnoredDuringExecution/0/preference/matchExpressions/0"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"tolerations": [{"key": CONTROL_PLANE, "effect": "NoSchedule"}]}, [f"{SPEC}/tolerations/0"], id="control-plane-taint"),
        pytest.param({"tolerations": [{"key": MASTER, "operator": "Exists", "effect": "NoSchedule"}]}, [f"{SPEC}/tolerations/0"], id="master-taint"),
        pytest.param({"tolerations": [{"key": MASTER, "operator": "Equal", "value": "true"}]}, [f"{SPEC}/tolerations/0"], id="value-true-of-other-distributions"),
        pytest.param({"tolerations": [{"operator": "Exists"}]}, [f"{SPEC}/tolerations/0"], id="exists-without-key-tolerates-everything"),
        pytest.param({"tolerations": [{"operator": "Exists", "effect": "NoSchedule"}]}, [f"{SPEC}/tolerations/0"], id="exists-without-key-noschedule"),
        pytest.param({"tolerations": [{"operator": "Exists", "effect": "NoExecute"}]}, [], id="exists-without-key-noexecute-only"),
        pytest.param({"tolerations": [{"key": CONTROL_PLANE, "effect": "NoExecute"}]}, [], id="other-effect"),
        pytest.param({"tolerations": [{"key": MASTER, "value": "yes"}]}, [], id="other-value"),
        pytest.param({"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}, [], id="other-key"),
        pytest.param({"nodeSelector": {CONTROL_PLANE: ""}}, [f"{SPEC}/nodeSelector/node-role.kubernetes.io~1control-plane"], id="node-selector"),
        pytest.param({"tolerations": [{"key": CONTROL_PLANE, "effect": "NoSchedule"}, {"key": MASTER, "effect": "NoSchedule"}]},
                     [f"{SPEC}/tolerations/0"], id="both-taints-one-finding"),
        pytest.param({"nodeSelector": {"kubernetes.io/os": "linux"}}, [], id="other-node-selector"),
        pytest.param({"affinity": affinity("required", {"key": MASTER, "operator": "Exists"})}, [REQUIRED], id="required-affinity"),
        pytest.param({"affinity": affinity("preferred", {"key": CONTROL_PLANE, "operator": "In", "values": ["true"]})}, [PREFERRED], id="preferred-affinity"),
        pytest.param({"affinity": affinity("required", {"key": CONTROL_PLANE, "operator": "DoesNotExist"})}, [], id="affinity-away-from-control-plane"),
    ],
)  # fmt: skip
def test_workload_on_control_plane(spec: Doc, expected: list[str]) -> None:
    assert paths("exposure.workload-on-control-plane", daemonset(**spec)) == expected


def test_kube_system_is_exempt() -> None:
    doc = daemonset("kube-system", tolerations=[{"operator": "Exists"}])
    assert paths("exposure.workload-on-control-plane", doc) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"tolerations": [{"operator": "Exists"}]}, "the workload tolerates every taint, the control plane's included (toleration operator: Exists)"),
        ({"tolerations": [{"key": MASTER, "effect": "NoSchedule"}]}, f"the workload tolerates the control-plane taint (toleration key: {MASTER}, effect: NoSchedule)"),
        ({"nodeSelector": {CONTROL_PLANE: ""}}, f"the workload is pinned to control-plane nodes (nodeSelector {CONTROL_PLANE}: '')"),
        ({"affinity": affinity("preferred", {"key": CONTROL_PLANE, "operator": "In", "values": ["true"]})}, f"the workload prefers control-plane nodes (preferred node affinity {CONTROL_PLANE} In (true))"),
    ],
)  # fmt: skip
def test_workload_on_control_plane_messages(spec: Doc, message: str) -> None:
    assert [f.message for f in findings("exposure.workload-on-control-plane", daemonset(**spec))] == [message]


def test_one_finding_per_workload() -> None:
    # kubeadm's two taint keys, tolerated side by side (the usual pair before 1.25): one workload, one finding
    doc = daemonset(
        tolerations=[{"key": CONTROL_PLANE, "effect": "NoSchedule"}, {"key": MASTER, "effect": "NoSchedule"}],
        nodeSelector={CONTROL_PLANE: ""},
    )
    found = findings("exposure.workload-on-control-plane", doc)
    assert [(f.location.path, f.message) for f in found] == [
        (
            f"{SPEC}/tolerations/0",
            f"the workload tolerates the control-plane taint (toleration key: {CONTROL_PLANE}, effect: NoSchedule;"
            f" toleration key: {MASTER}, effect: NoSchedule); the workload is pinned to control-plane nodes"
            f" (nodeSelector {CONTROL_PLANE}: '')",
        )
    ]


def test_wrong_toleration_type_is_an_input_error() -> None:
    from conftest import scan_objects  # noqa: PLC0415

    report = scan_objects(daemonset(tolerations=[{"key": MASTER, "effect": 1}]), rules=["exposure.*"])
    assert [e.message for e in report.errors] == [
        "DaemonSet monitoring/minimal: effect must be a string, not a integer (/spec/template/spec/tolerations/0/effect)"
    ]
