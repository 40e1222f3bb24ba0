"""Wrong types anywhere in a workload are input errors or ignored fields, never a crash.

Seeded, so every run checks the same few thousand mutations: each puts a value of a random
type at a random existing field (or replaces a whole sub-tree) of the minimal pod, wrapped in
every workload kind, and runs every rule.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from conftest import MINIMAL_POD, TEMPLATE_KINDS, as_kind, scan_objects
from kharden import _pointer

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    "",
    "x",
    "true",
    [],
    [1, "a"],
    {},
    {"a": {"b": []}},
]


def _pointers(node: Any, prefix: str = "") -> list[str]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _pointers(value, _pointer.join(prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _pointers(value, _pointer.join(prefix, index))
    return found


@pytest.mark.parametrize("kind", sorted(TEMPLATE_KINDS))
def test_random_wrong_types_never_crash(kind: str) -> None:
    rng = random.Random(f"kharden-{kind}")  # noqa: S311 - a seeded, repeatable test input
    base = as_kind(MINIMAL_POD, kind)
    pointers = [p for p in _pointers(base) if not p.startswith(("/apiVersion", "/kind"))]
    errors = 0
    for _ in range(300):
        obj = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            _set(obj, rng.choice(pointers), copy.deepcopy(rng.choice(VALUES)))
        report = scan_objects(obj)
        errors += len(report.errors)
        for error in report.errors:
            assert error.file == "test.yaml"
            assert error.line is not None
            assert "\n" not in error.message
    assert errors > 0  # the generator does produce bad input


def _set(obj: Any, pointer: str, value: Any) -> None:
    """Set an existing field; skipped when an earlier change replaced a parent."""
    *parents, last = _pointer.split(pointer)
    node = obj
    for token in parents:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value


NODE_TREES = ("kubeadm-insecure", "kubeadm-secure", "k3s", "rke2")
CLUSTER_CASES = (
    "isolation/cni-unsupported/passes.aws-node-with-agent.yaml",
    "admission/pod-security/passes.labels-and-engines.yaml",
    "encryption/mesh-gap/fires.istio-gaps.yaml",
    "encryption/pod-traffic/passes.cilium-wireguard.yaml",
)


@pytest.mark.parametrize("tree", NODE_TREES)
def test_node_files_with_wrong_types_never_crash(tree: str) -> None:
    """Node files and the cluster objects the control-plane rules read, mutated, through every rule."""
    from conftest import TESTS  # noqa: PLC0415
    from kharden.model import Obj  # noqa: PLC0415
    from kharden.rules import select  # noqa: PLC0415
    from kharden.scan import evaluate  # noqa: PLC0415
    from kharden.sources.documents import Collected  # noqa: PLC0415
    from kharden.sources.node import read_node  # noqa: PLC0415

    base = Collected()
    read_node(str(TESTS / "data" / "nodes" / tree), base)
    for case in CLUSTER_CASES:
        base.add_stream((TESTS / "rules" / case).read_bytes(), case)
    rng = random.Random(f"kharden-node-{tree}")  # noqa: S311 - a seeded, repeatable test input
    targets = [
        (index, p)
        for index, obj in enumerate(base.objects)
        for p in _pointers(obj.raw)
        if not p.startswith(("/apiVersion", "/kind", "/metadata/name"))
        # kharden builds its synthetic objects itself: only the file contents they hold are input
        and (obj.ref.group != "node.kharden.io" or p.startswith(("/config/", "/args/")))
    ]
    rules = select()
    for _ in range(150):
        objects = [Obj(copy.deepcopy(o.raw), o.ref, o.origin) for o in base.objects]
        for _ in range(rng.randint(1, 4)):
            index, pointer = rng.choice(targets)
            _set(objects[index].raw, pointer, copy.deepcopy(rng.choice(VALUES)))
        collected = Collected(objects=objects, evidence={"M", "C", "N"})
        report = evaluate(collected, rules)
        for error in report.errors:
            assert "\n" not in error.message
