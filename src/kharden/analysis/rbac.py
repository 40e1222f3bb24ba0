"""Effective RBAC permissions: what a subject may do, who may do something, and which objects say so.

Kubernetes semantics, as the RBAC authorizer applies them
(https://kubernetes.io/docs/reference/access-authn-authz/rbac/):

- A ClusterRoleBinding grants its ClusterRole everywhere: in every namespace, on cluster-scoped
  resources and on non-resource URLs. A RoleBinding grants its Role, or a ClusterRole, in the
  binding's namespace only: never on cluster-scoped resources, never on non-resource URLs.
- A rule allows a request when its verbs, apiGroups, resources and resourceNames all match, each
  exactly or by ``*``. A subresource is named ``pods/exec``: ``pods`` does not allow it, ``*`` and
  ``*/exec`` do. ``secrets`` in group ``apps`` is not the core ``secrets``. A rule with
  resourceNames allows only requests that name one of those objects, so never list, watch or
  create. Non-resource URLs match exactly or by a trailing ``*``.
- A ClusterRole with an ``aggregationRule`` holds the rules of every ClusterRole its label
  selectors match, transitively (``admin`` aggregates ``edit``, which aggregates ``view``); the
  aggregation controller overwrites whatever its own ``rules`` say.
  https://kubernetes.io/docs/reference/access-authn-authz/rbac/#aggregated-clusterroles
- A ServiceAccount is User ``system:serviceaccount:NS:NAME`` in the groups ``system:serviceaccounts``,
  ``system:serviceaccounts:NS`` and ``system:authenticated``. A ServiceAccount subject without a
  namespace in a RoleBinding is one of the binding's namespace.

A role that a binding names and the scan does not define is looked up among the roles every
cluster has (``_rbac_builtin``). A bootstrap role the scan does define (``cluster-admin``, ``edit``,
``system:...``) is what the API server makes of it at start-up: the object's rules plus the bootstrap
rules it lacks, unless it is annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"``.
Every answer carries its chain, binding -> role -> rule, and each rule knows the role it is written
in and its index, so a finding names file and line.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import InputError
from ..model import Location, Obj, slot_init
from . import _rbac_builtin as builtin
from .podspec import FieldReader
from .selectors import NOTHING, LabelSelector, parse_label_selector

__all__ = [
    "ALL",
    "BIND_REQUESTS",
    "RBAC_GROUP",
    "Binding",
    "Grant",
    "Holding",
    "PermissionSet",
    "PolicyRule",
    "Rbac",
    "Request",
    "Role",
    "RoleId",
    "RuleRef",
    "Subject",
    "custom_resources",
    "describe_role_rules",
    "describe_rules",
    "parse_request",
]

RBAC_GROUP = "rbac.authorization.k8s.io"
ALL = "*"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
RBAC_KINDS = ROLE_KINDS + BINDING_KINDS
SERVICE_ACCOUNT = "ServiceAccount"
_SA_USER_PREFIX = "system:serviceaccount:"
_T = TypeVar("_T")


# Built-in resources: plural -> (preferred API group, cluster-scoped?). Bare names on the command
# line resolve through it, and RoleBindings never grant the cluster-scoped ones.
def _resources(group: str, cluster_scoped: bool, names: str) -> dict[str, tuple[str, bool]]:
    return dict.fromkeys(names.split(), (group, cluster_scoped))


_RESOURCES: dict[str, tuple[str, bool]] = {
    **_resources(
        "",
        False,
        "bindings configmaps endpoints events limitranges persistentvolumeclaims pods podtemplates"
        " replicationcontrollers resourcequotas secrets serviceaccounts services",
    ),
    **_resources("", True, "componentstatuses namespaces nodes persistentvolumes users groups"),
    **_resources("apps", False, "controllerrevisions daemonsets deployments replicasets statefulsets"),
    **_resources("batch", False, "jobs cronjobs"),
    **_resources("autoscaling", False, "horizontalpodautoscalers"),
    **_resources("policy", False, "poddisruptionbudgets"),
    **_resources("policy", True, "podsecuritypolicies"),
    **_resources("networking.k8s.io", False, "ingresses networkpolicies"),
    **_resources("networking.k8s.io", True, "ingressclasses ipaddresses servicecidrs"),
    **_resources(RBAC_GROUP, False, "roles rolebindings"),
    **_resources(RBAC_GROUP, True, "clusterroles clusterrolebindings"),
    **_resources(
        "admissionregistration.k8s.io",
        True,
        "validatingwebhookconfigurations mutatingwebhookconfigurations validatingadmissionpolicies"
        " validatingadmissionpolicybindings mutatingadmissionpolicies mutatingadmissionpolicybindings",
    ),
    **_resources("certificates.k8s.io", True, "certificatesigningrequests signers clustertrustbundles"),
    **_resources("apiextensions.k8s.io", True, "customresourcedefinitions"),
    **_resources("apiregistration.k8s.io", True, "apiservices"),
    **_resources("storage.k8s.io", True, "storageclasses csidrivers csinodes volumeattachments"),
    **_resources("storage.k8s.io", False, "csistoragecapacities"),
    **_resources("scheduling.k8s.io", True, "priorityclasses"),
    **_resources("node.k8s.io", True, "runtimeclasses"),
    **_resources("coordination.k8s.io", False, "leases"),
    **_resources("discovery.k8s.io", False, "endpointslices"),
    **_resources("authentication.k8s.io", True, "tokenreviews selfsubjectreviews uids"),
    **_resources(
        "authorization.k8s.io", True, "subjectaccessreviews selfsubjectaccessreviews selfsubjectrulesreviews"
    ),
    **_resources("authorization.k8s.io", False, "localsubjectaccessreviews"),
    **_resources("flowcontrol.apiserver.k8s.io", True, "flowschemas prioritylevelconfigurations"),
}
# Resources served by more than one group: a rule naming the legacy group is scoped the same way.
_CLUSTER_SCOPED = frozenset(
    {(group, name) for name, (group, cluster) in _RESOURCES.items() if cluster}
    | {("extensions", "podsecuritypolicies"), ("authentication.k8s.io", "userextras")}
)


def is_cluster_scoped(group: str, resource: str) -> bool:
    """Whether ``resource`` of ``group`` is cluster-scoped, for the built-in resources kharden knows."""
    return (group, resource) in _CLUSTER_SCOPED


@dataclass(frozen=True, slots=True, order=True)
class Subject:
    """A User, Group or ServiceAccount (``namespace`` only for a ServiceAccount)."""

    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Subject:
        return cls(SERVICE_ACCOUNT, name, namespace)

    @property
    def is_system(self) -> bool:
        """A User or Group of the cluster's own (``system:...``); ServiceAccounts are never."""
        return self.kind != SERVICE_ACCOUNT and self.name.startswith("system:")

    def identities(self) -> tuple[Subject, ...]:
        """The subjects a binding may name to grant this one something: itself and its implicit groups.

        A ServiceAccount is in ``system:serviceaccounts``, ``system:serviceaccounts:NS`` and
        ``system:authenticated``; every other user in ``system:authenticated``, except
        ``system:anonymous``, which is in ``system:unauthenticated``. Other group memberships come
        from the authenticator and are unknown here.
        """
        if self.kind == "Group":
            return (self,)
        if self.kind == SERVICE_ACCOUNT:
            return (
                self,
                Subject("Group", "system:serviceaccounts"),
                Subject("Group", f"system:serviceaccounts:{self.namespace}"),
                Subject("Group", "system:authenticated"),
            )
        group = "system:unauthenticated" if self.name == "system:anonymous" else "system:authenticated"
        return (self, Subject("Group", group))

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace is not None else self.name
        return f"{self.kind} {name!r}"


