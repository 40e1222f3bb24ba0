"""Checklist section C: network isolation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .. import _pointer
from ..analysis.cni import POLICY_ADDONS, Plugin
from ..analysis.context import ScanContext
from ..analysis.imageref import parse_image
from ..analysis.netpol import EGRESS, INGRESS, INTERNET, Network
from ..analysis.podspec import TEMPLATE_KINDS, EffectivePod
from ..analysis.rbac import RBAC_KINDS, Grant, Subject
from ..model import Hit, Severity, Unevaluated
from ._constraint import Constraint, Is, Ne, row
from ._message import Message
from ._netcheck import RuleHits, pods_of, reach_hits, selector_text, uncovered_hits
from ._ruleset import RuleSet

rules = RuleSet("isolation")


_NETPOL_DOCS = "https://kubernetes.io/docs/concepts/services-networking/network-policies/"
_NETWORK_KINDS = (*TEMPLATE_KINDS, "Namespace", "NetworkPolicy")
_DEFAULT_POLICIES = _NETPOL_DOCS + "#default-policies"


@rules.inventory(
    "netpol.ingress-open",
    Severity.HIGH,
    needs=_NETWORK_KINDS,
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
    meant to be reached from outside their namespace. Each workload is reported on its own, so that its
    annotations and baselines speak for it alone: on its pod labels when no policy covers it, or on each
    policy rule that opens it (the place to change); hostNetwork pods, which no NetworkPolicy can select,
    count among the pods no policy covers.

    Reads: NetworkPolicies (podSelector, policyTypes, ingress rules), Namespaces and their labels, the labels
    and hostNetwork of every pod template and running Pod.
    """
    yield from _open(context.network, INGRESS)


