"""Suppression by the kharden.io/ignore annotation: counted and listed, never dropped."""

from __future__ import annotations

import json

import pytest

from conftest import MINIMAL_POD, as_kind, mutate, scan_objects
from kharden.model import Severity, Suppression
from kharden.report import json as json_report
from kharden.suppress import parse_ignore

PRIVILEGED = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))


def test_parse_ignore() -> None:
    assert parse_ignore(" pod.privileged, image.*=vendor image, rebuilt monthly\npod.seccomp=") == [
        ("pod.privileged", "suppressed by annotation"),
        ("image.*", "vendor image, rebuilt monthly"),
        ("pod.seccomp", "suppressed by annotation"),
    ]


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        ("*", [("*", "suppressed by annotation")]),
        (
            "pod.*=legacy, deprecated, rbac.wildcard",
            [("pod.*", "legacy, deprecated"), ("rbac.wildcard", "suppressed by annotation")],
        ),
        (
            "pod.privileged=needs /dev, for the GPU driver",
            [("pod.privileged", "needs /dev, for the GPU driver")],
        ),
        ("not a rule", [("not a rule", "suppressed by annotation")]),
        ("", []),
    ],
)
def test_parse_ignore_reasons_with_commas(value: str, entries: list[tuple[str, str]]) -> None:
    assert parse_ignore(value) == entries


@pytest.mark.parametrize(
    ("where", "value", "suppressed"),
    [
        ("/metadata/annotations", "pod.privileged", True),
        ("/metadata/annotations", "pod.*=node agent needs it", True),
        ("/metadata/annotations", "pod.run-as-root", False),
        ("/metadata/annotations", "pod.privileged-ish", False),
    ],
)
def test_annotation_on_the_pod(where: str, value: str, suppressed: bool) -> None:
    pod = mutate(PRIVILEGED, (where, {"kharden.io/ignore": value}))
    report = scan_objects(pod, rules=["pod.privileged"])
    [finding] = report.findings
    assert (finding.suppressed is not None) is suppressed
    assert report.exit_code(Severity.HIGH) == (0 if suppressed else 1)


@pytest.mark.parametrize("on", ["object", "template"])
def test_annotation_on_workload_or_its_template(on: str) -> None:
    deployment = as_kind(PRIVILEGED, "Deployment")
    where = "/metadata/annotations" if on == "object" else "/spec/template/metadata/annotations"
    deployment = mutate(deployment, (where, {"kharden.io/ignore": "pod.privileged=trusted agent"}))
    report = scan_objects(deployment, rules=["pod.privileged"])
    [finding] = report.findings
    assert finding.suppressed == Suppression(kind="annotation", reason="trusted agent")
    assert report.counts()["critical"] == 0
    data = json.loads(json_report.render(report))
    assert data["findings"][0]["suppressed"] == {"kind": "annotation", "reason": "trusted agent"}
    assert data["summary"]["suppressed"] == 1
