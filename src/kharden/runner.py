"""The rule runner: judge one object (or one workload's effective pod) by the per-object rules.

``scan`` runs it over every object of an inventory; ``kharden fix`` re-judges the objects it
changed; an admission webhook judges the one object of a review. Whole-inventory rules need
the inventory and stay with ``scan``. Hits become findings here, in the one place where
severity overrides and suppressions are applied (:func:`finding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .analysis.podspec import EffectivePod, effective_pod, pod_template_path
from .errors import InputError
from .fingerprint import fingerprint_of
from .model import Finding, Hit, Location, NotEvaluated, Obj, Unevaluated
from .rules import Rule
from .suppress import IGNORE_ANNOTATION, Policy

__all__ = ["Judgement", "Runner", "finding", "judge", "template_annotations"]


@dataclass
class Judgement:
    """What the rules found on some objects, what they could not decide, and malformed objects."""

    findings: list[Finding] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


class Runner:
    """Per-workload and per-object rules, sorted once by what they judge."""

    def __init__(
        self,
        rules: Sequence[Rule],
        policy: Policy | None = None,
        instances: Mapping[Obj, str] | None = None,
        answered: dict[int, dict[str, list[Hit | Unevaluated]]] | None = None,
    ) -> None:
        self.policy = policy or Policy()
        self.instances: Mapping[Obj, str] = instances or {}
        """What tells objects of one reference apart (:func:`~kharden.fingerprint.object_instances`)."""
        self.answered = answered
        """``id`` of an effective pod -> pod rule -> its hits there, asked already
        (``ScanContext.pod_answers``): taken rather than asked again."""
        self.pod_rules = [r for r in rules if r.target == "pod"]
        # A static pod or config read from a node is node evidence: manifest-only rules do not judge it
        # (kube-apiserver needs hostNetwork and the node's PKI; the control-plane rules judge its flags).
        self.node_pod_rules = [r for r in self.pod_rules if "N" in r.evidence]
        self.object_rules: dict[str, list[Rule]] = {}
        self._traced: dict[tuple[Obj, str], tuple[Location, str]] = {}
        """Where each (object, pointer) of a whole-inventory finding is: network rules report one policy
        rule for many workloads, and several rules one workload's labels (62,098 findings of 20,296 places
        on cluster-100k). Only :meth:`finding` fills it, which a scan asks, not the admission webhook."""
        for rule in rules:
            if rule.target == "object":
                for kind in rule.kinds:
                    self.object_rules.setdefault(kind, []).append(rule)

    def pod(self, pod: EffectivePod, out: Judgement) -> None:
        """Judge one workload's effective pod."""
        known = self.answered.pop(id(pod), None) if self.answered else None
        for rule in self.pod_rules if pod.obj.origin.node is None else self.node_pod_rules:
            found = None if known is None else known.get(rule.id)
            self._record(rule, pod.obj, rule.check(pod) if found is None else found, pod.annotations, out)

    def object(self, obj: Obj, out: Judgement) -> None:
        """Judge one object by the rules of its kind."""
        for rule in self.object_rules.get(obj.ref.kind, ()):
            if obj.origin.node is not None and "N" not in rule.evidence:
                continue
            self._record(rule, obj, rule.check(obj), None, out)

    def _record(
        self,
        rule: Rule,
        obj: Obj,
        results: Iterable[Hit | Unevaluated],
        annotations: Mapping[str, str] | None,
        out: Judgement,
    ) -> None:
        """Findings for the hits of a per-workload or per-object rule; what it could not decide is noted."""
        for hit in results:
            if isinstance(hit, Unevaluated):
                out.not_evaluated.append(NotEvaluated(rule.id, f"{obj.ref}: {hit.reason}"))
            else:
                found = template_annotations(obj) if annotations is None else annotations
                out.findings.append(finding(rule, obj, hit, found, self.policy, self.instances.get(obj, "")))

    def finding(self, rule: Rule, obj: Obj, hit: Hit, annotations: Mapping[str, str]) -> Finding:
        """A hit of a whole-inventory ``rule`` on ``obj`` as a finding, with this runner's policy and object
        instances; each place traced once."""
        return finding(rule, obj, hit, annotations, self.policy, self.instances.get(obj, ""), self._traced)


