"""Indexes by label (issue 18): what they find is what matching every object finds, in the same order."""

from __future__ import annotations

import pytest

from kharden.analysis.context import ScanContext
from kharden.analysis.selectors import EVERYTHING, NOTHING, parse_label_selector, parse_set_selector
from kharden.inventory import Inventory
from kharden.sources.documents import Collected


@pytest.mark.parametrize(
    ("selector", "key"),
    [
        (parse_set_selector({"app": "web", "tier": "front"}), ("app", "web")),
        (
            parse_label_selector({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, absent=NOTHING),
            None,
        ),
        (
            parse_label_selector(
                {
                    "matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "y"]}],
                    "matchLabels": {"b": "1"},
                },
                absent=NOTHING,
            ),
            ("b", "1"),
        ),
        (EVERYTHING, None),
    ],
)
def test_index_key_is_a_label_every_match_has(selector: object, key: tuple[str, str] | None) -> None:
    assert selector.index_key == key  # type: ignore[attr-defined]


def _context(text: str) -> ScanContext:
    collected = Collected()
    collected.add_stream(text.encode(), "f.yaml")
    return ScanContext(Inventory(collected.objects), frozenset({"M", "G"}))


def _deployment(name: str, labels: str) -> str:
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{matchLabels: {{{labels}}}}}
  template:
    metadata: {{labels: {{{labels}}}}}
    spec: {{containers: [{{name: c, image: x}}]}}
"""


def _service(name: str, selector: str) -> str:
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: shop}}
spec: {{type: NodePort, selector: {{{selector}}}, ports: [{{port: 80}}]}}
"""


def test_service_backends_are_the_classes_its_selector_matches() -> None:
    text = "".join(
        [
            _deployment("web", "app: web, tier: front"),
            _deployment("web2", "app: web, tier: back"),
            _deployment("db", "app: db"),
            _deployment("bare", "other: x"),
            _service("all-web", "app: web"),
            _service("front", "tier: front, app: web"),
            _service("none", "app: nothing"),
        ]
    )
    context = _context(text)
    network = context.network
    for service in context.services.services:
        expected = [c for c in network.classes_of("shop") if service.selector.matches(c.labels)]
        assert network.backends(service) == expected
    names = {
        s.name: [p.obj.ref.name for c in network.backends(s) for p in c.pods]
        for s in context.services.services
    }
    assert names == {"all-web": ["web", "web2"], "front": ["web"], "none": []}
