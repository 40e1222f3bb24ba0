"""The rule runner judges one object on its own, as an admission webhook will: same findings as a scan."""

from __future__ import annotations

from conftest import MINIMAL_POD, as_kind, mutate, scan_objects
from kharden.model import Obj, Origin, Suppression
from kharden.rules import REGISTRY, select
from kharden.runner import judge
from kharden.sources.documents import object_ref

CSC = "/spec/containers/0/securityContext"


def _obj(raw: dict[str, object]) -> Obj:
    return Obj(raw=raw, ref=object_ref(raw), origin=Origin(None))


def test_judge_one_workload_like_the_scan() -> None:
    raw = as_kind(mutate(MINIMAL_POD, (CSC + "/privileged", True), ("/spec/hostPID", True)), "CronJob")
    rules = [r for r in REGISTRY if r.target in {"pod", "object"}]
    judged = judge(_obj(raw), rules)
    scanned = scan_objects(raw, rules=[r.id for r in rules])
    assert judged.errors == []
    assert sorted((f.rule, f.location.path, f.message) for f in judged.findings) == sorted(
        (f.rule, f.location.path, f.message) for f in scanned.findings
    )
    prefix = "/spec/jobTemplate/spec/template"
    assert {(f.rule, f.location.path) for f in judged.findings} >= {
        ("pod.privileged", prefix + CSC + "/privileged"),
        ("pod.privilege-escalation", prefix + CSC + "/allowPrivilegeEscalation"),
        ("pod.host-namespaces", prefix + "/spec/hostPID"),
    }


def test_judge_applies_annotation_suppressions() -> None:
    raw = mutate(
        MINIMAL_POD,
        (CSC + "/privileged", True),
        ("/metadata/annotations", {"kharden.io/ignore": "pod.privileged=debug pod"}),
    )
    judged = judge(_obj(raw), select(["pod.privileged"]))
    assert [(f.location.path, f.suppressed) for f in judged.findings] == [
        (CSC + "/privileged", Suppression("annotation", "debug pod"))
    ]


def test_judge_reports_a_malformed_pod_as_an_error() -> None:
    raw = mutate(MINIMAL_POD, (CSC + "/privileged", "yes please"))
    judged = judge(_obj(raw), select(["pod.*"]))
    assert judged.findings == []
    assert [e.message for e in judged.errors] == [
        "Pod test/minimal: privileged must be true or false, not a string"
        " (/spec/containers/0/securityContext/privileged)"
    ]
