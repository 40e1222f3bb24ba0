"""Building the attack graph of one scan from what the engines already know.

Vertices: workloads (their pods), ServiceAccounts (their tokens), nodes, "a new pod in namespace
X", the kubelet API, admission control, and the goals. Steps (see ``docs/paths.md`` for each
one's semantics):

- a workload's ServiceAccount token, when it is mounted (:mod:`.escape` for ways out onto the node);
- what RBAC grants a ServiceAccount (:mod:`.rbacview`): reading Secrets (the token Secrets in
  scope; every Secret cluster-wide), creating pods or their controllers (a new pod in the
  namespace: it may run as any ServiceAccount there, and privileged, onto any node, unless Pod
  Security forbids it), exec and attach (the namespace's pods), ``nodes/proxy`` (the kubelet API),
  impersonation, ``bind`` and ``escalate`` with the write that uses them (cluster-admin, or the
  namespace), TokenRequests and approved certificate requests, mutating admission;
- nodes: every workload placed on one (:mod:`.placement`), the tokens the kubelet's credentials
  can request for them, the node's cloud credentials; control-plane nodes hold cluster-admin's
  keys and etcd;
- the network (:mod:`.netview`): the metadata API, an etcd or kubelet that does not authenticate
  clients, the Dashboard's skip-login and Tiller, and the pods a pod reaches whose compromise
  gives more than their network position (through one "pod network" vertex where sides are open);
- goals: cluster-admin, any node, cloud credentials, etcd, every Secret.

Static pods and the mirror pods of a cluster are the node's own control plane, not workloads: a
node holds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

from ..analysis._netsets import ALL_ADDRESSES, AddressSet
from ..analysis.admission import namespace_level
from ..analysis.context import ScanContext
from ..analysis.controlplane import ETCD, KUBELET
from ..analysis.netpol import EGRESS, INGRESS, METADATA, External, PodClass
from ..analysis.netpol import bit_indexes as _bits
from ..analysis.podspec import EffectivePod
from ..analysis.serviceaccounts import WorkloadAccount
from ..analysis.staticpods import is_static_pod
from ..model import Hit, Obj, ObjRef
from ..rules import Rule
from ..rules import get as get_rule
from .escape import escapes
from .graph import AttackGraph
from .model import Edge, Evidence, FindingKey, Vertex, locating
from .netview import NetView
from .placement import ANY_NODE, Placement
from .rbacview import (
    ADMISSION_WRITE,
    BIND,
    CLIENT_SIGNER,
    CREATE_BINDINGS,
    CREATE_CLUSTER_BINDINGS,
    CSR_APPROVE,
    CSR_CREATE,
    ESCALATE,
    EVERYTHING,
    EXEC,
    IMPERSONATE_ACCOUNTS,
    IMPERSONATE_GROUPS,
    IMPERSONATE_USERS,
    NODE_PROXY,
    SECRETS_CREATE,
    SECRETS_LIST,
    SECRETS_READ,
    SIGNER_APPROVE,
    TOKEN,
    UPDATE_CLUSTER_ROLES,
    UPDATE_ROLES,
    WORKLOAD_WRITE,
    Held,
    RbacView,
    Subject,
)

__all__ = ["GOAL_VERTICES", "build_graph", "workload_id"]

GOAL_VERTICES = {
    "cluster-admin": "goal:cluster-admin",
    "secrets": "goal:secrets",
    "cloud": "goal:cloud",
    "etcd": "goal:etcd",
}
KUBELET_API = "kubelet:*"
NETWORK = "network:*"
ADMISSION = "admission"
_TOKEN_SECRET = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type
_SA_ANNOTATION = "kubernetes.io/service-account.name"


def workload_id(obj: Obj) -> str:
    ref = obj.ref
    return f"workload:{ref.kind}/{ref.namespace or 'default'}/{ref.name}"


def build_graph(context: ScanContext, *, lateral: bool = True) -> AttackGraph:
    """The attack graph of one scan. ``lateral``: a pod reached over the network counts as compromised."""
    return _Builder(context, lateral).build()


ASKED = (
    EVERYTHING,
    SECRETS_LIST,
    SECRETS_READ,
    WORKLOAD_WRITE,
    EXEC,
    NODE_PROXY,
    TOKEN,
    CSR_APPROVE,
    SIGNER_APPROVE,
    CSR_CREATE,
    ADMISSION_WRITE,
    SECRETS_CREATE,
    IMPERSONATE_GROUPS,
    IMPERSONATE_USERS,
    IMPERSONATE_ACCOUNTS,
    BIND,
    ESCALATE,
    CREATE_CLUSTER_BINDINGS,
    CREATE_BINDINGS,
    UPDATE_CLUSTER_ROLES,
    UPDATE_ROLES,
)
"""Every permission an account's steps ask RBAC about (``_subject``): one it holds through no group is its
own step (tests/paths/test_counting_shortcuts.py checks that no other is asked)."""
_SUPERUSER_ROLES = frozenset({"cluster-admin"})
_POD_CREATING_ROLES = frozenset({"cluster-admin", "admin", "edit"})
"""Built-in roles that create pods: bound in one namespace, they make a namespace's admin."""
_KUBELET_CREDENTIALS = "the kubelet's credentials may request a token for the ServiceAccount of its pods"
_LATERAL = "reaches the workload's pods over the network (assumed exploitable)"
_LONG_LIVED_FIX = "delete the long-lived token Secret (pods get short-lived tokens from the TokenRequest API)"
_HOLDING = frozenset({"token", "escape"})
"""The kinds of step that make a workload worth reaching over the network (its token, its node)."""
_Step = tuple[str, str, str, tuple[Evidence, ...]]
"""A step from a vertex given elsewhere: its target, kind, summary and facts."""
_EVERY_INTERFACE = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - addresses etcd listens on, read