def _normalized(kind: str, name: str, namespace: str | None) -> Subject:
    """User ``system:serviceaccount:NS:NAME`` is the ServiceAccount NS/NAME."""
    if kind == "User" and name.startswith(_SA_USER_PREFIX):
        sa_namespace, sep, sa_name = name.removeprefix(_SA_USER_PREFIX).partition(":")
        if sep and sa_namespace and sa_name and ":" not in sa_name:
            return Subject.service_account(sa_namespace, sa_name)
    return Subject(kind, name, namespace if kind == SERVICE_ACCOUNT else None)


@dataclass(frozen=True, slots=True)
class Request:
    """What a subject asks to do: a verb on a resource (and subresource, object name) or on a URL.

    ``name`` is ``None`` for requests that name no object (list, watch, create of a resource);
    ``url`` is set for non-resource requests (``get /metrics``).
    """

    verb: str
    resource: str = ""
    group: str = ""
    subresource: str = ""
    name: str | None = None
    url: str | None = None
    cluster_scoped: bool = False

    @classmethod
    def of(cls, verb: str, resource: str, group: str = "", name: str | None = None) -> Request:
        """A request on a built-in resource; ``resource`` may carry a subresource (``pods/exec``)."""
        base, _, sub = resource.partition("/")
        return cls(verb, base, group, sub, name, None, is_cluster_scoped(group, base))

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def __str__(self) -> str:
        if self.url is not None:
            return f"{self.verb} {self.url}"
        text = self.resource + (f".{self.group}" if self.group else "")
        text += f"/{self.subresource}" if self.subresource else ""
        return f"{self.verb} {text}" + (f" {self.name!r}" if self.name is not None else "")


# The authorizer asks "bind" in the namespace of the RoleBinding being written, for a ClusterRole too: a
# RoleBinding may grant it (the RBAC documentation's role-grantor example), so both are asked namespaced.
BIND_REQUESTS = (Request("bind", "clusterroles", RBAC_GROUP), Request.of("bind", "roles", RBAC_GROUP))


