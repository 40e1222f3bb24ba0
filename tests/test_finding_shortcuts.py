"""The shortcuts of finding construction give what the straightforward computation gives: the fingerprint's
key written as one string, and the policy not asked when no ignore annotation can apply."""

from __future__ import annotations

import hashlib
import itertools
import random
from typing import Any

from kharden.fingerprint import fingerprint_of
from kharden.model import Obj, ObjRef, Origin
from kharden.runner import _may_ignore
from kharden.suppress import IGNORE_ANNOTATION, annotation_suppression

_TEXTS = ["", "a", "ns/x", "apps/v1", "v1", "x\0y", "ünï", "rbac.authorization.k8s.io/v1"]


def _direct_fingerprint(rule: str, ref: ObjRef, container: str | None, stable: str, instance: str) -> str:
    parts = (rule, ref.group, ref.kind, ref.namespace or "", ref.name, container or "", stable)
    key = "\0".join((*parts, instance) if instance else parts)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def test_fingerprints_are_the_joined_parts_hashed() -> None:
    pick = random.Random(11)  # noqa: S311 - a seeded, repeatable test input
    for _ in range(3000):
        ref = ObjRef(
            pick.choice(_TEXTS), pick.choice([None, *_TEXTS]), pick.choice(_TEXTS), pick.choice(_TEXTS)
        )
        args = (
            pick.choice(_TEXTS),
            ref,
            pick.choice([None, *_TEXTS]),
            pick.choice(_TEXTS),
            pick.choice(_TEXTS),
        )
        assert fingerprint_of(*args) == _direct_fingerprint(*args)


_IGNORE = {IGNORE_ANNOTATION: "pod.*=why"}
_METADATA: list[Any] = [
    None,
    "text",
    {},
    {"name": "x"},
    {"annotations": None},
    {"annotations": "text"},
    {"annotations": {}},
    {"annotations": {"other": "v"}},
    {"annotations": _IGNORE},
    {"annotations": {IGNORE_ANNOTATION: ""}},
    {"annotations": {IGNORE_ANNOTATION: 3}},
]


def test_no_annotation_suppresses_where_the_policy_is_not_asked() -> None:
    asked = 0
    for metadata, template in itertools.product(_METADATA, [{}, {"other": "v"}, _IGNORE]):
        raw: dict[str, Any] = {"kind": "Pod"} if metadata is None else {"kind": "Pod", "metadata": metadata}
        obj = Obj(raw, ObjRef("Pod", "ns", "x", "v1"), Origin(None))
        found = [annotation_suppression(rule, obj, template) for rule in ("pod.privileged", "image.x")]
        if not _may_ignore(obj, template):
            assert found == [None, None], (metadata, template)
        else:
            asked += 1
    assert asked >= 3 * 3  # the annotated cases are asked