class _Builder:
    def __init__(self, context: ScanContext, lateral: bool) -> None:
        self.context = context
        self.lateral = lateral
        self.counting = not locating()
        """The graph serves only to count the attack paths through each finding (see ``counting_only``)."""
        self.graph = AttackGraph(counting=self.counting)
        self._findings: dict[tuple[Evidence, ...], tuple[FindingKey, ...]] | None = (
            {} if self.counting else None
        )
        """While only counting: each distinct tuple of facts -> the findings it is, worked out once and
        kept as one object per distinct tuple of findings (a large cluster's half a million steps rest on
        ten thousand tuples of facts)."""
        self._holding: dict[str, list[str]] = {}
        """Vertex -> the targets of its ``token`` and ``escape`` steps (what :meth:`_valuable` reads; a
        counting graph keeps no step's kind)."""
        self._interned: dict[tuple[FindingKey, ...], tuple[FindingKey, ...]] = {}
        self._last: tuple[tuple[Evidence, ...], tuple[FindingKey, ...]] = ((), ())
        """The tuple of facts :meth:`_findings_of` was last asked, and its findings."""
        self.pods = [pod for pod in context.pods if not is_static_pod(pod.obj)]
        self.placement = Placement(context, self.pods)
        self.rbac = RbacView(context.rbac)
        self.net = NetView(context.network)
        self.accounts: dict[str, dict[str, str]] = {}
        """Namespace -> ServiceAccount name -> vertex."""
        self.workloads: dict[str, list[tuple[EffectivePod, str]]] = {}
        """Namespace -> (pod, vertex) of its workloads."""
        self._namespaces: list[str] | None = None
        """The namespaces of ``accounts``, sorted (``_scope``), until one more comes."""
        self._new_pods_of: dict[str, str] = {}
        """Namespace -> its new-pod vertex."""
        self._workload_names: dict[str, dict[str, list[tuple[int, str]]]] = {}
        """Namespace -> workload name -> (position in ``workloads[namespace]``, vertex): what a permission
        limited to some names reaches, without walking every workload of each namespace."""
        self.by_class: dict[int, list[str]] = {}
        """Network class index -> vertices of its workloads."""
        self.pod_of: dict[str, EffectivePod] = {}
        self.tokens: dict[int, tuple[str, Evidence]] = {}
        """Workload (by pod identity) -> the ServiceAccount whose token it holds, and why it holds it."""
        self._recording: tuple[str, list[_Step]] | None = None
        """While set: a vertex, and the steps from it that :meth:`_edge` is asked for (in order)."""
        self._token_secrets_found: list[tuple[Obj, str]] | None = None
        self._every_new_pod_of: tuple[list[str], str] | None = None
        """While counting: the namespaces ``_every_new_pod`` was last asked for, and its free vertex."""
        self._token_hubs: list[tuple[str, list[tuple[str, str, str]]]] = []
        """While counting: each token hub (``_every_account``) and the accounts it stands for (namespace,
        name, vertex), stepped to once :meth:`_permissions` is done (see :meth:`_leads_on`)."""

    def build(self) -> AttackGraph:
        self._goals()
        self._nodes()
        self._service_accounts()
        self._workloads()
        self._permissions()
        for hub, accounts in self._token_hubs:
            self._tokens(hub, accounts)
        self._new_pods()
        self._network()
        if self.lateral:
            self._lateral()
        return self.graph

    # -- vertices ----------------------------------------------------------------------------------

    def _vertex(self, vertex: Vertex) -> str:
        return self.graph.add_vertex(vertex)

    def _edge(
        self, source: str, target: str, kind: str, summary: str, evidence: Iterable[Evidence] = ()
    ) -> None:
        facts = tuple(evidence)
        if self._recording is not None and source == self._recording[0]:
            # Before it is added: a step onto itself is dropped, but it is another account's step.
            self._recording[1].append((target, kind, summary, facts))
        self._step(source, target, kind, summary, facts)

    def _step(self, source: str, target: str, kind: str, summary: str, facts: tuple[Evidence, ...]) -> None:
        if kind in _HOLDING and source != target:
            self._holding.setdefault(source, []).append(target)
        if self._findings is None:
            self.graph.add_edge(Edge(source, target, kind, summary, facts))
        else:
            self.graph.add_counted(source, target, self._findings_of(facts))

    def _findings_of(self, facts: tuple[Evidence, ...]) -> tuple[FindingKey, ...]:
        """While counting: the findings ``facts`` are, each once; one object per distinct tuple."""
        if facts is self._last[0]:  # consecutive steps on one tuple: a node's runs-on and kubelet, _fan
            return self._last[1]
        known = self._findings
        if known is None:  # pragma: no cover - only asked while counting
            raise ValueError("findings are looked up only while counting")
        findings = known.get(facts)
        if findings is None:
            found = tuple(dict.fromkeys(key for fact in facts for key in fact.counted))
            findings = known[facts] = self._interned.setdefault(found, found)
        self._last = (facts, findings)
        return findings

    def _fan(
        self,
        source: str,
        kind: str,
        summary: Callable[[str], str],
        steps: Iterable[tuple[str, str, tuple[Evidence, ...]]],
    ) -> None:
        """What :meth:`_edge` does for each of ``steps`` (target, what ``summary`` names, facts) from one
        vertex: a permission held in every namespace steps to each (a large cluster's hundred thousand
        steps). While counting, a step's words are not made, and a run of steps on one tuple of facts has
        its findings looked up once (:meth:`_findings_of`)."""
        recording = (
            self._recording[1] if self._recording is not None and source == self._recording[0] else None
        )
        counting = self._findings is not None
        for target, name, facts in steps:
            text = "" if counting else summary(name)  # no count reads a step's words
            if recording is not None:
                recording.append((target, kind, text, facts))
            self._step(source, target, kind, text, facts)

    def _goals(self) -> None:
        labels = {
            "cluster-admin": "cluster-admin",
            "secrets": "every Secret of the cluster",
            "cloud": "the cloud account (the nodes' instance credentials)",
            "etcd": "etcd (every object, unencrypted Secrets included)",
        }
        for goal, vertex in GOAL_VERTICES.items():
            self._vertex(Vertex(vertex, "goal", labels[goal], goal=goal))
        self._edge(
            GOAL_VERTICES["cluster-admin"],
            GOAL_VERTICES["secrets"],
            "rbac",
            "cluster-admin reads every Secret",
        )
        self._edge(
            GOAL_VERTICES["etcd"],
            GOAL_VERTICES["cluster-admin"],
            "etcd",
            "whoever writes etcd writes a ClusterRoleBinding straight into it",
        )
        for hit, rule in self._rule_hits("encryption.secrets-at-rest"):
            self._edge(
                GOAL_VERTICES["etcd"],
                GOAL_VERTICES["secrets"],
                "etcd",
                "etcd holds the Secrets unencrypted",
                [self._hit_fact(hit, rule)],
            )

    def _nodes(self) -> None:
        any_node = self._vertex(
            Vertex(ANY_NODE, "node", "any node (a new pod's nodeName picks it)", goal="node")
        )
        self._edge(
            GOAL_VERTICES["cluster-admin"],
            any_node,
            "rbac",
            "cluster-admin runs a privileged pod on any node",
        )
        admin_conf = self._admin_kubeconfig()
        for group, (label, _) in self.placement.groups.items():
            self._vertex(Vertex(group, "workloads", label))
        for spot in self.placement.spots.values():
            self._vertex(
                Vertex(spot.id, "node", spot.label, spot.node.obj.ref if spot.node else None, "node")
            )
            self._edge(
                any_node,
                spot.id,
                "placement",
                "a pod that names the node in spec.nodeName runs there, taints or not",
            )
            self._edge(
                spot.id,
                GOAL_VERTICES["cloud"],
                "node",
                "the node's own cloud credentials, from the metadata API on its network",
            )
            if spot.control_plane:
                self._edge(
                    spot.id,
                    GOAL_VERTICES["cluster-admin"],
                    "node",
                    "a control-plane node holds the cluster CA's key and the admin kubeconfig",
                    admin_conf,
                )
                self._edge(
                    spot.id,
                    GOAL_VERTICES["etcd"],
                    "node",
                    "a control-plane node holds etcd's data and client keys",
                )

        for group, (_, spots) in self.placement.groups.items():
            for spot_id in spots:
                self._edge(spot_id, group, "runs-on", "the node may run these workloads")

    def _admin_kubeconfig(self) -> list[Evidence]:
        for obj in self.context.inventory.of_kind("Config"):
            if obj.origin.node is not None and (obj.origin.file or "").endswith(
                ("/admin.conf", "/super-admin.conf")
            ):
                return [Evidence.at(obj, None, f"{obj.origin.file} is cluster-admin's kubeconfig")]
        return []

    def _service_accounts(self) -> None:
        names: set[str] = {ns.ref.name for ns in self.context.inventory.of_kind("Namespace")}
        names |= {pod.obj.ref.namespace or "default" for pod in self.pods}
        for subject in self.context.service_accounts.accounts:
            self._account(subject.namespace or "default", subject.name)
        for namespace in sorted(names):
            self._account(namespace, "default")

    def _account(self, namespace: str, name: str) -> str:
        found = self.accounts.get(namespace)
        if found is None:
            found = self.accounts[namespace] = {}
            self._namespaces = None  # a namespace more
        vertex = found.get(name)
        if vertex is None:
            vertex = found[name] = self._vertex(
                Vertex(
                    f"sa:{namespace}/{name}",
                    "serviceaccount",
                    f"ServiceAccount {namespace}/{name}",
                    ObjRef("ServiceAccount", namespace, name, "v1"),
                    namespace=namespace,
                )
            )
        return vertex

    # -- workloads -----------------------------------------------------------------------------------

    def _workloads(self) -> None:
        accounts = {id(w.pod): w for w in self.context.service_accounts.workloads}
        for pod in self.pods:
            namespace = pod.obj.ref.namespace or "default"
            vertex = self._vertex(
                Vertex(workload_id(pod.obj), "workload", str(pod.obj.ref), pod.obj.ref, namespace=namespace)
            )
            workloads = self.workloads.setdefault(namespace, [])
            named = self._workload_names.setdefault(namespace, {}).setdefault(pod.obj.ref.name, [])
            named.append((len(workloads), vertex))
            workloads.append((pod, vertex))
            self.pod_of[vertex] = pod
            workload = accounts.get(id(pod))
            account = self._account(namespace, workload.account.name if workload else "default")
            token = _token_fact(pod, workload)
            if token is not None:
                self._edge(vertex, account, "token", "its ServiceAccount token is in the pod", [token])
                self.tokens[id(pod)] = (account, token)
            landings = self.placement.landings(pod)
            for summary, facts in escapes(pod, self.context.pod_answer):
                for landing in landings:
                    self._edge(vertex, landing.spot.id, "escape", summary, [*facts, *landing.evidence])
            homes = self.placement.homes(pod) or [(landing.spot.id, landing) for landing in landings]
            for holder, landing in homes:
                placed = (landing.how, *landing.evidence)  # one tuple: its findings looked up once
                self._edge(holder, vertex, "runs-on", "the node runs the workload's containers", placed)
                self._edge(holder, account, "kubelet", _KUBELET_CREDENTIALS, placed)

    # -- RBAC ----------------------------------------------------------------------------------------

    def _permissions(self) -> None:
        """The steps of what RBAC grants each ServiceAccount.

        Most accounts are granted nothing by a binding that names them: they hold what their groups hold
        (``system:serviceaccounts:NS`` and the groups of every account), the same for every such account
        of a namespace, and of every namespace whose own group is granted nothing either. The steps of the
        first one are kept and given to the others, each from its own vertex (their targets never depend on
        the account), rather than asking RBAC again per account.
        """
        superusers = self._superuser_users()
        everywhere: list[_Step] | None = None
        """The steps of an account that holds only what every account holds."""
        for namespace, accounts in sorted(self.accounts.items()):
            own_group = self.rbac.holds_itself(Subject("Group", f"system:serviceaccounts:{namespace}"), ASKED)
            grouped = None if own_group else everywhere
            for name, vertex in sorted(accounts.items()):
                subject = Subject.service_account(namespace, name)
                if self.rbac.holds_itself(subject, ASKED):
                    self._subject(subject, vertex, superusers)
                elif grouped is None:
                    self._recording = (vertex, [])
                    self._subject(subject, vertex, superusers)
                    grouped = self._recording[1]
                    self._recording = None
                    if not own_group:
                        everywhere = grouped
                else:
                    for target, kind, summary, facts in grouped:
                        self._step(vertex, target, kind, summary, facts)

    def _superuser_users(self) -> set[str]:
        """Users RBAC makes cluster-admin by name: impersonating one of them is being cluster-admin."""
        return self.rbac.superusers("User")

    def _subject(self, subject: Subject, vertex: str, superusers: set[str]) -> None:
        held = self.rbac.held
        admin = [
            h
            for h in held(subject, EVERYTHING, "every verb on every resource", "rbac.cluster-admin")
            if h.names is None
        ]
        if any(h.scope is None for h in admin):
            for h in admin:
                if h.scope is None:
                    self._edge(
                        vertex, GOAL_VERTICES["cluster-admin"], "rbac", "is cluster-admin", [h.evidence]
                    )
            return  # cluster-admin can do everything below; its steps say it
        for h in held(subject, SECRETS_LIST, "list secrets", "rbac.secrets-read"):
            if h.scope is None and h.names is None:
                self._edge(
                    vertex,
                    GOAL_VERTICES["secrets"],
                    "rbac",
                    "lists every Secret of the cluster",
                    [h.evidence],
                )
        readers = held(subject, SECRETS_READ, "read secrets", "rbac.secrets-read")
        for secret, account in self._token_secrets():
            namespace = secret.ref.namespace or "default"
            for h in readers:
                if _covers(h, namespace, secret.ref.name):
                    fact = Evidence.at(
                        secret,
                        None,
                        f"Secret {namespace}/{secret.ref.name} holds a long-lived token of {account}",
                        fix=_LONG_LIVED_FIX,
                    )
                    self._edge(
                        vertex,
                        self._account(namespace, account),
                        "rbac",
                        f"reads the token Secret {secret.ref.name!r}",
                        [h.evidence, fact],
                    )
        for h in held(subject, WORKLOAD_WRITE, "create pods or pod controllers", "rbac.workload-create"):
            steps = self._new_pods_in(self._scope(h), _always((h.evidence,)))
            self._fan(vertex, "rbac", _creates_pods, steps)
        for h in held(subject, EXEC, "exec into pods", "rbac.pod-exec"):
            self._to_pods(vertex, h, "runs commands in {} (exec)", [h.evidence])
        for h in held(subject, NODE_PROXY, "proxy to the kubelet API (nodes/proxy)", "rbac.pod-exec"):
            self._edge(
                vertex, self._kubelet(), "rbac", "reaches the kubelet API through nodes/proxy", [h.evidence]
            )
        self._escalation(subject, vertex, superusers)
        for h in held(subject, TOKEN, "request tokens (serviceaccounts/token)", "rbac.token-create"):
            self._to_accounts(vertex, h, "requests a token for {}", [h.evidence])
        approve = held(subject, CSR_APPROVE, "approve certificate requests", "rbac.token-create")
        signer = [
            h
            for h in held(subject, SIGNER_APPROVE, "approve for signers", "rbac.token-create")
            if h.names is None or CLIENT_SIGNER in h.names
        ]
        create = held(subject, CSR_CREATE, "create certificate requests", "rbac.token-create")
        if approve and signer and create:
            self._edge(
                vertex,
                GOAL_VERTICES["cluster-admin"],
                "rbac",
                "requests and approves a client certificate for the group system:masters",
                [approve[0].evidence, signer[0].evidence, create[0].evidence],
            )
        for h in held(
            subject, ADMISSION_WRITE, "write mutating admission configuration", "rbac.admission-write"
        ):
            if h.scope is None:
                self._edge(
                    vertex, self._admission(), "rbac", "registers a mutating admission webhook", [h.evidence]
                )
        makers = [
            h for h in held(subject, SECRETS_CREATE, "create secrets", "rbac.secrets-read") if not h.names
        ]
        for h in readers:
            if h.names is not None:
                continue  # it reads named Secrets only: not the one it would create
            scopes: set[str | None] = set()
            for maker in makers:
                if h.scope is not None and maker.scope not in {None, h.scope}:
                    continue
                scope = maker.scope if h.scope is None else h.scope
                if self.counting:
                    # The maker's fact is no finding: one maker per scope gives every count (readers times
                    # makers was the square of a large cluster's Secret grants).
                    if scope in scopes:
                        continue
                    scopes.add(scope)
                facts = [_unruled(maker.evidence, "remove create on secrets"), h.evidence]
                summary = "creates a token Secret for {} and reads it back"
                self._to_accounts(vertex, Held(scope, None, h.evidence), summary, facts)

    def _escalation(self, subject: Subject, vertex: str, superusers: set[str]) -> None:
        held = self.rbac.held
        admin = GOAL_VERTICES["cluster-admin"]
        for h in held(subject, IMPERSONATE_GROUPS, "impersonate groups", "rbac.escalate"):
            if h.names is None or "system:masters" in h.names:
                self._edge(vertex, admin, "rbac", "impersonates the group system:masters", [h.evidence])
        for h in held(subject, IMPERSONATE_USERS, "impersonate users", "rbac.escalate"):
            users = superusers if h.names is None else superusers & h.names
            if users:
                self._edge(
                    vertex,
                    admin,
                    "rbac",
                    f"impersonates user {sorted(users)[0]!r}, who is cluster-admin",
                    [h.evidence],
                )
        for h in held(subject, IMPERSONATE_ACCOUNTS, "impersonate serviceaccounts", "rbac.escalate"):
            self._to_accounts(vertex, h, "impersonates {}", [h.evidence])
        binders = [
            h
            for h in held(subject, BIND, "bind roles", "rbac.escalate")
            if h.names is None or h.names & (_SUPERUSER_ROLES if h.scope is None else _POD_CREATING_ROLES)
        ]
        escalators = held(subject, ESCALATE, "escalate roles", "rbac.escalate")
        cluster_bindings = held(
            subject, CREATE_CLUSTER_BINDINGS, "create clusterrolebindings", "rbac.escalate"
        )
        bindings = held(subject, CREATE_BINDINGS, "create rolebindings", "rbac.escalate")
        cluster_roles = held(subject, UPDATE_CLUSTER_ROLES, "update clusterroles", "rbac.escalate")
        roles = held(subject, UPDATE_ROLES, "update roles", "rbac.escalate")
        for power, writes, summary in (
            (binders, (cluster_bindings, bindings), "binds"),
            (escalators, (cluster_roles, roles), "grants itself"),
        ):
            cluster_write, namespace_write = writes
            first_write = _first_covering(namespace_write)
            for h in power:
                if h.scope is None and cluster_write:
                    self._edge(
                        vertex,
                        admin,
                        "rbac",
                        f"{summary} cluster-admin",
                        [h.evidence, cluster_write[0].evidence],
                    )
                    continue
                self._fan(
                    vertex,
                    "rbac",
                    _admin_of(summary),
                    self._new_pods_in(self._scope(h), self._written_in(h.evidence, first_write)),
                )

    @staticmethod
    def _written_in(
        power: Evidence, first_write: Callable[[str], Held | None]
    ) -> Callable[[str], tuple[Evidence, ...] | None]:
        """For a namespace: ``power`` and the write of RBAC objects that covers it, if any (one tuple of
        facts per write)."""
        facts: dict[int, tuple[Evidence, ...]] = {}

        def written(namespace: str) -> tuple[Evidence, ...] | None:
            write = first_write(namespace)
            if write is None:
                return None
            both = facts.get(id(write))
            if both is None:
                both = facts[id(write)] = (power, write.evidence)
            return both

        return written

    def _new_pods_in(
        self, namespaces: list[str], facts_in: Callable[[str], tuple[Evidence, ...] | None]
    ) -> list[tuple[str, str, tuple[Evidence, ...]]]:
        """The new-pod step of each of ``namespaces`` (target, namespace, facts) that ``facts_in`` gives
        facts (``None``: no step). While counting, a permission given in every namespace on the same
        facts steps once, to a free vertex that stands for every namespace's new pod."""
        steps = [(namespace, facts) for namespace in namespaces if (facts := facts_in(namespace)) is not None]
        if self.counting and namespaces is self._namespaces and len(steps) == len(namespaces) > 1:
            first = steps[0][1]
            if all(facts is first for _, facts in steps):
                return [(self._every_new_pod(namespaces), "*", first)]
        return [(self._new_pod(namespace), namespace, facts) for namespace, facts in steps]

    def _every_new_pod(self, namespaces: list[str]) -> str:
        """A counting graph's free vertex for the new pod of every one of ``namespaces`` (every namespace
        known; one more namespace makes another)."""
        if self._every_new_pod_of is None or self._every_new_pod_of[0] is not namespaces:
            vertex = Vertex(f"newpods:*{len(self.graph.free)}", "newpods", "a new pod in any namespace")
            targets = [self._new_pod(namespace) for namespace in namespaces]
            self._every_new_pod_of = (namespaces, self.graph.add_free(vertex, targets))
        return self._every_new_pod_of[1]

    def _to_pods(self, vertex: str, held: Held, summary: str, evidence: list[Evidence]) -> None:
        """Steps to the pods a permission reaches: every pod, a namespace's pods, or the ones it names.

        ``summary`` has a ``{}`` for what is reached."""
        if held.names is None:
            for namespace in [None] if held.scope is None else [held.scope]:
                hub = self._every_pod(namespace)
                self._edge(vertex, hub, "rbac", summary.format(self.graph.vertices[hub].label), evidence)
            return
        for namespace in self._scope(held):
            named = self._workload_names.get(namespace)
            if named is None:
                continue
            # The namespace's workloads of those names, in the order of the namespace's workloads.
            found = sorted(each for name in held.names for each in named.get(name, ()))
            for _, target in found:
                self._edge(vertex, target, "rbac", summary.format("the workload's pods"), evidence)

    def _to_accounts(self, vertex: str, held: Held, summary: str, evidence: list[Evidence]) -> None:
        """Steps to the ServiceAccounts a permission reaches: every one, a namespace's, or those it names."""
        if held.names is None:
            for namespace in [None] if held.scope is None else [held.scope]:
                hub = self._every_account(namespace)
                self._edge(vertex, hub, "rbac", summary.format(self.graph.vertices[hub].label), evidence)
            return
        for namespace in self._scope(held):
            for name, account in self.accounts.get(namespace, {}).items():
                if name in held.names:
                    self._edge(vertex, account, "rbac", summary.format("the ServiceAccount"), evidence)

    def _scope(self, held: Held) -> list[str]:
        """The namespaces a permission holds in."""
        if held.scope is not None:
            return [held.scope]
        if self._namespaces is None:
            self._namespaces = sorted(self.accounts)
        return self._namespaces

    def _token_secrets(self) -> list[tuple[Obj, str]]:
        """The Secrets holding a ServiceAccount's long-lived token, and whose: found once (every subject
        that reads Secrets asks)."""
        if self._token_secrets_found is None:
            self._token_secrets_found = [
                (secret, account)
                for secret in self.context.inventory.of_kind("Secret")
                if (account := secret.annotations.get(_SA_ANNOTATION))
                and secret.raw.get("type") in {None, _TOKEN_SECRET}
            ]
        return self._token_secrets_found

    # -- what a new pod, the kubelet API and admission give ------------------------------------------

    def _new_pod(self, namespace: str) -> str:
        vertex = self._new_pods_of.get(namespace)
        if vertex is None:
            vertex = self._new_pods_of[namespace] = f"newpod:{namespace}"
            if vertex not in self.graph.vertices:
                self._vertex(
                    Vertex(vertex, "newpod", f"a new pod in namespace {namespace}", namespace=namespace)
                )
        return vertex

    def _kubelet(self) -> str:
        if KUBELET_API not in self.graph.vertices:
            self._vertex(Vertex(KUBELET_API, "kubelet", "the kubelet API of every node"))
            for pods in self.workloads.values():
                for pod, vertex in pods:
                    if self.placement.landings(pod):
                        self._edge(
                            KUBELET_API,
                            vertex,
                            "kubelet",
                            "the kubelet API runs commands in the pods of its node",
                        )
        return KUBELET_API

    def _every_pod(self, namespace: str | None) -> str:
        """Commands in any pod of a namespace (``None``: of the cluster): one vertex, rather than a step from
        each holder of the permission to each workload."""
        hub = f"exec:{namespace or '*'}"
        if hub not in self.graph.vertices:
            where = "the cluster" if namespace is None else f"namespace {namespace}"
            self._vertex(Vertex(hub, "exec", f"commands in any pod of {where}", namespace=namespace))
            for name, pods in self.workloads.items():
                if namespace in {None, name}:
                    for _, vertex in pods:
                        self._edge(hub, vertex, "exec", "a command in the workload's pods")
        return hub

    def _every_account(self, namespace: str | None) -> str:
        """A token of any ServiceAccount of a namespace (``None``: of the cluster), as one vertex."""
        hub = f"tokens:{namespace or '*'}"
        if hub not in self.graph.vertices:
            where = "the cluster" if namespace is None else f"namespace {namespace}"
            self._vertex(
                Vertex(hub, "tokens", f"a token of any ServiceAccount of {where}", namespace=namespace)
            )
            accounts = [
                (name, account, vertex)
                for name, known in self.accounts.items()
                if namespace in {None, name}
                for account, vertex in known.items()
            ]
            if self.counting:
                self._token_hubs.append((hub, accounts))  # its steps once every account's are known
            else:
                self._tokens(hub, accounts)
        return hub

    def _tokens(self, hub: str, accounts: list[tuple[str, str, str]]) -> None:
        """The steps of a token hub onto the accounts it stands for (namespace, name, vertex)."""
        for namespace, name, vertex in accounts:
            if self._leads_on(vertex):
                summary = "" if self.counting else f"the token of ServiceAccount {namespace}/{name}"
                self._edge(hub, vertex, "tokens", summary)

    def _leads_on(self, account: str) -> bool:
        """Whether a step onto the ServiceAccount vertex ``account``, made once :meth:`_permissions` is done,
        may lie on a path. A ServiceAccount steps only where RBAC lets it: while counting, one that steps
        nowhere ends every path through it short of a goal, and a step onto it counts nothing (most accounts
        of a large cluster hold nothing: manifests-100k, three in four of the Dashboards' and new pods'
        steps onto an account). A graph made to be shown keeps every step."""
        return not self.counting or account in self.graph.found

    def _admission(self) -> str:
        if ADMISSION not in self.graph.vertices:
            self._vertex(Vertex(ADMISSION, "admission", "mutating admission (every pod created from now on)"))
        return ADMISSION

    def _new_pods(self) -> None:
        if ADMISSION in self.graph.vertices:
            for namespace in sorted(self.accounts):
                self._edge(
                    ADMISSION,
                    self._new_pod(namespace),
                    "admission",
                    "the webhook rewrites the next pod created there",
                )
        admits = self._admits_privileged()
        for vertex in [v for v in self.graph.vertices.values() if v.kind == "newpod"]:
            namespace = vertex.namespace or "default"
            for name, account in sorted(self.accounts.get(namespace, {}).items()):
                if self._leads_on(account):
                    self._edge(
                        vertex.id,
                        account,
                        "newpod",
                        f"a new pod may run as any ServiceAccount of its namespace ({name})",
                    )
            fact = admits.get(namespace, _assumed_privileged(namespace))
            if fact is not None:
                self._edge(
                    vertex.id,
                    ANY_NODE,
                    "newpod",
                    "a new privileged pod, with the node's filesystem, lands on any node",
                    [fact],
                )

    def _admits_privileged(self) -> dict[str, Evidence | None]:
        """Per namespace in the scan: the fact that lets a privileged pod in, or ``None`` when Pod Security
        (or an equivalent engine) keeps it out."""
        found: dict[str, Evidence | None] = {}
        rule = get_rule("admission.pod-security")
        reported: dict[str, Hit] = {}
        for result in self.context.answer(rule):
            # Each finding is a Namespace's (pointing, with ``at``, where its level is decided).
            if isinstance(result, Hit) and result.obj is not None and result.obj.ref.kind == "Namespace":
                reported[result.obj.ref.name] = result
        for namespace in self.context.inventory.of_kind("Namespace"):
            name = namespace.ref.name
            hit = reported.get(name)
            if hit is not None:
                # Medium is baseline: it refuses privileged containers, host namespaces and hostPath.
                found[name] = self._hit_fact(hit, rule) if hit.severity is None else None
            elif name == "kube-system":
                level = namespace_level(namespace, None)
                found[name] = (
                    Evidence.at(
                        namespace,
                        None,
                        "kube-system enforces no Pod Security level: its components run privileged",
                    )
                    if level.level == "privileged"
                    else None
                )
            else:
                found[name] = None
        return found

    # -- the network ---------------------------------------------------------------------------------

    def _network(self) -> None:
        net = self.net
        by_class: dict[int, list[str]] = {}
        for pods in self.workloads.values():
            for pod, vertex in pods:
                cls = net.class_of(pod)
                if cls is not None:
                    by_class.setdefault(cls.index, []).append(vertex)
        self.by_class = by_class
        classes = [c for c in net.network.classes[:-1] if c.index in by_class]
        etcd = self._etcd_exposure()
        kubelet = self._kubelet_exposure()
        for cls in classes:
            found = net.to_address(cls, METADATA, ("TCP", 80), "exposure.metadata-api")
            if found is not None:
                for vertex in by_class[cls.index]:
                    self._edge(
                        vertex,
                        GOAL_VERTICES["cloud"],
                        "network",
                        "reaches the cloud metadata API",
                        self._bound(found, vertex),
                    )
            for facts, target, port in etcd:
                reach = net.to_address(cls, target, port, "netpol.egress-open")
                if reach is not None:
                    for vertex in by_class[cls.index]:
                        self._edge(
                            vertex,
                            GOAL_VERTICES["etcd"],
                            "network",
                            "reaches etcd, which does not authenticate clients",
                            [*facts, *self._bound(reach, vertex)],
                        )
            if kubelet:
                reach = net.to_address(
                    cls, External("any node", ALL_ADDRESSES), ("TCP", 10250), "netpol.egress-open"
                )
                if reach is not None:
                    for vertex in by_class[cls.index]:
                        self._edge(
                            vertex,
                            self._kubelet(),
                            "network",
                            "reaches a kubelet that runs anyone's commands",
                            [*kubelet, *self._bound(reach, vertex)],
                        )
        self._services(
            "netpol.dashboard",
            "signs in to the Dashboard with skip-login: acts as its ServiceAccount",
            _skips_login,
        )
        self._services(
            "netpol.tiller", "asks Tiller (unauthenticated gRPC) to act as its ServiceAccount", _any
        )

    def _services(self, rule_id: str, summary: str, usable: Callable[[EffectivePod], bool]) -> None:
        """Steps from every pod that reaches a Dashboard or Tiller to the ServiceAccount it acts as (with
        the token it holds)."""
        rule = get_rule(rule_id)
        hits = {id(h.obj): h for h in self.context.answer(rule) if isinstance(h, Hit) and h.obj is not None}
        for pods in self.workloads.values():
            for pod, server in pods:
                hit = hits.get(id(pod.obj))
                cls = self.net.class_of(pod)
                token = self.tokens.get(id(pod))
                if hit is None or cls is None or token is None or not usable(pod):
                    continue
                account, token_fact = token
                if not self._leads_on(account):
                    continue
                fact = self._hit_fact(hit, rule)
                for source in self.net.senders(cls):
                    reach = self.net.between(source, cls)
                    if reach is None:
                        continue
                    into = self.net.bind(reach[1], pod)
                    for vertex in self.by_class.get(source.index, ()):
                        if vertex != server:
                            out = self._bound(reach[:1], vertex)
                            self._edge(vertex, account, "network", summary, [fact, token_fact, *out, into])

    def _etcd_exposure(self) -> list[tuple[list[Evidence], External, tuple[str, int]]]:
        """Each etcd that serves clients without authenticating them off the loopback interface."""
        found = []
        rule = get_rule("exposure.etcd-client-auth")
        for component in self.context.control_plane.of(ETCD):
            if component.unreadable:
                continue
            auth = component.setting("client-cert-auth")
            for url, setting in component.items("listen-client-urls"):
                parts = urlsplit(url)
                host = parts.hostname or ""
                if host in {"127.0.0.1", "::1", "localhost"}:
                    continue
                if auth.value == "true" and parts.scheme != "http":
                    continue
                decided = setting if parts.scheme == "http" else auth
                fact = Evidence.at(
                    decided.obj,
                    decided.path,
                    f"etcd serves {url} without client certificates",
                    rule=rule.id,
                    fix=rule.remediation,
                )
                addresses = ALL_ADDRESSES if host in _EVERY_INTERFACE else _address(host)
                found.append(([fact], External(f"etcd {url}", addresses), ("TCP", parts.port or 2379)))
        return found

    def _kubelet_exposure(self) -> list[Evidence]:
        """The kubelet settings that let anyone run commands in its pods: anonymous requests, all authorized.

        Node files are read per node root; kharden assumes the cluster's nodes share their kubelet
        configuration.
        """
        rule = get_rule("exposure.kubelet-auth")
        for component in self.context.control_plane.of(KUBELET):
            anonymous = component.setting("anonymous-auth")
            mode = component.setting("authorization-mode")
            if anonymous.value == "true" and mode.value == "AlwaysAllow":
                return [
                    Evidence.at(
                        s.obj, s.path, f"the kubelet: {s.describe()}", rule=rule.id, fix=rule.remediation
                    )
                    for s in (anonymous, mode)
                ]
        return []

    def _lateral(self) -> None:
        """Pods that a pod reaches over the network, when compromising them gives a token or a node.

        Pairs of pods grow with the square of the pods; wide-open sides do not. A pod whose egress is
        open to every pod steps onto the pod network (one vertex), and the pod network steps onto every
        valuable pod whose ingress admits every pod. A pod that policies isolate is reached by the pods
        its ingress rules match (the engine's bit sets of classes); a pod whose egress policies restrict
        reaches what its egress rules match. Only pairs restricted on both sides are asked one by one.
        """
        valuable: dict[int, list[str]] = {}
        for vertex in self._valuable():
            cls = self.net.class_of(self.pod_of[vertex])
            if cls is not None:
                valuable.setdefault(cls.index, []).append(vertex)
        if not valuable:
            return
        net = self.net
        classes = {c.index: c for c in net.network.classes[:-1] if c.index in self.by_class}
        present = 0
        for index in classes:
            present |= 1 << index
        hub = ""
        open_targets = 0
        open_sources = 0
        for index, source in classes.items():
            if net.wide_open(source, EGRESS) is not None:
                open_sources |= 1 << index
        reaching = _restricted_senders(net, classes, open_sources)
        for index, targets in valuable.items():
            target = classes[index]
            admitted = net.wide_open(target, INGRESS)
            if admitted is not None:
                hub = hub or self._network_hub()
                open_targets |= 1 << index
                for vertex in targets:
                    self._edge(hub, vertex, "network", _LATERAL, self._bound([admitted], vertex))
                continue
            # Sources that may send here: open egress, or egress rules that match this pod (the others
            # would be skipped one by one below: grouped by their egress, they are left out at once); each
            # left out too once a rule admits it (bit sets of every class: made once per target).
            left = present & ~(1 << index) & (open_sources | reaching(index))
            for bits, fact, ports in net.admitting(target):
                for source_index in _bits(bits & left):
                    source = classes[source_index]
                    if open_sources >> source_index & 1:
                        sent = net.wide_open(source, EGRESS)
                    else:  # its egress rules may reach the target (``reaching`` says so)
                        sent = net.sending(source, target, ports)
                    if sent is not None:
                        self._pairs(source, (sent, fact), targets)
                        left &= ~(1 << source_index)
        for source in classes.values():
            sent = net.wide_open(source, EGRESS)
            if sent is not None:
                if hub:
                    for vertex in self.by_class[source.index]:
                        self._edge(
                            vertex,
                            hub,
                            "network",
                            "sends to any pod: its egress is open",
                            self._bound([sent], vertex),
                        )
                continue
            for index in _bits(net.egress_bits(source) & open_targets & ~(1 << source.index)):
                target = classes[index]
                out = net.sending(source, target)
                into = net.wide_open(target, INGRESS)
                if out is not None and into is not None:
                    self._pairs(source, (out, into), valuable[index])

    def _pairs(self, source: PodClass, reach: tuple[Evidence, Evidence], targets: list[str]) -> None:
        """Steps from the pods of ``source`` to ``targets`` over ``reach`` (the source's egress, the
        target's ingress)."""
        out, into = reach
        for vertex in self.by_class[source.index]:
            sent = self._bound([out], vertex)
            for each in targets:
                if vertex != each:
                    self._edge(vertex, each, "network", _LATERAL, [*sent, *self._bound([into], each)])

    def _bound(self, facts: Iterable[Evidence], vertex: str) -> list[Evidence]:
        """Network facts of a pod class as the step of the workload ``vertex`` rests on them."""
        pod = self.pod_of[vertex]
        return [self.net.bind(fact, pod) for fact in facts]

    def _network_hub(self) -> str:
        return self._vertex(Vertex(NETWORK, "network", "the pod network"))

    def _valuable(self) -> list[str]:
        """Workloads that lead to a goal through their token or their node (not their network position), in
        the order their steps were added: the lateral steps, and so the paths that tie, come in that order
        whatever the run's hash seed."""
        graph = self.graph
        goals = {v.id for v in graph.vertices.values() if v.goal is not None}
        leading = graph.steps_to(goals)
        return [
            vertex
            for vertex, targets in self._holding.items()
            if graph.vertices[vertex].kind == "workload" and any(target in leading for target in targets)
        ]

    # -- helpers -------------------------------------------------------------------------------------

    def _rule_hits(self, rule_id: str) -> Iterator[tuple[Hit, Rule]]:
        rule = get_rule(rule_id)
        for hit in self.context.answer(rule):
            if isinstance(hit, Hit) and hit.obj is not None:
                yield hit, rule

    @staticmethod
    def _hit_fact(hit: Hit, rule: Rule) -> Evidence:
        obj = hit.obj
        if obj is None:  # pragma: no cover - whole-inventory hits always name their object
            raise ValueError(f"{rule.id}: a hit without its object")
        if hit.at is None:
            return Evidence.at(obj, hit.path, hit.message, rule=rule.id, fix=rule.remediation)
        # Written (and fixed) in another object than the finding's: the fact is there, the finding is obj's.
        found = ((rule.id, obj.ref, hit.path),)
        return Evidence.at(hit.at, hit.path, hit.message, rule=rule.id, fix=rule.remediation, findings=found)


