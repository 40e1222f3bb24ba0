"""The RBAC objects every cluster has: roles a binding may name without the scan defining them.

The API server creates these at start-up (its RBAC bootstrap policy,
https://kubernetes.io/docs/reference/access-authn-authz/rbac/#default-roles-and-role-bindings);
kubeadm adds a few of its own. kharden needs them for two things:

- a binding to ``edit``, ``admin``, ``system:auth-delegator``... in a manifest grants what the
  cluster's copy of that role holds, aggregation included (``admin`` aggregates ``edit``, which
  aggregates ``view``, each also every ClusterRole labelled ``aggregate-to-<name>``);
- the bindings of a stock cluster (in a snapshot of one) are not findings: a user binding is.

Rules are written one per line: ``GROUPS | RESOURCES | VERBS [| NAMES]``, space-separated,
``core`` for the core group ``""``; ``url | PATHS | VERBS`` for non-resource URLs. The
content follows Kubernetes 1.31; roles that gained permissions across releases only ever
gained them, so an older cluster's copy is a subset.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BUILTIN_ROLES",
    "STOCK_BINDINGS",
    "BuiltinRole",
    "StockBinding",
    "is_bootstrap",
    "is_stock_role_name",
]

_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_RW = "create delete deletecollection patch update"
_RO = "get list watch"


@dataclass(frozen=True, slots=True)
class BuiltinRole:
    kind: str
    namespace: str | None
    name: str
    rules: tuple[str, ...]
    labels: tuple[tuple[str, str], ...] = ()
    aggregates: tuple[str, ...] = ()
    """Label keys (value ``"true"``) of the ClusterRoles this one aggregates."""


def _cluster(name: str, *rules: str, labels: tuple[str, ...] = (), aggregates: str = "") -> BuiltinRole:
    return BuiltinRole(
        "ClusterRole",
        None,
        name,
        rules,
        tuple((_AGGREGATE + to, "true") for to in labels),
        (_AGGREGATE + aggregates,) if aggregates else (),
    )


BUILTIN_ROLES: tuple[BuiltinRole, ...] = (
    _cluster("cluster-admin", "* | * | *", "url | * | *"),
    _cluster("admin", aggregates="admin"),
    _cluster("edit", labels=("admin",), aggregates="edit"),
    _cluster("view", labels=("edit",), aggregates="view"),
    _cluster(
        "system:aggregate-to-admin",
        "authorization.k8s.io | localsubjectaccessreviews | create",
        f"rbac.authorization.k8s.io | rolebindings roles | {_RW} get list watch",
        labels=("admin",),
    ),
    _cluster(
        "system:aggregate-to-edit",
        f"core | pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy | {_RO}",
        "core | serviceaccounts | impersonate",
        f"core | pods pods/attach pods/exec pods/portforward pods/proxy | {_RW}",
        "core | pods/eviction | create",
        "core | configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale"
        f" secrets serviceaccounts services services/proxy | {_RW}",
        "core | serviceaccounts/token | create",
        "apps | daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale"
        f" statefulsets statefulsets/scale | {_RW}",
        f"autoscaling | horizontalpodautoscalers | {_RW}",
        f"batch | cronjobs jobs | {_RW}",
        "extensions | daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies"
        f" replicasets replicasets/scale replicationcontrollers/scale | {_RW}",
        f"policy | poddisruptionbudgets | {_RW}",
        f"networking.k8s.io | ingresses networkpolicies | {_RW}",
        f"coordination.k8s.io | leases | {_RW} get list watch",
        labels=("edit",),
    ),
    _cluster(
        "system:aggregate-to-view",
        "core | configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods"
        " replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"
        f" | {_RO}",
        "core | bindings events limitranges namespaces/status pods/log pods/status"
        f" replicationcontrollers/status resourcequotas resourcequotas/status | {_RO}",
        f"core | namespaces | {_RO}",
        f"discovery.k8s.io | endpointslices | {_RO}",
        "apps | controllerrevisions daemonsets daemonsets/status deployments deployments/scale"
        " deployments/status replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale"
        f" statefulsets/status | {_RO}",
        f"autoscaling | horizontalpodautoscalers horizontalpodautoscalers/status | {_RO}",
        f"batch | cronjobs cronjobs/status jobs jobs/status | {_RO}",
        "extensions | daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses"
        " ingresses/status networkpolicies replicasets replicasets/scale replicasets/status"
        f" replicationcontrollers/scale | {_RO}",
        f"policy | poddisruptionbudgets poddisruptionbudgets/status | {_RO}",
        f"networking.k8s.io | ingresses ingresses/status networkpolicies | {_RO}",
        labels=("view",),
    ),
    _cluster(
        "system:auth-delegator",
        "authentication.k8s.io | tokenreviews | create",
        "authorization.k8s.io | subjectaccessreviews | create",
    ),
    _cluster(
        "system:basic-user",
        "authorization.k8s.io | selfsubjectaccessreviews selfsubjectrulesreviews | create",
        "authentication.k8s.io | selfsubjectreviews | create",
    ),
    _cluster(
        "system:discovery",
        "url | /api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version /version/"
        " | get",
    ),
    _cluster("system:public-info-viewer", "url | /healthz /livez /readyz /version /version/ | get"),
    _cluster(
        "system:monitoring",
        "url | /healthz /healthz/* /livez /livez/* /metrics /metrics/slis /readyz /readyz/* | get",
    ),
    _cluster(
        "system:service-account-issuer-discovery",
        "url | /.well-known/openid-configuration /openid/v1/jwks | get",
    ),
    _cluster(
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        "certificates.k8s.io | certificatesigningrequests/nodeclient | create",
    ),
    _cluster(
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        "certificates.k8s.io | certificatesigningrequests/selfnodeclient | create",
    ),
    _cluster(
        "system:certificates.k8s.io:kube-apiserver-client-approver",
        "certificates.k8s.io | signers | approve | kubernetes.io/kube-apiserver-client",
    ),
    _cluster(
        "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
        "certificates.k8s.io | signers | approve | kubernetes.io/kube-apiserver-client-kubelet",
    ),
    _cluster(
        "system:certificates.k8s.io:kubelet-serving-approver",
        "certificates.k8s.io | signers | approve | kubernetes.io/kubelet-serving",
    ),
    _cluster(
        "system:certificates.k8s.io:legacy-unknown-approver",
        "certificates.k8s.io | signers | approve | kubernetes.io/legacy-unknown",
    ),
    _cluster(
        "system:heapster", f"core | events namespaces nodes pods | {_RO}", f"extensions | deployments | {_RO}"
    ),
    _cluster("system:kube-aggregator", f"core | endpoints services | {_RO}"),
    _cluster("system:kube-dns", "core | endpoints services | list watch"),
    _cluster(
        "system:kubelet-api-admin",
        f"core | nodes | {_RO} proxy",
        "core | nodes/log nodes/metrics nodes/proxy nodes/stats | *",
    ),
    _cluster(
        "system:node-bootstrapper", "certificates.k8s.io | certificatesigningrequests | create get list watch"
    ),
    _cluster(
        "system:node-problem-detector",
        "core | nodes | get",
        "core | nodes/status | patch",
        "core events.k8s.io | events | create patch update",
    ),
    _cluster(
        "system:node-proxier",
        "core | endpoints services | list watch",
        f"core | nodes | {_RO}",
        "core events.k8s.io | events | create patch update",
        "discovery.k8s.io | endpointslices | list watch",
    ),
    _cluster(
        "system:persistent-volume-provisioner",
        f"core | persistentvolumes | create delete {_RO}",
        f"core | persistentvolumeclaims | update {_RO}",
        f"storage.k8s.io | storageclasses | {_RO}",
        "core | events | watch",
        "core events.k8s.io | events | create patch update",
    ),
    _cluster(
        "system:volume-scheduler",
        f"core | persistentvolumes persistentvolumeclaims | patch update {_RO}",
        f"storage.k8s.io | storageclasses | {_RO}",
    ),
    _cluster(
        "system:node",
        "authentication.k8s.io | tokenreviews | create",
        "authorization.k8s.io | localsubjectaccessreviews subjectaccessreviews | create",
        f"core | services | {_RO}",
        f"core | nodes | create patch update {_RO}",
        "core | nodes/status pods/status | patch update",
        "core | events | create patch update",
        f"core | pods | create delete {_RO}",
        "core | pods/eviction serviceaccounts/token | create",
        f"core | configmaps secrets | {_RO}",
        "core | persistentvolumeclaims persistentvolumes endpoints | get",
        "core | persistentvolumeclaims/status | get patch update",
        f"certificates.k8s.io | certificatesigningrequests | create {_RO}",
        "coordination.k8s.io | leases | create delete get patch update",
        "storage.k8s.io | volumeattachments | get",
        f"storage.k8s.io | csidrivers | {_RO}",
        "storage.k8s.io | csinodes | create delete get patch update",
        f"node.k8s.io | runtimeclasses | {_RO}",
    ),
    _cluster(
        "system:kube-scheduler",
        "core events.k8s.io | events | create patch update",
        "coordination.k8s.io | leases | create",
        "coordination.k8s.io | leases | get update | kube-scheduler",
        "core | nodes namespaces replicationcontrollers services persistentvolumeclaims persistentvolumes"
        f" | {_RO}",
        f"core | pods | delete {_RO}",
        "core | bindings pods/binding | create",
        "core | pods/status | patch update",
        f"apps extensions | replicasets | {_RO}",
        f"apps | statefulsets | {_RO}",
        f"policy | poddisruptionbudgets | {_RO}",
        "authentication.k8s.io | tokenreviews | create",
        "authorization.k8s.io | subjectaccessreviews | create",
        f"storage.k8s.io | csinodes csidrivers csistoragecapacities | {_RO}",
    ),
    _cluster(
        "system:kube-controller-manager",
        "core events.k8s.io | events | create patch update",
        "coordination.k8s.io | leases | create",
        "coordination.k8s.io | leases | get update | kube-controller-manager",
        "core | secrets serviceaccounts | create get update",
        "core | secrets | delete",
        "core | configmaps namespaces | get",
        "authentication.k8s.io | tokenreviews | create",
        "authorization.k8s.io | subjectaccessreviews | create",
        "* | * | list watch",
        "core | serviceaccounts/token | create",
    ),
    # kubeadm's own.
    _cluster("kubeadm:get-nodes", "core | nodes | get"),
    _cluster(
        "system:coredns",
        "core | endpoints services pods namespaces | list watch",
        "discovery.k8s.io | endpointslices | list watch",
    ),
    BuiltinRole(
        "Role",
        "kube-system",
        "extension-apiserver-authentication-reader",
        (f"core | configmaps | {_RO} | extension-apiserver-authentication",),
    ),
    BuiltinRole(
        "Role",
        "kube-public",
        "kubeadm:bootstrap-signer-clusterinfo",
        ("core | configmaps | get | cluster-info",),
    ),
)


@dataclass(frozen=True, slots=True)
class StockBinding:
    role_kind: str
    role_name: str
    subjects: frozenset[tuple[str, str | None, str]]
    """``(kind, namespace, name)`` of the subjects the stock binding may hold (it may hold fewer)."""


def _user(name: str) -> tuple[str, None, str]:
    return ("User", None, name)


def _group(name: str) -> tuple[str, None, str]:
    return ("Group", None, name)


def _sa(namespace: str, name: str) -> tuple[str, str, str]:
    return ("ServiceAccount", namespace, name)


_EVERYONE = frozenset({_group("system:authenticated"), _group("system:unauthenticated")})
_BOOTSTRAP = _group("system:bootstrappers:kubeadm:default-node-token")

# (binding kind, namespace, name) -> what the stock binding grants to whom. Bindings named
# system:controller:NAME that bind the same-named role to ServiceAccount kube-system/NAME are
# stock too (one per controller of kube-controller-manager): see ``is_stock_binding`` in rbac.py.
STOCK_BINDINGS: dict[tuple[str, str | None, str], StockBinding] = {
    ("ClusterRoleBinding", None, "cluster-admin"): StockBinding(
        "ClusterRole", "cluster-admin", frozenset({_group("system:masters")})
    ),
    # Before 1.14 system:discovery and system:basic-user were bound to system:unauthenticated too.
    ("ClusterRoleBinding", None, "system:basic-user"): StockBinding(
        "ClusterRole", "system:basic-user", _EVERYONE
    ),
    ("ClusterRoleBinding", None, "system:discovery"): StockBinding(
        "ClusterRole", "system:discovery", _EVERYONE
    ),
    ("ClusterRoleBinding", None, "system:public-info-viewer"): StockBinding(
        "ClusterRole", "system:public-info-viewer", _EVERYONE
    ),
    ("ClusterRoleBinding", None, "system:kube-controller-manager"): StockBinding(
        "ClusterRole", "system:kube-controller-manager", frozenset({_user("system:kube-controller-manager")})
    ),
    ("ClusterRoleBinding", None, "system:kube-scheduler"): StockBinding(
        "ClusterRole", "system:kube-scheduler", frozenset({_user("system:kube-scheduler")})
    ),
    ("ClusterRoleBinding", None, "system:volume-scheduler"): StockBinding(
        "ClusterRole", "system:volume-scheduler", frozenset({_user("system:kube-scheduler")})
    ),
    ("ClusterRoleBinding", None, "system:kube-dns"): StockBinding(
        "ClusterRole", "system:kube-dns", frozenset({_sa("kube-system", "kube-dns")})
    ),
    ("ClusterRoleBinding", None, "system:monitoring"): StockBinding(
        "ClusterRole", "system:monitoring", frozenset({_group("system:monitoring")})
    ),
    ("ClusterRoleBinding", None, "system:node"): StockBinding(
        "ClusterRole", "system:node", frozenset({_group("system:nodes")})
    ),
    ("ClusterRoleBinding", None, "system:node-proxier"): StockBinding(
        "ClusterRole", "system:node-proxier", frozenset({_user("system:kube-proxy")})
    ),
    ("ClusterRoleBinding", None, "system:service-account-issuer-discovery"): StockBinding(
        "ClusterRole",
        "system:service-account-issuer-discovery",
        frozenset({_group("system:serviceaccounts")}),
    ),
    ("RoleBinding", "kube-system", "system::extension-apiserver-authentication-reader"): StockBinding(
        "Role",
        "extension-apiserver-authentication-reader",
        frozenset({_user("system:kube-controller-manager"), _user("system:kube-scheduler")}),
    ),
    ("RoleBinding", "kube-system", "system::leader-locking-kube-controller-manager"): StockBinding(
        "Role",
        "system::leader-locking-kube-controller-manager",
        frozenset({_user("system:kube-controller-manager"), _sa("kube-system", "kube-controller-manager")}),
    ),
    ("RoleBinding", "kube-system", "system::leader-locking-kube-scheduler"): StockBinding(
        "Role",
        "system::leader-locking-kube-scheduler",
        frozenset({_user("system:kube-scheduler"), _sa("kube-system", "kube-scheduler")}),
    ),
    # kubeadm's own.
    ("ClusterRoleBinding", None, "kubeadm:cluster-admins"): StockBinding(
        "ClusterRole", "cluster-admin", frozenset({_group("kubeadm:cluster-admins")})
    ),
    ("ClusterRoleBinding", None, "kubeadm:kubelet-bootstrap"): StockBinding(
        "ClusterRole", "system:node-bootstrapper", frozenset({_BOOTSTRAP})
    ),
    ("ClusterRoleBinding", None, "kubeadm:node-autoapprove-bootstrap"): StockBinding(
        "ClusterRole",
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        frozenset({_BOOTSTRAP}),
    ),
    ("ClusterRoleBinding", None, "kubeadm:node-autoapprove-certificate-rotation"): StockBinding(
        "ClusterRole",
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        frozenset({_group("system:nodes")}),
    ),
    ("ClusterRoleBinding", None, "kubeadm:get-nodes"): StockBinding(
        "ClusterRole", "kubeadm:get-nodes", frozenset({_BOOTSTRAP})
    ),
    ("ClusterRoleBinding", None, "kubeadm:node-proxier"): StockBinding(
        "ClusterRole", "system:node-proxier", frozenset({_sa("kube-system", "kube-proxy")})
    ),
    ("ClusterRoleBinding", None, "system:coredns"): StockBinding(
        "ClusterRole", "system:coredns", frozenset({_sa("kube-system", "coredns")})
    ),
    ("RoleBinding", "kube-public", "kubeadm:bootstrap-signer-clusterinfo"): StockBinding(
        "Role", "kubeadm:bootstrap-signer-clusterinfo", frozenset({_user("system:anonymous")})
    ),
}

_STOCK_ROLE_NAMES = frozenset(role.name for role in BUILTIN_ROLES) | frozenset(
    {"system::leader-locking-kube-controller-manager", "system::leader-locking-kube-scheduler"}
)


def is_stock_role_name(name: str) -> bool:
    """A role every cluster has (or kubeadm creates): its own rules are not a user's choice."""
    return name in _STOCK_ROLE_NAMES or name.startswith("system:controller:")


def is_bootstrap(role: BuiltinRole) -> bool:
    """A role of the API server's bootstrap policy, which it reconciles at every start (kubeadm's own
    roles, ``kubeadm:*``, are created once and left alone)."""
    return not role.name.startswith("kubeadm:")
