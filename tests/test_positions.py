"""Positions kept in one array per document (issue 18: they were most of a document's memory), laid out
per container when a finding asks, the same answers as the table by container they replace."""

from __future__ import annotations

import pickle
from array import array
from typing import Any

import pytest

from kharden._yaml import Positions, iter_documents

TEXT = b"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx
          ports: [{containerPort: 80}, {containerPort: 443}]
        - name: side
          image: busybox
      volumes: []
"""
POINTERS = [
    "/kind",
    "/metadata/labels/tier",
    "/spec/template/spec/containers/1/image",
    "/spec/template/spec/containers/0/ports/1/containerPort",
    "/spec/template/spec/volumes",
    "/spec/template/spec/volumes/0",
    "/spec/missing/deeper",
]


def _one(text: bytes) -> Any:
    (document,) = iter_documents(text, "f.yaml")
    return document


def test_one_array_per_document_answers_as_the_table_did() -> None:
    document = _one(TEXT)
    assert document.positions._packed is not None  # compact: no array per container
    table = {key: list(value) for key, value in document.positions.table.items()}
    by_container = Positions({key: array("Q", value) for key, value in table.items()})
    for pointer in POINTERS:
        assert document.positions.locate(document.data, pointer) == by_container.locate(
            document.data, pointer
        )
    assert document.positions.locate(document.data, "/spec/template/spec/containers/1/image") == (14, 11)
    assert document.positions.locate(
        document.data, "/spec/template/spec/containers/0/ports/1/containerPort"
    ) == (
        12,
        41,
    )


def test_documents_sharing_containers_through_aliases_keep_the_table() -> None:
    document = _one(b"a: &x {k: [1, 2]}\nb: *x\n")
    assert document.positions._packed is None
    assert document.positions.locate(document.data, "/b/k/1") == (1, 15)


@pytest.mark.parametrize("text", [TEXT, b"a: &x {k: [1, 2]}\nb: *x\n"], ids=["compact", "table"])
def test_positions_survive_pickling(text: bytes) -> None:
    document = _one(text)
    copy = pickle.loads(pickle.dumps(document))  # noqa: S301 - our own bytes
    for pointer in [*POINTERS, "/b/k/1"]:
        assert copy.positions.locate(copy.data, pointer) == document.positions.locate(document.data, pointer)


def test_many_documents_located_in_any_order() -> None:
    """Layouts are kept for the last few documents only: going back to an earlier one lays it out again."""
    documents = list(iter_documents(b"---\n".join(TEXT.replace(b"web", b"w%d" % n) for n in range(40)), "f"))
    for document in [*documents, *reversed(documents)]:
        start = document.line
        assert document.positions.locate(document.data, "/metadata/name") == (start + 3, 3)


def _pointers(node: Any, at: str = "") -> list[str]:
    """Every pointer into ``node``, and one past each leaf."""
    found = [at, at + "/missing"]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found += _pointers(value, f"{at}/{key}")
    return found


def test_a_walk_down_the_document_finds_what_the_table_holds() -> None:
    """Obj.trace finds the containers on its path from the root down, skipping the blocks of earlier
    siblings, without laying out the whole document."""
    from kharden import _pointer  # noqa: PLC0415

    text = (
        TEXT
        + b"status:\n  conditions:\n    - {type: Ready, status: 'True'}\n    - [nested, [deeper, {x: 1}]]\n"
    )
    document = _one(text)
    pointers = _pointers(document.data)
    assert len(pointers) > 60
    for pointer in pointers:
        walked = _pointer.trace(document.data, pointer, document.positions.lookup())
        assert walked == _pointer.trace(document.data, pointer, document.positions.table), pointer
    # From an object inside the document (an item of a List), the walk falls back to the table.
    item = document.data["spec"]["template"]["spec"]["containers"][1]
    assert _pointer.trace(item, "/image", document.positions.lookup())[0] is not None


def test_the_packed_walk_answers_as_the_table_on_random_documents() -> None:
    """``_pointer.trace_packed`` (one frame, sibling blocks skipped by their sizes) against the walk by
    container ``id``, for every pointer into random documents and one past each leaf."""
    import random  # noqa: PLC0415

    from kharden import _pointer  # noqa: PLC0415
    from test_direct_build import _node, _text  # noqa: PLC0415

    walked = 0
    for seed in range(150):
        rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
        value = {"root": _node(rng, 0), "items": [_node(rng, 1) for _ in range(4)]}
        for document in iter_documents(_text(value, flow=seed % 4 == 0).encode(), "f"):
            if document.positions._packed is None:
                continue
            for pointer in _pointers(document.data):
                expected = _pointer.trace(document.data, pointer, document.positions.table)
                assert document.positions.trace(document.data, pointer) == expected, pointer
                walked += 1
    assert walked > 5000


def test_keys_added_after_reading_have_no_position_and_shift_nothing() -> None:
    """The items of a typed List get ``apiVersion`` and ``kind`` after they were read: the fields they
    already had keep their places (the count of positions is in each block's header)."""
    text = b"""\
apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata: {name: a}
    spec:
      template:
        spec:
          containers:
            - name: app
              image: nginx
  - metadata: {name: b}
    spec: {replicas: 2}
"""
    document = _one(text)
    for item in document.data["items"]:
        item.setdefault("apiVersion", "apps/v1")
        item["kind"] = "Deployment"
    first, second = document.data["items"]
    lookup = document.positions.lookup()
    from kharden import _pointer  # noqa: PLC0415

    assert _pointer.trace(first, "/spec/template/spec/containers/0/image", lookup)[0] is not None
    assert document.positions.locate(first, "/spec/template/spec/containers/0/image") == (10, 15)
    assert document.positions.locate(first, "/kind") is None  # no position of its own (the object's line)
    assert document.positions.locate(second, "/spec/replicas") == (12, 12)
    assert document.positions.locate(document.data, "/items/1/spec/replicas") == (12, 12)
    assert document.positions.locate(document.data, "/items/0/kind/deeper") == (4, 5)


def test_objects_deeper_than_a_list_item_are_found_through_the_table() -> None:
    document = _one(TEXT)
    ports = document.data["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert document.positions.locate(ports, "/1/containerPort") == (12, 41)
