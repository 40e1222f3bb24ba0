"""Checklist section A: exposure of the control plane and nodes."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.podspec import EffectivePod
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