def parse_request(
    verb: str, resource: str, name: str | None = None, custom: Mapping[str, tuple[str, bool]] | None = None
) -> Request:
    """``get secrets``, ``create pods/exec``, ``update deployments.apps/scale``, ``get /metrics``.

    A resource without a group is looked up among the built-in resources (``deployments`` is
    ``deployments.apps``), then in ``custom`` (plural -> (group, cluster-scoped), from the scan's
    CustomResourceDefinitions). Raises :class:`ValueError` for a name found in neither.
    """
    if resource.startswith("/"):
        return Request(verb, url=resource, cluster_scoped=True)
    base, _, sub = resource.partition("/")
    plural, dot, group = base.partition(".")
    if not plural:
        raise ValueError(f"no resource in {resource!r}")
    if dot:
        custom_scope = (custom or {}).get(plural)
        cluster = (group, plural) in _CLUSTER_SCOPED or custom_scope == (group, True)
        return Request(verb, plural, group, sub, name, None, cluster)
    known = _RESOURCES.get(plural) or (custom or {}).get(plural)
    if known is None and plural != ALL:
        raise ValueError(
            f"unknown resource {plural!r}: name a built-in resource in the plural (pods, deployments),"
            " or give its group as RESOURCE.GROUP"
        )
    group, cluster = known or ("", False)
    return Request(verb, plural, group, sub, name, None, cluster)


def custom_resources(objects: Iterable[Obj]) -> dict[str, tuple[str, bool]]:
    """``plural -> (group, cluster-scoped?)`` of the CustomResourceDefinitions among ``objects``."""
    found = {}
    for obj in objects:
        spec = obj.raw.get("spec")
        if obj.ref.kind != "CustomResourceDefinition" or not isinstance(spec, Mapping):
            continue
        names, group = spec.get("names"), spec.get("group")
        plural = names.get("plural") if isinstance(names, Mapping) else None
        if isinstance(plural, str) and isinstance(group, str):
            found[plural] = (group, spec.get("scope") == "Cluster")
    return found


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One entry of a role's ``rules``."""

    verbs: frozenset[str]
    api_groups: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    resource_names: frozenset[str] = frozenset()
    non_resource_urls: frozenset[str] = frozenset()

    def allows(self, request: Request, *, some_object: bool = False) -> bool:
        """Whether this rule allows ``request`` (the RBAC authorizer's ``RuleAllows``).

        ``some_object``: also when resourceNames limit the rule to some objects, the answer to "can
        it do this to at least one object". A create or deletecollection of a resource names no
        object, so resourceNames always leave it out.
        """
        if ALL not in self.verbs and request.verb not in self.verbs:
            return False
        if request.url is not None:
            return any(
                url in {ALL, request.url} or (url.endswith("*") and request.url.startswith(url.rstrip("*")))
                for url in self.non_resource_urls
            )
        if ALL not in self.api_groups and request.group not in self.api_groups:
            return False
        resources = self.resources
        if not (
            ALL in resources
            or request.combined_resource in resources
            or (request.subresource and f"*/{request.subresource}" in resources)
        ):
            return False
        if not self.resource_names:
            return True
        if request.name is not None:
            return request.name in self.resource_names
        unnamed = not request.subresource and request.verb in {"create", "deletecollection"}
        return some_object and not unnamed

    @property
    def superuser(self) -> bool:
        """Every verb on every resource of every group: what ``cluster-admin`` holds."""
        return not self.resource_names and ALL in self.verbs & self.api_groups & self.resources


@dataclass(frozen=True, slots=True, order=True)
class RoleId:
    kind: str
    namespace: str | None
    name: str

    def __str__(self) -> str:
        name = f"{self.namespace}/{self.name}" if self.namespace is not None else self.name
        return f"{self.kind} {name!r}"


@dataclass(frozen=True, slots=True, eq=False)
class RuleRef:
    """A rule where it is written: in a role of the scan (``obj``) or of every cluster (``obj`` is None)."""

    role: RoleId
    obj: Obj | None
    index: int
    rule: PolicyRule

    @property
    def path(self) -> str:
        return f"/rules/{self.index}"

    @property
    def location(self) -> Location | None:
        return self.obj.locate(self.path) if self.obj is not None else None

    def where(self) -> str:
        """``install.yaml:120``: file and line of the rule (``built in`` for a role of kharden's own)."""
        location = self.location
        if location is None:
            return "built in"
        text = location.file or "<unknown>"
        return f"{text}:{location.line}" if location.line is not None else text


