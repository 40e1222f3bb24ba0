"""What a generator returns: the objects to write, why each exists, and what the user should know."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import ErrorRecord, Obj

__all__ = ["GENERATED_BY", "REASON", "Assignment", "Generated", "Item", "Note"]

GENERATED_BY = "kharden.io/generated-by"
"""Annotation on every generated object: a later run replaces, rather than keeps, what kharden wrote."""
REASON = "kharden.io/reason"


@dataclass(frozen=True, slots=True)
class Item:
    """One generated object and the one-line reason it exists (the file's header lists them)."""

    obj: dict[str, Any]
    why: str
    existing: bool = False
    """The object is in the input already (a Namespace given new labels): ``--write`` patches it."""

    @property
    def namespace(self) -> str | None:
        metadata = self.obj.get("metadata") or {}
        namespace = metadata.get("namespace")
        return namespace if isinstance(namespace, str) else None

    @property
    def label(self) -> str:
        metadata = self.obj["metadata"]
        where = f"{metadata['namespace']}/" if "namespace" in metadata else ""
        return f"{self.obj['kind']} {where}{metadata['name']}"


@dataclass(frozen=True, slots=True)
class Assignment:
    """A workload to point at the ServiceAccount generated for it (``generate serviceaccounts``)."""

    workload: Obj
    spec_path: str
    """Pointer of its pod spec (``/spec/template/spec``)."""
    account: str
    rule: str
    """The finding it answers: ``sa.default`` or ``sa.shared``."""


@dataclass(frozen=True, slots=True)
class Note:
    """Something the user must know: a workload left without a rule, a field with no equivalent, ...

    ``level`` is ``warning`` (the output may not do what the user expects) or ``info``.
    """

    level: str
    text: str
    topic: str = ""
    """Notes of one topic (``metadata``, ``isolated``, ...) are shown a few at a time, then counted."""


@dataclass
class Generated:
    what: str
    """``networkpolicies``, ``serviceaccounts``, ``pod-security`` or ``psa``."""
    items: list[Item] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    """Lines for the end of the run (the reachability proof's figures, the levels chosen, ...)."""
    patches: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    """Kustomize patches: ``(file stem, strategic-merge patch, why)`` (serviceAccountName of workloads)."""
    assignments: list[Assignment] = field(default_factory=list)
    """The same changes as edits of the workloads (``--write``)."""

    def warn(self, text: str, topic: str = "") -> None:
        self.notes.append(Note("warning", text, topic))

    def fail(self, text: str) -> None:
        """What kharden got wrong (a failed proof): the run exits 1."""
        self.notes.append(Note("error", text))

    def inform(self, text: str, topic: str = "") -> None:
        self.notes.append(Note("info", text, topic))
