"""Suppressions, decided after the rules have run and in one place.

An object (or its pod template) may carry::

    metadata:
      annotations:
        kharden.io/ignore: "pod.run-as-root, image.*=vendor image, rebuilt monthly"

Entries are separated by commas or new lines; each is a rule ID or glob, optionally
followed by ``=reason``. A suppressed finding is still reported, marked as suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase

from .model import Obj, Suppression

__all__ = ["IGNORE_ANNOTATION", "annotation_suppression", "parse_ignore"]

IGNORE_ANNOTATION = "kharden.io/ignore"
_NO_REASON = "suppressed by annotation"


def parse_ignore(value: str) -> list[tuple[str, str]]:
    """``(rule glob, reason)`` pairs of one ``kharden.io/ignore`` value."""
    entries = []
    for part in value.replace("\n", ",").split(","):
        pattern, _, reason = part.partition("=")
        pattern = pattern.strip()
        if pattern:
            entries.append((pattern, reason.strip() or _NO_REASON))
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