@dataclass(eq=False, slots=True)
class Role:
    """A Role or ClusterRole, with its effective rules (aggregation resolved, kept unexpanded)."""

    id: RoleId
    obj: Obj | None
    labels: Mapping[str, str]
    aggregation: tuple[LabelSelector, ...] | None
    """The ``clusterRoleSelectors`` of an aggregated ClusterRole; ``None`` when it aggregates nothing."""
    written: tuple[RuleRef, ...]
    aggregated: tuple[Role, ...] = ()
    """For an aggregated ClusterRole: the ClusterRoles whose written rules it holds, in order (those its
    selectors reach, transitively; aggregated ones only pass their selectors on). Their rules are not
    copied: a ClusterRole aggregated by a hundred others is one set of rules."""
    _rules: tuple[RuleRef, ...] | None = field(default=None, repr=False)

    @property
    def sources(self) -> tuple[Role, ...]:
        """The roles whose written rules this one holds: itself, or what it aggregates."""
        return self.aggregated if self.aggregation is not None else (self,)

    @property
    def rules(self) -> tuple[RuleRef, ...]:
        """What the role holds: its written rules, or those of the roles an aggregated ClusterRole aggregates.

        Expanded on first use; the engine's own questions (``Rbac.rules_where``) never expand it.
        """
        if self._rules is None:
            self._rules = tuple(ref for source in self.sources for ref in source.written)
        return self._rules

    @property
    def rule_count(self) -> int:
        """``len(rules)``, without expanding them."""
        return sum(len(source.written) for source in self.sources)

    @property
    def builtin(self) -> bool:
        """A role every cluster has (its definition here is kharden's, or the scan's copy of it)."""
        return builtin.is_stock_role_name(self.id.name)

    @property
    def label(self) -> str:
        return f"{self.id} (built in)" if self.obj is None else str(self.id)


@dataclass(eq=False, slots=True)
class Binding:
    """A RoleBinding or ClusterRoleBinding, its subjects (with their pointers) and the role it names."""

    obj: Obj
    namespace: str | None
    """The binding's namespace, where it grants; ``None`` for a ClusterRoleBinding (everywhere)."""
    role_ref: RoleId
    subjects: tuple[tuple[Subject, str], ...]
    role: Role | None = None
    """``None`` when the role is neither in the scan nor one every cluster has."""
    stock: bool = False
    """One of the bindings a stock cluster has, unchanged: not a user's choice."""

    @property
    def label(self) -> str:
        return str(RoleId(self.obj.ref.kind, self.namespace, self.obj.ref.name))

    def applies(self, request: Request, namespace: str | None = None) -> bool:
        """Whether this binding can grant ``request`` (in ``namespace``; ``None``: in any namespace)."""
        if self.namespace is None:
            return True
        return not request.cluster_scoped and namespace in {None, self.namespace}


@slot_init  # who-can answers, and the attack-path count, make hundreds of thousands
@dataclass(frozen=True, slots=True)
class Grant:
    """One answer: ``subject`` (as the binding names it) holds ``rule`` through ``binding``."""

    subject: Subject
    subject_path: str
    """Pointer of the subject in the binding (``/subjects/0``)."""
    binding: Binding
    rule: RuleRef

    @property
    def scope(self) -> str | None:
        """The namespace the grant holds in; ``None``: cluster-wide."""
        return self.binding.namespace

    def chain(self) -> str:
        return describe_rules(self.binding, [self.rule])


def describe_rules(binding: Binding, rules: Sequence[RuleRef], most: int = 3) -> str:
    """``ClusterRoleBinding 'b' -> ClusterRole 'r' rules 0 (rbac.yaml:12), 3 (rbac.yaml:30)``.

    Rules an aggregated ClusterRole takes from others are named with the role they are written in; past
    ``most`` rules, the rest are counted (``and 12 more rules``).
    """
    role = binding.role
    text = f"{binding.label} -> {role.label if role is not None else binding.role_ref}"
    rules_text = describe_role_rules(role, rules, most)
    return f"{text} {rules_text}" if rules_text else text


def describe_role_rules(role: Role | None, rules: Sequence[RuleRef], most: int = 3) -> str:
    """The rules part of :func:`describe_rules`: the same for every binding of ``role``."""
    groups: dict[RoleId, list[RuleRef]] = {}
    for ref in rules[:most]:
        groups.setdefault(ref.role, []).append(ref)
    parts = []
    for role_id, refs in groups.items():
        # a built-in rule of a role the scan defines is one the API server adds back: say so
        shown = [ref.obj is not None or (role is not None and role.obj is not None) for ref in refs]
        where = ", ".join(
            f"{r.index} ({r.where()})" if s else str(r.index) for r, s in zip(refs, shown, strict=True)
        )
        prefix = ""
        if role is None or role_id != role.id:
            prefix = f"aggregated {role_id}{' (built in)' if refs[0].obj is None else ''} "
        parts.append(f"{prefix}rule{'s' if len(refs) > 1 else ''} {where}")
    if len(rules) > most:
        parts[-1] += f" and {len(rules) - most} more rule{'s' if len(rules) - most > 1 else ''}"
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Holding:
    """A symbolic grant: every subject ``binding`` names holds ``rules`` (of its role) in its scope.

    Iterating it gives the grants one by one, subject by subject.
    """

    binding: Binding
    rules: tuple[RuleRef, ...]

    @property
    def scope(self) -> str | None:
        """The namespace the rules hold in; ``None``: cluster-wide."""
        return self.binding.namespace

    def __iter__(self) -> Iterator[Grant]:
        binding = self.binding
        return (
            Grant(subject, path, binding, ref) for subject, path in binding.subjects for ref in self.rules
        )

    def __len__(self) -> int:
        return len(self.binding.subjects) * len(self.rules)


