"""Checklist section C: network isolation."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.podspec import EffectivePod
from ..model import Hit, Severity
from ._ruleset import RuleSet

rules = RuleSet("isolation")


@rules.pod(
    "netpol.host-network",
    Severity.HIGH,
    title="Host network",
    remediation="remove hostNetwork (or set it to false); expose the pod through a Service instead",
    references=(
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
)
def host_network(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when a pod uses the node's network namespace (hostNetwork: true).

    NetworkPolicies do not select host-network pods, so nothing restricts their traffic; they can bind any
    port of the node, sniff its traffic, and reach services that listen only on the node's loopback
    (the kubelet, etcd on a control-plane node).

    Reads: spec.hostNetwork of the pod.
    """
    if pod.host_network.value is True:
        yield pod.hit(pod.host_network, "the pod uses the node's network namespace (hostNetwork: true)")
