"""Suppressions, decided after the rules have run and in one place (:meth:`Policy.suppression`).

Three sources, the first that applies wins:

1. an annotation on the object (or its pod template)::

       metadata:
         annotations:
           kharden.io/ignore: "pod.run-as-root, image.*=vendor image, rebuilt monthly"

   Entries are separated by commas or new lines; each is a rule ID or glob, optionally
   followed by ``=reason``;
2. an ``ignore:`` entry of ``.kharden.yaml`` (rule and kind/namespace/name globs, a reason);
3. the baseline: a finding whose fingerprint is in it, at the same or a lower severity.

A suppressed finding is still reported, marked as suppressed, and never fails the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .baseline import Baseline
from .model import Obj, ObjRef, Severity, Suppression

__all__ = ["IGNORE_ANNOTATION", "Ignore", "Policy", "annotation_suppression", "parse_ignore"]

IGNORE_ANNOTATION = "kharden.io/ignore"
_NO_REASON = "suppressed by annotation"


# A rule ID or glob: 'pod.run-as-root', 'image.*', '*'. A comma followed by anything else
# continues the previous entry's reason ("...=reads /var/log, read-only").
_ENTRY = re.compile(r"^\s*(?P<pattern>\*|[a-z0-9*?\[\]!-]+\.[a-z0-9*?\[\]!-]+)\s*(?:=(?P<reason>.*))?$", re.S)


def parse_ignore(value: str) -> list[tuple[str, str]]:
    """``(rule glob, reason)`` pairs of one ``kharden.io/ignore`` value.

    Entries are separated by commas or new lines; each is a rule ID or glob, optionally
    followed by ``=reason``. A reason may contain commas: a piece that does not start with a
    rule ID or glob continues the reason before it.
    """
    entries: list[tuple[str, str]] = []
    for part in value.replace("\n", ",").split(","):
        match = _ENTRY.match(part)
        if match is None and entries and entries[-1][1] != _NO_REASON:
            pattern, reason = entries[-1]
            entries[-1] = (pattern, f"{reason}, {part.strip()}")
        elif match is not None:
            entries.append((match["pattern"], (match["reason"] or "").strip() or _NO_REASON))
        elif part.strip():
            entries.append((part.strip(), _NO_REASON))  # matches no rule; kept so the user sees it
    return entries


def annotation_suppression(
    rule_id: str, obj: Obj, template_annotations: Mapping[str, str]
) -> Suppression | None:
    """The suppression of ``rule_id`` on ``obj`` by its own or its pod template's annotation."""
    annotations = obj.metadata.get("annotations")
    own = annotations.get(IGNORE_ANNOTATION) if isinstance(annotations, dict) else None
    for value in (own, template_annotations.get(IGNORE_ANNOTATION)):
        if not isinstance(value, str) or not value:
            continue
        for pattern, reason in parse_ignore(value):
            if fnmatchcase(rule_id, pattern):
                return Suppression(kind="annotation", reason=reason)
    return None


@dataclass(frozen=True, slots=True)
class Ignore:
    """A config ``ignore:`` entry: a rule glob and object globs (kind, namespace, name), with a reason.

    A cluster-scoped object has no namespace: it matches a namespace glob that matches ``""`` (``*``).
    """

    rule: str
    reason: str
    kind: str = "*"
    namespace: str = "*"
    name: str = "*"

    def matches(self, rule_id: str, ref: ObjRef) -> bool:
        return (
            fnmatchcase(rule_id, self.rule)
            and fnmatchcase(ref.kind, self.kind)
            and fnmatchcase(ref.namespace or "", self.namespace)
            and fnmatchcase(ref.name, self.name)
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """What a team decided about findings, applied after the rules: severities, ignores, a baseline.

    ``severity`` maps rule IDs to the severity their findings take instead of the rule's own.
    """

    severity: Mapping[str, Severity] = field(default_factory=dict)
    ignores: tuple[Ignore, ...] = ()
    baseline: Baseline | None = None

    def suppression(
        self,
        rule_id: str,
        obj: Obj,
        template_annotations: Mapping[str, str],
        fingerprint: str,
        severity: Severity,
        also: Obj | None = None,
    ) -> Suppression | None:
        """The first that applies: the object's annotation (or that of ``also``, the object the finding
        points into when it is another one), a config ignore, the baseline."""
        found = annotation_suppression(rule_id, obj, template_annotations)
        if found is None and also is not None:
            found = annotation_suppression(rule_id, also, {})
        if found is not None:
            return found
        for ignore in self.ignores:
            if ignore.matches(rule_id, obj.ref):
                return Suppression(kind="config", reason=ignore.reason)
        return self.baseline_suppression(fingerprint, severity)

    def baseline_suppression(self, fingerprint: str, severity: Severity) -> Suppression | None:
        """The baseline's suppression of a finding, when the baseline holds it at this severity or above."""
        if self.baseline is not None and self.baseline.covers(fingerprint, severity):
            return Suppression(kind="baseline", reason=f"in the baseline {self.baseline.file}")
        return None
