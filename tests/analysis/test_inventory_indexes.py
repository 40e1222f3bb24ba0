"""Inventory-wide indexes (issue 18, second round): each answers what comparing every object answers.

- ``Services.selecting`` and ``Services.ingresses_to`` by label and by name, against every Service and
  Ingress in turn;
- the namespaces a NetworkPolicy's namespaceSelector matches, by label index over the Namespaces the scan
  holds, against ``_namespace_match`` asked of each namespace (those without their object included).
"""

from __future__ import annotations

import random

import pytest

from kharden.analysis.context import ScanContext
from kharden.analysis.netpol import _namespace_match, _satisfiable
from kharden.analysis.selectors import EVERYTHING, LabelSelector, parse_label_selector
from kharden.inventory import Inventory
from kharden.sources.documents import Collected

_KEYS = ("app", "tier", "team")
_VALUES = ("a", "b", "c")
_NAMESPACES = ("n1", "n2", "n3", None)


def _context(text: str) -> ScanContext:
    collected = Collected()
    collected.add_stream(text.encode(), "f.yaml")
    return ScanContext(Inventory(collected.objects), frozenset({"M", "G"}))


def _labels(rng: random.Random, most: int = 3) -> dict[str, str]:
    return {key: rng.choice(_VALUES) for key in rng.sample(_KEYS, rng.randint(0, most))}


def _flow(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


def _namespaced(namespace: str | None) -> str:
    return f", namespace: {namespace}" if namespace else ""


def _random_scan(seed: int) -> str:
    rng = random.Random(seed)  # noqa: S311 - reproducible inputs, not a secret
    docs = []
    for i in range(rng.randint(5, 25)):
        labels = _labels(rng)
        docs.append(
            f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d{i}{_namespaced(rng.choice(_NAMESPACES))}}}
spec:
  selector: {{matchLabels: {_flow(labels)}}}
  template:
    metadata: {{labels: {_flow(labels)}}}
    spec: {{containers: [{{name: c, image: x}}]}}
"""
        )
    for _ in range(rng.randint(0, 15)):
        name = f"s{rng.randint(0, 5)}"  # names repeat: copies of one Service, and Ingresses to each
        docs.append(
            f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}{_namespaced(rng.choice(_NAMESPACES))}}}
spec: {{selector: {_flow(_labels(rng, 2))}, ports: [{{port: 80}}]}}
"""
        )
    for i in range(rng.randint(0, 6)):
        paths = ", ".join(
            f"{{path: /{j}, pathType: Prefix, backend: {{service: {{name: s{rng.randint(0, 5)}, port: {{number: 80}}}}}}}}"
            for j in range(rng.randint(0, 3))
        )
        docs.append(
            f"""---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: i{i}{_namespaced(rng.choice(_NAMESPACES))}}}
spec:
  defaultBackend: {{service: {{name: s{rng.randint(0, 5)}, port: {{number: 80}}}}}}
  rules: [{{http: {{paths: [{paths}]}}}}]
"""
        )
    return "".join(docs)


@pytest.mark.parametrize("seed", range(40))
def test_the_services_selecting_a_pod_are_those_whose_selector_matches_it(seed: int) -> None:
    context = _context(_random_scan(seed))
    services = context.services
    for pod in context.pods:
        assert services.selecting(pod) == [s for s in services.services if s.selects(pod)]
    for service in services.services:
        expected = [
            (ingress, path)
            for ingress in services.ingresses
            if ingress.obj.ref.namespace == service.obj.ref.namespace
            for name, path in ingress.backends
            if name == service.name
        ]
        assert services.ingresses_to(service) == expected


def _random_selector(rng: random.Random, names: list[str]) -> LabelSelector:
    expressions = []
    for _ in range(rng.randint(0, 3)):
        operator = rng.choice(("In", "NotIn", "Exists", "DoesNotExist"))
        key = rng.choice((*_KEYS, "kubernetes.io/metadata.name"))
        pool = names if key == "kubernetes.io/metadata.name" else list(_VALUES)
        values = rng.sample(pool, rng.randint(1, 2)) if operator in ("In", "NotIn") else []
        expressions.append({"key": key, "operator": operator, "values": values})
    return parse_label_selector({"matchExpressions": expressions}, absent=LabelSelector())


@pytest.mark.parametrize("seed", range(30))
def test_namespace_selectors_match_by_index_what_they_match_one_by_one(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible inputs, not a secret
    names = [f"ns{i}" for i in range(12)]
    docs = []
    for position, name in enumerate(names):
        if (
            position % 4 and rng.random() < 0.8
        ):  # the others are known by their pods only: their labels are unknown
            docs.append(
                f"---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}, labels: {_flow(_labels(rng))}}}\n"
            )
        docs.append(
            f"""---
apiVersion: v1
kind: Pod
metadata: {{name: p, namespace: {name}, labels: {_flow(_labels(rng))}}}
spec: {{containers: [{{name: c, image: x}}]}}
"""
        )
    network = _context("".join(docs)).network
    assert any(not ns.known for ns in network.namespaces.values())
    found = set()
    for _ in range(40):
        selector = _random_selector(rng, names)
        sure = maybe = 0
        for ns in network.namespaces.values():
            match = _namespace_match(selector, ns)
            if match:
                sure |= network.ns_masks[ns.index]
            elif match is None:
                maybe |= network.ns_masks[ns.index]
        expected = (sure, maybe, _satisfiable(selector, frozenset(network.namespaces)))
        assert network._namespacebit_indexes(selector) == expected, selector
        found.add((bool(sure), bool(maybe)))
    assert len(found) > 1


def _random_policies(seed: int) -> str:
    """Workloads of two namespaces under random policies: several classes share the same policies."""
    rng = random.Random(seed)  # noqa: S311 - reproducible inputs, not a secret
    docs = []
    for i in range(rng.randint(6, 20)):
        labels = _labels(rng)
        declared = "[{name: http, containerPort: 8080}]" if rng.random() < 0.5 else "[{containerPort: 80}]"
        docs.append(
            f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: d{i}, namespace: {rng.choice(("n1", "n2"))}}}