def _covers(held: Held, namespace: str, name: str | None) -> bool:
    if held.scope is not None and held.scope != namespace:
        return False
    return held.names is None or (name is not None and name in held.names)


def _always(facts: tuple[Evidence, ...]) -> Callable[[str], tuple[Evidence, ...]]:
    """The same facts in every namespace."""

    def given(_: str) -> tuple[Evidence, ...]:
        return facts

    return given


def _creates_pods(_: str) -> str:
    return "creates pods"


def _admin_of(power: str) -> Callable[[str], str]:
    def summary(namespace: str) -> str:
        return f"{power} admin of namespace {namespace!r}, which creates pods"

    return summary


def _first_covering(held: list[Held]) -> Callable[[str], Held | None]:
    """For a namespace, the first of ``held`` that covers every object there (``_covers(h, namespace,
    None)``), looked up rather than searched for in each namespace of the cluster."""
    anywhere: Held | None = None
    first: dict[str, Held] = {}
    for h in held:
        if h.names is not None:
            continue
        if h.scope is None:
            anywhere = h
            break  # it covers every namespace: what comes after it is never the first
        first.setdefault(h.scope, h)

    def covering(namespace: str) -> Held | None:
        return first.get(namespace, anywhere)

    return covering


def _unruled(evidence: Evidence, fix: str) -> Evidence:
    return Evidence(evidence.text, None, evidence.object, evidence.path, evidence.location, fix)


