"""From what the probes saw to verdicts and findings.

- A denied connection that got through is an observed fact: ``netpol.cni-unsupported`` on each
  policy that should have stopped it ("NetworkPolicy shop/deny-all is not enforced: a pod of
  Deployment shop/web reached Deployment payments/db:5432/TCP"), or, for the metadata API,
  ``exposure.metadata-api`` on the workload whose pod reached it (clouds and node agents may
  intercept that address before the network plugin sees it, so it is not taken as proof about
  the plugin).
- A denied connection that was blocked confirms the policies when the same probe pod connected
  where the policies allow it and, for a pod destination, some allowed source reached the same
  listener (its controls). When a control failed, the denied probes that share its pods are
  **inconclusive**, never counted as enforcement: the report says so as "not evaluated".
- Without any control to compare with, a blocked probe is **unverified**: consistent with the
  policies, but it proves little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis.netpol import INGRESS, PodClass, Policy
from ..fingerprint import fingerprint_of
from ..model import ErrorRecord, Finding, NotEvaluated, Obj, Report, RuleRun, ScanStats
from ..rules import get as get_rule
from .plan import CONTROL, METADATA, Address, Plan, Probe
from .run import Observation

__all__ = [
    "CONTROL_FAILED",
    "EXPECTED",
    "INCONCLUSIVE",
    "NOT_ENFORCED",
    "NOT_RUN",
    "UNVERIFIED",
    "Verdict",
    "judge",
    "probe_report",
]

EXPECTED = "expected"
UNVERIFIED = "unverified"
NOT_ENFORCED = "not-enforced"
INCONCLUSIVE = "inconclusive"
CONTROL_FAILED = "control-failed"
NOT_RUN = "not-run"

BLOCKED = frozenset({"refused", "timeout", "unreachable"})
CNI_RULE = "netpol.cni-unsupported"
METADATA_RULE = "exposure.metadata-api"


@dataclass(frozen=True, slots=True)
class Verdict:
    observation: Observation
    verdict: str
    why: str = ""

    @property
    def probe(self) -> Probe:
        return self.observation.probe


def judge(observations: Sequence[Observation]) -> list[Verdict]:
    """A verdict per observation, in plan order."""
    controls = [o for o in observations if o.probe.kind == CONTROL]
    verdicts = []
    for observation in observations:
        probe, result = observation.probe, observation.result
        if result in ("not run", "error"):
            verdicts.append(Verdict(observation, NOT_RUN, observation.detail))
        elif probe.expected:
            ok = result == "connected"
            verdicts.append(Verdict(observation, EXPECTED if ok else CONTROL_FAILED))
        elif result == "connected":
            verdicts.append(Verdict(observation, NOT_ENFORCED))
        elif result == "other":
            verdicts.append(Verdict(observation, INCONCLUSIVE, "something else than the listener answered"))
        else:
            verdicts.append(_blocked(observation, controls))
    return verdicts


def _blocked(observation: Observation, controls: Sequence[Observation]) -> Verdict:
    probe = observation.probe
    from_source = [c for c in controls if c.probe.source is probe.source]
    into_listener = [c for c in controls if probe.to_pod and c.probe.destination is probe.destination]
    failed = [c for c in from_source + into_listener if c.result != "connected"]
    if failed:
        control = failed[0]
        return Verdict(
            observation,
            INCONCLUSIVE,
            f"the allowed connection {control.probe} failed too ({control.result}) ({control.probe.id})",
        )
    source_ok = bool(from_source)
    listener_ok = not probe.to_pod or bool(into_listener)
    if source_ok and listener_ok:
        return Verdict(observation, EXPECTED)
    missing = "from this probe pod" if not source_ok else "into this listener"
    return Verdict(observation, UNVERIFIED, f"blocked, but no allowed connection {missing} to compare with")


def probe_report(
    verdicts: Sequence[Verdict], plan: Plan, stats: ScanStats, errors: Sequence[ErrorRecord] = ()
) -> Report:
    """The findings of a probe run as a :class:`~kharden.model.Report` (rendered like a scan's)."""
    findings: list[Finding] = []
    not_evaluated: list[NotEvaluated] = []
    not_enforced: dict[tuple[int, str], tuple[Policy, str, list[Probe]]] = {}
    reached: dict[int, tuple[PodClass, list[Probe]]] = {}
    for verdict in verdicts:
        probe = verdict.probe
        if verdict.verdict == NOT_ENFORCED and probe.kind == METADATA:
            reached.setdefault(probe.source.index, (probe.source, []))[1].append(probe)
        elif verdict.verdict == NOT_ENFORCED:
            for policy in probe.policies:
                key = (id(policy), probe.direction or INGRESS)
                not_enforced.setdefault(key, (policy, probe.direction or INGRESS, []))[2].append(probe)
        elif verdict.verdict in (INCONCLUSIVE, NOT_RUN) and not probe.expected:
            rule = METADATA_RULE if probe.kind == METADATA else CNI_RULE
            word = "probe inconclusive" if verdict.verdict == INCONCLUSIVE else "probe not run"
            not_evaluated.append(NotEvaluated(rule, f"{word}: {probe} ({probe.id}): {verdict.why}"))
    for policy, direction, probes in not_enforced.values():
        findings.append(_policy_finding(policy, direction, probes))
    for cls, probes in reached.values():
        findings.append(_metadata_finding(cls, probes))
    for policy, why in plan.untested:
        not_evaluated.append(NotEvaluated(CNI_RULE, f"{policy} not probed: {why}"))
    rules = [
        RuleRun(CNI_RULE, get_rule(CNI_RULE).section, get_rule(CNI_RULE).severity, len(plan.probes)),
        RuleRun(
            METADATA_RULE, get_rule(METADATA_RULE).section, get_rule(METADATA_RULE).severity, len(plan.probes)
        ),
    ]
    return Report(
        findings=findings,
        errors=list(errors),
        not_evaluated=not_evaluated,
        stats=stats,
        rules_run=2,
        rules=rules,
    )


def _finding(rule_id: str, obj: Obj, path: str, message: str) -> Finding:
    rule = get_rule(rule_id)
    location, stable = obj.trace(path)
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        section=rule.section,
        title=rule.title,
        object=obj.ref,
        container=None,
        location=location,
        message=message,
        remediation=rule.remediation,
        fingerprint=fingerprint_of(rule.id, obj.ref, None, stable),
    )


