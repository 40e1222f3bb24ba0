"""The shortcuts that keep the attack-path counts of a scan near-linear give what the direct computation
gives: each is checked against it on a table of cases."""

from __future__ import annotations

import yaml
from pathdocs import Doc, deny, namespace, policy, workload

from kharden.analysis.context import ScanContext
from kharden.analysis.rbac import Request, Subject
from kharden.inventory import Inventory
from kharden.paths.netview import NetView
from kharden.paths.rbacview import SECRETS_GET, SECRETS_LIST, WORKLOAD_WRITE, Held, RbacView
from kharden.sources.documents import Collected
from rbacdocs import binding, cluster_role, group, role, rule, sa


def context_of(*docs: Doc | list[Doc]) -> ScanContext:
    flat: list[Doc] = []
    for doc in docs:
        flat += doc if isinstance(doc, list) else [doc]
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all(flat, sort_keys=False).encode(), "cluster.yaml")
    assert not collected.errors, collected.errors
    return ScanContext(Inventory(collected.objects), frozenset("MG"))


def _to(app: str) -> list[Doc]:
    return [{"podSelector": {"matchLabels": {"app": app}}}]


NETWORK = (
    namespace("shop"),
    namespace("ops"),
    namespace("lab"),
    workload("web"),
    workload("api"),
    workload("db"),
    workload("tool", "ops"),
    workload("probe", "ops", hostNetwork=True),
    workload("free", "lab"),
    deny("Egress"),
    policy(
        "web-out",
        podSelector={"matchLabels": {"app": "web"}},
        policyTypes=["Egress"],
        egress=[{"to": _to("api")}],
    ),
    policy(
        "api-out",
        podSelector={"matchLabels": {"app": "api"}},
        policyTypes=["Egress"],
        egress=[{"to": _to("db")}],
    ),
    policy(
        "db-in",
        podSelector={"matchLabels": {"app": "db"}},
        policyTypes=["Ingress"],
        ingress=[{"from": [{"namespaceSelector": {}}]}],
    ),
    policy(
        "tool-out", "ops", podSelector={"matchLabels": {"app": "tool"}}, policyTypes=["Egress"], egress=[{}]
    ),
)


def test_senders_keep_every_class_that_reaches_and_leave_out_egress_that_never_matches() -> None:
    network = context_of(*NETWORK).network
    net = NetView(network)
    classes = network.classes[:-1]
    assert len(classes) == 6
    left_out = 0
    for destination in classes:
        sources = list(net.sources(destination))
        senders = list(net.senders(destination))
        reaching = [s for s in sources if net.between(s, destination) is not None]
        # In the same order as sources(), every class that connects kept, and nothing new.
        assert [s for s in senders if s in reaching] == reaching
        assert [s for s in sources if s in senders] == senders
        left_out += len(sources) - len(senders)
    assert left_out > 0  # the shop's default-deny egress: its pods send nowhere but where rules say


RBAC = (
    namespace("shop"),
    namespace("ops"),
    role("shop", "creator", rule("", "pods", "create"), rule("apps", "deployments", "create patch")),
    cluster_role("secret-reader", rule("", "secrets", "get list", names="one two")),
    binding(
        "creator",
        "Role",
        "creator",
        sa("shop", "web"),
        group("system:serviceaccounts:shop"),
        namespace="shop",
    ),
    binding("everyone", "ClusterRole", "secret-reader", group("system:serviceaccounts")),
    binding("authenticated", "ClusterRole", "secret-reader", group("system:authenticated")),
    binding("ops", "ClusterRole", "secret-reader", sa("ops", "tool"), namespace="ops"),
)
SUBJECTS = [("shop", "web"), ("shop", "api"), ("ops", "tool"), ("ops", "default"), ("lab", "x")]
ASKED = [
    (WORKLOAD_WRITE, "create pods or pod controllers", "rbac.workload-create"),
    ([*SECRETS_GET, *SECRETS_LIST], "read secrets", "rbac.secrets-read"),
]


def _direct(view: RbacView, subject: Subject, requests: list[Request], what: str, rule_id: str) -> list[Held]:
    """What ``held`` gives, built per subject and grant as it was before grants were built once."""
    granted = view._granted(tuple(requests))
    return [
        RbacView._hold(grant, what, rule_id)
        for identity in subject.identities()
        for grant in granted.get(identity, ())
    ]


def test_held_is_built_once_per_grant_and_is_what_each_subject_holds() -> None:
    view = RbacView(context_of(*RBAC).rbac)
    found: dict[tuple[str, str, str], list[Held]] = {}
    for ns, name in SUBJECTS:
        subject = Subject.service_account(ns, name)
        for requests, what, rule_id in ASKED:
            held = view.held(subject, requests, what, rule_id)
            assert held == _direct(view, subject, requests, what, rule_id)
            found[(ns, name, rule_id)] = held
    creators = found[("shop", "web", "rbac.workload-create")]
    # Its own subject and its namespace's group: the binding's two subjects, once per rule of the Role.
    assert [h.evidence.path for h in creators] == ["/subjects/0"] * 2 + ["/subjects/1"] * 2
    assert [h.evidence.path for h in found[("shop", "api", "rbac.workload-create")]] == ["/subjects/1"] * 2
    assert found[("lab", "x", "rbac.workload-create")] == []
    readers = found[("ops", "tool", "rbac.secrets-read")]
    assert [(h.scope, h.names) for h in readers] == [
        ("ops", frozenset({"one", "two"})),
        (None, frozenset({"one", "two"})),
        (None, frozenset({"one", "two"})),
    ]
    # The grants to groups are the same objects for every account that holds them: built once.
    shared = found[("ops", "default", "rbac.secrets-read")]
    assert len(shared) == 2
    assert all(a is b for a, b in zip(shared, found[("lab", "x", "rbac.secrets-read")], strict=True))
