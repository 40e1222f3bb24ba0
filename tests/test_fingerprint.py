"""Fingerprints survive line moves and container reordering; they differ per rule, object and field."""

from __future__ import annotations

import pytest

from conftest import MINIMAL_POD, mutate, scan_objects, scan_text
from kharden.fingerprint import stable_path

BAD = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))


def prints(report: object) -> set[str]:
    return {f.fingerprint for f in report.findings}  # type: ignore[attr-defined]


def test_stable_path_names_list_items() -> None:
    assert stable_path(BAD, "/spec/containers/0/securityContext/privileged") == (
        "/spec/containers/[app]/securityContext/privileged"
    )
    assert stable_path(BAD, "/spec/volumes/0/emptyDir") == "/spec/volumes/[tmp]/emptyDir"
    assert stable_path(BAD, "/spec/missing/3") == "/spec/missing/3"


def test_survives_moved_lines() -> None:
    import yaml  # noqa: PLC0415

    text = yaml.safe_dump(BAD, sort_keys=False)
    moved = "# a comment\n# another\n" + yaml.safe_dump(BAD, sort_keys=True)
    first, second = scan_text(text, ["pod.privileged"]), scan_text(moved, ["pod.privileged"])
    assert [f.location.line for f in first.findings] != [f.location.line for f in second.findings]
    assert prints(first) == prints(second)


def test_survives_reordered_containers() -> None:
    side = {"name": "side", "image": "nginx:1.25"}
    one = mutate(BAD, ("/spec/containers/-", side))
    two = mutate(BAD, ("/spec/containers", [side, BAD["spec"]["containers"][0]]))
    first, second = scan_objects(one, rules=["pod.privileged"]), scan_objects(two, rules=["pod.privileged"])
    assert [f.location.path for f in second.findings] == ["/spec/containers/1/securityContext/privileged"]
    assert prints(first) == prints(second)


def test_list_items_of_one_name_are_told_apart() -> None:
    subjects = {
        "subjects": [
            {"kind": "ServiceAccount", "name": "default", "namespace": "shop"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "payments"},
            {"kind": "ServiceAccount", "name": "default", "namespace": "payments"},
            {"kind": "ServiceAccount", "name": "api", "namespace": "shop"},
        ]
    }
    assert [stable_path(subjects, f"/subjects/{i}") for i in range(4)] == [
        "/subjects/[ServiceAccount:shop/default]",
        "/subjects/[ServiceAccount:payments/default#1]",
        "/subjects/[ServiceAccount:payments/default#2]",
        "/subjects/[api]",
    ]


def test_differs_by_object_and_rule() -> None:
    other = mutate(BAD, ("/metadata/name", "other"))
    report = scan_objects(BAD, other, rules=["pod.privileged", "pod.privilege-escalation"])
    assert len(prints(report)) == len(report.findings) == 4


@pytest.mark.parametrize(
    ("pointer", "stable"),
    [
        ("", ""),
        ("/spec", "/spec"),
        ("/spec/containers/0/image", "/spec/containers/[app]/image"),
        ("/metadata/annotations/a~1b", "/metadata/annotations/a~1b"),
        ("/spec/containers/7/image", "/spec/containers/7/image"),
        ("/spec/missing/0/name", "/spec/missing/0/name"),
    ],
)
def test_stable_path_cases(pointer: str, stable: str) -> None:
    assert stable_path(BAD, pointer) == stable
