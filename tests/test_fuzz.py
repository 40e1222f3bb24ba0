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