def _token_fact(pod: EffectivePod, workload: WorkloadAccount | None) -> Evidence | None:
    """Why the pod holds its ServiceAccount's token: automounted, or a projected token volume."""
    for volume in pod.volumes:
        if volume.type != "projected":
            continue
        sources = volume.source.get("sources")
        for index, source in enumerate(sources if isinstance(sources, list) else []):
            if isinstance(source, dict) and "serviceAccountToken" in source:
                return Evidence.at(
                    pod.obj,
                    f"{volume.path}/sources/{index}/serviceAccountToken",
                    f"volume {volume.name!r} projects the ServiceAccount token",
                    fix="remove the serviceAccountToken projection if the workload does not call the API",
                )
    if workload is not None and not workload.token_mounted:
        return None
    field = pod.automount_token
    account_field = workload.account_automount if workload is not None else None
    account_obj = workload.account_obj if workload is not None else None
    if field.is_set:
        why = "automountServiceAccountToken: true"
        obj, path = pod.obj, field.path
    elif account_field is not None and account_field.is_set and account_obj is not None:
        why = "automountServiceAccountToken: true on the ServiceAccount"
        obj, path = account_obj, account_field.path
    else:
        why = "automountServiceAccountToken is not set"
        obj, path = pod.obj, field.path
    return Evidence.at(
        obj,
        path,
        f"the ServiceAccount token is mounted ({why})",
        fix="set automountServiceAccountToken: false on the pod template (or its ServiceAccount) when the"
        " workload does not call the Kubernetes API",
    )


