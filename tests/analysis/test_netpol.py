"""NetworkPolicy semantics, one per case, on tiny clusters built in code.

Case ids name the section of https://kubernetes.io/docs/concepts/services-networking/network-policies/
(or of the NetworkPolicy API reference) that decides them.
"""

from __future__ import annotations

import pytest
import yaml

from kharden.analysis.context import ScanContext
from kharden.analysis.netpol import (
    EGRESS,
    INGRESS,
    METADATA,
    External,
    Network,
    PodClass,
    build_network,
)
from kharden.analysis.netpol import AddressSet as Addresses
from kharden.inventory import Inventory
from kharden.sources.documents import Collected
from netdocs import Doc, deployment, namespace, policy


def expressions(*requirements: tuple[str, str, list[str] | None]) -> Doc:
    return {
        "matchExpressions": [
            {"key": k, "operator": op, **({"values": values} if values else {})}
            for k, op, values in requirements
        ]
    }


def build(*docs: Doc) -> tuple[Network, list[str]]:
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all(list(docs), sort_keys=False).encode(), "net.yaml")
    context = ScanContext(Inventory(collected.objects), frozenset("MG"))
    network = context.network
    return network, [str(e) for e in context.errors]


def network(*docs: Doc) -> Network:
    built, errors = build(*docs)
    assert errors == []
    return built


def pod(net: Network, ref: str) -> PodClass:
    ns, name = ref.split("/")
    (found,) = [c for c in net.classes_of(ns) if any(p.obj.ref.name == name for p in c.pods)]
    return found


def address(text: str) -> External:
    return External(text, Addresses.parse(text))


def ports(net: Network, source: str, destination: str) -> str:
    """The ports allowed from ``source`` to ``destination`` (``ns/workload`` or an address), as text."""
    src = address(source) if "/" not in source or source[0].isdigit() else pod(net, source)
    dst = (
        address(destination) if "/" not in destination or destination[0].isdigit() else pod(net, destination)
    )
    return str(net.connection(src, dst).ports)


# A cluster of two namespaces: shop (web, db) and other (client), with labelled Namespace objects.
BASE = [
    namespace("shop", team="shop", env="prod"),
    namespace("other", team="other", env="dev"),
    deployment("shop", "web", {"app": "web", "tier": "front"}),
    deployment("shop", "db", {"app": "db", "tier": "back"}, [("postgres", 5432, "TCP")]),
    deployment("other", "client", {"app": "client", "tier": "front"}),
]

DENY_SHOP_DB = policy("shop", "deny-db", podSelector={"matchLabels": {"app": "db"}})