spec:
  selector: {{matchLabels: {_flow(labels)}}}
  template:
    metadata: {{labels: {_flow(labels)}}}
    spec: {{hostNetwork: {str(rng.random() < 0.1).lower()}, containers: [{{name: c, image: x, ports: {declared}}}]}}
"""
        )
    peers = (
        "[]",
        "[{podSelector: {}}]",
        "[{namespaceSelector: {}}]",
        "[{ipBlock: {cidr: 0.0.0.0/0}}]",
        "[{ipBlock: {cidr: 169.254.0.0/16}}]",
        "[{podSelector: {matchLabels: {app: a}}}]",
    )
    ports = ("", ", ports: [{port: 80}]", ", ports: [{port: http}]", ", ports: [{port: 53, protocol: UDP}]")
    for i in range(rng.randint(1, 8)):
        selector = _flow(_labels(rng, 1))
        rules = {
            side: "["
            + ", ".join(
                "{" + ("from" if side == "ingress" else "to") + f": {rng.choice(peers)}{rng.choice(ports)}}}"
                if rng.random() < 0.8
                else "{}"
                for _ in range(rng.randint(0, 2))
            )
            + "]"
            for side in ("ingress", "egress")
        }
        types = rng.choice(("[Ingress]", "[Egress]", "[Ingress, Egress]"))
        docs.append(
            f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: p{i}, namespace: {rng.choice(("n1", "n2"))}}}
spec: {{podSelector: {{matchLabels: {selector}}}, policyTypes: {types}, ingress: {rules["ingress"]}, egress: {rules["egress"]}}}
"""
        )
    return "".join(docs)


@pytest.mark.parametrize("seed", range(40))
def test_answers_shared_by_classes_under_the_same_policies_are_each_class_own(seed: int) -> None:
    """Egress towards an address (``Network.side``), a wide-open side and the peers admitting a pod
    (``NetView``) are kept by policies: each is what asking for the class alone gives."""
    from kharden.analysis._netsets import ALL_ADDRESSES  # noqa: PLC0415
    from kharden.analysis.netpol import EGRESS, INGRESS, INTERNET, METADATA, External  # noqa: PLC0415
    from kharden.paths.netview import NetView  # noqa: PLC0415

    network = _context(_random_policies(seed)).network
    view, fresh = NetView(network), NetView(network)
    for cls in network.classes[:-1]:
        for target in (INTERNET, METADATA, External("any node", ALL_ADDRESSES)):
            side = network.side(EGRESS, cls, target)
            if cls.egress_policies and not cls.host_network:
                assert side == network._decide(EGRESS, cls.egress_policies, cls, target)
        for direction in (INGRESS, EGRESS):
            assert view.wide_open(cls, direction) == fresh._wide_open(cls, direction)
            if network.isolated(cls, direction) and not cls.host_network:
                assert view._open_under[
                    (
                        direction,
                        cls.ports_key if direction == INGRESS else 0,
                        *map(id, cls.policies(direction)),
                    )
                ] == fresh._opening(cls, direction, f"netpol.{direction.lower()}-open")
        if network.isolated(cls, INGRESS):
            assert view.admitting(cls) == fresh._admitted(cls)
    assert len(network.classes) > 2


@pytest.mark.parametrize("seed", range(8))
def test_the_label_index_selects_the_classes_whose_labels_match(seed: int) -> None:
    """The label index keeps a rare label as its classes' indexes and a common one as a bit set: either
    way a selector gets the classes whose labels it matches, each asked in turn."""
    from types import SimpleNamespace  # noqa: PLC0415

    from kharden.analysis.netpol import _bits_of, _LabelIndex  # noqa: PLC0415

    chance = random.Random(seed)  # noqa: S311 - reproducible cases, not a secret
    values = ["a", "b", "c"]
    classes = [
        SimpleNamespace(
            index=index,
            labels={key: chance.choice(values) for key in ("tier", "app", "rare") if chance.random() < 0.5}
            | ({"only": str(index)} if chance.random() < 0.05 else {}),
        )
        for index in sorted(chance.sample(range(3000), 400))
    ]
    index = _LabelIndex(classes)
    assert any(isinstance(found, tuple) for found in index.pairs.values())  # both ways are kept
    assert any(isinstance(found, int) for found in index.pairs.values())
    for _ in range(40):
        keys = chance.sample(["tier", "app", "rare", "only", "none"], chance.randrange(0, 3))
        raw = {
            "matchLabels": {key: chance.choice(values) for key in keys[:1]},
            "matchExpressions": [
                {"key": key, "operator": operator, "values": ["a", "b"]}
                if operator in {"In", "NotIn"}
                else {"key": key, "operator": operator}
                for key in keys[1:]
                for operator in [chance.choice(["In", "NotIn", "Exists", "DoesNotExist"])]
            ],
        }
        selector = parse_label_selector(raw, absent=EVERYTHING)
        expected = _bits_of([c.index for c in classes if selector.matches(c.labels)])
        assert index.bits(selector) == expected, raw
