"""Checklist section A: exposure of the control plane and nodes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping

from .. import _pointer
from ..analysis.context import ScanContext
from ..analysis.controlplane import (
    APISERVER,
    CONTROLLER_MANAGER,
    ETCD,
    KUBELET,
    SCHEDULER,
    anonymous_everywhere,
)
from ..analysis.endpoints import api_endpoints
from ..analysis.netpol import METADATA, Network, PodClass, target_port
from ..analysis.podspec import TEMPLATE_KINDS, Toleration, pod_template_path
from ..analysis.runtime import CONTROL_PLANE_ROLES, node_facts
from ..analysis.scheduling import Placement, control_plane_placements
from ..analysis.services import Service
from ..analysis.staticpods import is_static_pod
from ..model import Hit, Obj, Severity, Unevaluated
from ._constraint import Constraint, Eq, Is, row
from ._controlplane import K8S, absent, at, file_objects, is_loopback, is_public, missing_kubelets
from ._message import WHO, ItemAttr, Message, Value
from ._netcheck import pods_of, reach_hits
from ._ruleset import RuleSet

rules = RuleSet("exposure")


@rules.policy(
    "exposure.host-port",
    Severity.MEDIUM,
    title="Host port",
    remediation=(
        "remove hostPort and expose the container through a Service (ClusterIP"
        " behind an Ingress or LoadBalancer)"
    ),
    references=("https://kubernetes.io/docs/concepts/configuration/overview/#services",),
)
def host_port() -> tuple[Constraint, ...]:
    """Fires when a container sets a non-zero hostPort.

    A host port is opened on the node's own addresses, outside Services and kube-proxy; NetworkPolicies
    are not enforced on it by most CNI plugins, and it ties the pod to nodes where the port is free.

    Reads: ports[*].hostPort of every container, initContainer and ephemeralContainer.
    """
    return (
        Constraint(
            Is(None, Eq(0)),
            Message(
                WHO,
                " binds port ",
                Value(),
                "/",
                ItemAttr("protocol", "TCP"),
                " on the node (hostPort: ",
                Value(),
                ")",
            ),
            items=row("ports"),
        ),
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


# --- control plane and nodes (issue 6): flags of static pods, k3s/RKE2 configs, kubelet files ---

APISERVER_DOC = K8S + "kube-apiserver/"
ETCD_DOC = (
    "https://kubernetes.io/docs/tasks/administer-cluster/configure-upgrade-etcd/#securing-etcd-clusters"
)
KUBELET_DOC = "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/"


@rules.inventory(
    "exposure.apiserver-anonymous",
    Severity.HIGH,
    evidence="N, C",
    title="API server accepts anonymous requests",
    remediation=(
        "set --anonymous-auth=false on kube-apiserver (or, in an AuthenticationConfiguration, limit"
        " anonymous access to /livez, /readyz and /healthz)"
    ),
    references=(
        APISERVER_DOC,
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
    ),
)
def apiserver_anonymous(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver treats unauthenticated requests as system:anonymous: --anonymous-auth
    is not false (it defaults to true), or an AuthenticationConfiguration enables anonymous access
    without restricting it to health paths.

    Anonymous requests reach every endpoint some RBAC binding opens to system:anonymous or
    system:unauthenticated; one careless binding then exposes the API to the Internet, and discovery
    and version endpoints already tell an attacker what to exploit.

    Reads: kube-apiserver --anonymous-auth and --authentication-config (the file's anonymous.enabled
    and anonymous.conditions).
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        if component.has("authentication-config"):
            for found in file_objects(
                context, component, "authentication-config", ("AuthenticationConfiguration",)
            ):
                if isinstance(found, Unevaluated):
                    yield found
                    continue
                if anonymous_everywhere(found):
                    yield Hit(
                        "/anonymous/enabled",
                        "kube-apiserver accepts anonymous requests on every path"
                        " (anonymous.enabled: true without conditions)",
                        obj=found,
                    )
            continue
        setting = component.setting("anonymous-auth")
        if setting.value != "false":
            yield at(setting, f"kube-apiserver accepts anonymous requests ({setting.describe()})")


# Authorizer types of an AuthorizationConfiguration (apiserver.config.k8s.io) and modes of
# --authorization-mode that allow every request they are asked about.
_ALLOW_ALL = "AlwaysAllow"
AUTHZ_DOC = "https://kubernetes.io/docs/reference/access-authn-authz/authorization/"


@rules.inventory(
    "exposure.apiserver-authorization",
    Severity.CRITICAL,
    evidence="N, C",
    title="API server authorizes every request",
    remediation=(
        "set --authorization-mode=Node,RBAC on kube-apiserver (or, in an AuthorizationConfiguration, list"
        " Node and RBAC authorizers and no AlwaysAllow)"
    ),
    references=(
        AUTHZ_DOC + "#authorization-modules",
        AUTHZ_DOC + "#using-configuration-file-for-authorization",
        APISERVER_DOC,
    ),
)
def apiserver_authorization(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver's --authorization-mode includes AlwaysAllow or does not include RBAC
    (unset, it defaults to AlwaysAllow), or when the AuthorizationConfiguration of its
    --authorization-config has an AlwaysAllow authorizer or no RBAC authorizer.

    Authorizers are asked in order and the first that allows or denies decides: with AlwaysAllow in the
    chain every authenticated request that no earlier authorizer denies is allowed, so no RBAC rule
    matters and any credential (a ServiceAccount token from any pod) is cluster-admin. Without RBAC, the
    cluster's Roles and bindings are not enforced at all. k3s and RKE2 pass --authorization-mode=Node,RBAC
    themselves.

    Reads: kube-apiserver --authorization-mode (k3s/RKE2: their kube-apiserver-arg) and
    --authorization-config (the file's authorizers[*].type).
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        if component.has("authorization-config"):
            for found in file_objects(
                context, component, "authorization-config", ("AuthorizationConfiguration",)
            ):
                if isinstance(found, Unevaluated):
                    yield found
                else:
                    yield from _authorizers(found)
            continue
        modes = component.items("authorization-mode")
        setting = component.setting("authorization-mode")
        allow = next((s for mode, s in modes if mode == _ALLOW_ALL), None)
        if allow is not None:
            yield at(allow, f"kube-apiserver allows every authenticated request ({allow.describe()})")
        elif "RBAC" not in {mode for mode, _ in modes}:
            yield at(
                setting,
                f"kube-apiserver does not authorize with RBAC ({setting.describe()}): no Role or binding"
                " is enforced",
            )


def _authorizers(config: Obj) -> Iterator[Hit]:
    authorizers = config.raw.get("authorizers")
    entries = [(i, a) for i, a in enumerate(authorizers if isinstance(authorizers, list) else [])]
    types = [(i, a.get("type")) for i, a in entries if isinstance(a, Mapping)]
    allow = next((i for i, kind in types if kind == _ALLOW_ALL), None)
    if allow is not None:
        yield Hit(
            f"/authorizers/{allow}/type",
            "kube-apiserver allows every authenticated request (an authorizer of type AlwaysAllow in its"
            " AuthorizationConfiguration)",
            obj=config,
        )
    elif "RBAC" not in {kind for _, kind in types}:
        written = ", ".join(str(kind) for _, kind in types) or "none"
        yield Hit(
            "/authorizers",
            f"kube-apiserver does not authorize with RBAC (authorizers of its AuthorizationConfiguration:"
            f" {written}): no Role or binding is enforced",
            obj=config,
        )


@rules.inventory(
    "exposure.apiserver-public",
    Severity.HIGH,
    evidence="N, C",
    title="API server on a public address",
    remediation=(
        "serve the API on a private address and reach it through a VPN or bastion; restrict a load"
        " balancer in front of it with loadBalancerSourceRanges or make it internal"
    ),
    references=("https://kubernetes.io/docs/concepts/security/controlling-access/#api-server-ports-and-ips",),
)
def apiserver_public(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when the API server's endpoint is a public address (not RFC 1918, unique local, loopback,
    link-local or shared 100.64/10): its --advertise-address, the server of a kubeconfig on a node,
    or a LoadBalancer Service in front of the apiserver pods.

    The checklist's first advice: do not expose the control plane at all. A public API server is
    scanned within minutes of coming up, and any authentication flaw or leaked token is then
    exploitable from anywhere.

    Reads: kube-apiserver --advertise-address; clusters[*].cluster.server of kubeconfigs under
    etc/kubernetes and etc/rancher; k3s/RKE2 advertise-address; LoadBalancer Services whose selector
    matches the apiserver pods (status.loadBalancer.ingress, spec.loadBalancerIP). Host names are not
    resolved (reported as not evaluated), and a scan that shows no address at all is not evaluated.
    """
    what = {"advertise-address": "kube-apiserver advertises", "kubeconfig": "a kubeconfig names",
            "load balancer": "a LoadBalancer in front of kube-apiserver has"}  # fmt: skip
    endpoints = api_endpoints(context.inventory, context.control_plane)
    if not endpoints:
        yield Unevaluated(
            "no API server address in this scan (no kube-apiserver --advertise-address, kubeconfig under"
            " the node's etc/kubernetes or etc/rancher, or LoadBalancer in front of kube-apiserver)"
        )
    for endpoint in endpoints:
        public = is_public(endpoint.address)
        if public:
            yield Hit(
                endpoint.path,
                f"{what[endpoint.source]} the public address {endpoint.address} ({endpoint.written})",
                obj=endpoint.obj,
                # a kubeconfig's path names its cluster entry; a flag's place on the command line moves
                key=None if endpoint.source == "kubeconfig" else f"{endpoint.source} {endpoint.address}",
            )
        elif public is None and not is_loopback(endpoint.address):
            where = endpoint.obj.origin.file or str(endpoint.obj.ref)
            yield Unevaluated(f"{where}: {endpoint.written} is a host name (kharden does not resolve names)")


