"""Rules and their catalog entries.

A rule is a pure generator of :class:`~kharden.model.Hit` registered with its catalog
row (ID, severity, evidence, title, remediation). Its docstring is its documentation:

- first paragraph: when the rule fires, in one or two sentences;
- further paragraphs: why it matters;
- a paragraph starting ``Reads:``: the fields it reads.

``kharden explain`` and ``kharden rules --format md`` print exactly these, so nothing is
written twice. Three shapes of rule exist, by what they are given:

- ``@rules.pod``: an :class:`~kharden.analysis.podspec.EffectivePod`, once per workload;
- ``@rules.object``: one :class:`~kharden.model.Obj` of the given kinds;
- ``@rules.inventory``: the :class:`~kharden.analysis.context.ScanContext`; hits must name their object.

A rule may also yield :class:`~kharden.model.Unevaluated` for what it cannot decide (a file the flags
point to is missing): the runner reports it as not evaluated, never as a pass.
A whole-inventory rule may say which kinds it reads (``needs=("Node", "Pod")``): when a
cluster scan could not read one of them (forbidden to list it), the rule does not run and is
reported as not evaluated. A rule that does not say is taken to read every built-in kind but
Secrets (add-ons' kinds, such as Kyverno policies, count only for the rules that name them).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..model import Hit, Severity, Unevaluated
from ._constraint import Constraint, Remedy, hits

__all__ = ["EVIDENCE", "INPUTS", "Rule", "RuleSet"]

EVIDENCE = {
    "M": "manifests",
    "C": "a live cluster or a snapshot of one",
    "N": "node and control-plane files",
    "G": "a whole-inventory analysis of manifests or a cluster",
}
INPUTS = {
    "image-report": "an image scan report (--image-report FILE: Trivy or Grype JSON)",
}
"""Inputs beyond the evidence that some rules need, all of them, to be evaluated at all."""
_RULE_ID = re.compile(r"^[a-z]+\.[a-z0-9]+(?:-[a-z0-9]+)*$")

F = TypeVar("F", bound=Callable[..., Iterable[Hit | Unevaluated]])


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    section: str
    severity: Severity
    evidence: frozenset[str]
    title: str
    remediation: str
    summary: str
    rationale: str
    reads: str
    references: tuple[str, ...]
    target: str  # "pod" | "object" | "inventory"
    kinds: frozenset[str]
    check: Callable[..., Iterable[Hit | Unevaluated]]
    requires: frozenset[str] = frozenset()
    """Keys of :data:`INPUTS` the rule needs besides its evidence."""
    needs: frozenset[str] | None = None
    """Kinds a whole-inventory rule reads; ``None``: every built-in kind but Secrets."""
    constraints: tuple[Constraint, ...] = ()
    """A pod rule written as data (``@rules.policy``): its check, its CEL and its fixes come from these."""
    remedy: Remedy | None = None
    """How ``kharden fix`` repairs a finding of a rule written as code (``fix=`` of the decorator)."""
    not_exported: str = ""
    """Why a pod rule written as code has no CEL (``not_exported=`` of the decorator)."""

    @property
    def export_note(self) -> str:
        """``exported`` (its CEL comes from its constraints), else ``not exported: <why>``."""
        if self.constraints:
            return "exported"
        if self.target == "inventory" and not self.evidence & {"M", "G"}:
            why = (
                "it reads node and control-plane files or a live cluster, which no admission request carries"
            )
        elif self.target == "inventory":
            why = "it judges the whole inventory, not one object"
        elif self.target == "object":
            why = f"it judges {', '.join(sorted(self.kinds))} objects, not pods"
        else:
            why = self.not_exported or "it is written as code"
        return f"not exported: {why}"

    @property
    def fix_note(self) -> str:
        """What ``kharden fix`` does for the rule's findings."""
        automatic, unsafe = self.fix_support
        if automatic and unsafe:
            return "automatic (some changes only with --unsafe)"
        if automatic:
            return "automatic"
        if unsafe:
            return "only with --unsafe"
        return "no automatic fix"

    @property
    def remedies(self) -> tuple[Remedy, ...]:
        """Every change ``kharden fix`` may make for this rule."""
        if self.constraints:
            return tuple(r for c in self.constraints for r in c.remedies())
        return (self.remedy,) if self.remedy is not None else ()

    @property
    def fix_support(self) -> tuple[bool, bool]:
        """``(automatic, unsafe)``: some fix is applied by default; some needs ``--unsafe``."""
        remedies = self.remedies
        return any(r.unsafe is None for r in remedies), any(r.unsafe is not None for r in remedies)

    @property
    def evidence_text(self) -> str:
        """``"M, G"`` as in RULES.md."""
        return ", ".join(e for e in EVIDENCE if e in self.evidence)


