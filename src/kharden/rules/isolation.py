"""Checklist section C: network isolation."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.context import ScanContext
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


@rules.inventory(
    "netpol.cni-unsupported",
    Severity.CRITICAL,
    evidence="C, N",
    title="NetworkPolicies not enforced",
    remediation=(
        "run a CNI plugin that enforces NetworkPolicy (Calico, Cilium, Canal, Antrea, ...), enable the"
        " aws-network-policy-agent of the VPC CNI, or keep k3s' network policy controller"
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites",
        "https://kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/network-plugins/",
    ),
)
def cni_unsupported(context: ScanContext) -> Iterator[Hit]:
    """Fires when NetworkPolicies exist but no CNI plugin of the cluster enforces them: flannel alone,
    kubenet, the AWS VPC CNI without its network policy agent, kube-router with --run-firewall=false,
    k3s with disable-network-policy, or no plugin identified at all.

    The API server accepts NetworkPolicies whatever the network does with them; without an enforcing
    plugin every policy is silently ignored and all pods reach all pods, as the checklist warns.

    Reads: NetworkPolicy objects; CNI configurations of the nodes, kube-system DaemonSets
    (calico-node, cilium, canal, kube-flannel-ds, weave-net, antrea-agent, kube-router, aws-node and its
    aws-network-policy-agent container), k3s/RKE2 config (cni, flannel-backend, disable-network-policy).
    """
    policies = [p for p in context.inventory.of_kind("NetworkPolicy") if p.ref.group == "networking.k8s.io"]
    if not policies:
        return
    plugins = context.cni_plugins
    if any(p.enforces for p in plugins):
        return
    count = f"{len(policies)} NetworkPolicies exist" if len(policies) > 1 else "a NetworkPolicy exists"
    if not plugins:
        yield Hit(
            "/spec",
            f"{count} but no CNI plugin that enforces NetworkPolicy was found"
            " (no CNI configuration or known DaemonSet)",
            obj=policies[0],
        )
        return
    for plugin in plugins:
        why = f": {plugin.why}" if plugin.why else ""
        yield Hit(
            plugin.path, f"{count} but the {plugin.name} CNI does not enforce them{why}", obj=plugin.obj
        )
