"""Checklist section A: exposure of the control plane and nodes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from ..analysis.podspec import EffectivePod
from ..analysis.runtime import CONTROL_PLANE_ROLES, node_facts
from ..model import Hit, Obj, Severity
from ._podcheck import who
from ._ruleset import RuleSet

rules = RuleSet("exposure")


@rules.pod(
    "exposure.host-port",
    Severity.MEDIUM,
    title="Host port",
    remediation=(
        "remove hostPort and expose the container through a Service (ClusterIP"
        " behind an Ingress or LoadBalancer)"
    ),
    references=("https://kubernetes.io/docs/concepts/configuration/overview/#services",),
)
def host_port(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a container sets a non-zero hostPort.

    A host port is opened on the node's own addresses, outside Services and kube-proxy; NetworkPolicies
    are not enforced on it by most CNI plugins, and it ties the pod to nodes where the port is free.

    Reads: ports[*].hostPort of every container, initContainer and ephemeralContainer.
    """
    for container in pod.containers:
        for port in container.ports:
            if port.host_port.value:
                yield container.hit(
                    port.host_port,
                    f"{who([container])} binds port {port.host_port.value}/{port.protocol} on the node"
                    f" (hostPort: {port.host_port.value})",
                )


@rules.object(
    "exposure.control-plane-schedulable",
    Severity.HIGH,
    kinds=("Node",),
    evidence="C",
    title="Schedulable control-plane node",
    remediation=(
        "taint control-plane nodes with node-role.kubernetes.io/control-plane:NoSchedule"
        " (kubeadm's default) so that only the pods that tolerate it run there"
    ),
    references=(
        "https://kubernetes.io/docs/reference/labels-annotations-taints/#node-role-kubernetes-io-control-plane-taint",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/",
    ),
)
def control_plane_schedulable(obj: Obj) -> Iterator[Hit]:
    """Fires for a control-plane node that carries no NoSchedule or NoExecute taint.

    Without such a taint any workload can be scheduled beside kube-apiserver, etcd and their keys: a
    container that escapes to the node owns the cluster. PreferNoSchedule only discourages the scheduler,
    and the taints the node lifecycle controller sets for a passing condition (not-ready, disk-pressure,
    unschedulable, ...) go away by themselves, so neither counts.

    Reads: the node-role.kubernetes.io/control-plane, node-role.kubernetes.io/master and kubernetes.io/role
    labels, and spec.taints of Nodes.
    """
    node = node_facts(obj)
    if not node.is_control_plane or node.repels():
        return
    roles = "/".join(sorted(node.roles & CONTROL_PLANE_ROLES))
    if node.taints:
        written = ", ".join(f"{t.key}:{t.effect}" for t in node.taints)
        detail = f"its taints ({written}) do not keep pods away"
        path = "/spec/taints"
    else:
        detail = "it has no taints"
        path = "/spec"
    yield Hit(path, f"{roles} node {node.name!r} is schedulable for any pod: {detail}")


@rules.object(
    "exposure.node-public-ip",
    Severity.MEDIUM,
    kinds=("Node",),
    evidence="C",
    title="Node with a public IP address",
    remediation=(
        "run nodes in private subnets without public addresses; reach them through a bastion or the"
        " provider's session manager, and send egress through a NAT gateway"
    ),
    references=(
        "https://kubernetes.io/docs/reference/node/node-status/#addresses",
        "https://kubernetes.io/docs/concepts/security/security-checklist/#network-security",
    ),
)
def node_public_ip(obj: Obj) -> Iterator[Hit]:
    """Fires for each ExternalIP of a Node that is a public (globally routable) address.

    A node with a public address can be reached from the Internet (kubelet, NodePorts, SSH, anything a
    hostNetwork pod listens on) and can reach it without a NAT gateway that logs and filters. An
    ExternalIP in a private, shared or link-local range is not reachable from the Internet and does not
    fire.

    Reads: status.addresses of Nodes (type ExternalIP).
    """
    for address in node_facts(obj).external_ips:
        try:
            public = ipaddress.ip_address(address.address).is_global
        except ValueError:
            continue  # not an address (a misconfigured provider); nothing to judge
        if public:
            yield Hit(
                address.path,
                f"node {obj.ref.name!r} has a public address (ExternalIP: {address.address})",
            )