CASES = [
    # -- isolation --------------------------------------------------------------------------------
    pytest.param([], "other/client", "shop/db", "every port", id="the-two-sorts-of-pod-isolation:no-policy-no-isolation"),
    pytest.param([DENY_SHOP_DB], "other/client", "shop/db", "no port", id="the-two-sorts-of-pod-isolation:selected-ingress-isolated"),
    pytest.param([DENY_SHOP_DB], "shop/db", "other/client", "every port", id="the-two-sorts-of-pod-isolation:ingress-policy-leaves-egress-open"),
    pytest.param([DENY_SHOP_DB], "other/client", "shop/web", "every port", id="the-two-sorts-of-pod-isolation:unselected-pods-stay-open"),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, egress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])],
        "shop/db", "other/client", "53/UDP", id="networkpolicy-resource:policyTypes-default-adds-egress-with-rules",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, egress=[])],
        "shop/db", "other/client", "every port", id="networkpolicy-resource:policyTypes-default-empty-egress-list-is-no-rules",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, policyTypes=[], egress=[{"ports": [{"port": 443}]}])],
        "shop/db", "other/client", "443/TCP", id="networkpolicy-resource:policyTypes-empty-list-is-defaulted",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, egress=[])],
        "other/client", "shop/db", "no port", id="networkpolicy-resource:policyTypes-default-always-ingress",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, policyTypes=["Egress"])],
        "other/client", "shop/db", "every port", id="networkpolicy-resource:egress-only-leaves-ingress-open",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, policyTypes=["Egress"],
                ingress=[{"ports": [{"port": 1}]}])],
        "other/client", "shop/db", "every port", id="networkpolicy-resource:rules-of-a-type-not-listed-do-nothing",
    ),
    pytest.param(
        [policy("shop", "p", podSelector={"matchLabels": {"app": "db"}}, policyTypes=["Ingress", "Egress"])],
        "shop/db", "shop/web", "no port", id="default-policies:deny-all-egress",
    ),
    # -- rules: unions, empty lists, {} ---------------------------------------------------------------
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 80}]}]), policy("shop", "b", ingress=[{"ports": [{"port": 443}]}])],
        "other/client", "shop/web", "80/TCP, 443/TCP", id="networkpolicy-resource:policies-are-additive",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 80}]}, {"ports": [{"port": 81}]}])],
        "other/client", "shop/web", "80-81/TCP", id="networkpolicy-resource:rules-are-ored",
    ),
    pytest.param([policy("shop", "a", ingress=[])], "other/client", "shop/web", "no port", id="default-policies:empty-ingress-denies"),
    pytest.param([policy("shop", "a", ingress=[{}])], "other/client", "shop/web", "every port", id="default-policies:allow-all-ingress-rule"),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"podSelector": {}}]}])],
        "shop/db", "shop/web", "every port", id="networkpolicy-resource:from-without-ports-allows-every-port",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 8080}]}])],
        "other/client", "shop/web", "8080/TCP", id="networkpolicy-resource:ports-without-from-allows-every-source",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]),
         policy("other", "b", policyTypes=["Egress"], egress=[{"ports": [{"port": 5432}]}])],
        "other/client", "shop/db", "no port", id="the-two-sorts-of-pod-isolation:both-sides-must-allow",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 5000, "endPort": 6000}]}]),
         policy("other", "b", policyTypes=["Egress"], egress=[{"ports": [{"port": 5432}, {"port": 9000}]}])],
        "other/client", "shop/db", "5432/TCP", id="the-two-sorts-of-pod-isolation:ports-intersect",
    ),
    # -- peers ---------------------------------------------------------------------------------------
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"podSelector": {"matchLabels": {"tier": "front"}}}]}])],
        "other/client", "shop/db", "no port", id="behavior-of-to-and-from-selectors:podSelector-is-own-namespace-only",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"podSelector": {"matchLabels": {"tier": "front"}}}]}])],
        "shop/web", "shop/db", "every port", id="behavior-of-to-and-from-selectors:podSelector-matches",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}])],
        "other/client", "shop/db", "every port", id="behavior-of-to-and-from-selectors:namespaceSelector-selects-all-its-pods",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}])],
        "shop/web", "shop/db", "no port", id="behavior-of-to-and-from-selectors:namespaceSelector-not-own-namespace-unless-matched",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}},
                                                   "podSelector": {"matchLabels": {"tier": "back"}}}]}])],
        "other/client", "shop/db", "no port", id="behavior-of-to-and-from-selectors:both-in-one-peer-is-and",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}},
                                                   {"podSelector": {"matchLabels": {"tier": "back"}}}]}])],
        "other/client", "shop/db", "every port", id="behavior-of-to-and-from-selectors:two-peers-are-or",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {}}]}])],
        "other/client", "shop/db", "every port", id="behavior-of-to-and-from-selectors:empty-namespaceSelector-every-namespace",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}]}])],
        "other/client", "shop/db", "every port", id="targeting-a-namespace-by-its-name:label-set-by-control-plane",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": expressions(("env", "NotIn", ["prod"]))}]}])],
        "other/client", "shop/db", "every port", id="labels#set-based-requirement:NotIn",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": expressions(("team", "DoesNotExist", None))}]}])],
        "other/client", "shop/db", "no port", id="labels#set-based-requirement:DoesNotExist",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {}, "podSelector": expressions(
            ("tier", "In", ["front", "edge"]), ("app", "Exists", None))}]}])],
        "other/client", "shop/db", "every port", id="labels#set-based-requirement:In-and-Exists",
    ),
    # -- ipBlock ---------------------------------------------------------------------------------------
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}])],
        "shop/web", "169.254.169.254", "no port", id="networkpolicy-resource:ipBlock-except",
    ),
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}])],
        "shop/web", "169.254.169.253", "every port", id="networkpolicy-resource:ipBlock-cidr",
    ),
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])],
        "shop/web", "fd00:ec2::254", "no port", id="networkpolicy-resource:ipv4-block-is-not-ipv6",
    ),
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}]}])],
        "shop/web", "fd00:ec2::254", "no port", id="networkpolicy-resource:ipv6-except",
    ),
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}}]}])],
        "shop/web", "2001:db8::1", "every port", id="networkpolicy-resource:ipv6-cidr",
    ),
    pytest.param(
        [policy("shop", "a", policyTypes=["Egress"], egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}])],
        "shop/web", "other/client", "no port", id="networkpolicy-resource:ipBlock-is-cluster-external",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}])],
        "10.1.2.3", "shop/web", "no port", id="networkpolicy-resource:ipBlock-except-ingress",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}])],
        "10.2.3.4", "shop/web", "every port", id="networkpolicy-resource:ipBlock-ingress",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}])],
        "10.2.3.4", "shop/web", "every port", id="IPBlock:host-bits-are-ignored",
    ),
    # -- ports -----------------------------------------------------------------------------------------
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 53, "protocol": "UDP"}]}])],
        "other/client", "shop/web", "53/UDP", id="NetworkPolicyPort:protocol",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"protocol": "SCTP"}]}])],
        "other/client", "shop/web", "every SCTP port", id="NetworkPolicyPort:protocol-without-port-is-every-port",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{}]}])],
        "other/client", "shop/web", "every TCP port", id="NetworkPolicyPort:empty-entry-is-every-tcp-port",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": "http"}]}])],
        "other/client", "shop/web", "8080/TCP", id="NetworkPolicyPort:named-port-resolved-on-destination",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": "http"}]}])],
        "other/client", "shop/db", "no port", id="NetworkPolicyPort:named-port-missing-on-destination",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": "http", "protocol": "UDP"}]}])],
        "other/client", "shop/web", "no port", id="NetworkPolicyPort:named-port-needs-its-protocol",
    ),
    pytest.param(
        [policy("other", "a", policyTypes=["Egress"], egress=[{"ports": [{"port": "postgres"}]}])],
        "other/client", "shop/db", "5432/TCP", id="NetworkPolicyPort:egress-named-port-resolved-on-destination",
    ),
    pytest.param(
        [policy("other", "a", policyTypes=["Egress"], egress=[{"ports": [{"port": "http"}]}])],
        "other/client", "203.0.113.9", "no port", id="NetworkPolicyPort:named-port-never-matches-an-address",
    ),
    pytest.param(
        [policy("shop", "a", ingress=[{"ports": [{"port": 8000, "endPort": 8100}]}])],
        "other/client", "shop/web", "8000-8100/TCP", id="targeting-a-range-of-ports:endPort",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("policies", "source", "destination", "expected"), CASES)