def judge(obj: Obj, rules: Sequence[Rule], policy: Policy | None = None) -> Judgement:
    """Judge one object on its own: its pod template (if its kind has one) and the rules of its kind.

    A pod template whose fields have the wrong type is an error of the judgement, not an exception.
    """
    runner = Runner(rules, policy)
    out = Judgement()
    path = pod_template_path(obj)
    if path is not None and runner.pod_rules:
        try:
            pod = effective_pod(obj, path, lazy=False)  # the pod rules read every field
        except InputError as e:
            out.errors.append(e)
        else:
            runner.pod(pod, out)
    runner.object(obj, out)
    return out


def finding(
    rule: Rule,
    obj: Obj,
    hit: Hit,
    annotations: Mapping[str, str],
    policy: Policy,
    instance: str = "",
    traced: dict[tuple[Obj, str], tuple[Location, str]] | None = None,
) -> Finding:
    """A hit as a finding: the one place where severity overrides and suppressions are applied.

    The fingerprint is the rule, the object (with ``instance``, what tells it apart from other objects
    of its reference) and the field, or the hit's key when the rule gives one. ``traced`` keeps the
    places already traced.
    """
    severity = policy.severity.get(rule.id, hit.severity if hit.severity is not None else rule.severity)
    target = obj if hit.at is None else hit.at
    if traced is None:
        location, stable = target.trace(hit.path)
    else:
        key = (target, hit.path)
        found = traced.get(key)
        if found is None:
            found = traced[key] = target.trace(hit.path)
        location, stable = found
    print_ = fingerprint_of(rule.id, obj.ref, hit.container, stable if hit.key is None else hit.key, instance)
    suppressed = None
    if policy.ignores or policy.baseline is not None or hit.at is not None or _may_ignore(obj, annotations):
        suppressed = policy.suppression(rule.id, obj, annotations, print_, severity, also=hit.at)
    return _new_finding(
        Finding,
        (
            rule.id,
            severity,
            rule.section,
            rule.title,
            obj.ref,
            hit.container,
            location,
            hit.message,
            rule.remediation,
            print_,
            suppressed,
        ),
    )


_new_finding = tuple.__new__
"""``Finding(...)`` without the named tuple's ``__new__`` in Python: two thirds of the cost of each of a large
scan's 300,000 findings (0.6 -> 0.2 us). Its values go in the order of :data:`_FINDING_FIELDS`."""
_FINDING_FIELDS = (
    "rule",
    "severity",
    "section",
    "title",
    "object",
    "container",
    "location",
    "message",
    "remediation",
    "fingerprint",
    "suppressed",
)
if Finding._fields != _FINDING_FIELDS:  # pragma: no cover - a field added to Finding must be added above
    raise RuntimeError(f"runner.finding builds a Finding of {_FINDING_FIELDS}, not of {Finding._fields}")


def _may_ignore(obj: Obj, annotations: Mapping[str, str]) -> bool:
    """Whether an ignore annotation may suppress a finding on ``obj`` (``False`` only when neither the
    object nor its pod template has one, the common case: then the policy need not be asked, when it
    has no ignores and no baseline either)."""
    if IGNORE_ANNOTATION in annotations:
        return True
    metadata = obj.raw.get("metadata")
    if metadata is None:
        return False
    if type(metadata) is not dict:
        return True
    own = metadata.get("annotations")
    return own is not None and (type(own) is not dict or IGNORE_ANNOTATION in own)


def template_annotations(obj: Obj) -> Mapping[str, str]:
    """The annotations of ``obj``'s pod template (suppressions may be written there)."""
    path = pod_template_path(obj)
    if not path:
        return {}
    node: object = obj.raw
    for token in (*path.strip("/").split("/"), "metadata", "annotations"):
        node = node.get(token) if isinstance(node, Mapping) else None
    return {k: v for k, v in node.items() if isinstance(v, str)} if isinstance(node, Mapping) else {}