def _policy_finding(policy: Policy, direction: str, probes: list[Probe]) -> Finding:
    first = probes[0]
    more = (
        f" (and {len(probes) - 1} more denied connection{'s' * (len(probes) > 2)})" if len(probes) > 1 else ""
    )
    side = "ingress" if direction == INGRESS else "egress"
    message = (
        f"{policy} is not enforced: a probe pod standing for {_pod_name(first.source)} reached"
        f" {first.destination_text()}, which its {side} rules deny{more}; observed by kharden probe"
    )
    key = "ingress" if direction == INGRESS else "egress"
    raw = policy.obj.raw.get("spec")
    path = f"/spec/{key}" if isinstance(raw, dict) and key in raw else "/spec/podSelector"
    return _finding(CNI_RULE, policy.obj, path, message)


def _metadata_finding(cls: PodClass, probes: list[Probe]) -> Finding:
    pod = cls.pods[0]
    addresses = ", ".join(str(p.destination) for p in probes if isinstance(p.destination, Address))
    deciding = sorted({str(policy) for p in probes for policy in p.policies})
    verb = "denies" if len(deciding) == 1 else "deny"
    message = (
        f"a probe pod standing for {_pod_name(cls)} reached the metadata API at {addresses}"
        f" although {', '.join(deciding)} {verb} it: the network plugin or the node lets this traffic"
        " through; observed by kharden probe"
    )
    return _finding(METADATA_RULE, pod.obj, pod.spec_path, message)


def _pod_name(cls: PodClass) -> str:
    kind, name = cls.refs()[0]
    return f"{kind} {cls.namespace}/{name}"