def test_semantics(policies: list[Doc], source: str, destination: str, expected: str) -> None:
    assert ports(network(*BASE, *policies), source, destination) == expected


def test_deciding_rule_and_peer_are_named() -> None:
    net = network(
        *BASE,
        policy(
            "shop",
            "allow",
            ingress=[
                {"from": [{"podSelector": {"matchLabels": {"app": "nothing"}}}]},
                {
                    "from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"namespaceSelector": {}}],
                    "ports": [{"port": 80}],
                },
            ],
        ),
    )
    side = net.connection(pod(net, "other/client"), pod(net, "shop/web")).ingress
    assert [(str(g.rule), g.peer.path if g.peer else None, str(g.ports)) for g in side.grants] == [
        ("ingress rule 1 of NetworkPolicy shop/allow", "/spec/ingress/1/from/1", "80/TCP")
    ]
    assert [p.name for p in side.policies] == ["allow"]
    assert str(side.policies[0].locate("/spec/ingress/1")).startswith("net.yaml:")


def test_not_isolated_is_said() -> None:
    net = network(*BASE)
    side = net.connection(pod(net, "other/client"), pod(net, "shop/web")).egress
    assert (side.isolated, [g.rule for g in side.grants], side.note) == (False, [None], "")


# -- hostNetwork ---------------------------------------------------------------------------------------


