"""Checklist section A: exposure of the control plane and nodes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from .. import _pointer
from ..analysis.context import ScanContext
from ..analysis.podspec import EffectivePod
from ..analysis.scheduling import Placement, control_plane_placements
from ..analysis.services import Service
from ..model import Hit, Severity
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


# Annotations that make a cloud load balancer internal (private addresses only), value as the provider
# documents it (compared case-insensitively).
_INTERNAL_LB = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": ("true", "0.0.0.0/0"),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": ("internal",),
    "networking.gke.io/load-balancer-type": ("internal",),
    "cloud.google.com/load-balancer-type": ("internal",),
    "service.beta.kubernetes.io/azure-load-balancer-internal": ("true",),
    "service.beta.kubernetes.io/oci-load-balancer-internal": ("true",),
    "oci-network-load-balancer.oraclecloud.com/internal": ("true",),
    "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": ("private",),
    "service.beta.kubernetes.io/openstack-internal-load-balancer": ("true",),
    "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type": ("intranet",),
}
# The AWS Load Balancer Controller makes internal NLBs unless told internet-facing.
_AWS_LBC_TYPES = ("external", "nlb-ip")
_AWS_LBC_CLASS = "service.k8s.aws/nlb"
# Provider annotations that restrict the sources a load balancer accepts, besides the generic one.
_AZURE_RANGES = "service.beta.kubernetes.io/azure-allowed-ip-ranges"
_AZURE_TAGS = "service.beta.kubernetes.io/azure-allowed-service-tags"
_ALIBABA_ACL = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-acl-status"


@rules.inventory(
    "exposure.loadbalancer-open",
    Severity.HIGH,
    evidence="M",
    title="Load balancer open to any address",
    remediation=(
        "set spec.loadBalancerSourceRanges to the client networks (or make the load balancer internal);"
        " never 0.0.0.0/0 or ::/0"
    ),
    references=(
        "https://kubernetes.io/docs/tasks/access-application-cluster/create-external-load-balancer/"
        "#preserving-the-client-source-ip",
        "https://kubernetes.io/docs/reference/kubernetes-api/service-resources/service-v1/#ServiceSpec",
    ),
)
def loadbalancer_open(context: ScanContext) -> Iterator[Hit]:
    """Fires for a LoadBalancer Service that accepts every source address: no loadBalancerSourceRanges
    and no provider source-range annotation, or ranges containing 0.0.0.0/0 or ::/0.

    A cloud load balancer gets a public address: without an allow-list everything behind it is reachable
    from the whole Internet, scanners included. The generic
    service.beta.kubernetes.io/load-balancer-source-ranges annotation counts when the field is empty, as
    do Azure's azure-allowed-ip-ranges and azure-allowed-service-tags and Alibaba Cloud's ACL. A load
    balancer made internal by its provider's annotation (AWS aws-load-balancer-internal or
    aws-load-balancer-scheme: internal, the AWS Load Balancer Controller's default scheme, GKE and Azure
    internal load balancers, OCI, IBM, OpenStack, Alibaba intranet) has no public address and does not fire.

    Reads: spec.type, spec.loadBalancerSourceRanges, spec.loadBalancerClass and the annotations of Services.
    """
    for service in context.services.services:
        if service.type.value != "LoadBalancer":
            continue
        annotations = service.obj.annotations
        if _internal_load_balancer(service, annotations):
            continue
        ranges = [(r.value or "", r.path) for r in service.source_ranges]
        for key in (_AZURE_RANGES, _AZURE_TAGS):
            if annotations.get(key):
                path = _pointer.join("/metadata/annotations", key)
                ranges += [(part.strip(), path) for part in annotations[key].split(",") if part.strip()]
        if (annotations.get(_ALIBABA_ACL) or "").lower() == "on":
            ranges.append(("acl", _pointer.join("/metadata/annotations", _ALIBABA_ACL)))
        if not ranges:
            yield Hit(
                service.type.path,
                "the load balancer accepts connections from any address: no loadBalancerSourceRanges and no"
                " source-range annotation",
                obj=service.obj,
            )
            continue
        for value, path in ranges:
            if _any_address(value):
                yield Hit(
                    path, f"the load balancer accepts connections from any address ({value})", obj=service.obj
                )


def _internal_load_balancer(service: Service, annotations: Mapping[str, str]) -> bool:
    for key, values in _INTERNAL_LB.items():
        if annotations.get(key, "").strip().lower() in values:
            return True
    scheme = annotations.get("service.beta.kubernetes.io/aws-load-balancer-scheme", "").strip().lower()
    managed_by_lbc = (
        annotations.get("service.beta.kubernetes.io/aws-load-balancer-type", "").strip().lower()
        in _AWS_LBC_TYPES
        or service.load_balancer_class == _AWS_LBC_CLASS
    )
    return managed_by_lbc and scheme != "internet-facing"


def _any_address(value: str) -> bool:
    """``0.0.0.0/0``, ``::/0`` (any prefix of length 0), or Azure's ``Internet`` service tag."""
    if value.lower() == "internet":
        return True
    try:
        return ipaddress.ip_network(value, strict=False).prefixlen == 0
    except ValueError:
        return False