@rules.inventory(
    "netpol.egress-open",
    Severity.MEDIUM,
    needs=_NETWORK_KINDS,
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
    destination (a rule without ``to``). A rule limited to DNS (port 53, UDP or TCP) is not open egress and
    does not fire (netpol.internet-egress reports DNS to any address).

    A compromised pod with open egress can probe and attack every service of the cluster, and reach the
    components that hand out credentials. Each workload is reported on its own: on its pod labels when no
    policy covers it, or on each policy rule that opens it.

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
    yield from uncovered_hits(uncovered, verb, direction)
    rule_hits = RuleHits()
    for rule in network.rules(direction):
        if direction == EGRESS and rule.dns_only:
            continue  # DNS (port 53) alone is not open egress; netpol.internet-egress weighs it
        peer = None
        if rule.peers is None:
            what = everything
        else:
            peers = [p for p in rule.peers if network.admits_every_namespace(p)]
            selector = peers[0].namespace_selector if peers else None
            if selector is None:
                continue
            peer = peers[0]
            what = f"every namespace (namespaceSelector: {selector_text(selector)})"
        ports = rule.ports_text()
        if direction == INGRESS:
            before, after = f"{rule} admits {what} to ", f" on {ports}"
        else:
            before, after = f"{rule} lets ", f" reach {what} on {ports}"
        yield from rule_hits(rule, peer, network.selected(rule.policy), before, after)


@rules.inventory(
    "netpol.internet-egress",
    Severity.MEDIUM,
    needs=_NETWORK_KINDS,
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
    (``0.0.0.0/0`` and the like, whatever private ranges its ``except`` carves out). A rule that allows
    only DNS (port 53) to such addresses is reported at low severity, as DNS to any address: not the
    Internet on every port, but a path for tunnelling data out through DNS.

    Open egress to the Internet lets a compromised pod download tools and send data out, and turns the
    cluster into a relay. Public means outside the special-purpose ranges of RFC 6890 (private, loopback,
    link-local, CGNAT, documentation, multicast) and, for IPv6, the global unicast range 2000::/3. Each
    workload is reported on its own: on its pod labels when no policy covers it, or on each policy rule
    that lets it out.

    Reads: NetworkPolicies (podSelector, policyTypes, egress rules and their ipBlocks and ports), the labels
    and hostNetwork of every pod template and running Pod.
    """
    network = context.network
    yield from reach_hits(network, INTERNET, None, "may reach the Internet", "reach the Internet")


@rules.policy(
    "netpol.host-network",
    Severity.HIGH,
    title="Host network",
    remediation="remove hostNetwork (or set it to false); expose the pod through a Service instead",
    references=(
        "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
)
def host_network() -> tuple[Constraint, ...]:
    """Fires when a pod uses the node's network namespace (hostNetwork: true).

    NetworkPolicies do not select host-network pods, so nothing restricts their traffic; they can bind any
    port of the node, sniff its traffic, and reach services that listen only on the node's loopback
    (the kubelet, etcd on a control-plane node).

    Reads: spec.hostNetwork of the pod.
    """
    return (
        Constraint(
            Is(row("hostNetwork"), Ne(True), unset=True),
            Message("the pod uses the node's network namespace (hostNetwork: true)"),
            containers=False,
        ),
    )


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
def cni_unsupported(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when NetworkPolicies exist but a node's CNI plugin does not enforce them (flannel alone,
    kubenet, the AWS VPC CNI without its network policy agent, kube-router with --run-firewall=false,
    k3s with disable-network-policy), or no plugin is identified at all. Each node root is judged by
    its active CNI configuration: the first file, in name order, of the directory the container runtime
    reads, as containerd and CRI-O choose it (a leftover 10-flannel.conflist before 99-calico.conflist
    means flannel). The cluster's DaemonSets count as one: some plugin among them must enforce.

    The API server accepts NetworkPolicies whatever the network does with them; without an enforcing
    plugin every policy is silently ignored and all pods reach all pods, as the checklist warns.

    Without a NetworkPolicy in the scan it is judged only where that means something: a cluster read
    holds none, or every plugin found would enforce them. Node files alone (a worker running flannel)
    cannot say whether the cluster holds policies: not evaluated, never a pass.

    Reads: NetworkPolicy objects; CNI configurations of the nodes, kube-system DaemonSets
    (calico-node, cilium, canal, kube-flannel-ds, weave-net, antrea-agent, kube-router, aws-node and its
    aws-network-policy-agent container), k3s/RKE2 config (cni, flannel-backend, disable-network-policy).
    """
    policies = [p for p in context.inventory.of_kind("NetworkPolicy") if p.ref.group == "networking.k8s.io"]
    plugins = context.cni_plugins
    ignoring = _not_enforcing(plugins)
    if not policies:
        if "C" not in context.evidence and (ignoring or not plugins):
            which = ", ".join(
                f"node {p.node} runs the {p.name} CNI" if p.node is not None else f"the {p.name} CNI runs"
                for p in ignoring
            )
            yield Unevaluated(
                "no NetworkPolicy in this scan tells whether the cluster holds any, and "
                + (f"{which}, which would not enforce them" if which else "no CNI plugin was identified")
            )
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
    for plugin in ignoring:
        why = f": {plugin.why}" if plugin.why else ""
        where = (
            f"node {plugin.node} runs the {plugin.name} CNI, which"
            if plugin.node
            else f"the {plugin.name} CNI"
        )
        yield Hit(plugin.path, f"{count} but {where} does not enforce them{why}", obj=plugin.obj)


def _not_enforcing(plugins: list[Plugin]) -> list[Plugin]:
    """The plugins that would leave NetworkPolicies unenforced.

    Each node is judged by the CNI it uses (one node that ignores policies lets its pods through) unless
    a policy add-on runs beside it; the cluster's DaemonSets count as one: some plugin among them must
    enforce.
    """
    cluster = [p for p in plugins if p.node is None]
    addon = any(p.enforces and p.name in POLICY_ADDONS for p in cluster)
    nodes = [p for p in plugins if p.node is not None and not p.enforces and not addon]
    return nodes + (cluster if cluster and not any(p.enforces for p in cluster) else [])


@rules.inventory(
    "netpol.selects-nothing",
    Severity.LOW,
    needs=_NETWORK_KINDS,
    title="NetworkPolicy selects no pod",
    remediation="fix the policy's podSelector to match the pods' labels, or delete the policy",
    references=(_NETPOL_DOCS + "#networkpolicy-resource",),
)
def selects_nothing(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires for a NetworkPolicy whose podSelector matches no pod of the scan: it protects nothing.

    Such a policy usually outlived a renamed app or carries a typo in a label, and the pods it was written
    for run unprotected while the policy suggests otherwise. On manifests alone, a policy is not judged when
    the scan holds no pod of its namespace (they may be deployed from elsewhere) or holds custom resources
    there (an operator may create the pods: Prometheus and Alertmanager objects of kube-prometheus; those
    namespaces are reported as not evaluated); with a cluster, every pod is in the scan and every policy
    is judged. Pods that use hostNetwork do not count: NetworkPolicies never select them, and neither do
    static pods (they belong to their node).

    Reads: the podSelector and namespace of NetworkPolicies, the labels and hostNetwork of every pod
    template and running Pod, the API group of the objects of each namespace.
    """
    network = context.network
    cluster = "C" in context.evidence
    operated = (
        set() if cluster else {o.ref.namespace for o in context.inventory.objects if _custom(o.ref.group)}
    )
    unjudged: set[str] = set()
    for policy in network.policies:
        if policy.selected:
            continue
        present = network.classes_of(policy.namespace)
        if not cluster and not present:
            continue
        if not cluster and policy.namespace in operated:
            unjudged.add(policy.namespace)
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
    if unjudged:
        count = f"{len(unjudged)} namespace{'s' if len(unjudged) > 1 else ''}"
        yield Unevaluated(
            f"not evaluated for {count} with custom resources (an operator may create the pods the"
            f" policies select; scan the cluster to judge them): {', '.join(sorted(unjudged))}"
        )


def _custom(group: str) -> bool:
    """Whether an API group is a custom resource's: dotted, and not one of Kubernetes' own (``*.k8s.io``)."""
    return "." in group and not group.endswith(".k8s.io")


# The Dashboard's images: kubernetesui/dashboard (v2), its v3 parts, and the v1 per-architecture images.
_DASHBOARD_IMAGES = frozenset({"dashboard", "dashboard-web", "dashboard-api", "dashboard-auth"})
_DASHBOARD_V1_IMAGE = re.compile(r"^kubernetes-dashboard(?:-(?:amd64|arm64|arm|ppc64le|s390x))?$")
_DASHBOARD_NAMES = frozenset(
    {
        "kubernetes-dashboard",
        "kubernetes-dashboard-web",
        "kubernetes-dashboard-api",
        "kubernetes-dashboard-auth",
    }
)
_NAME_LABELS = ("k8s-app", "app.kubernetes.io/name", "app")
# Dashboard flags that let anyone in: the login page's "skip" button, and no check on who edits settings.
_DASHBOARD_OPEN_FLAGS = ("--enable-skip-login", "--disable-settings-authorizer")


@rules.inventory(
    "netpol.dashboard",
    Severity.HIGH,
    needs=(*TEMPLATE_KINDS, "Service", "Ingress", "ServiceAccount", *RBAC_KINDS),
    evidence="M, G",
    title="Kubernetes Dashboard deployed",
    remediation=(
        "remove the Dashboard, or keep it unexposed (reach it through kubectl proxy or port-forward), bound"
        " to a minimal ServiceAccount, without --enable-skip-login and --disable-settings-authorizer"
    ),
    references=(
        "https://kubernetes.io/docs/tasks/access-application-cluster/web-ui-dashboard/",
        "https://github.com/kubernetes/dashboard/blob/master/docs/user/access-control/README.md",
    ),
)
def dashboard(context: ScanContext) -> Iterator[Hit]:
    """Fires for a Kubernetes Dashboard workload, found by its image (kubernetesui/dashboard and its v3
    parts, kubernetes-dashboard-<arch>) or by its well-known name and labels (kubernetes-dashboard). It is
    critical when the Dashboard's ServiceAccount is bound to cluster-admin (or a role equivalent to it)
    cluster-wide, when it runs with --enable-skip-login or --disable-settings-authorizer, or when a
    NodePort or LoadBalancer Service, or an Ingress, exposes it.

    The Dashboard is a web front end to the API server: other pods can reach it, and it has been the way
    into famous breaches, most often through a skip-login button in front of a ServiceAccount with
    cluster-admin.

    Reads: images, args, command and labels of every workload; its ServiceAccount's bindings; Services
    selecting its pods and Ingresses routing to them.
    """
    accounts: dict[int, Subject] | None = None
    """``id`` of a workload's pod -> its ServiceAccount, once a Dashboard is found."""
    for pod in context.pods:
        found = _dashboard_evidence(pod)
        if found is None:
            continue
        path, what = found
        flags = [
            (f"{container.path}/{key}/{index}", arg)
            for container in pod.containers
            for key, written in (("command", container.command), ("args", container.args))
            for index, arg in enumerate(written)
            if arg.partition("=")[0] in _DASHBOARD_OPEN_FLAGS
            and arg.partition("=")[2].lower() in {"", "true"}
        ]
        critical = [f"it runs with {arg}" for _, arg in flags]
        if flags:
            path = flags[0][0]  # the finding points at what to remove first
        if accounts is None:
            accounts = {}
            for workload in context.service_accounts.workloads:
                accounts.setdefault(id(workload.pod), workload.account)
        account = accounts.get(id(pod))
        if account is not None:
            admin = _cluster_admin(context, account)
            if admin is not None:
                critical.append(f"its {account} is cluster-admin ({admin.chain()})")
        critical += _exposures(context, pod)
        message = f"the Kubernetes Dashboard is deployed ({what})"
        if critical:
            message += "; " + "; ".join(critical)
        yield Hit(path, message, severity=Severity.CRITICAL if critical else None, obj=pod.obj)


def _dashboard_evidence(pod: EffectivePod) -> tuple[str, str] | None:
    """``(pointer, what)`` of what shows ``pod`` is the Dashboard, or ``None``."""
    for container in pod.containers:
        text = container.image.value or ""
        # Every Dashboard image's name has the word in it: most images are not parsed at all.
        image = parse_image(text) if "dashboard" in text else None
        if image is None:
            continue
        owner = image.repository.rsplit("/", 2)[-2] if "/" in image.repository else ""
        if (owner == "kubernetesui" and image.name in _DASHBOARD_IMAGES) or _DASHBOARD_V1_IMAGE.match(
            image.name
        ):
            return container.image.path, f"image: {container.image.value}"
    if pod.obj.ref.name in _DASHBOARD_NAMES:
        return "/metadata/name", f"name: {pod.obj.ref.name}"
    for key in _NAME_LABELS:
        if pod.labels.get(key) in _DASHBOARD_NAMES:
            return _pointer.join(pod.template_path, "metadata", "labels", key), f"{key}: {pod.labels[key]}"
    return None


def _cluster_admin(context: ScanContext, account: Subject) -> Grant | None:
    """The first grant that makes ``account`` cluster-admin cluster-wide through a binding a user wrote,
    if any (only the bindings that may are expanded into grants)."""
    for binding, named, path in context.rbac.permissions(account).bindings:
        if binding.namespace is None and not binding.stock and binding.role is not None:
            for ref in binding.role.rules:
                if ref.rule.superuser:
                    return Grant(named, path, binding, ref)
    return None


def _exposures(context: ScanContext, pod: EffectivePod) -> list[str]:
    """How ``pod`` is reachable from outside the cluster: NodePort and LoadBalancer Services, Ingresses.

    Each way is named once, however many copies of the Service or Ingress the scan holds.
    """
    found: list[str] = []
    services = context.services
    for service in services.selecting(pod):
        if service.type.value in {"NodePort", "LoadBalancer"}:
            found.append(f"{service.type.value} Service {service.name!r} exposes it")
        for ingress, _ in services.ingresses_to(service):
            found.append(f"Ingress {ingress.obj.ref.name!r} exposes it (through Service {service.name!r})")
    return list(dict.fromkeys(found))


@rules.inventory(
    "netpol.tiller",
    Severity.CRITICAL,
    needs=(*TEMPLATE_KINDS, "Service"),
    evidence="M",
    title="Helm v2 Tiller deployed",
    remediation="migrate to Helm 3 (no in-cluster component) and delete Tiller, its Service and its bindings",
    references=(
        "https://helm.sh/docs/topics/v2_v3_migration/",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
    ),
)
def tiller(context: ScanContext) -> Iterator[Hit]:
    """Fires for a Helm v2 Tiller workload, found by its image (kubernetes-helm/tiller, helm/tiller, or any
    image named tiller) or by its well-known name (tiller-deploy) and labels (app: helm, name: tiller).

    Tiller serves an unauthenticated gRPC API on port 44134 to every pod that can reach it, and is usually
    bound to cluster-admin: any pod can install a chart that runs anything, anywhere. Helm v2 has been
    unsupported since 2020.

    Reads: images, names and labels of every workload.
    """
    for pod in context.pods:
        found = None
        for container in pod.containers:
            text = container.image.value or ""
            image = parse_image(text) if "tiller" in text else None  # (most images are not parsed)
            if image is not None and image.name == "tiller":
                found = (container.image.path, f"image: {container.image.value}")
                break
        if found is None and pod.obj.ref.name == "tiller-deploy":
            found = ("/metadata/name", "name: tiller-deploy")
        if found is None and pod.labels.get("app") == "helm" and pod.labels.get("name") == "tiller":
            found = (_pointer.join(pod.template_path, "metadata", "labels"), "labels app: helm, name: tiller")
        if found is not None:
            yield Hit(
                found[0],
                f"the Helm v2 Tiller server is deployed ({found[1]}): its gRPC API on port 44134 takes"
                " unauthenticated requests from any pod",
                obj=pod.obj,
            )