def test_host_network_pods_are_never_selected() -> None:
    # networkpolicies-and-hostnetwork-pods: "ignores hostNetwork pods when matching podSelector".
    net = network(
        *BASE,
        deployment("shop", "agent", {"app": "agent"}, host_network=True),
        policy("shop", "deny-all", policyTypes=["Ingress", "Egress"]),
    )
    agent = pod(net, "shop/agent")
    assert not net.isolated(agent, INGRESS)
    assert not net.isolated(agent, EGRESS)
    assert agent in net.uncovered(INGRESS)
    side = net.connection(agent, METADATA).egress
    assert side.note == "hostNetwork pods are not selected by NetworkPolicies: nothing restricts them"


def test_host_network_pods_are_not_selector_peers() -> None:
    net = network(
        *BASE,
        deployment("shop", "agent", {"app": "agent"}, host_network=True),
        policy("shop", "a", ingress=[{"from": [{"podSelector": {}}]}]),
    )
    assert ports(net, "shop/agent", "shop/web") == "no port"
    assert ports(net, "shop/db", "shop/web") == "every port"


# -- what the scan does not hold -----------------------------------------------------------------------


def test_namespace_without_object_is_assumed_to_match() -> None:
    net = network(
        deployment("shop", "web"),
        deployment("other", "client"),
        policy("shop", "a", ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "other"}}}]}]),
    )
    grants = net.connection(pod(net, "other/client"), pod(net, "shop/web")).ingress.grants
    assert [(g.assumed, str(g.ports)) for g in grants] == [(True, "every port")]


def test_namespace_without_object_still_has_its_name_label() -> None:
    net = network(
        deployment("shop", "web"),
        deployment("other", "client"),
        policy(
            "shop",
            "a",
            ingress=[
                {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "x"}}}]}
            ],
        ),
    )
    assert ports(net, "other/client", "shop/web") == "no port"


@pytest.mark.parametrize(
    ("selector", "outside"),
    [
        pytest.param({}, True, id="every-namespace"),
        pytest.param({"matchLabels": {"team": "payments"}}, True, id="a-label-no-scanned-namespace-has"),
        pytest.param({"matchLabels": {"kubernetes.io/metadata.name": "other"}}, False, id="a-scanned-name"),
        pytest.param({"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, True, id="a-name-not-in-the-scan"),
        pytest.param({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "DoesNotExist"}]}, False, id="no-name-label"),
        pytest.param({"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "a", "operator": "DoesNotExist"}]}, False, id="contradiction"),
    ],
)  # fmt: skip
def test_namespaces_outside_the_scan(selector: Doc, outside: bool) -> None:
    net = network(*BASE, policy("shop", "a", ingress=[{"from": [{"namespaceSelector": selector}]}]))
    side = net.connection(net.outside, pod(net, "shop/web")).ingress
    assert bool(side.grants) == outside
    assert all(g.assumed for g in side.grants)


def test_pods_outside_the_scan_are_not_restricted() -> None:
    net = network(*BASE)
    side = net.connection(net.outside, pod(net, "shop/web")).egress
    assert side.note == "the policies of namespaces not in the scan are unknown: assumed to allow"


# -- classes -------------------------------------------------------------------------------------------


def test_pods_with_the_same_labels_are_one_class() -> None:
    net = network(
        *BASE,
        deployment("shop", "web-canary", {"app": "web", "tier": "front"}),
        deployment("other", "web", {"app": "web", "tier": "front"}),
    )
    assert pod(net, "shop/web") is pod(net, "shop/web-canary")
    assert pod(net, "shop/web").workloads() == ["Deployment 'web'", "Deployment 'web-canary'"]
    assert pod(net, "other/web") is not pod(net, "shop/web")
    assert len(net.classes) == 5  # shop: web, db; other: client, web; and the pods outside the scan


def test_running_pods_are_grouped_by_labels() -> None:
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"web-5d9-{suffix}",
                "namespace": "shop",
                "labels": {"app": "web", "pod-template-hash": "5d9"},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9", "controller": True}
                ],
            },
            "spec": {
                "containers": [
                    {"name": "app", "image": "x", "ports": [{"name": "http", "containerPort": 80}]}
                ]
            },
        }
        for suffix in ("a", "b", "c")
    ]
    net = network(namespace("shop"), *pods, policy("shop", "a", ingress=[{"ports": [{"port": "http"}]}]))
    (cls,) = net.classes_of("shop")
    assert len(cls.pods) == 3
    assert cls.workloads() == ["ReplicaSet 'web-5d9'"]
    assert str(net.connection(net.outside, cls).ports) == "80/TCP"