class PermissionSet:
    """Everything one subject holds, directly or through the groups it is in, kept symbolic.

    ``by_identity`` gives, for the subject and each group it is in, the bindings naming it (shared with every
    other member of the group, never copied per subject); their roles' rules, aggregation resolved, are what
    it holds. ``bindings`` and ``grants`` expand them on demand.
    """

    __slots__ = ("by_identity", "subject")

    def __init__(
        self, subject: Subject, by_identity: Sequence[tuple[Subject, Sequence[tuple[Binding, Subject, str]]]]
    ) -> None:
        self.subject = subject
        self.by_identity = tuple(by_identity)

    @property
    def bindings(self) -> tuple[tuple[Binding, Subject, str], ...]:
        """``(binding, subject as named, pointer)`` of every binding naming the subject or a group of it."""
        return tuple(entry for _, entries in self.by_identity for entry in entries)

    @property
    def grants(self) -> tuple[Grant, ...]:
        """One grant per rule of each binding's role."""
        return tuple(
            Grant(named, path, binding, ref)
            for binding, named, path in self.bindings
            if binding.role is not None
            for ref in binding.role.rules
        )

    def allows(self, request: Request, namespace: str | None = None) -> list[Grant]:
        """The grants that allow ``request`` in ``namespace`` (``None``: anywhere, cluster-wide included)."""
        return [
            g for g in self.grants if g.binding.applies(request, namespace) and g.rule.rule.allows(request)
        ]