class RuleSet:
    """The rules of one checklist section, in the order they are declared."""

    def __init__(self, section: str) -> None:
        self.section = section
        self.rules: list[Rule] = []

    def pod(self, rule_id: str, severity: Severity, **entry: Any) -> Callable[[F], F]:
        return self._register(rule_id, severity, "pod", frozenset(), **entry)

    def policy(
        self, rule_id: str, severity: Severity, **entry: Any
    ) -> Callable[[Callable[[], tuple[Constraint, ...]]], Callable[[], tuple[Constraint, ...]]]:
        """A pod rule as data: the decorated function's docstring documents it, and it returns the
        constraints from which the check (here), the CEL and the fix come."""

        def register(define: Callable[[], tuple[Constraint, ...]]) -> Callable[[], tuple[Constraint, ...]]:
            constraints = define()

            def check(pod: Any) -> Iterable[Hit]:
                return hits(constraints, pod)

            check.__doc__, check.__name__, check.__qualname__ = (
                define.__doc__,
                define.__name__,
                define.__qualname__,
            )
            check.__module__ = define.__module__
            self._register(rule_id, severity, "pod", frozenset(), constraints=constraints, **entry)(check)
            return define

        return register

    def object(
        self, rule_id: str, severity: Severity, *, kinds: Iterable[str], **entry: Any
    ) -> Callable[[F], F]:
        return self._register(rule_id, severity, "object", frozenset(kinds), **entry)

    def inventory(
        self, rule_id: str, severity: Severity, *, needs: Iterable[str] | None = None, **entry: Any
    ) -> Callable[[F], F]:
        entry.setdefault("evidence", "G")
        needed = frozenset(needs) if needs is not None else None
        return self._register(rule_id, severity, "inventory", frozenset(), needs=needed, **entry)

    def _register(
        self,
        rule_id: str,
        severity: Severity,
        target: str,
        kinds: frozenset[str],
        *,
        title: str,
        remediation: str,
        evidence: str = "M",
        references: tuple[str, ...] = (),
        requires: tuple[str, ...] = (),
        needs: frozenset[str] | None = None,
        constraints: tuple[Constraint, ...] = (),
        fix: Remedy | None = None,
        not_exported: str = "",
    ) -> Callable[[F], F]:
        if not _RULE_ID.match(rule_id):
            raise ValueError(f"malformed rule ID {rule_id!r}")
        if not set(requires) <= INPUTS.keys():
            raise ValueError(f"{rule_id}: requires must be keys of {sorted(INPUTS)}, got {requires!r}")
        letters = frozenset(e.strip() for e in evidence.split(","))
        if not letters or not letters <= EVIDENCE.keys():
            raise ValueError(f"{rule_id}: evidence must be letters of {sorted(EVIDENCE)}, got {evidence!r}")

        def register(check: F) -> F:
            summary, rationale, reads = _split_doc(rule_id, check)
            self.rules.append(
                Rule(
                    id=rule_id,
                    section=self.section,
                    severity=severity,
                    evidence=letters,
                    title=title,
                    remediation=remediation,
                    summary=summary,
                    rationale=rationale,
                    reads=reads,
                    references=references,
                    target=target,
                    kinds=kinds,
                    check=check,
                    requires=frozenset(requires),
                    needs=needs,
                    constraints=constraints,
                    remedy=fix,
                    not_exported=not_exported,
                )
            )
            return check

        return register


def _split_doc(rule_id: str, check: Callable[..., Any]) -> tuple[str, str, str]:
    doc = inspect.getdoc(check)
    if not doc:
        raise ValueError(f"{rule_id}: a rule's docstring is its documentation and cannot be empty")
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n") if p.strip()]
    reads = [p.removeprefix("Reads:").strip() for p in paragraphs if p.startswith("Reads:")]
    body = [p for p in paragraphs if not p.startswith("Reads:")]
    if not reads:
        raise ValueError(f"{rule_id}: the docstring must name the fields it reads ('Reads: ...')")
    return body[0], "\n\n".join(body[1:]), reads[0]
