"""The namespace matrix (computed from rules) equals the matrix from every pair of pods, on random clusters."""

from __future__ import annotations

import random
from itertools import compress
from typing import Any

import pytest
from test_netpol import build

from kharden.analysis._netmatrix import ALL, SOME, _row, matrix
from kharden.analysis._netsets import ALL_PORTS
from kharden.analysis.netpol import EGRESS, INTERNET, METADATA, External, Network, bit_flags, bit_indexes
from netdocs import deployment, namespace, policy

NAMESPACES = ["a", "b", "c"]
LABELS = {"app": ["web", "db", "job"], "tier": ["front", "back"]}


def _selector(rng: random.Random) -> dict[str, Any]:
    choice = rng.random()
    if choice < 0.3:
        return {}
    key = rng.choice(list(LABELS))
    if choice < 0.7:
        return {"matchLabels": {key: rng.choice(LABELS[key])}}
    operator = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
    expression: dict[str, Any] = {"key": key, "operator": operator}
    if operator in ("In", "NotIn"):
        expression["values"] = [rng.choice(LABELS[key])]
    return {"matchExpressions": [expression]}


def _peer(rng: random.Random) -> dict[str, Any]:
    choice = rng.random()
    if choice < 0.3:
        return {"podSelector": _selector(rng)}
    if choice < 0.55:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": rng.choice(NAMESPACES)}}}
    if choice < 0.75:
        return {
            "namespaceSelector": rng.choice([{}, {"matchLabels": {"zone": "x"}}]),
            "podSelector": _selector(rng),
        }
    return {
        "ipBlock": rng.choice(
            [{"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}, {"cidr": "169.254.0.0/16"}]
        )
    }


def _rules(rng: random.Random, key: str) -> list[dict[str, Any]]:
    rules = []
    for _ in range(rng.randint(0, 2)):
        rule: dict[str, Any] = {}
        if rng.random() < 0.8:
            rule[key] = [_peer(rng) for _ in range(rng.randint(1, 2))]
        if rng.random() < 0.6:
            rule["ports"] = [
                rng.choice(
                    [{"port": 80}, {"port": "http"}, {"port": 8000, "endPort": 8100}, {"protocol": "UDP"}]
                )
            ]
        rules.append(rule)
    return rules


def random_cluster(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test clusters, not secrets
    docs: list[dict[str, Any]] = [
        namespace(n, **({"zone": "x"} if rng.random() < 0.5 else {})) for n in NAMESPACES[:2]
    ]
    for i in range(rng.randint(2, 7)):
        labels = {k: rng.choice(v) for k, v in LABELS.items() if rng.random() < 0.8}
        ports = rng.choice([[("http", 80, "TCP")], [("http", 8080, "TCP")], []])
        docs.append(
            deployment(rng.choice(NAMESPACES), f"d{i}", labels, ports, host_network=rng.random() < 0.1)
        )
    for i in range(rng.randint(0, 5)):
        types = rng.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        spec: dict[str, Any] = {"podSelector": _selector(rng), "policyTypes": types}
        if "Ingress" in types:
            spec["ingress"] = _rules(rng, "from")
        if "Egress" in types:
            spec["egress"] = _rules(rng, "to")
        docs.append(policy(rng.choice(NAMESPACES), f"p{i}", **spec))
    return docs


def brute_force(net: Network, externals: list[External]) -> dict[tuple[str, str], str]:
    """Cells from every pair of classes: some when a pair connects, all when every pair is fully open."""
    some: dict[tuple[str, str], bool] = {}
    full: dict[tuple[str, str], bool] = {}
    for source in net.classes:
        for destination in net.classes:
            key = (source.namespace, destination.namespace)
            ports = net.connection(source, destination).ports
            some[key] = some.get(key, False) or bool(ports)
            full[key] = full.get(key, True) and ports == ALL_PORTS
        for external in externals:
            key = (source.namespace, external.name)
            grants = [g for g in net.side(EGRESS, source, external).grants if g.ports]
            every = any(
                g.ports.is_all
                and (
                    g.peer is None
                    or (g.peer.addresses is not None and g.peer.addresses.covers(external.addresses))
                )
                for g in grants
            )
            some[key] = some.get(key, False) or bool(grants)
            full[key] = full.get(key, True) and every
    return {key: ALL if full[key] else SOME for key, reached in some.items() if reached}


@pytest.mark.parametrize("seed", range(60))
def test_matrix_equals_every_pair(seed: int) -> None:
    net, _ = build(*random_cluster(seed))
    externals = [INTERNET, METADATA, External("etcd", METADATA.addresses.parse("10.0.0.0/8"))]
    found = matrix(net, externals)
    cells = {(src, dst): level for src, row in found.cells.items() for dst, level in row.items()}
    assert cells == brute_force(net, externals)


def test_namespaces_without_object_or_pods_are_listed() -> None:
    net, _ = build(namespace("empty"), deployment("a", "web"), policy("b", "p"))
    found = matrix(net)
    assert (found.namespaces, found.unlabelled, found.empty) == (("a", "*"), ("a",), ("b", "empty"))


def _peeled(value: int) -> list[int]:
    """The set bits of ``value`` one at a time: the plain definition the fast paths must equal."""
    return [i for i in range(value.bit_length()) if value >> i & 1]


@pytest.mark.parametrize("width", [0, 1, 8, 9, 63, 64, 65, 1000, 20_000])
@pytest.mark.parametrize("density", [0.0, 0.01, 0.5, 1.0])
def test_bit_indexes_and_flags_read_every_set_bit(width: int, density: float) -> None:
    rng = random.Random(width * 7 + int(density * 100))  # noqa: S311 - reproducible bits, not secrets
    value = sum(1 << i for i in range(width) if rng.random() < density)
    assert bit_indexes(value) == _peeled(value)
    assert list(compress(range(width), bit_flags(value))) == _peeled(value)
    assert bit_indexes(value << 5000) == [5000 + i for i in _peeled(value)]


def test_row_cells_keep_namespace_order_with_all_over_some() -> None:
    names = [f"ns-{i}" for i in range(3000)]
    some = sum(1 << i for i in range(0, 3000, 3)) | 1 << 2999
    fully = some & sum(1 << i for i in range(0, 3000, 7))
    expected = {names[b]: ALL if fully >> b & 1 else SOME for b in _peeled(some)}
    row = _row(names, some, fully)
    assert list(row.items()) == list(expected.items())
    assert _row(names, 0, 0) == {}