class Rbac:
    """Roles, bindings and their resolution for the RBAC objects of one scan."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self.errors: list[InputError] = []
        """RBAC objects with fields of the wrong type; each is left out."""
        self.roles: dict[RoleId, list[Role]] = {}
        """Roles by kind, namespace and name; several when the scan holds copies (variants of an install)."""
        self.bindings: list[Binding] = []
        rbac_objects = [obj for obj in objects if obj.ref.group == RBAC_GROUP]
        reader = _RuleReader()
        for obj in rbac_objects:
            if obj.ref.kind in ROLE_KINDS:
                try:
                    role = _read_role(obj, reader)
                except InputError as e:
                    self.errors.append(e)
                    continue
                self.roles.setdefault(role.id, []).append(role)
        for definition in builtin.BUILTIN_ROLES:
            role_id = RoleId(definition.kind, definition.namespace, definition.name)
            if role_id not in self.roles:
                self.roles[role_id] = [_builtin_role(role_id, definition)]
            elif builtin.is_bootstrap(definition):
                stock = _builtin_role(role_id, definition)
                for role in self.roles[role_id]:
                    _reconcile(role, stock)
        self._aggregate()
        for obj in rbac_objects:
            if obj.ref.kind in BINDING_KINDS:
                try:
                    self.bindings.append(_read_binding(obj))
                except InputError as e:
                    self.errors.append(e)
        self._by_subject: dict[Subject, list[tuple[Binding, Subject, str]]] = {}
        for binding in self.bindings:
            binding.role = self._role_for(binding)
            binding.stock = _is_stock(binding)
            for subject, path in binding.subjects:
                self._by_subject.setdefault(subject, []).append((binding, subject, path))
        self._index()

    def role(self, role_id: RoleId) -> Role | None:
        """The role with this kind, namespace and name (the first copy when the scan has several)."""
        found = self.roles.get(role_id)
        return found[0] if found else None

    def _role_for(self, binding: Binding) -> Role | None:
        """The role a binding names; of several copies, the one in the binding's own file."""
        found = self.roles.get(binding.role_ref)
        if not found:
            return None
        file = binding.obj.origin.file
        return next((r for r in found if r.obj is not None and r.obj.origin.file == file), found[0])

    def _aggregate(self) -> None:
        """Give each aggregated ClusterRole the ClusterRoles its selectors reach (not their rules)."""
        # Aggregation sees one copy of each ClusterRole (the cluster holds one); others follow the first.
        cluster_roles = [found[0] for role_id, found in self.roles.items() if role_id.kind == "ClusterRole"]
        by_label: dict[tuple[str, str], list[Role]] = {}
        for role in cluster_roles:
            for item in role.labels.items():
                by_label.setdefault(item, []).append(role)
        matched: dict[LabelSelector, list[Role]] = {}

        def matching(selector: LabelSelector) -> list[Role]:
            if selector not in matched:
                keys = [
                    (r.key, next(iter(r.values)))
                    for r in selector.requirements
                    if r.operator == "In" and len(r.values) == 1
                ]
                candidates = min((by_label.get(k, []) for k in keys), key=len) if keys else cluster_roles
                matched[selector] = [r for r in candidates if selector.matches(r.labels)]
            return matched[selector]

        for role in cluster_roles:
            if role.aggregation is None:
                continue
            seen = {role}
            queue = [role]
            sources = []
            while queue:
                current = queue.pop()
                for selector in current.aggregation or ():
                    for source in matching(selector):
                        if source in seen:
                            continue
                        seen.add(source)
                        if source.aggregation is not None:
                            queue.append(source)
                        else:
                            sources.append(source)
            role.aggregated = tuple(sources)
        for found in self.roles.values():
            first = found[0]
            for copy in found[1:]:
                if copy.aggregation is not None:
                    copy.aggregated = first.sources

    def _index(self) -> None:
        """The symbolic grants: each distinct rule -> where it is written -> who holds it -> who is bound.

        Nothing is expanded per subject or per resource: a question is matched once against each distinct
        rule (roles repeat the same rules thousands of times), and only the roles holding a matching rule
        and the bindings naming those roles are visited.
        """
        self._written: dict[PolicyRule, list[tuple[Role, RuleRef]]] = {}
        self._holders: dict[Role, list[tuple[Role, int]]] = {}
        """Written role -> every role holding its rules, with the rank of its rules there (``Role.rules``)."""
        for found in self.roles.values():
            for role in found:
                for ref in role.written:
                    self._written.setdefault(ref.rule, []).append((role, ref))
                for rank, source in enumerate(role.sources):
                    self._holders.setdefault(source, []).append((role, rank))
        self._bound: dict[Role, list[tuple[int, Binding]]] = {}
        self._bound_holders: dict[Role, list[tuple[Role, int]]] | None = None
        self._bound_in: dict[str | None, set[Role]] = {}
        """Roles by where bindings grant them: a namespace, or ``None`` (ClusterRoleBindings)."""
        for index, binding in enumerate(self.bindings):
            if binding.role is not None:
                self._bound.setdefault(binding.role, []).append((index, binding))
                self._bound_in.setdefault(binding.namespace, set()).add(binding.role)

    def rules_where(
        self,
        test: Callable[[PolicyRule], _T | None],
        *,
        bound: bool = False,
        among: AbstractSet[Role] | None = None,
    ) -> dict[Role, tuple[tuple[RuleRef, _T], ...]]:
        """Every role holding a rule that ``test`` answers (not ``None``) for, with those rules and answers
        in the role's order (``Role.rules``; aggregation resolved); only roles a binding names when
        ``bound``, only those ``among`` a set when given.

        ``test`` runs once per distinct rule, whatever the number of roles that write or aggregate it.
        """
        holders = self._holders
        if bound:
            if self._bound_holders is None:
                self._bound_holders = {
                    source: [(holder, rank) for holder, rank in found if holder in self._bound]
                    for source, found in self._holders.items()
                }
            holders = self._bound_holders
        answers: dict[Role, list[tuple[RuleRef, _T]]] = {}  # by the role the rule is written in
        for rule, written in self._written.items():
            answer = test(rule)
            if answer is not None:
                for role, ref in written:
                    found = answers.get(role)
                    if found is None:
                        answers[role] = [(ref, answer)]
                    else:
                        found.append((ref, answer))
        held: dict[Role, list[tuple[int, tuple[tuple[RuleRef, _T], ...]]]] = {}
        for source, found in answers.items():
            if len(found) > 1:
                found.sort(key=_rule_index)
            rules = tuple(found)
            for holder, rank in holders.get(source, ()):
                if among is not None and holder not in among:
                    continue
                parts = held.get(holder)
                if parts is None:
                    held[holder] = [(rank, rules)]
                else:
                    parts.append((rank, rules))
        result = {}
        for holder, parts in held.items():
            if len(parts) == 1:
                result[holder] = parts[0][1]
            else:
                parts.sort(key=_rank)
                result[holder] = tuple(item for _, rules in parts for item in rules)
        return result

    def holdings(
        self, request: Request, namespace: str | None = None, *, some_object: bool = False
    ) -> list[Holding]:
        """Who may make ``request`` in ``namespace`` (``None``: anywhere, cluster-wide included),
        symbolically: per binding, the rules of its role that allow it, for every subject it names.

        ``some_object``: count rules that resourceNames limit to some objects (see ``PolicyRule.allows``).
        """
        among = None  # anywhere: every bound role
        if namespace is not None or request.cluster_scoped:
            # Only the roles bindings grant where the request is: cluster-wide, or in its namespace.
            among = self._bound_in.get(None, set())
            if not request.cluster_scoped and namespace in self._bound_in:
                among = among | self._bound_in[namespace]
        allowing = self.rules_where(
            lambda rule: True if rule.allows(request, some_object=some_object) else None,
            bound=True,
            among=among,
        )
        found = [
            (index, binding, allowing[role])
            for role in allowing
            for index, binding in self._bound.get(role, ())
            if binding.applies(request, namespace)
        ]
        found.sort(key=lambda item: item[0])
        return [Holding(binding, tuple(ref for ref, _ in refs)) for _, binding, refs in found]

    def bindings_of(self, subject: Subject) -> list[tuple[Binding, Subject, str]]:
        """``(binding, subject as named, pointer)`` of every binding naming the subject or a group of it."""
        return [entry for identity in subject.identities() for entry in self._by_subject.get(identity, ())]

    def permissions(self, subject: Subject) -> PermissionSet:
        """Everything ``subject`` holds (stock bindings included: see ``Binding.stock``)."""
        return PermissionSet(
            subject, [(identity, self._by_subject.get(identity, ())) for identity in subject.identities()]
        )

    def who_can(
        self, request: Request, namespace: str | None = None, *, some_object: bool = False
    ) -> list[Grant]:
        """Every grant that allows ``request`` in ``namespace`` (``None``: anywhere, cluster-wide included),
        one per subject and rule: ``holdings`` expanded.

        ``some_object``: count rules that resourceNames limit to some objects (see ``PolicyRule.allows``).
        """
        return [
            grant
            for holding in self.holdings(request, namespace, some_object=some_object)
            for grant in holding
        ]

    @property
    def unresolved(self) -> list[Binding]:
        """Bindings whose role is neither in the scan nor one every cluster has."""
        return [b for b in self.bindings if b.role is None]


