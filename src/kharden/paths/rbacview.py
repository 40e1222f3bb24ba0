"""The RBAC engine as the attack graph asks it: which subjects may do what, where, through which binding.

This is the one module of :mod:`kharden.paths` that talks to :mod:`kharden.analysis.rbac`, and it
asks only the engine's public question, who can (``holdings(request, some_object=True)``, the grants
of ``who_can`` kept per binding): every grant that allows a request, with its binding, subject and
scope. Each request is asked once for the whole
scan; a subject holds what is granted to it or to one of the groups it is in
(``Subject.identities``: a ServiceAccount is also ``system:serviceaccounts``,
``system:serviceaccounts:NS`` and ``system:authenticated``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis.rbac import BIND_REQUESTS, RBAC_GROUP, Grant, Rbac, Request, RuleRef, Subject
from ..model import Location
from ..rules import get as get_rule
from .model import Evidence, locating

__all__ = [
    "ADMISSION_WRITE",
    "BIND",
    "CLIENT_SIGNER",
    "CREATE_BINDINGS",
    "CREATE_CLUSTER_BINDINGS",
    "CSR_APPROVE",
    "CSR_CREATE",
    "ESCALATE",
    "EVERYTHING",
    "EXEC",
    "IMPERSONATE_ACCOUNTS",
    "IMPERSONATE_GROUPS",
    "IMPERSONATE_USERS",
    "NODE_PROXY",
    "SECRETS_CREATE",
    "SECRETS_GET",
    "SECRETS_LIST",
    "SECRETS_READ",
    "SIGNER_APPROVE",
    "TOKEN",
    "UPDATE_CLUSTER_ROLES",
    "UPDATE_ROLES",
    "WORKLOAD_WRITE",
    "Held",
    "RbacView",
    "Subject",
]


# -- the requests that move an attacker ---------------------------------------------------------------

EVERYTHING = [Request("*", "*", "*")]
SECRETS_LIST = [Request.of(verb, "secrets") for verb in ("list", "watch")]
SECRETS_GET = [Request.of("get", "secrets")]
SECRETS_READ = [*SECRETS_GET, *SECRETS_LIST]
SECRETS_CREATE = [Request.of("create", "secrets")]
_CONTROLLERS = [
    ("", "replicationcontrollers"),
    *(("apps", r) for r in ("deployments", "replicasets", "statefulsets", "daemonsets")),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
]
WORKLOAD_WRITE = (
    [Request.of("create", "pods")]
    + [
        Request.of(verb, resource, group)
        for verb in ("create", "update", "patch")
        for group, resource in _CONTROLLERS
    ]
    + [Request.of(verb, "pods/ephemeralcontainers") for verb in ("update", "patch")]
)
EXEC = [Request.of("create", f"pods/{sub}") for sub in ("exec", "attach")]
NODE_PROXY = [Request.of("create", "nodes/proxy")]
IMPERSONATE_GROUPS = [Request.of("impersonate", "groups")]
IMPERSONATE_USERS = [Request.of("impersonate", "users")]
IMPERSONATE_ACCOUNTS = [Request.of("impersonate", "serviceaccounts")]
BIND = list(BIND_REQUESTS)
ESCALATE = [Request.of("escalate", r, RBAC_GROUP) for r in ("clusterroles", "roles")]
CREATE_CLUSTER_BINDINGS = [Request.of("create", "clusterrolebindings", RBAC_GROUP)]
CREATE_BINDINGS = [Request.of("create", "rolebindings", RBAC_GROUP)]
UPDATE_CLUSTER_ROLES = [Request.of(v, "clusterroles", RBAC_GROUP) for v in ("update", "patch")]
UPDATE_ROLES = [Request.of(v, "roles", RBAC_GROUP) for v in ("update", "patch")]
TOKEN = [Request.of("create", "serviceaccounts/token")]
CSR_APPROVE = [
    Request.of(v, "certificatesigningrequests/approval", "certificates.k8s.io") for v in ("update", "patch")
]
CSR_CREATE = [Request.of("create", "certificatesigningrequests", "certificates.k8s.io")]
SIGNER_APPROVE = [Request.of("approve", "signers", "certificates.k8s.io")]
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
ADMISSION_WRITE = [
    Request.of(verb, resource, "admissionregistration.k8s.io")
    for verb in ("create", "update", "patch")
    for resource in (
        "mutatingwebhookconfigurations",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    )
]


@dataclass(frozen=True, slots=True)
class Held:
    """A permission one subject holds, where, and the grant (as evidence) that gives it."""

    scope: str | None
    """The namespace it holds in; ``None``: cluster-wide."""
    names: frozenset[str] | None
    """The objects it is limited to (``resourceNames``); ``None``: every object."""
    evidence: Evidence


class RbacView:
    def __init__(self, rbac: Rbac) -> None:
        self._rbac = rbac
        self._asked: dict[tuple[Request, ...], dict[Subject, list[Grant]]] = {}
        self._named = {subject for binding in rbac.bindings for subject, _ in binding.subjects}
        self._lists: dict[int, tuple[Sequence[Request], dict[Subject, list[Grant]]]] = {}
        self._identities: dict[Subject, tuple[Subject, ...]] = {}
        self._built: dict[tuple[int, str, str], list[Held]] = {}
        """(``id`` of a list of grants in ``_asked``, what, rule) -> those grants as held."""
        self._where: dict[tuple[int, str, int], tuple[Location | None, str]] = {}
        """A grant (as ``_granted`` tells grants apart) -> where its subject is written, its role chain."""

    def _granted(self, requests: Sequence[Request]) -> dict[Subject, list[Grant]]:
        """Subject as the bindings name it -> the grants that allow one of ``requests`` (each grant once).

        A list asked before (this module's constants, asked once per ServiceAccount) is found by its
        identity: hashing its Requests on every question cost more than the answers.
        """
        known = self._lists.get(id(requests))
        if known is not None and known[0] is requests:
            return known[1]
        key = tuple(requests)
        found = self._asked.get(key)
        if found is None:
            # ``who_can`` of each request, each grant once: a grant is new when its rule is new for its
            # binding, since a holding gives each of its rules to every subject of its binding. Grants are
            # made only once deduplicated (the requests of one list mostly share their grants).
            seen: set[tuple[int, int]] = set()
            # ``id`` of a binding -> the rules of its last holding: the requests of a list mostly find the
            # same rules of a binding (``*`` verbs), which are then skipped whole.
            last: dict[int, tuple[RuleRef, ...]] = {}
            found = {}
            for request in key:
                for holding in self._rbac.holdings(request, some_object=True):
                    binding = holding.binding
                    if last.get(id(binding)) == holding.rules:
                        continue
                    last[id(binding)] = holding.rules
                    fresh = []
                    for ref in holding.rules:
                        rule_key = (id(binding), id(ref))
                        if rule_key not in seen:
                            seen.add(rule_key)
                            fresh.append(ref)
                    if fresh:
                        for subject, path in binding.subjects:
                            grants = found.setdefault(subject, [])
                            grants += [Grant(subject, path, binding, ref) for ref in fresh]
            self._asked[key] = found
        self._lists[id(requests)] = (requests, found)  # holds ``requests``: its id is not reused
        return found

    def named(self, subject: Subject) -> bool:
        """Whether a binding names ``subject`` itself: if not, it holds only what its groups hold."""
        return subject in self._named

    def holds_itself(self, subject: Subject, asked: Sequence[Sequence[Request]]) -> bool:
        """Whether a binding that names ``subject`` itself grants it one of the requests of ``asked``: if
        not, it holds of them only what its groups hold."""
        return subject in self._named and any(self._granted(requests).get(subject) for requests in asked)

    def superusers(self, kind: str) -> set[str]:
        """Names of the subjects of ``kind`` (``User``, ``Group``) that hold every verb on every resource
        cluster-wide."""
        return {
            grant.subject.name
            for grants in self._granted(EVERYTHING).values()
            for grant in grants
            if grant.scope is None and grant.subject.kind == kind and not grant.rule.rule.resource_names
        }

    def held(self, subject: Subject, requests: Sequence[Request], what: str, rule: str) -> list[Held]:
        """What ``subject`` holds of ``requests``: one entry per grant (binding, subject, role rule).

        ``what`` says it in words (``create pods``) and ``rule`` names the kharden rule that reports
        such grants; both go into the evidence.
        """
        granted = self._granted(requests)
        identities = self._identities.get(subject)
        if identities is None:
            identities = self._identities[subject] = subject.identities()
        held: list[Held] = []
        for identity in identities:
            grants = granted.get(identity)
            if grants:
                held += self._held_of(grants, what, rule)
        return held

    def _held_of(self, grants: list[Grant], what: str, rule: str) -> list[Held]:
        """``grants`` (those of one identity, as :meth:`_granted` keeps them) as :class:`Held`, built once.

        A grant to a group (``system:serviceaccounts``, ``system:authenticated``) is held by every
        ServiceAccount: its evidence names the group, not the account, so it is one and the same for all
        of them: building it (the binding's location, the role chain's text) per account cost accounts
        times group grants.
        """
        key = (id(grants), what, rule)  # ``grants`` lives as long as ``self._asked``: its id is stable
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = [self._hold(grant, what, rule) for grant in grants]
        return found

    def _hold(self, grant: Grant, what: str, rule: str) -> Held:
        names = grant.rule.rule.resource_names or None
        if locating():
            where = "cluster-wide" if grant.scope is None else f"in namespace {grant.scope!r}"
            only = f" (only {', '.join(sorted(names))})" if names else ""
            location, chain = self._written(grant)
            text = f"{what}{only} {where} for {grant.subject}: {chain}"
        else:  # only counted: no count reads where a fact is, nor its words
            location, text = None, what
        evidence = Evidence(
            text,
            rule,
            grant.binding.obj.ref,
            grant.subject_path,
            location,
            get_rule(rule).remediation,
        )
        return Held(grant.scope, frozenset(names) if names else None, evidence)

    def _written(self, grant: Grant) -> tuple[Location | None, str]:
        """Where the grant's subject is written and the role chain that grants it: what a fact of the grant
        says whatever permission it is asked for (one grant answers a dozen questions)."""
        key = (id(grant.binding), grant.subject_path, id(grant.rule))  # the engine's, alive as long
        found = self._where.get(key)
        if found is None:
            found = self._where[key] = (grant.binding.obj.locate(grant.subject_path), grant.chain())
        return found
