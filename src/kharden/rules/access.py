"""Checklist section B: access, ServiceAccounts and RBAC.

RBAC rules read effective permissions from the RBAC engine (``analysis/rbac.py``): bindings
resolved to their roles, ClusterRole aggregation applied, RoleBindings granting only in their
namespace. They report one finding per subject of a binding, on that subject, naming the chain
binding -> role -> rule with the rule's file and line. The bindings of a stock cluster (in a
snapshot of one) are not reported; a user's binding to a built-in role is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..analysis.context import ScanContext
from ..analysis.podspec import TEMPLATE_KINDS, EffectivePod
from ..analysis.rbac import (
    ALL,
    BIND_REQUESTS,
    RBAC_GROUP,
    RBAC_KINDS,
    Binding,
    Grant,
    PolicyRule,
    Request,
    Role,
    RuleRef,
    Subject,
    describe_role_rules,
    describe_rules,
)
from ..model import Hit, ObjRef, Severity
from ._constraint import Remedy
from ._ruleset import RuleSet

rules = RuleSet("access")

RBAC = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
RBAC_PRACTICES = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
SERVICE_ACCOUNTS = "https://kubernetes.io/docs/concepts/security/service-accounts/"
SA_TASK = "https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/"


@rules.inventory(
    "sa.default",
    Severity.MEDIUM,
    needs=(*TEMPLATE_KINDS, "ServiceAccount"),
    evidence="M",
    title="Workload runs as the default ServiceAccount",
    remediation=(
        "create a ServiceAccount for the workload and set serviceAccountName; leave the namespace's"
        " default ServiceAccount unbound, with automountServiceAccountToken: false"
    ),
    references=(SERVICE_ACCOUNTS, SA_TASK),
)
def default(context: ScanContext) -> Iterator[Hit]:
    """Fires for a workload that runs as its namespace's default ServiceAccount: serviceAccountName (or
    the legacy serviceAccount) unset, empty or "default". Graded low when the workload does not mount its
    token.

    Every pod that names no ServiceAccount shares the default one: a permission granted to one of them is
    granted to all, and no binding can tell the components apart. Without a mounted token the identity is
    out of the pod's reach, so the risk is small. Static pods (from a node's files) and their mirror pods
    are left out: their spec may not name a ServiceAccount and the kubelet mounts no token for them.

    Reads: spec.serviceAccountName, spec.serviceAccount and spec.automountServiceAccountToken of every
    workload; automountServiceAccountToken of its ServiceAccount.
    """
    for workload in context.service_accounts.workloads:
        if not workload.uses_default:
            continue
        field = workload.field
        written = (
            f"{field.path.rsplit('/', 1)[-1]}: {field.value!r}"
            if field.is_set
            else "serviceAccountName is not set"
        )
        mounted = workload.token_mounted
        yield Hit(
            field.path,
            f"the workload runs as {workload.account} ({written})"
            + ("" if mounted else "; its token is not mounted"),
            severity=None if mounted else Severity.LOW,
            obj=workload.pod.obj,
        )


@rules.inventory(
    "sa.shared",
    Severity.MEDIUM,
    needs=TEMPLATE_KINDS,
    title="ServiceAccount shared by several workloads",
    remediation="give each workload its own ServiceAccount, bound to the permissions that workload needs",
    references=(SERVICE_ACCOUNTS, RBAC_PRACTICES),
)
def shared(context: ScanContext) -> Iterator[Hit]:
    """Fires for a ServiceAccount (other than default, see sa.default) that more than one component runs as.

    Components sharing an identity share its permissions: each gets what any of them needs, and a
    compromise of the least trusted one is a compromise of all. A component is what the recommended labels
    say belongs together: the parts of one instance (app.kubernetes.io/instance equal: a chart's read,
    write and backend Deployments), and the versions of one app (app or app.kubernetes.io/name equal,
    each with its version label: Istio's reviews-v1, -v2, -v3). Copies of one workload in several files
    (variants of an install) count once.

    Reads: spec.serviceAccountName and spec.serviceAccount of every workload; the labels app.kubernetes.io/
    instance, app.kubernetes.io/name, app, app.kubernetes.io/version and version of its pod template (else
    of the workload); ServiceAccount objects.
    """
    for account, workloads in context.service_accounts.by_account.items():
        if account.name == "default":
            continue
        components: dict[tuple[str, str], dict[ObjRef, None]] = {}
        for workload in sorted(workloads, key=lambda w: w.pod.obj.ref):
            components.setdefault(_component(workload.pod), {})[workload.pod.obj.ref] = None
        if len(components) < 2:
            continue
        names = ", ".join(_component_text(key, list(refs)) for key, refs in components.items())
        first = min(workloads, key=lambda w: w.pod.obj.ref)
        obj = first.account_obj or first.pod.obj
        path = "/metadata/name" if first.account_obj is not None else first.field.path
        yield Hit(path, f"{len(components)} components share {account}: {names}", obj=obj)


def _component(pod: EffectivePod) -> tuple[str, str]:
    """What a workload is part of: ``("instance", name)``, ``("app", name)`` for a versioned app, or
    ``("workload", "Kind/name")``, by the labels of its pod template (else of the workload)."""
    labels = {**pod.obj.labels, **pod.labels}
    instance = labels.get("app.kubernetes.io/instance")
    if instance:
        return "instance", instance
    name = labels.get("app.kubernetes.io/name") or labels.get("app")
    if name and (labels.get("app.kubernetes.io/version") or labels.get("version")):
        return "app", name
    return "workload", f"{pod.obj.ref.kind}/{pod.obj.ref.name}"


def _component_text(key: tuple[str, str], refs: list[ObjRef]) -> str:
    names = " + ".join(f"{ref.kind} {ref.name!r}" for ref in refs)
    if len(refs) == 1:
        return names
    what = "versions of app" if key[0] == "app" else "parts of instance"
    return f"{names} ({what} {key[1]!r})"


@rules.inventory(
    "sa.automount",
    Severity.LOW,
    needs=(*TEMPLATE_KINDS, "ServiceAccount", *RBAC_KINDS),
    title="Unneeded ServiceAccount token mounted",
    remediation=(
        "set automountServiceAccountToken: false on the pod template (or on its ServiceAccount) when the"
        " workload does not call the Kubernetes API"
    ),
    references=(SA_TASK + "#opt-out-of-api-credential-automounting", SERVICE_ACCOUNTS),
    fix=Remedy("set", False),
)
def automount(context: ScanContext) -> Iterator[Hit]:
    """Fires when a workload mounts its ServiceAccount token (automountServiceAccountToken not false on the
    pod, nor on the ServiceAccount unless the pod overrides it) though no binding of the scan grants that
    ServiceAccount anything: by name, as user system:serviceaccount:NAMESPACE:NAME, or through the group of
    its namespace's ServiceAccounts.

    A token the workload does not need is a credential for whoever gets into the container: it
    authenticates to the API server, and every permission later granted to the ServiceAccount, or to all
    ServiceAccounts, comes with it. Grants to every ServiceAccount of the cluster (system:serviceaccounts,
    system:authenticated) do not count: they are no reason for this workload to hold a token, and neither
    are the stock bindings every cluster has. Static and mirror pods get no token and are left out.

    Reads: spec.automountServiceAccountToken, spec.serviceAccountName of every workload;
    automountServiceAccountToken of ServiceAccounts; RoleBindings and ClusterRoleBindings.
    """
    rbac = context.rbac
    for workload in context.service_accounts.workloads:
        if not workload.token_mounted or any(
            not binding.stock and named not in _EVERY_ACCOUNT
            for binding, named, _ in rbac.bindings_of(workload.account)
        ):
            continue
        pod_field = workload.pod.automount_token
        if pod_field.is_set:
            why = "automountServiceAccountToken: true"
        elif workload.account_automount is not None and workload.account_automount.is_set:
            why = "automountServiceAccountToken: true on the ServiceAccount"
        else:
            why = "automountServiceAccountToken is not set"
        yield Hit(
            pod_field.path,
            f"the token of {workload.account} is mounted"
            f" ({why}), though no binding in this scan grants that ServiceAccount anything",
            obj=workload.pod.obj,
        )


@rules.inventory(
    "rbac.wildcard",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M",
    title="Wildcard in an RBAC rule",
    remediation="list the verbs, resources and API groups the subject needs instead of '*'",
    references=(RBAC_PRACTICES + "#minimize-wildcard-use", RBAC),
)
def wildcard(context: ScanContext) -> Iterator[Hit]:
    """Fires for a Role or ClusterRole rule with '*' in verbs, resources (also '*/subresource') or apiGroups.

    A wildcard grants what exists today and everything added later: new resources, new subresources, the
    custom resources of every operator installed afterwards, verbs such as escalate, bind and impersonate.
    The built-in roles of a cluster (cluster-admin, system:*) and the rules an aggregated ClusterRole only
    collects are not reported; the roles they come from are.

    Reads: rules[*].verbs, resources and apiGroups of Roles and ClusterRoles.
    """
    for copies in context.rbac.roles.values():
        for role in copies:
            if role.obj is None or role.builtin or role.aggregation is not None:
                continue
            for ref in role.written:
                rule = ref.rule
                fields = [
                    ("verbs", ALL in rule.verbs),
                    ("resources", any(r == ALL or r.startswith("*/") for r in rule.resources)),
                    ("apiGroups", ALL in rule.api_groups),
                ]
                wild = [name for name, found in fields if found]
                if wild:
                    yield Hit(
                        f"{ref.path}/{wild[0]}",
                        f"rule {ref.index} of {role.id} allows '*' in {_join(wild)}",
                        obj=role.obj,
                    )


@rules.inventory(
    "rbac.cluster-admin",
    Severity.CRITICAL,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="cluster-admin granted",
    remediation="bind a role with the permissions the subject needs instead of cluster-admin",
    references=(RBAC + "#user-facing-roles", RBAC_PRACTICES),
)
def cluster_admin(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants cluster-admin, or a role that is equivalent after aggregation (a rule with
    '*' verbs on '*' resources of '*' groups), to a subject outside system:. Graded high for a RoleBinding,
    which grants it in one namespace.

    cluster-admin can do anything, including reading every Secret and granting itself anything it lacks; a
    ServiceAccount that holds it makes every pod that runs as it a cluster owner.

    Reads: RoleBindings, ClusterRoleBindings, their roles and the ClusterRoles those aggregate.
    """
    held = context.rbac.rules_where(lambda rule: True if rule.superuser else None, bound=True)
    for binding, role in _user_bindings(context):
        if role not in held:
            continue
        superuser = [ref for ref, _ in held[role]]
        where = "in the whole cluster" if binding.namespace is None else f"in namespace {binding.namespace!r}"
        chain = describe_rules(binding, superuser)
        for subject, path in binding.subjects:
            if subject.is_system:
                continue
            yield Hit(
                path,
                f"grants {subject} every permission {where}, as cluster-admin: {chain}",
                severity=None if binding.namespace is None else Severity.HIGH,
                obj=binding.obj,
            )


_SECRETS_READ = [Request.of(verb, "secrets") for verb in ("get", "list", "watch")]


@rules.inventory(
    "rbac.secrets-read",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="Secrets readable",
    remediation=(
        "remove get, list and watch on secrets, or limit the rule to the Secrets the subject needs with"
        " resourceNames"
    ),
    references=(RBAC_PRACTICES + "#listing-secrets", RBAC),
)
def secrets_read(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants get, list or watch on core secrets; critical through a ClusterRoleBinding
    (every namespace's Secrets). Rules limited to named Secrets with resourceNames do not fire.

    Secrets hold ServiceAccount tokens, registry credentials, TLS keys and application passwords; list and
    watch return their content too. Reading the token Secret of a more privileged ServiceAccount is a
    well-known escalation path.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved): verbs, apiGroups,
    resources and resourceNames of each rule.
    """
    for binding, granted in _granting(context, _SECRETS_READ):
        severity = Severity.CRITICAL if binding.namespace is None else None
        yield from _subject_hits(binding, granted, severity)


_ESCALATE = (
    [Request.of("escalate", resource, RBAC_GROUP) for resource in ("roles", "clusterroles")]
    + list(BIND_REQUESTS)
    + [Request.of("impersonate", resource) for resource in ("users", "groups", "serviceaccounts")]
    + [Request.of("impersonate", "uids", "authentication.k8s.io")]
)
_RBAC_WRITE = [
    Request.of(verb, resource, "rbac.authorization.k8s.io")
    for verb in ("create", "update", "patch")
    for resource in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
]


@rules.inventory(
    "rbac.escalate",
    Severity.CRITICAL,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="RBAC escalation",
    remediation="remove escalate, bind and impersonate, and write access to roles and bindings",
    references=(RBAC + "#privilege-escalation-prevention-and-bootstrapping", RBAC_PRACTICES),
)
def escalate(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants escalate or bind on roles or clusterroles, impersonate on users, groups,
    serviceaccounts or uids ('*' verbs include them), or create, update or patch on roles, rolebindings,
    clusterroles or clusterrolebindings. Rules limited by resourceNames fire too: binding or impersonating
    the one role or user named is as much as that role or user holds.

    RBAC keeps subjects from granting what they do not hold, unless they may escalate or bind; impersonate
    lets a subject act as anyone, a ServiceAccount of kube-system included. Each is a path to cluster-admin.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved).
    """
    for binding, granted in _granting(context, _ESCALATE, some_object=True, also=_RBAC_WRITE):
        yield from _subject_hits(binding, granted)


_POD_EXEC = [Request.of("create", f"pods/{sub}") for sub in ("exec", "attach", "portforward")] + [
    Request.of("create", "nodes/proxy")
]


@rules.inventory(
    "rbac.pod-exec",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="Exec into pods",
    remediation="remove create on pods/exec, pods/attach, pods/portforward and nodes/proxy",
    references=(RBAC_PRACTICES, RBAC + "#referring-to-resources"),
)
def pod_exec(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants create on pods/exec, pods/attach, pods/portforward or nodes/proxy (a rule
    limited to named pods by resourceNames too).

    Exec and attach run commands in other workloads' containers, with their ServiceAccount tokens and
    mounted Secrets; nodes/proxy reaches the kubelet API of every node, which runs commands in any pod.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved).
    """
    for binding, granted in _granting(context, _POD_EXEC, some_object=True):
        yield from _subject_hits(binding, granted)


_TEMPLATE_KINDS = [
    ("", "pods"),
    ("", "replicationcontrollers"),
    *(("apps", r) for r in ("deployments", "replicasets", "statefulsets", "daemonsets")),
    *(("extensions", r) for r in ("deployments", "replicasets", "daemonsets")),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
]
_WORKLOAD_WRITE = [
    Request.of(verb, resource, group)
    for verb in ("create", "update", "patch")
    for group, resource in _TEMPLATE_KINDS
] + [Request.of(verb, "pods/ephemeralcontainers") for verb in ("update", "patch")]


@rules.inventory(
    "rbac.workload-create",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="Creates workloads",
    remediation=(
        "remove create, update and patch on pods and pod controllers, or enforce the restricted Pod Security"
        " Standard in the namespaces the subject can write"
    ),
    references=(RBAC_PRACTICES + "#workload-creation", RBAC),
)
def workload_create(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants create, update or patch on pods, replicationcontrollers, deployments,
    replicasets, statefulsets, daemonsets, jobs or cronjobs, or update or patch on pods/ephemeralcontainers.

    Whoever creates a pod chooses what it runs and as whom: a privileged container with the node's
    filesystem, or any ServiceAccount of the namespace with its token and Secrets. Unless admission forbids
    it, creating workloads is owning the node and the namespace.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved).
    """
    for binding, granted in _granting(context, _WORKLOAD_WRITE, some_object=True):
        yield from _subject_hits(binding, granted)


_TOKEN_REQUEST = [Request.of("create", "serviceaccounts/token")]
# Approving a CSR is an update of its approval subresource *and* the approve verb on its signer
# (https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization).
_CSR_APPROVAL = [
    Request.of(verb, "certificatesigningrequests/approval", "certificates.k8s.io")
    for verb in ("update", "patch")
]
_SIGNER_APPROVE = Request.of("approve", "signers", "certificates.k8s.io")


@rules.inventory(
    "rbac.token-create",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="Mints credentials",
    remediation=(
        "remove create on serviceaccounts/token, and update/patch on certificatesigningrequests/approval"
        " with approve on signers"
    ),
    references=(RBAC_PRACTICES + "#certificate-signing-requests", RBAC_PRACTICES + "#token-request"),
)
def token_create(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants create on serviceaccounts/token (a rule limited to named ServiceAccounts
    too), or update or patch on certificatesigningrequests/approval to a subject that also holds approve
    on signers (certificates.k8s.io).

    A TokenRequest returns a token of the named ServiceAccount, with all its permissions; approving
    certificate signing requests mints client certificates, for system:masters if the signer allows it.
    The API server lets a CSR be approved only by whoever may both update its approval subresource and
    approve for its signer: one without the other mints nothing.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved).
    """
    # One finding per subject of a binding: the token request and the CSR approval it grants, together.
    found: dict[tuple[int, str], Hit] = {}
    for binding, granted in _granting(context, _TOKEN_REQUEST, some_object=True):
        for hit in _subject_hits(binding, granted):
            found[(id(binding), hit.path)] = hit
    rbac = context.rbac
    approve = _SIGNER_APPROVE
    signing = rbac.rules_where(
        lambda rule: True if rule.allows(approve, some_object=True) else None, bound=True
    )

    def first_signer_grant(subject: Subject) -> Grant | None:
        """The first grant of the subject allowing approve on signers (in ``PermissionSet.grants`` order)."""
        for held, named, path in rbac.permissions(subject).bindings:
            if held.role in signing and held.applies(approve):
                return Grant(named, path, held, signing[held.role][0][0])
        return None

    for binding, granted in _granting(context, _CSR_APPROVAL, some_object=True):
        for (subject, _), hit in zip(binding.subjects, _subject_hits(binding, granted), strict=True):
            signer = first_signer_grant(subject)
            if signer is None:
                continue  # the API server refuses an approval without approve on the CSR's signer
            names = sorted(signer.rule.rule.resource_names)
            which = f" ({', '.join(repr(n) for n in names)})" if names else ""
            approval = f"with approve on signers{which}: {signer.chain()}"
            key = (id(binding), hit.path)
            if key in found:
                grants = hit.message.removeprefix(f"grants {subject} ")
                found[key] = found[key]._replace(message=f"{found[key].message}; and {grants}; {approval}")
            else:
                found[key] = hit._replace(message=f"{hit.message}; {approval}")
    yield from found.values()


_ADMISSION_WRITE = [
    Request.of(verb, resource, "admissionregistration.k8s.io")
    for verb in ("create", "update", "patch", "delete", "deletecollection")
    for resource in (
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    )
]


@rules.inventory(
    "rbac.admission-write",
    Severity.HIGH,
    needs=RBAC_KINDS,
    evidence="M, G",
    title="Changes admission control",
    remediation=(
        "remove write access to webhook configurations and admission policies, or limit it with"
        " resourceNames to the configuration the component owns"
    ),
    references=(
        "https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/",
        RBAC_PRACTICES,
    ),
)
def admission_write(context: ScanContext) -> Iterator[Hit]:
    """Fires when a binding grants create, update, patch or delete on validating or mutating webhook
    configurations, or on ValidatingAdmissionPolicies, MutatingAdmissionPolicies and their bindings. A rule
    limited by resourceNames (a webhook updating its own configuration's CA bundle) does not fire.

    Admission control enforces the policies that keep pods unprivileged; whoever writes it can switch that
    off, or register a mutating webhook that sees, and rewrites, every object sent to the API server.

    Reads: RoleBindings, ClusterRoleBindings, their roles (aggregation resolved).
    """
    for binding, granted in _granting(context, _ADMISSION_WRITE):
        yield from _subject_hits(binding, granted)


_ANONYMOUS = {
    "system:anonymous": "every unauthenticated request",
    "system:unauthenticated": "every unauthenticated request",
    "system:authenticated": "every user and ServiceAccount that can authenticate",
}


@rules.inventory(
    "rbac.anonymous",
    Severity.CRITICAL,
    needs=RBAC_KINDS,
    evidence="M",
    title="Binding to anonymous or all users",
    remediation="bind the role to the users, groups or ServiceAccounts that need it",
    references=(
        RBAC + "#discovery-roles",
        "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
    ),
)
def anonymous(context: ScanContext) -> Iterator[Hit]:
    """Fires for a binding to system:anonymous, system:unauthenticated or system:authenticated, except the
    stock bindings every cluster has (system:discovery, system:basic-user, system:public-info-viewer) while
    their ClusterRoles grant nothing beyond the stock rules.

    system:authenticated is everyone with any credential, every ServiceAccount of every namespace included;
    the other two are anyone who can reach the API server.

    Reads: subjects and roleRef of RoleBindings and ClusterRoleBindings; the stock ClusterRoles' rules.
    """
    for binding in context.rbac.bindings:
        if binding.stock:
            continue
        role = binding.role.label if binding.role is not None else str(binding.role_ref)
        for subject, path in binding.subjects:
            if subject.kind in {"User", "Group"} and subject.name in _ANONYMOUS:
                yield Hit(
                    path,
                    f"grants {role} to {subject}, that is to {_ANONYMOUS[subject.name]}",
                    obj=binding.obj,
                )


@rules.inventory(
    "rbac.default-sa-bound",
    Severity.MEDIUM,
    needs=RBAC_KINDS,
    evidence="M",
    title="Default ServiceAccount bound",
    remediation="bind the role to a ServiceAccount created for the workload that needs it",
    references=(SERVICE_ACCOUNTS + "#default-service-accounts", RBAC_PRACTICES),
)
def default_sa_bound(context: ScanContext) -> Iterator[Hit]:
    """Fires for a binding whose subject is a default ServiceAccount (as a ServiceAccount or as the user
    system:serviceaccount:NAMESPACE:default).

    Every pod of the namespace that names no ServiceAccount runs as default: the permission goes to all of
    them, today's and tomorrow's.

    Reads: subjects of RoleBindings and ClusterRoleBindings.
    """
    for binding in context.rbac.bindings:
        if binding.stock:
            continue
        role = binding.role.label if binding.role is not None else str(binding.role_ref)
        for subject, path in binding.subjects:
            if subject.kind == "ServiceAccount" and subject.name == "default":
                yield Hit(
                    path,
                    f"grants {role} to {subject}, the identity of every pod in {subject.namespace!r} that"
                    " names no ServiceAccount",
                    obj=binding.obj,
                )


_EVERY_ACCOUNT = {Subject("Group", "system:serviceaccounts"), Subject("Group", "system:authenticated")}


def _user_bindings(context: ScanContext) -> Iterator[tuple[Binding, Role]]:
    """Bindings that are not a stock cluster's and whose role is known, with that role."""
    for binding in context.rbac.bindings:
        if not binding.stock and binding.role is not None:
            yield binding, binding.role


@dataclass(frozen=True, slots=True)
class _Granted:
    """What a role grants of the requests asked about, in one scope, described once for all its bindings."""

    rules: list[tuple[RuleRef, list[Request]]]
    """The role's rules that allow some of the requests, each with those requests."""
    what: str
    """``get, list on secrets; create on deployments (apps)``, ``(only 'a' and 'b')`` for resourceNames."""
    chain: str
    """The rules part of the chain (:func:`describe_role_rules`)."""


def _granting(
    context: ScanContext,
    requests: Sequence[Request],
    *,
    some_object: bool = False,
    also: Sequence[Request] = (),
) -> Iterator[tuple[Binding, _Granted]]:
    """Each user binding whose role allows some of ``requests`` where it can grant them, with what it allows.

    ``some_object`` counts rules limited by resourceNames for ``requests``; never for ``also``. Each distinct
    rule is matched once (``Rbac.rules_where``), and each role once per scope, however many bindings name it.
    """
    asked = [(r, some_object) for r in requests] + [(r, False) for r in also]
    verbs = {r.verb for r, _ in asked}
    resources = {r.combined_resource for r, _ in asked} | {
        f"*/{r.subresource}" for r, _ in asked if r.subresource
    }

    def allowed(rule: PolicyRule) -> list[Request] | None:
        if (ALL not in rule.verbs and rule.verbs.isdisjoint(verbs)) or (
            ALL not in rule.resources and rule.resources.isdisjoint(resources)
        ):
            return None
        return [r for r, some in asked if rule.allows(r, some_object=some)] or None

    held = context.rbac.rules_where(allowed, bound=True)
    granted_by_role: dict[tuple[Role, bool], _Granted | None] = {}
    for binding, role in _user_bindings(context):
        if role not in held:
            continue
        key = (role, binding.namespace is not None)
        if key not in granted_by_role:
            matched = list(held[role])
            if key[1]:  # a RoleBinding never grants cluster-scoped resources
                matched = [(ref, [r for r in found if not r.cluster_scoped]) for ref, found in matched]
                matched = [(ref, found) for ref, found in matched if found]
            granted_by_role[key] = _granted(role, matched) if matched else None
        granted = granted_by_role[key]
        if granted is not None:
            yield binding, granted


def _granted(role: Role, matched: list[tuple[RuleRef, list[Request]]]) -> _Granted:
    """What ``matched`` grants, in words: resources of one group granted the same verbs are named together
    (``get, list on secrets; create on deployments, daemonsets (apps)``)."""
    everything = [requests for ref, requests in matched if ALL in ref.rule.resources & ref.rule.api_groups]
    if everything:
        # A rule on every resource of every group says it all: name its verbs and a few of the resources.
        verbs_of_all = dict.fromkeys(r.verb for requests in everything for r in requests)
        named = list(dict.fromkeys(r.combined_resource for requests in everything for r in requests))
        if len(named) > 4:
            named[3:] = [f"{len(named) - 3} more"]
        what = f"{', '.join(verbs_of_all)} on {_join(named)}, as on every resource of every API group ('*')"
    else:
        verbs: dict[tuple[str, str], list[str]] = {}
        for _, requests in matched:
            for request in requests:
                found = verbs.setdefault((request.group, request.combined_resource), [])
                if request.verb not in found:
                    found.append(request.verb)
        together: dict[tuple[tuple[str, ...], str], list[str]] = {}
        for (group, resource), resource_verbs in verbs.items():
            together.setdefault((tuple(resource_verbs), group), []).append(resource)
        what = "; ".join(
            f"{', '.join(v)} on {', '.join(resources)}" + (f" ({group})" if group else "")
            for (v, group), resources in together.items()
        )
    if all(ref.rule.resource_names for ref, _ in matched):
        names = sorted({name for ref, _ in matched for name in ref.rule.resource_names})
        what += f" (only {_join([repr(n) for n in names])})"
    return _Granted(matched, what, describe_role_rules(role, [ref for ref, _ in matched]))


def _subject_hits(binding: Binding, granted: _Granted, severity: Severity | None = None) -> Iterator[Hit]:
    """One hit per subject of ``binding``: what it is granted, where, and through which rules."""
    where = "cluster-wide" if binding.namespace is None else f"in namespace {binding.namespace!r}"
    role = binding.role.label if binding.role is not None else str(binding.role_ref)
    chain = f"{binding.label} -> {role} {granted.chain}"
    for subject, path in binding.subjects:
        yield Hit(
            path, f"grants {subject} {granted.what} {where}: {chain}", severity=severity, obj=binding.obj
        )


def _join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