def _rule_index(item: tuple[RuleRef, object]) -> int:
    return item[0].index


def _rank(item: tuple[int, object]) -> int:
    return item[0]


_NO_STRINGS: frozenset[str] = frozenset()
_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


class _RuleReader:
    """Reads policy rules, sharing equal values: RBAC repeats the same lists and rules thousands of times."""

    def __init__(self) -> None:
        self.sets: dict[tuple[Any, ...], frozenset[str]] = {}
        self.rules: dict[tuple[frozenset[str], ...], PolicyRule] = {}

    def rule(self, read: FieldReader, path: str, raw: Mapping[str, Any]) -> PolicyRule:
        sets = self.sets
        fields = []
        for key in _RULE_FIELDS:
            value = raw.get(key)
            found = _NO_STRINGS if value is None else None
            if type(value) is list:
                try:
                    # Only lists of strings are ever stored, and a string equals only a string.
                    found = sets.get(tuple(value))
                except TypeError:  # a mapping or list inside: refused by _strings
                    found = None
            fields.append(found if found is not None else self._strings(read, raw, path, key))
        rule_key = tuple(fields)
        rule = self.rules.get(rule_key)
        if rule is None:
            rule = self.rules[rule_key] = PolicyRule(*rule_key)
        return rule

    def _strings(self, read: FieldReader, raw: Mapping[str, Any], path: str, key: str) -> frozenset[str]:
        values = read.scalars(raw, path, key)
        for index, item in enumerate(values):
            if not isinstance(item, str):
                raise read.wrong(f"{path}/{key}/{index}", "a string", item)
        found = self.sets[tuple(values)] = frozenset(values)
        return found


def _read_role(obj: Obj, rules: _RuleReader) -> Role:
    read = FieldReader(obj)
    role_id = RoleId(obj.ref.kind, obj.ref.namespace, obj.ref.name)
    aggregation = None
    if obj.ref.kind == "ClusterRole" and obj.raw.get("aggregationRule") is not None:
        rule = read.mapping(obj.raw, "", "aggregationRule")
        aggregation = tuple(
            _selector(obj, f"/aggregationRule/clusterRoleSelectors/{index}", raw)
            for index, raw in enumerate(read.scalars(rule, "/aggregationRule", "clusterRoleSelectors"))
        )
    written = tuple(
        RuleRef(role_id, obj, index, rules.rule(read, path, raw))
        for index, (path, raw) in enumerate(read.mappings(obj.raw, "", "rules"))
    )
    return Role(role_id, obj, obj.labels, aggregation, written)


def _selector(obj: Obj, path: str, raw: Any) -> LabelSelector:
    try:
        # A null entry selects nothing; an empty one ({}) selects every ClusterRole.
        return parse_label_selector(raw, absent=NOTHING)
    except ValueError as e:
        location = obj.locate(path)
        raise InputError(f"{obj.ref}: {e} ({path})", file=location.file, line=location.line) from e


def _builtin_role(role_id: RoleId, definition: builtin.BuiltinRole) -> Role:
    rules = []
    for index, line in enumerate(definition.rules):
        groups, items, verbs, *names = (part.split() for part in line.split("|"))
        if groups == ["url"]:
            rule = PolicyRule(frozenset(verbs), non_resource_urls=frozenset(items))
        else:
            rule = PolicyRule(
                frozenset(verbs),
                frozenset("" if g == "core" else g for g in groups),
                frozenset(items),
                frozenset(names[0]) if names else frozenset(),
            )
        rules.append(RuleRef(role_id, None, index, rule))
    aggregation = None
    if definition.aggregates:
        aggregation = tuple(
            parse_label_selector({"matchLabels": {key: "true"}}, absent=NOTHING)
            for key in definition.aggregates
        )
    return Role(role_id, None, dict(definition.labels), aggregation, tuple(rules))


AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