def _assumed_privileged(namespace: str) -> Evidence:
    """A namespace the scan does not hold: nothing says Pod Security keeps privileged pods out."""
    ref = ObjRef("Namespace", None, namespace, "v1")
    return Evidence(
        f"namespace {namespace!r} is not in the scan: no Pod Security level is known, so privileged pods"
        " are assumed admitted",
        None,
        ref,
        None,
        None,
        "label the namespace pod-security.kubernetes.io/enforce=restricted",
    )


def _any(_: EffectivePod) -> bool:
    return True


def _skips_login(pod: EffectivePod) -> bool:
    for container in pod.containers:
        for arg in (*container.command, *container.args):
            flag, _, value = arg.partition("=")
            if flag == "--enable-skip-login" and value.lower() in {"", "true"}:
                return True
    return False


def _restricted_senders(
    net: NetView, classes: dict[int, PodClass], open_sources: int
) -> Callable[[int], int]:
    """For a class index, the classes of ``classes`` not in ``open_sources`` whose egress rules may reach
    it: classes grouped by what their egress may reach, each group asked once (not each class: testing a
    bit of a set of ten thousand classes costs the whole set)."""
    by_egress: dict[int, int] = {}
    for index, source in classes.items():
        if not open_sources >> index & 1:
            reach = net.egress_bits(source)
            by_egress[reach] = by_egress.get(reach, 0) | 1 << index

    def reaching(target: int) -> int:
        found = 0
        for reach, sources in by_egress.items():
            if reach >> target & 1:
                found |= sources
        return found

    return reaching


def _address(host: str) -> AddressSet:
    try:
        return AddressSet.parse(host)
    except ValueError:
        return ALL_ADDRESSES
