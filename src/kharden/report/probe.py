"""``kharden probe``: the plan (``--plan``) and the results, as text, JSON or SARIF.

Results are a :class:`~kharden.model.Report` like a scan's (findings, "not evaluated") rendered by
the scan's renderers, preceded in text by one line per probe and extended in JSON by a
``probe`` object (run id, each probe with its expected and observed outcome and verdict).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._display import printable
from ..model import Report
from ..probe.plan import Address, Plan, Probe
from ..probe.results import Verdict
from ..probe.run import PlannedPods
from . import json as json_report
from . import render

__all__ = ["plan_json", "plan_text", "results_json", "results_text"]

_VERDICT_TEXT = {
    "expected": "as expected",
    "unverified": "as expected (unverified)",
    "not-enforced": "NOT ENFORCED",
    "inconclusive": "inconclusive",
    "control-failed": "control failed",
    "not-run": "not run",
}


def _probe_dict(probe: Probe) -> dict[str, Any]:
    destination = probe.destination
    data: dict[str, Any] = {
        "id": probe.id,
        "kind": probe.kind,
        "source": _endpoint(probe.source),
        "destination": (
            {"address": destination.host, "name": destination.name}
            if isinstance(destination, Address)
            else _endpoint(destination)
        ),
        "port": probe.port,
        "protocol": probe.protocol,
        "expected": "allowed" if probe.expected else "denied",
        "denied_by": None if probe.direction is None else probe.direction.lower(),
        "policies": [{"namespace": p.namespace, "name": p.name} for p in probe.policies],
    }
    return data


def _endpoint(cls: Any) -> dict[str, Any]:
    kind, name = cls.refs()[0]
    return {"namespace": cls.namespace, "kind": kind, "name": name}


def _line(probe: Probe) -> str:
    if probe.expected:
        why = "allowed"
    else:
        side = "ingress" if probe.direction == "Ingress" else "egress"
        names = ", ".join(f"{p.namespace}/{p.name}" for p in probe.policies[:2])
        more = f" and {len(probe.policies) - 2} more" if len(probe.policies) > 2 else ""
        why = f"denied by the {side} of {names}{more}"
    return f"  {probe.id:>5}  {probe.kind:<8}  {probe}  ({why})"


def plan_text(plan: Plan, pods: PlannedPods, run_id: str) -> str:
    lines = [
        f"Probe plan: {len(plan.probes)} probe{'s' * (len(plan.probes) != 1)} for {len(plan.denying)}"
        f" NetworkPolic{'ies' if len(plan.denying) != 1 else 'y'} that deny something (at most {plan.limit})"
    ]
    lines += [_line(p) for p in plan.probes]
    if plan.untested:
        lines += ["", f"Not probed ({len(plan.untested)}):"]
        lines += [f"  NetworkPolicy {p.namespace}/{p.name}: {why}" for p, why in plan.untested]
    count = len(pods.sources) + len(pods.listeners)
    lines += [
        "",
        f"Pods it would create ({count}, labelled kharden.io/probe={run_id}, deleted at the end):",
    ]
    for name, cls, probes in pods.sources.values():
        lines.append(
            f"  Pod {cls.namespace}/{name}: probe pod for {_name(cls)} ({len(probes)} connection(s))"
        )
    for name, cls, ports, _ in pods.listeners.values():
        listened = ", ".join(f"{p}/TCP" for p in ports)
        lines.append(f"  Pod {cls.namespace}/{name}: listener for {_name(cls)} on {listened}")
    lines += [
        "",
        "Nothing was created. Run 'kharden probe --yes' to probe (it creates, then deletes, these pods).",
    ]
    return "\n".join(printable(line) for line in lines) + "\n"


def plan_json(plan: Plan, manifests: Sequence[dict[str, Any]], run_id: str) -> str:
    data = {
        "version": 1,
        "run": run_id,
        "limit": plan.limit,
        "denying_policies": len(plan.denying),
        "probes": [_probe_dict(p) for p in plan.probes],
        "not_probed": [{"namespace": p.namespace, "name": p.name, "reason": why} for p, why in plan.untested],
        "objects": list(manifests),
    }
    return json_report.layout(data, frozenset({"probes", "not_probed"})) + "\n"


def results_text(verdicts: Sequence[Verdict], report: Report, run_id: str, *, color: bool = False) -> str:
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    summary = ", ".join(f"{n} {_VERDICT_TEXT[v]}" for v, n in counts.items())
    lines = [f"Probe run {run_id}: {len(verdicts)} probe{'s' * (len(verdicts) != 1)}: {summary or 'none'}"]
    for verdict in verdicts:
        observation = verdict.observation
        expected = "allowed" if verdict.probe.expected else "denied"
        why = f": {verdict.why}" if verdict.why and verdict.verdict != "not-enforced" else ""
        lines.append(printable(_line(verdict.probe)))
        lines.append(
            printable(
                f"         expected {expected}, observed {observation.result}"
                f" -> {_VERDICT_TEXT[verdict.verdict]}{why}"
            )
        )
    return "\n".join(lines) + "\n\n" + render("text", report, color=color)


def results_json(verdicts: Sequence[Verdict], report: Report, run_id: str) -> str:
    data = json_report.as_dict(report)
    data["probe"] = {
        "run": run_id,
        "results": [
            {
                **_probe_dict(v.probe),
                "observed": v.observation.result,
                "detail": v.observation.detail or None,
                "ms": v.observation.ms,
                "verdict": v.verdict,
                "why": v.why or None,
            }
            for v in verdicts
        ],
    }
    return json_report.layout(data, frozenset({"findings", "errors", "not_evaluated", "results"})) + "\n"


def _name(cls: Any) -> str:
    kind, name = cls.refs()[0]
    return f"{kind} {cls.namespace}/{name}"