def _reconcile(role: Role, stock: Role) -> None:
    """What the API server makes of a bootstrap role a manifest redefines: at every start it adds the
    bootstrap rules (and aggregation selectors) the object lacks and keeps the ones it adds, unless the
    object is annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"``
    (pkg/registry/rbac/rest/storage_rbac.go reconciles with RemoveExtraPermissions false;
    pkg/registry/rbac/reconciliation/reconcile_role.go computeReconciledRole).
    https://kubernetes.io/docs/reference/access-authn-authz/rbac/#auto-reconciliation
    """
    if role.obj is not None and role.obj.annotations.get(AUTOUPDATE) == "false":
        return
    have = [ref.rule for ref in role.written]
    missing = tuple(ref for ref in stock.written if not _covered(ref.rule, have))
    role.written = (*role.written, *missing)
    if stock.aggregation is not None:
        selectors = role.aggregation or ()
        role.aggregation = (*selectors, *(s for s in stock.aggregation if s not in selectors))


def _read_binding(obj: Obj) -> Binding:
    read = FieldReader(obj)
    namespace = obj.ref.namespace if obj.ref.kind == "RoleBinding" else None
    ref = read.mapping(obj.raw, "", "roleRef")
    role_kind = _text(read, ref, "/roleRef", "kind")
    role_name = _text(read, ref, "/roleRef", "name")
    role_ref = RoleId(role_kind, namespace if role_kind == "Role" else None, role_name)
    subjects = []
    for path, raw in read.mappings(obj.raw, "", "subjects"):
        kind, name = _text(read, raw, path, "kind"), _text(read, raw, path, "name")
        subject_namespace = _text(read, raw, path, "namespace") or namespace
        if kind not in _SUBJECT_KINDS or not name:
            continue  # the API server refuses such subjects
        if kind == SERVICE_ACCOUNT and not subject_namespace:
            continue  # a ClusterRoleBinding must say the ServiceAccount's namespace
        subjects.append((_normalized(kind, name, subject_namespace), path))
    if obj.ref.kind == "ClusterRoleBinding" and role_kind != "ClusterRole":
        role_ref = RoleId(role_kind, None, role_name)  # refused by the API server: resolves to nothing
    return Binding(obj, namespace, role_ref, tuple(subjects))


_SUBJECT_KINDS = frozenset({"User", "Group", SERVICE_ACCOUNT})


def _text(read: FieldReader, raw: Mapping[str, Any], path: str, key: str) -> str:
    """A string field, ``""`` when unset (the reader's error for any other type)."""
    value = raw.get(key)
    if value is None or type(value) is str:
        return value or ""
    return read.string(raw, path, key, "binding").value or ""  # pragma: no cover - raises


_ANONYMOUS = frozenset({"system:anonymous", "system:unauthenticated", "system:authenticated"})
_BUILTIN_BY_ID = {RoleId(r.kind, r.namespace, r.name): r for r in builtin.BUILTIN_ROLES}


def _is_stock(binding: Binding) -> bool:
    """One of a stock cluster's own bindings, granting what it grants there to whom it grants it.

    A stock binding to ``system:anonymous``, ``system:unauthenticated`` or ``system:authenticated``
    is stock only while its role grants nothing beyond the stock role's rules.
    """
    ref = binding.obj.ref
    stock = builtin.STOCK_BINDINGS.get((ref.kind, binding.namespace, ref.name))
    controller = ref.name.removeprefix("system:controller:")
    if stock is None and controller != ref.name:
        # kube-controller-manager's controllers: system:controller:NAME for ServiceAccount kube-system/NAME.
        account = (SERVICE_ACCOUNT, "kube-system", controller)
        stock = builtin.StockBinding(binding.role_ref.kind, ref.name, frozenset({account}))
    if stock is None or (binding.role_ref.kind, binding.role_ref.name) != (stock.role_kind, stock.role_name):
        return False
    subjects = {(s.kind, s.namespace, s.name) for s, _ in binding.subjects}
    if not subjects <= stock.subjects:
        return False
    if not any(name in _ANONYMOUS for _, _, name in subjects):
        return True
    definition = _BUILTIN_BY_ID.get(binding.role_ref)
    role = binding.role
    if role is None or role.obj is None or definition is None:
        return True
    stock_rules = [ref.rule for ref in _builtin_role(role.id, definition).written]
    return all(_covered(ref.rule, stock_rules) for ref in role.rules)


def _covered(rule: PolicyRule, by: Sequence[PolicyRule]) -> bool:
    """Whether every request ``rule`` allows is allowed by one of ``by`` (``*`` taken literally)."""
    if rule.non_resource_urls:
        requests: Iterator[Request] = (
            Request(verb, url=url, cluster_scoped=True)
            for verb, url in itertools.product(rule.verbs, rule.non_resource_urls)
        )
    else:
        requests = (
            Request(verb, resource.partition("/")[0], group, resource.partition("/")[2], name)
            for verb, group, resource, name in itertools.product(
                rule.verbs, rule.api_groups, rule.resources, rule.resource_names or {None}
            )
        )
    return all(any(stock.allows(request) for stock in by) for request in requests)
