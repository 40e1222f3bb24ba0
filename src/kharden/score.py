"""A score per checklist section and overall, from 0 to 100.

The formula:

1. Each rule that ran and examined something counts in its section with a weight from
   its severity (the rule's default, or the config's override): critical 10, high 5,
   medium 3, low 1. Informational rules do not count.
2. A rule passes in proportion to what it examined that has no unsuppressed finding:
   ``1 - failing / examined``, where a pod rule examines workloads, an object rule the
   objects of its kinds, and a whole-inventory rule makes one check (it passes or not)
   when the scan holds some of the kinds it reads and it could judge them (a control-plane
   rule on a node without an API server examined nothing).
3. The section score is ``100 * sum(weight * pass) / sum(weight)``, rounded down.
4. One serious problem is never averaged away: an unsuppressed critical finding caps the
   section at 49, a high one at 79. So 80 and above means no high or critical finding.
5. The overall score is the mean of the section scores, rounded down, capped the same way
   by the worst finding anywhere.

A section where no rule examined anything (no objects of its kinds, or its evidence was
missing) has no score: n/a, never 100. Suppressed findings, baselined ones included, do
not count.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import Finding, ObjRef, RuleRun, Scorecard, SectionScore, Severity

__all__ = ["CAPS", "WEIGHTS", "scorecard"]

WEIGHTS = {Severity.CRITICAL: 10, Severity.HIGH: 5, Severity.MEDIUM: 3, Severity.LOW: 1, Severity.INFO: 0}
CAPS = {Severity.CRITICAL: 49, Severity.HIGH: 79}


def scorecard(runs: Sequence[RuleRun], findings: Sequence[Finding]) -> Scorecard:
    failing: dict[str, set[ObjRef]] = {}
    worst: dict[str, Severity] = {}
    for finding in findings:
        if finding.suppressed is None:
            failing.setdefault(finding.rule, set()).add(finding.object)
            worst[finding.section] = max(finding.severity, worst.get(finding.section, Severity.INFO))
    sections: dict[str, list[RuleRun]] = {}
    for run in runs:
        sections.setdefault(run.section, []).append(run)
    scores = []
    for section, members in sections.items():
        counted = [r for r in members if r.examined and WEIGHTS[r.severity]]
        total = sum(WEIGHTS[r.severity] for r in counted)
        if not total:
            scores.append(SectionScore(section, None, 0, 0))
            continue
        passed = sum(
            WEIGHTS[r.severity] * (1 - min(len(failing.get(r.rule, ())), r.examined) / r.examined)
            for r in counted
        )
        score, cap = _capped(int(100 * passed / total), worst.get(section))
        failed = sum(1 for r in counted if r.rule in failing)
        scores.append(SectionScore(section, score, len(counted), failed, cap))
    evaluated = [s.score for s in scores if s.score is not None]
    overall = None
    if evaluated:
        overall, _ = _capped(sum(evaluated) // len(evaluated), max(worst.values(), default=None))
    return Scorecard(overall=overall, sections=tuple(scores))


def _capped(score: int, worst: Severity | None) -> tuple[int, Severity | None]:
    cap = CAPS.get(worst) if worst is not None else None
    if cap is not None and score > cap:
        return cap, worst
    return score, None
