"""Checklist section A: exposure of the control plane and nodes."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.context import ScanContext
from ..analysis.netpol import METADATA, Network, PodClass, Service, target_port
from ..analysis.podspec import EffectivePod
from ..model import Hit, Severity
from ._netcheck import pods_of, reach_hits
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


@rules.inventory(
    "exposure.metadata-api",
    Severity.HIGH,
    title="Pods can reach the cloud metadata API",
    remediation=(
        "isolate the pods for egress and except 169.254.169.254/32 (and fd00:ec2::254/128) from every"
        " ipBlock that covers it, e.g. cidr: 0.0.0.0/0 with except: [169.254.169.254/32]"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#networkpolicy-resource",
        "https://kubernetes.io/docs/tasks/administer-cluster/securing-a-cluster/"
        "#restricting-cloud-metadata-api-access",
    ),
)
def metadata_api(context: ScanContext) -> Iterator[Hit]:
    """Fires for pods that can reach the cloud instance metadata API (169.254.169.254, and AWS's
    fd00:ec2::254) on 80/TCP by the NetworkPolicies in force: no policy isolates them for egress, or an
    egress rule of a policy selecting them has no ``to`` or an ipBlock that covers the address without an
    ``except`` for it.

    The metadata API hands out the node's cloud credentials (AWS IAM role, GCP service account token,
    Azure managed identity) to whoever asks from the node's network; a pod that reaches it can act as the
    node in the cloud account. Findings are grouped per namespace and name the pods and the rule that lets
    them through; hostNetwork pods, which no NetworkPolicy restricts, are reported on their hostNetwork field.

    Reads: NetworkPolicies (podSelector, policyTypes, egress rules, ipBlocks with except, ports), the labels
    and hostNetwork of every pod template and running Pod.
    """
    yield from reach_hits(
        context.network, METADATA, ("TCP", 80), "can reach the metadata API", "reach the metadata API"
    )


@rules.inventory(
    "exposure.nodeport",
    Severity.MEDIUM,
    evidence="M, G",
    title="NodePort Service",
    remediation=(
        "expose the workload through an Ingress or a LoadBalancer Service; if a NodePort is needed,"
        " restrict the sources of its pods with a NetworkPolicy (ipBlock of the allowed clients)"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/service/#type-nodeport",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
)
def nodeport(context: ScanContext) -> Iterator[Hit]:
    """Fires for a Service of type NodePort; high when nothing restricts the sources of the pods it sends
    to: no NetworkPolicy isolates them for ingress, or an ingress rule admits every source (no ``from``, or
    an ipBlock of every IPv4 address) on the Service's target port.

    A NodePort opens the port on every node's addresses, outside any load balancer or Ingress that would
    filter, log and terminate TLS; whoever reaches a node reaches the pods. The checklist asks to prefer
    Ingress or LoadBalancer and to allowlist the clients when a NodePort is unavoidable.

    Reads: Service spec.type, spec.selector and spec.ports (port, targetPort, nodePort, protocol);
    NetworkPolicies; the labels, named container ports and hostNetwork of the pods the Service selects.
    """
    network = context.network
    for service in network.node_ports:
        opened = (
            ", ".join(f"{p.node_port if p.node_port else 'a node port'}/{p.protocol}" for p in service.ports)
            or "node ports"
        )
        backends = network.backends(service)
        reason = _open_backend(network, service, backends)
        if reason is None:
            yield Hit(
                path=service.type_path,
                message=f"the Service opens {opened} on every node (type: NodePort)",
                obj=service.obj,
            )
        else:
            yield Hit(
                path=service.type_path,
                message=f"the Service opens {opened} on every node (type: NodePort) and nothing restricts"
                f" who reaches its pods: {reason}",
                obj=service.obj,
                severity=Severity.HIGH,
            )


def _open_backend(network: Network, service: Service, backends: list[PodClass]) -> str | None:
    """Why some pod of the Service accepts its traffic from any source, or ``None``."""
    for port in service.ports:
        for cls in backends:
            target = target_port(port, cls)
            if target is None:
                continue
            grant = network.open_ingress(cls, port.protocol, target)
            if grant is None:
                continue
            pods = pods_of([cls])
            if cls.host_network:
                return f"{pods} uses hostNetwork, which NetworkPolicies never select"
            if grant.rule is None:
                return f"no NetworkPolicy selects {pods} for ingress"
            source = "every source" if grant.peer is None else f"ipBlock {grant.peer.ip_block}"
            return f"{grant.rule} admits {source} to {pods} on {target}/{port.protocol}"
    return None