@rules.inventory(
    "exposure.insecure-port",
    Severity.CRITICAL,
    evidence="N, C",
    title="API server insecure port",
    remediation="remove --insecure-port and --insecure-bind-address (or set --insecure-port=0 before 1.20)",
    references=(APISERVER_DOC, "https://kubernetes.io/docs/concepts/security/controlling-access/"),
)
def insecure_port(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-apiserver serves its insecure port: --insecure-port set to a non-zero port (or
    left unset on a cluster older than 1.20, where it defaulted to 8080), or --insecure-bind-address
    set.

    The insecure port bypasses authentication and authorization entirely: whoever reaches it is
    cluster-admin.

    Reads: kube-apiserver --insecure-port and --insecure-bind-address; the cluster's version
    (--kube-version, the cluster's, a node root's kube-apiserver image; else assumed, and said so).
    """
    yield from absent(context, APISERVER)
    for component in context.control_plane.of(APISERVER):
        port = component.setting("insecure-port")
        if port.source == "default":
            context.control_plane.assume("kube-apiserver's --insecure-port default, 8080 before 1.20")
        if port.value not in {None, "0"}:
            yield at(
                port,
                f"kube-apiserver serves unauthenticated requests on port {port.value} ({port.describe()})",
            )
        bind = component.setting("insecure-bind-address")
        if bind.is_set:
            yield at(bind, f"kube-apiserver binds its insecure port ({bind.written})")


@rules.inventory(
    "exposure.etcd-client-auth",
    Severity.CRITICAL,
    evidence="N, C",
    title="etcd clients not authenticated",
    remediation=(
        "run etcd with --client-cert-auth=true, --trusted-ca-file and https:// --listen-client-urls"
        " (loopback and the control-plane address only)"
    ),
    references=(ETCD_DOC, "https://etcd.io/docs/v3.5/op-guide/security/"),
)
def etcd_client_auth(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when etcd accepts clients without a certificate (--client-cert-auth not true) or serves
    them over plain http (--listen-client-urls with an http:// URL, loopback or not).

    etcd holds every object of the cluster, Secrets included; a client it does not authenticate can
    read and rewrite them all, bypassing the API server's authorization and audit.

    Reads: etcd --client-cert-auth and --listen-client-urls (and ETCD_* variables), or
    client-transport-security.client-cert-auth and listen-client-urls of its --config-file (RKE2).
    """
    yield from absent(context, ETCD)
    for component in context.control_plane.of(ETCD):
        if component.unreadable:
            yield Unevaluated(component.unreadable)
            continue
        auth = component.setting("client-cert-auth")
        if auth.value != "true":
            yield at(auth, f"etcd accepts clients without a certificate ({auth.describe()})")
        for url, setting in component.items("listen-client-urls"):
            if url.startswith("http://"):
                where = "" if is_loopback(url) else " on a non-loopback address"
                yield at(setting, f"etcd serves clients over plain http{where} ({url})", item=url)


@rules.inventory(
    "exposure.etcd-peer-auth",
    Severity.HIGH,
    evidence="N, C",
    title="etcd peers not authenticated",
    remediation=(
        "run etcd with --peer-client-cert-auth=true and peer certificates from a CA; drop --peer-auto-tls"
        " and --auto-tls"
    ),
    references=(ETCD_DOC,),
)
def etcd_peer_auth(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when etcd does not authenticate its peers (--peer-client-cert-auth not true) or uses
    self-signed certificates (--peer-auto-tls=true or --auto-tls=true).

    A host that can reach the peer port can join the etcd cluster, or pose as a member, and receive
    a copy of all data; self-signed certificates authenticate nobody.

    Reads: etcd --peer-client-cert-auth, --peer-auto-tls, --auto-tls (and ETCD_* variables), or the
    peer-transport-security and client-transport-security sections of its --config-file.
    """
    yield from absent(context, ETCD)
    for component in context.control_plane.of(ETCD):
        if component.unreadable:
            yield Unevaluated(component.unreadable)
            continue
        auth = component.setting("peer-client-cert-auth")
        if auth.value != "true":
            yield at(auth, f"etcd accepts peers without a certificate ({auth.describe()})")
        for name in ("peer-auto-tls", "auto-tls"):
            setting = component.setting(name)
            if setting.value == "true":
                yield at(setting, f"etcd uses self-signed certificates ({setting.describe()})")


@rules.inventory(
    "exposure.etcd-shared-ca",
    Severity.MEDIUM,
    evidence="N, C",
    title="etcd trusts the cluster CA",
    remediation=(
        "give etcd its own CA (kubeadm: /etc/kubernetes/pki/etcd/ca.crt) and the apiserver a client"
        " certificate from it"
    ),
    references=(ETCD_DOC, "https://kubernetes.io/docs/setup/best-practices/certificates/"),
)
def etcd_shared_ca(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when etcd's --trusted-ca-file is the file kube-apiserver's --client-ca-file names (the same
    path on the node, through each static pod's mounts): any client certificate of the cluster, a
    kubelet's or a user's, is then accepted by etcd.

    Only the API server should talk to etcd; sharing the CA makes every credential the cluster CA
    signs an etcd credential too.

    Reads: etcd --trusted-ca-file and kube-apiserver --client-ca-file on the same node (file paths
    resolved through hostPath mounts; file contents are not compared).
    """
    plane = context.control_plane
    yield from absent(context, ETCD)
    for etcd in context.control_plane.of(ETCD):
        trusted = etcd.setting("trusted-ca-file")
        if not trusted.value or trusted.source == "default":
            continue
        etcd_host = etcd.host_path(trusted.value).host
        for apiserver in plane.of(APISERVER):
            client_ca = apiserver.setting("client-ca-file")
            if apiserver.node != etcd.node or not client_ca.value or client_ca.source == "default":
                continue
            if etcd_host is not None and etcd_host == apiserver.host_path(client_ca.value).host:
                yield at(
                    trusted,
                    f"etcd trusts the cluster CA that kube-apiserver uses for clients ({trusted.describe()},"
                    f" the same file as {client_ca.describe()})",
                )


@rules.inventory(
    "exposure.control-plane-bind",
    Severity.MEDIUM,
    evidence="N, C",
    title="Scheduler or controller manager exposed",
    remediation=(
        "set --bind-address=127.0.0.1 and --profiling=false on kube-scheduler and kube-controller-manager"
    ),
    references=(K8S + "kube-scheduler/", K8S + "kube-controller-manager/"),
)
def control_plane_bind(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when kube-scheduler or kube-controller-manager listens on a non-loopback address
    (--bind-address unset defaults to 0.0.0.0) or serves profiling data (--profiling not false).

    Their secure ports answer health and metrics requests, and pprof handlers leak memory contents and
    cost CPU; nothing outside the node needs them.

    Reads: kube-scheduler and kube-controller-manager --bind-address and --profiling.
    """
    yield from absent(context, SCHEDULER, CONTROLLER_MANAGER)
    for component in [*context.control_plane.of(SCHEDULER), *context.control_plane.of(CONTROLLER_MANAGER)]:
        bind = component.setting("bind-address")
        if bind.value is not None and not is_loopback(bind.value):
            yield at(bind, f"{component.name} listens on every address ({bind.describe()})")
        profiling = component.setting("profiling")
        if profiling.value != "false":
            yield at(profiling, f"{component.name} serves profiling data ({profiling.describe()})")


@rules.inventory(
    "exposure.kubelet-auth",
    Severity.HIGH,
    evidence="N",
    title="Kubelet API open",
    remediation=(
        "in the KubeletConfiguration set readOnlyPort: 0, authentication.anonymous.enabled: false and"
        " authorization.mode: Webhook (and drop the matching flags)"
    ),
    references=(KUBELET_DOC,),
)
def kubelet_auth(context: ScanContext) -> Iterator[Hit | Unevaluated]:
    """Fires when a kubelet serves its read-only port (readOnlyPort / --read-only-port not 0), accepts
    anonymous requests, or authorizes every request (authorization mode AlwaysAllow).

    The kubelet API runs commands in any container of the node and reads their logs and
    environment; the read-only port lists every pod with its spec. Flags override the config file and
    its drop-ins (Kubernetes 1.30+: each *.conf file of --config-dir, in name order, overrides the
    fields it sets); without a config file the flag defaults are the open ones (10255, anonymous,
    AlwaysAllow).

    Reads: kubelet --read-only-port, --anonymous-auth, --authorization-mode (systemd unit, drop-ins,
    kubeadm-flags.env, /etc/default/kubelet, k3s/RKE2 kubelet-arg), the KubeletConfiguration its
    --config names and the *.conf drop-ins of its --config-dir, merged over it in name order
    (readOnlyPort, authentication.anonymous.enabled, authorization.mode).
    """
    plane = context.control_plane
    for component in plane.of(KUBELET):
        config_missing = bool(component.kubelet_config_path) and component.kubelet_config is None
        if config_missing:
            state = plane.file_at(component, component.kubelet_config_path or "")
            yield Unevaluated(f"kubelet --config: {state.missing_reason}")
        settings = [component.setting(n) for n in ("read-only-port", "anonymous-auth", "authorization-mode")]
        if config_missing:  # only what the flags and drop-ins themselves say can be judged
            settings = [s for s in settings if s.source in {"flag", "distribution", "config"}]
        for setting in settings:
            if setting.name == "read-only-port" and setting.value not in {None, "0"}:
                message = f"the kubelet serves its unauthenticated read-only port {setting.value}"
            elif setting.name == "anonymous-auth" and setting.value == "true":
                message = "the kubelet accepts anonymous requests"
            elif setting.name == "authorization-mode" and setting.value == "AlwaysAllow":
                message = "the kubelet authorizes every request"
            else:
                continue
            yield at(setting, f"{message} ({setting.describe()})")
    yield from missing_kubelets(context)


@rules.inventory(
    "exposure.nodeport",
    Severity.MEDIUM,
    needs=(*TEMPLATE_KINDS, "Namespace", "NetworkPolicy", "Service"),
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
    for service in context.services.services:
        if service.type.value != "NodePort":
            continue
        opened = (
            ", ".join(
                f"{p.node_port}/{p.protocol}" if p.node_port else f"a node port for {p.port}/{p.protocol}"
                for p in service.ports
            )
            or "node ports"
        )
        backends = network.backends(service)
        reason = _open_backend(network, service, backends)
        if reason is None:
            yield Hit(
                path=service.type.path,
                message=f"the Service opens {opened} on every node (type: NodePort)",
                obj=service.obj,
            )
        else:
            yield Hit(
                path=service.type.path,
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
    needs=("Service",),
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
        # (range, where it is written, the identity of a range among the others of one annotation)
        ranges: list[tuple[str, str, str | None]] = [
            (r.value or "", r.path, None) for r in service.source_ranges
        ]
        for key in (_AZURE_RANGES, _AZURE_TAGS):
            if annotations.get(key):
                path = _pointer.join("/metadata/annotations", key)
                parts = [part.strip() for part in annotations[key].split(",") if part.strip()]
                ranges += [(part, path, f"{key} {part}") for part in parts]
        if (annotations.get(_ALIBABA_ACL) or "").lower() == "on":
            ranges.append(("acl", _pointer.join("/metadata/annotations", _ALIBABA_ACL), None))
        if not ranges:
            yield Hit(
                service.type.path,
                "the load balancer accepts connections from any address: no loadBalancerSourceRanges and no"
                " source-range annotation",
                obj=service.obj,
            )
            continue
        for value, path, identity in ranges:
            if _any_address(value):
                yield Hit(
                    path,
                    f"the load balancer accepts connections from any address ({value})",
                    obj=service.obj,
                    key=identity,
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
    needs=("Service",),
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
    needs=(*TEMPLATE_KINDS, "Node"),
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

    In a cluster (or a snapshot) it also fires for a workload outside kube-system whose running pods are
    on a control-plane node, whatever let them get there.

    Reads: spec.tolerations, spec.nodeSelector, spec.affinity.nodeAffinity of every workload; in a
    cluster, each running Pod's spec.nodeName and the node-role labels of its Node.
    """
    # One finding per workload: what lets it onto control-plane nodes, and its pods running there.
    placed: dict[int, tuple[Obj, list[Placement]]] = {}
    for pod in context.pods:
        if pod.obj.ref.namespace == "kube-system":
            continue
        placements = control_plane_placements(pod)
        if placements:
            placed[id(pod.obj)] = (pod.obj, placements)
    running = _running_on_control_plane(context)
    for key, (obj, placements) in placed.items():
        message = _placements_message(placements)
        if key in running:
            message += f"; {running.pop(key)[2]}"
        yield Hit(placements[0].path, message, obj=obj)
    for workload, path, message in running.values():
        yield Hit(path, message, obj=workload)


def _running_on_control_plane(context: ScanContext) -> dict[int, tuple[Obj, str, str]]:
    """``(workload, pointer, message)`` by workload: pods running on control-plane nodes (static pods are
    the control plane)."""
    nodes_by_workload: dict[int, tuple[Obj, set[str], int]] = {}
    for running in context.runtime.pods_on_control_plane():
        workload = running.workload
        if is_static_pod(running.obj) or workload.ref.namespace == "kube-system" or running.node_name is None:
            continue
        _, nodes, count = nodes_by_workload.get(id(workload), (workload, set(), 0))
        nodes.add(running.node_name)
        nodes_by_workload[id(workload)] = (workload, nodes, count + 1)
    found = {}
    for key, (workload, nodes, count) in nodes_by_workload.items():
        template = pod_template_path(workload)
        path = "/spec/nodeName" if template == "" else f"{template}/spec"
        pods = f"{count} pod of this workload runs" if count == 1 else f"{count} pods of this workload run"
        names = ", ".join(repr(n) for n in sorted(nodes))
        found[key] = (workload, path, f"{pods} on control-plane node{'s' if len(nodes) > 1 else ''} {names}")
    return found


def _placements_message(placements: list[Placement]) -> str:
    """What lets the workload onto control-plane nodes; the tolerations of both taints in one clause."""
    parts: list[str] = []
    keyed = [p.toleration for p in placements if p.toleration is not None and p.toleration.key]
    every = [p.toleration for p in placements if p.toleration is not None and not p.toleration.key]
    if every:
        parts.append(
            "the workload tolerates every taint, the control plane's included"
            f" (toleration {_toleration_text(every[0])})"
        )
    if keyed:
        written = "; ".join(f"toleration {_toleration_text(t)}" for t in keyed)
        parts.append(f"the workload tolerates the control-plane taint ({written})")
    for placement in placements:
        if placement.toleration is None:
            verb = {"nodeSelector": "is pinned to", "required": "requires", "preferred": "prefers"}[
                placement.how
            ]
            field = "nodeSelector" if placement.how == "nodeSelector" else f"{placement.how} node affinity"
            parts.append(f"the workload {verb} control-plane nodes ({field} {placement.written})")
    return "; ".join(parts)


_VERBS = {"nodeSelector": "is pinned to", "required": "requires", "preferred": "prefers"}


def _toleration_text(toleration: Toleration) -> str:
    return ", ".join(
        f"{name}: {value}"
        for name, value in (
            ("key", toleration.key),
            ("operator", "Exists" if toleration.operator == "Exists" else ""),
            ("value", toleration.value),
            ("effect", toleration.effect),
        )
        if value
    )


@rules.inventory(
    "exposure.metadata-api",
    Severity.HIGH,
    needs=(*TEMPLATE_KINDS, "Namespace", "NetworkPolicy"),
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
    node in the cloud account. Each workload is reported on its own: on each NetworkPolicy rule that lets
    it through (the place to change, naming the workload), or on its pod labels when no egress policy
    selects it; hostNetwork pods, which no NetworkPolicy restricts, are reported on their hostNetwork
    field.

    Reads: NetworkPolicies (podSelector, policyTypes, egress rules, ipBlocks with except, ports), the labels
    and hostNetwork of every pod template and running Pod.
    """
    yield from reach_hits(
        context.network, METADATA, ("TCP", 80), "can reach the metadata API", "reach the metadata API"
    )