def test_build_network_from_objects() -> None:
    collected = Collected()
    collected.add_stream(yaml.safe_dump_all(BASE).encode(), "a.yaml")
    context = ScanContext(Inventory(collected.objects), frozenset("M"))
    net, errors = build_network(context.inventory, context.pods)
    assert errors == []
    assert [c.namespace for c in net.classes] == ["other", "shop", "shop", "*"]


# -- input errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"ingress": [{"from": [{}]}]}, "a from/to entry must set podSelector, namespaceSelector or ipBlock (/spec/ingress/0/from/0)", id="empty-peer"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}, "ipBlock cannot be combined with podSelector or namespaceSelector (/spec/ingress/0/from/0)", id="ipBlock-and-selector"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/8"]}}]}]}, "except 11.0.0.0/8 is not a strict subset of cidr 10.0.0.0/8 (/spec/ingress/0/from/0/ipBlock/except/0)", id="except-outside-cidr"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]}, "except 10.0.0.0/8 is not a strict subset of cidr 10.0.0.0/8 (/spec/ingress/0/from/0/ipBlock/except/0)", id="except-equal-to-cidr"),
        pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0/8"}}]}]}, "'10.0.0/8' is not a CIDR (/spec/ingress/0/from/0/ipBlock/cidr)", id="bad-cidr"),
        pytest.param({"ingress": [{"ports": [{"port": "http", "endPort": 90}]}]}, "endPort cannot be used with a named port (/spec/ingress/0/ports/0/endPort)", id="endPort-named"),
        pytest.param({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "endPort 80 must be between port 90 and 65535 (/spec/ingress/0/ports/0/endPort)", id="endPort-below-port"),
        pytest.param({"ingress": [{"ports": [{"endPort": 80}]}]}, "endPort needs a numeric port (/spec/ingress/0/ports/0/endPort)", id="endPort-alone"),
        pytest.param({"ingress": [{"ports": [{"port": 0}]}]}, "port 0 is outside 1-65535 (/spec/ingress/0/ports/0/port)", id="port-zero"),
        pytest.param({"ingress": [{"ports": [{"port": "80"}]}]}, "port '80' is neither a number nor a port name (/spec/ingress/0/ports/0/port)", id="quoted-number"),
        pytest.param({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}, "protocol 'ICMP' is not TCP, UDP or SCTP (/spec/ingress/0/ports/0/protocol)", id="protocol"),
        pytest.param({"policyTypes": ["ingress"]}, "policyTypes 'ingress' is not Ingress or Egress (/spec/policyTypes/0)", id="policyTypes"),
        pytest.param({"podSelector": {"matchLabels": {"v": 1}}}, "the value of label 'v' must be a string (/spec/podSelector)", id="selector"),
        pytest.param({"ingress": {"from": []}}, "ingress must be a list, not a mapping (/spec/ingress)", id="ingress-not-a-list"),
    ],
)  # fmt: skip
def test_policies_the_api_server_refuses_are_input_errors(spec: Doc, message: str) -> None:
    net, errors = build(*BASE, policy("shop", "bad", **spec))
    assert len(errors) == 1
    assert errors[0].startswith("net.yaml:")
    assert errors[0].endswith(f"NetworkPolicy shop/bad: {message}")
    assert net.policies == []  # not in force: the pods it would select stay open
    assert ports(net, "other/client", "shop/web") == "every port"


def test_mirror_pods_are_named_by_themselves() -> None:
    mirror = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "kube-apiserver-cp-1",
            "namespace": "kube-system",
            "labels": {"component": "kube-apiserver"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "controller": True}],
        },
        "spec": {"hostNetwork": True, "containers": [{"name": "kube-apiserver", "image": "x"}]},
    }
    (cls,) = network(mirror).classes_of("kube-system")
    assert (cls.workloads(), str(cls)) == (
        ["Pod 'kube-apiserver-cp-1'"],
        "Pod kube-system/kube-apiserver-cp-1",
    )
