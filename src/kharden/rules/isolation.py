"""Checklist section C: network isolation."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.context import ScanContext
from ..analysis.netpol import EGRESS, INGRESS, INTERNET, Network
from ..analysis.podspec import EffectivePod
from ..model import Hit, Severity
from ._netcheck import by_namespace, pods_of, reach_hits, selector_text, uncovered_hit
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


_NETPOL_DOCS = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
_DEFAULT_POLICIES = _NETPOL_DOCS + "#default-policies"


@rules.inventory(
    "netpol.ingress-open",
    Severity.HIGH,
    title="Ingress open to other namespaces",
    remediation=(
        "add a default-deny ingress NetworkPolicy to the namespace (podSelector: {}, policyTypes: [Ingress])"
        " and allow only the namespaces and pods each workload must serve"
    ),
    references=(_DEFAULT_POLICIES, _NETPOL_DOCS + "#behavior-of-to-and-from-selectors"),
)
def ingress_open(context: ScanContext) -> Iterator[Hit]:
    """Fires for pods that accept traffic from every namespace: no NetworkPolicy isolates them for ingress,
    or an ingress rule of a policy selecting them admits every namespace (``namespaceSelector: {}``) or
    every source (a rule without ``from``).

    By default every pod accepts connections from every pod of the cluster. A compromised pod anywhere can
    then reach databases, admin endpoints and third-party components (dashboards, Tiller) that were never
    meant to be reached from outside their namespace. Findings are grouped per namespace; hostNetwork pods,
    which no NetworkPolicy can select, count among the pods no policy covers.

    Reads: NetworkPolicies (podSelector, policyTypes, ingress rules), Namespaces and their labels, the labels
    and hostNetwork of every pod template and running Pod.
    """
    yield from _open(context.network, INGRESS)


@rules.inventory(
    "netpol.egress-open",
    Severity.MEDIUM,
    title="Egress open to other namespaces",
    remediation=(
        "add a default-deny egress NetworkPolicy to the namespace (podSelector: {}, policyTypes: [Egress])"
        " and allow DNS plus the destinations each workload needs"
    ),
    references=(_DEFAULT_POLICIES, _NETPOL_DOCS + "#behavior-of-to-and-from-selectors"),
)
def egress_open(context: ScanContext) -> Iterator[Hit]:
    """Fires for pods that may send traffic to every namespace: no NetworkPolicy isolates them for egress,
    or an egress rule of a policy selecting them allows every namespace (``namespaceSelector: {}``) or every
    destination (a rule without ``to``).

    A compromised pod with open egress can probe and attack every service of the cluster, and reach the
    components that hand out credentials. Findings are grouped per namespace.

    Reads: NetworkPolicies (podSelector, policyTypes, egress rules), Namespaces and their labels, the labels
    and hostNetwork of every pod template and running Pod.
    """
    yield from _open(context.network, EGRESS)


def _open(network: Network, direction: str) -> Iterator[Hit]:
    uncovered = network.uncovered(direction)
    if direction == INGRESS:
        verb, everything = "accept ingress from every namespace", "every source"
    else:
        verb, everything = "may send traffic to every namespace", "every destination"
    for namespace, classes in by_namespace(uncovered):
        yield uncovered_hit(network, namespace, classes, verb, direction)
    for rule in network.rules(direction):
        pods = f"pods of {pods_of(network.selected(rule.policy))}"
        if rule.peers is None:
            what = everything
            path = rule.path
        else:
            peers = [p for p in rule.peers if network.admits_every_namespace(p)]
            if not peers or peers[0].namespace_selector is None:
                continue
            what = f"every namespace (namespaceSelector: {selector_text(peers[0].namespace_selector)})"
            path = f"{peers[0].path}/namespaceSelector"
        if direction == INGRESS:
            message = f"{rule} admits {what} to {pods} on {rule.ports_text()}"
        else:
            message = f"{rule} lets {pods} reach {what} on {rule.ports_text()}"
        yield Hit(path=path, message=message, obj=rule.policy.obj)


@rules.inventory(
    "netpol.internet-egress",
    Severity.MEDIUM,
    title="Egress to the Internet",
    remediation=(
        "isolate the pods for egress and allow only the addresses they need; an ipBlock of 0.0.0.0/0 is"
        " the whole Internet"
    ),
    references=(_DEFAULT_POLICIES, _NETPOL_DOCS + "#networkpolicy-resource"),
)
def internet_egress(context: ScanContext) -> Iterator[Hit]:
    """Fires for pods that may reach public Internet addresses: no NetworkPolicy isolates them for egress,
    or an egress rule of a policy selecting them has no ``to`` or an ipBlock that covers public addresses
    (``0.0.0.0/0`` and the like, whatever private ranges its ``except`` carves out).

    Open egress to the Internet lets a compromised pod download tools and send data out, and turns the
    cluster into a relay. Public means outside the special-purpose ranges of RFC 6890 (private, loopback,
    link-local, CGNAT, documentation, multicast) and, for IPv6, the global unicast range 2000::/3.

    Reads: NetworkPolicies (podSelector, policyTypes, egress rules and their ipBlocks and ports), the labels
    and hostNetwork of every pod template and running Pod.
    """
    network = context.network
    yield from reach_hits(network, INTERNET, None, "may reach the Internet", "reach the Internet")


@rules.inventory(
    "netpol.selects-nothing",
    Severity.LOW,
    title="NetworkPolicy selects no pod",
    remediation="fix the policy's podSelector to match the pods' labels, or delete the policy",
    references=(_NETPOL_DOCS + "#networkpolicy-resource",),
)
def selects_nothing(context: ScanContext) -> Iterator[Hit]:
    """Fires for a NetworkPolicy whose podSelector matches no pod of the scan: it protects nothing.

    Such a policy usually outlived a renamed app or carries a typo in a label, and the pods it was written
    for run unprotected while the policy suggests otherwise. On manifests alone, a policy of a namespace whose
    pods the scan does not hold is not judged (they may be deployed from elsewhere); with a cluster, it is.
    Pods that use hostNetwork do not count: NetworkPolicies never select them.

    Reads: the podSelector and namespace of NetworkPolicies, the labels and hostNetwork of every pod
    template and running Pod.
    """
    network = context.network
    cluster = "C" in context.evidence
    for policy in network.policies:
        if policy.selected:
            continue
        present = network.classes_of(policy.namespace)
        if not present and not cluster:
            continue
        selector = selector_text(policy.pod_selector)
        host = [c for c in present if c.host_network and policy.pod_selector.matches(c.labels)]
        if host:
            message = (
                f"podSelector {selector} matches only hostNetwork pods ({pods_of(host)}),"
                " which NetworkPolicies never select"
            )
        else:
            message = f"podSelector {selector} matches no pod of namespace {policy.namespace!r}"
        yield Hit(path="/spec/podSelector", message=message, obj=policy.obj)