@rules.inventory(
    "exposure.external-ips",
    Severity.HIGH,
    evidence="M",
    title="Service with externalIPs",
    remediation=(
        "remove spec.externalIPs (use a LoadBalancer or an Ingress), and deny the field with admission"
        " control (the DenyServiceExternalIPs admission plugin)"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/service/#external-ips",
        "https://github.com/kubernetes/kubernetes/issues/97076",
    ),
)
def external_ips(context: ScanContext) -> Iterator[Hit]:
    """Fires for a Service that sets spec.externalIPs, whatever its type.

    kube-proxy sends traffic for an external IP to the Service's pods from every node: whoever may create
    Services can claim any address, an internal database's or a public DNS server's, and intercept the
    cluster's traffic to it (CVE-2020-8554, unfixed by design).

    Reads: spec.externalIPs of Services.
    """
    for service in context.services.services:
        if service.external_ips:
            addresses = ", ".join(ip.value or "" for ip in service.external_ips)
            yield Hit(
                service.external_ips[0].path.rsplit("/", 1)[0],
                f"the Service claims external IPs (externalIPs: {addresses}): traffic from pods and nodes"
                " to them goes to this Service",
                obj=service.obj,
            )


@rules.inventory(
    "exposure.workload-on-control-plane",
    Severity.HIGH,
    evidence="M, C",
    title="Workload may run on control-plane nodes",
    remediation=(
        "remove the control-plane toleration, nodeSelector or node affinity; run only the cluster's own"
        " components (kube-system) on control-plane nodes"
    ),
    references=(
        "https://kubernetes.io/docs/reference/labels-annotations-taints/#node-role-kubernetes-io-control-plane-taint",
        "https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/",
    ),
)
def workload_on_control_plane(context: ScanContext) -> Iterator[Hit]:
    """Fires for a workload outside kube-system that tolerates the node-role.kubernetes.io/control-plane or
    .../master taint (a toleration with operator: Exists and no key tolerates every taint), or whose
    nodeSelector or node affinity (required or preferred, In or Exists) selects those node labels.

    Control-plane nodes hold etcd's data, the cluster's CA keys and the API server's credentials, and
    serve etcd and the kubelet on their own addresses: an application compromised there is a compromised
    cluster. Tolerating the taint is what lets a pod be scheduled there; selecting the label is asking for it.

    Reads: spec.tolerations, spec.nodeSelector, spec.affinity.nodeAffinity of every workload.
    """
    for pod in context.pods:
        if pod.obj.ref.namespace == "kube-system":
            continue
        for placement in control_plane_placements(pod):
            yield Hit(placement.path, _placement_message(placement), obj=pod.obj)


def _placement_message(placement: Placement) -> str:
    toleration = placement.toleration
    if toleration is not None:
        written = ", ".join(
            f"{name}: {value}"
            for name, value in (
                ("key", toleration.key),
                ("operator", "Exists" if toleration.operator == "Exists" else ""),
                ("value", toleration.value),
                ("effect", toleration.effect),
            )
            if value
        )
        if not toleration.key:
            return f"the workload tolerates every taint, the control plane's included (toleration {written})"
        return f"the workload tolerates the control-plane taint (toleration {written})"
    verb = {"nodeSelector": "is pinned to", "required": "requires", "preferred": "prefers"}[placement.how]
    field = "nodeSelector" if placement.how == "nodeSelector" else f"{placement.how} node affinity"
    return f"the workload {verb} control-plane nodes ({field} {placement.written})"
