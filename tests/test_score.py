"""The score: weighted share of passing checks per section, capped by the worst finding."""

from __future__ import annotations

import pytest

from conftest import MINIMAL_POD, mutate, scan_objects
from kharden.model import Finding, Location, ObjRef, RuleRun, Scorecard, SectionScore, Severity, Suppression
from kharden.score import scorecard


def finding(rule: str, section: str, severity: Severity, name: str, suppressed: bool = False) -> Finding:
    return Finding(
        rule=rule,
        severity=severity,
        section=section,
        title="t",
        object=ObjRef("Deployment", "shop", name, "apps/v1"),
        container=None,
        location=Location("f.yaml", 1, 1, "/spec"),
        message="m",
        remediation="r",
        fingerprint=f"{rule}{name}",
        suppressed=Suppression("config", "r") if suppressed else None,
    )


def test_no_findings_is_100() -> None:
    runs = [RuleRun("pod.a", "pods", Severity.HIGH, 10), RuleRun("image.a", "images", Severity.LOW, 10)]
    assert scorecard(runs, []) == Scorecard(
        overall=100, sections=(SectionScore("pods", 100, 1, 0), SectionScore("images", 100, 1, 0))
    )


def test_share_of_examined_objects_weighted_by_severity() -> None:
    runs = [RuleRun("pod.a", "pods", Severity.MEDIUM, 4), RuleRun("pod.b", "pods", Severity.LOW, 4)]
    # pod.a fails on 2 of 4 workloads (weight 3), pod.b on none (weight 1): 100 * (3 * 0.5 + 1) / 4.
    findings = [finding("pod.a", "pods", Severity.MEDIUM, n) for n in ("w1", "w2", "w2")]
    [section] = scorecard(runs, findings).sections
    assert section == SectionScore("pods", 62, 2, 1)


@pytest.mark.parametrize(
    ("severity", "score", "cap"),
    [
        (Severity.CRITICAL, 49, Severity.CRITICAL),
        (Severity.HIGH, 79, Severity.HIGH),
        (Severity.MEDIUM, 99, None),
    ],
)
def test_one_serious_finding_caps_the_section(severity: Severity, score: int, cap: Severity | None) -> None:
    runs = [RuleRun("pod.a", "pods", Severity.MEDIUM, 1000)]
    result = scorecard(runs, [finding("pod.a", "pods", severity, "w1")])
    assert result.sections == (SectionScore("pods", score, 1, 1, cap),)
    assert result.overall == score


def test_suppressed_findings_do_not_count() -> None:
    runs = [RuleRun("pod.a", "pods", Severity.HIGH, 2)]
    result = scorecard(runs, [finding("pod.a", "pods", Severity.CRITICAL, "w1", suppressed=True)])
    assert result.overall == 100


def test_whole_inventory_rule_is_one_check() -> None:
    runs = [
        RuleRun("netpol.a", "isolation", Severity.MEDIUM, 1),
        RuleRun("netpol.b", "isolation", Severity.MEDIUM, 1),
    ]
    findings = [finding("netpol.a", "isolation", Severity.MEDIUM, n) for n in ("a", "b", "c")]
    assert scorecard(runs, findings).sections == (SectionScore("isolation", 50, 2, 1),)


def test_sections_without_checks_have_no_score_and_do_not_count() -> None:
    runs = [
        RuleRun("pod.a", "pods", Severity.HIGH, 0),  # no workloads
        RuleRun("logging.a", "logging", Severity.INFO, 5),  # informational rules weigh nothing
        RuleRun("image.a", "images", Severity.LOW, 2),
    ]
    result = scorecard(runs, [finding("image.a", "images", Severity.LOW, "w1")])
    assert result.sections == (
        SectionScore("pods", None, 0, 0),
        SectionScore("logging", None, 0, 0),
        SectionScore("images", 50, 1, 1),
    )
    assert result.overall == 50


def test_overall_is_the_mean_capped_by_the_worst_finding() -> None:
    runs = [RuleRun("pod.a", "pods", Severity.LOW, 10), RuleRun("image.a", "images", Severity.LOW, 10)]
    assert scorecard(runs, [finding("pod.a", "pods", Severity.LOW, "w")]).overall == 95
    assert scorecard(runs, [finding("pod.a", "pods", Severity.HIGH, "w")]).overall == 79
    assert scorecard(runs, [finding("pod.a", "pods", Severity.CRITICAL, "w")]).overall == 49
    assert scorecard([], []).overall is None


def test_the_scan_scores_with_the_rules_it_ran() -> None:
    bad = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))
    good = mutate(MINIMAL_POD, ("/metadata/name", "good"))
    report = scan_objects(bad, good, rules=["pod.privileged", "pod.seccomp"])
    assert [(r.rule, r.examined) for r in report.rules] == [("pod.privileged", 2), ("pod.seccomp", 2)]
    assert report.scores is not None
    # pod.privileged (10) passes on 1 of 2, pod.seccomp (3) on both: 100 * (5 + 3) / 13 = 61, then the
    # critical finding caps it.
    assert report.scores.sections == (SectionScore("pods", 49, 2, 1, Severity.CRITICAL),)
