"""Pod rules as data: constraints over the effective pod fields, with one predicate and three consumers.

A :class:`Constraint` says what must hold for each container, for the pod, or for each item of a
list field (each added capability, each volume), as a test over rows of the field table
(:mod:`~kharden.analysis.podfields`). From that one definition come

- the Python check: :meth:`Constraint.violations` judges an :class:`EffectivePod` and a violation
  becomes the rule's :class:`Hit` (pointer, message, container, severity);
- the CEL: :meth:`Constraint.cel` writes the same test as a CEL expression over a pod spec and the
  pod template's metadata, in the CEL the Kubernetes API server accepts (``all``, ``exists``, ``has``,
  the strings extension; no optional chaining), for ValidatingAdmissionPolicies;
- the fix: each test leaf carries its :class:`Remedy` (set, remove, add to a list, ...), with the
  reason when the change may break the application; :meth:`Constraint.failing` names the leaves a
  violating pod fails, and ``kharden fix`` places the change by the field table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..analysis.podfields import PodField
from ..analysis.podfields import field as pod_field
from ..analysis.podspec import CONTAINER_LISTS, EffectiveContainer, EffectivePod, Field, normalize_capability
from ..model import Hit, Severity

__all__ = [
    "AddItem",
    "All",
    "Any_",
    "BlankKey",
    "CapabilityIn",
    "CelRoots",
    "Constraint",
    "Contains",
    "Each",
    "Eq",
    "Is",
    "KeyIn",
    "Ne",
    "NoKeyOf",
    "Not",
    "OneOf",
    "Present",
    "Remedy",
    "Subject",
    "Violation",
    "field_candidates",
    "hits",
    "row",
    "rule_cel",
]


# ---------------------------------------------------------------------------------------------- values


def cel_literal(value: Any) -> str:
    """A Python value as a CEL literal (strings single-quoted, as Kubernetes examples write them)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + json.dumps(value)[1:-1].replace("'", "\\'") + "'"
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return "[" + ", ".join(cel_literal(v) for v in items) + "]"
    raise TypeError(f"no CEL literal for {value!r}")


class Pred:
    """A predicate on one value, in Python and as CEL over an expression of that value."""

    def py(self, value: Any) -> bool:
        raise NotImplementedError

    def cel(self, expr: str) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Eq(Pred):
    literal: Any

    def py(self, value: Any) -> bool:
        return type(value) is type(self.literal) and value == self.literal

    def cel(self, expr: str) -> str:
        return f"{expr} == {cel_literal(self.literal)}"


@dataclass(frozen=True)
class Present(Pred):
    """Any value: with ``unset=False``, the test is that the field is set."""

    def py(self, value: Any) -> bool:
        return True

    def cel(self, expr: str) -> str:
        return "true"


@dataclass(frozen=True)
class Ne(Pred):
    literal: Any

    def py(self, value: Any) -> bool:
        return not (type(value) is type(self.literal) and value == self.literal)

    def cel(self, expr: str) -> str:
        return f"{expr} != {cel_literal(self.literal)}"


@dataclass(frozen=True)
class OneOf(Pred):
    literals: frozenset[str]

    def py(self, value: Any) -> bool:
        return value in self.literals

    def cel(self, expr: str) -> str:
        return f"{expr} in {cel_literal(self.literals)}"


@dataclass(frozen=True)
class Contains(Pred):
    """A list holds this exact item."""

    literal: str

    def py(self, value: Any) -> bool:
        return self.literal in (value or ())

    def cel(self, expr: str) -> str:
        return f"{cel_literal(self.literal)} in {expr}"


def _cel_capability(expr: str) -> str:
    """CEL of :func:`normalize_capability`: trimmed, upper case, without a ``CAP_`` prefix."""
    upper = f"{expr}.trim().upperAscii()"
    return f"({upper}.startsWith('CAP_') ? {upper}.substring(4) : {upper})"


@dataclass(frozen=True)
class CapabilityIn(Pred):
    """A capability name, ``CAP_`` prefix and case ignored, is one of these."""

    names: frozenset[str]

    def py(self, value: Any) -> bool:
        return normalize_capability(value) in self.names

    def cel(self, expr: str) -> str:
        return f"{_cel_capability(expr)} in {cel_literal(self.names)}"


@dataclass(frozen=True)
class Each(Pred):
    """Every item of a list satisfies ``item``."""

    item: Pred

    def py(self, value: Any) -> bool:
        return all(self.item.py(v) for v in value or ())

    def cel(self, expr: str) -> str:
        return f"{expr}.all(i, {self.item.cel('i')})"


@dataclass(frozen=True)
class Not(Pred):
    inner: Pred

    def py(self, value: Any) -> bool:
        return not self.inner.py(value)

    def cel(self, expr: str) -> str:
        return f"!({self.inner.cel(expr)})"


@dataclass(frozen=True)
class BlankKey(Pred):
    """A mapping's ``key`` is unset or empty."""

    key: str

    def py(self, value: Any) -> bool:
        return not value.get(self.key)

    def cel(self, expr: str) -> str:
        return f"(!has({expr}.{self.key}) || {expr}.{self.key} == '')"


@dataclass(frozen=True)
class KeyIn(Pred):
    """A mapping's ``key`` (``""`` when unset) is one of these."""

    key: str
    literals: frozenset[str]

    def py(self, value: Any) -> bool:
        return (value.get(self.key) or "") in self.literals

    def cel(self, expr: str) -> str:
        return f"(has({expr}.{self.key}) ? {expr}.{self.key} : '') in {cel_literal(self.literals)}"


@dataclass(frozen=True)
class NoKeyOf(Pred):
    """Of a volume: its source is none of these (Python reads the source key, CEL tests each key)."""

    keys: tuple[str, ...]

    def py(self, value: Any) -> bool:
        return value not in self.keys

    def cel(self, expr: str) -> str:
        return " && ".join(f"!has({expr}.{key})" for key in self.keys)


# ---------------------------------------------------------------------------------------------- remedies


@dataclass(frozen=True)
class Remedy:
    """How ``kharden fix`` makes a failing test hold; ``unsafe`` says why it may break the application.

    ``action``: ``set`` the field to ``value`` (where it belongs: see ``fix/``), ``remove`` it,
    ``add-item`` ``value`` to a list, ``remove-items`` of a list that fail the test,
    ``read-only-root`` (the field plus an emptyDir at /tmp), ``remove-volume`` (a hostPath volume and
    its mounts).
    """

    action: str
    value: Any = None
    unsafe: str | None = None


def AddItem(value: str) -> Remedy:  # noqa: N802 - reads as a constructor in the rule tables
    return Remedy("add-item", value)


# ---------------------------------------------------------------------------------------------- tests


@dataclass(frozen=True, slots=True)
class Subject:
    """What one test judges: the pod, one container (or none: the pod itself), one item of a list."""

    pod: EffectivePod
    container: EffectiveContainer | None
    item: Any = None
    source: Any = None
    """The list item itself (a :class:`~kharden.analysis.podspec.Volume`, a port, a field), for tests that
    read more of it than ``item``, the value it is judged by."""


@dataclass(frozen=True)
class CelRoots:
    """The CEL expressions of the pod spec and of the pod template's metadata.

    In a ValidatingAdmissionPolicy they are ``variables`` that pick the template of each kind.
    """

    spec: str = "variables.podSpec"
    metadata: str = "variables.podMetadata"
    exempt: str = ""
    """CEL that is true when the container ``{c}`` is exempt (its image is exempted): it passes every
    container test. Empty: no exemption."""
    pod_exempt: str = ""
    """CEL that is true when the whole pod is exempt from the pod-level tests (every container is)."""


@dataclass(frozen=True, slots=True)
class _CelSubject:
    roots: CelRoots
    container: str | None
    item: str | None = None


class Test:
    def holds(self, subject: Subject) -> bool:
        raise NotImplementedError

    def failing(self, subject: Subject) -> list[Is]:
        """The leaves to fix for the test to hold (empty when it holds)."""
        raise NotImplementedError

    def cel(self, subject: _CelSubject) -> str:
        raise NotImplementedError

    def leaves(self) -> Iterator[Is]:
        raise NotImplementedError


def _has_path(root: str, pointer: str) -> tuple[str, str]:
    """``(presence, value)`` CEL of the relative ``pointer`` under ``root``."""
    presence, expr = [], root
    for key in pointer.split("/"):
        expr = f"{expr}.{key}"
        presence.append(f"has({expr})")
    return " && ".join(presence), expr


def _legacy_profile_cel(expr: str) -> str:
    return (
        f"({expr} in ['runtime/default', 'docker/default'] ? 'RuntimeDefault' : {expr} == 'unconfined'"
        f" ? 'Unconfined' : {expr}.startsWith('localhost/') ? 'Localhost' : {expr})"
    )


@dataclass(frozen=True)
class Is(Test):
    """The effective value of ``row`` satisfies ``pred``; an unset field holds when ``unset`` is true.

    ``own``: only a container's own field counts (not what it inherits). ``item``: the test is on the
    item of a list field being judged, not on a field.
    """

    row: PodField | None
    pred: Pred
    unset: bool = False
    fix: Remedy | None = None
    own: bool = False

    def field_of(self, subject: Subject) -> Any:
        assert self.row is not None
        if subject.container is not None and self.row.container is not None:
            found = getattr(subject.container, self.row.attr)
            if self.own and found.source != "container":
                return Field(None, found.path)
            return found
        return getattr(subject.pod, self.row.attr)

    def value_of(self, subject: Subject) -> tuple[bool, Any]:
        """``(is set, value)``."""
        if self.row is None:
            return True, subject.item
        found = self.field_of(subject)
        if type(found) is tuple:  # capabilities.add, supplementalGroups: a Field per item
            return True, tuple(f.value for f in found)
        return found.source is not None, found.value

    def holds(self, subject: Subject) -> bool:
        is_set, value = self.value_of(subject)
        return self.pred.py(value) if is_set else self.unset

    def failing(self, subject: Subject) -> list[Is]:
        return [] if self.holds(subject) else [self]

    def leaves(self) -> Iterator[Is]:
        yield self

    def cel_candidates(self, subject: _CelSubject) -> list[tuple[str, str, bool]]:
        """Where the effective value may be set, first set wins: ``(presence, value, is a legacy
        annotation)`` as CEL, in the order of :mod:`~kharden.analysis.podspec`."""
        assert self.row is not None
        return [
            (presence, value, source.endswith("annotation"))
            for presence, value, source in field_candidates(
                self.row, subject.roots, subject.container, self.own
            )
        ]

    def cel(self, subject: _CelSubject) -> str:
        if self.row is None:
            assert subject.item is not None
            return self.pred.cel(subject.item)
        expr = cel_literal(self.unset)
        for presence, value, annotation in reversed(self.cel_candidates(subject)):
            typed = _legacy_profile_cel(value) if annotation else value
            expr = f"(({presence}) ? ({self.pred.cel(typed)}) : {expr})"
        return expr


def field_candidates(
    row: PodField, roots: CelRoots, container: str | None, own: bool
) -> list[tuple[str, str, str]]:
    """Where the effective value of ``row`` may come from, first set wins, as CEL: ``(presence, value,
    source)`` with ``source`` ``container``, ``container-annotation``, ``pod`` or ``pod-annotation``
    (a legacy annotation's value as written: :func:`typed_value` translates it to the field's type name).

    ``container`` is the CEL variable of the container judged (``None``: the pod); ``own`` keeps only the
    container's own field.
    """
    candidates: list[tuple[str, str, str]] = []
    annotations = f"{roots.metadata}.annotations"
    if container is not None and row.container is not None:
        candidates.append((*_has_path(container, row.container), "container"))
        if row.container_annotation is not None and not own:
            key = f"({cel_literal(row.container_annotation)} + {container}.name)"
            candidates.append(
                (
                    f"has({annotations}) && {key} in {annotations}",
                    f"{annotations}[{key}]",
                    "container-annotation",
                )
            )
    if (container is None or not own) and row.pod is not None:
        candidates.append((*_has_path(roots.spec, row.pod), "pod"))
    if (container is None or not own) and row.pod_annotation is not None:
        key = cel_literal(row.pod_annotation)
        candidates.append(
            (f"has({annotations}) && {key} in {annotations}", f"{annotations}[{key}]", "pod-annotation")
        )
    return candidates


def typed_value(value: str, source: str) -> str:
    """The CEL of a candidate's value in the field's terms (a legacy annotation's value translated)."""
    return _legacy_profile_cel(value) if source.endswith("annotation") else value


@dataclass(frozen=True)
class All(Test):
    tests: tuple[Test, ...]

    def holds(self, subject: Subject) -> bool:
        return all(t.holds(subject) for t in self.tests)

    def failing(self, subject: Subject) -> list[Is]:
        return [leaf for t in self.tests for leaf in t.failing(subject)]

    def leaves(self) -> Iterator[Is]:
        for t in self.tests:
            yield from t.leaves()

    def cel(self, subject: _CelSubject) -> str:
        return "(" + " && ".join(t.cel(subject) for t in self.tests) + ")"


@dataclass(frozen=True)
class Any_(Test):  # noqa: N801 - ``Any`` is typing's
    """One of the tests holds; a fix makes the first one with a remedy hold."""

    tests: tuple[Test, ...]

    def holds(self, subject: Subject) -> bool:
        return any(t.holds(subject) for t in self.tests)

    def failing(self, subject: Subject) -> list[Is]:
        if self.holds(subject):
            return []
        for t in self.tests:
            leaves = t.failing(subject)
            if all(leaf.fix is not None for leaf in leaves):
                return leaves
        return self.tests[0].failing(subject)

    def leaves(self) -> Iterator[Is]:
        for t in self.tests:
            yield from t.leaves()

    def cel(self, subject: _CelSubject) -> str:
        return "(" + " || ".join(t.cel(subject) for t in self.tests) + ")"


# ---------------------------------------------------------------------------------------------- compiled

_Check = Callable[[EffectivePod, "EffectiveContainer | None", Any, Any], bool]
"""``holds(pod, container, item, source)``: :meth:`Test.holds` of the :class:`Subject` of these."""


def _compiled(test: Test) -> _Check:
    """``test.holds`` as a function of the subject's parts, for the scan: what ``Is`` looks up per subject
    (the row's attribute, the predicate's method, the level it reads) is looked up once here, and no
    :class:`Subject` is built per container. Tests of other classes are asked through ``holds``."""
    kind = type(test)
    if kind is Is:
        assert isinstance(test, Is)
        return _compiled_is(test)
    if kind is All or kind is Any_:
        assert isinstance(test, All | Any_)
        checks = tuple(_compiled(t) for t in test.tests)
        if kind is All:

            def every(pod: EffectivePod, c: EffectiveContainer | None, item: Any, source: Any) -> bool:
                for check in checks:  # noqa: SIM110 - a loop: all() of a generator costs more, per container
                    if not check(pod, c, item, source):
                        return False
                return True

            return every

        def some(pod: EffectivePod, c: EffectiveContainer | None, item: Any, source: Any) -> bool:
            for check in checks:  # noqa: SIM110 - as above
                if check(pod, c, item, source):
                    return True
            return False

        return some

    def generic(pod: EffectivePod, c: EffectiveContainer | None, item: Any, source: Any) -> bool:
        return test.holds(Subject(pod, c, item, source))

    return generic


def _compiled_is(test: Is) -> _Check:
    py, unset, own, row = test.pred.py, test.unset, test.own, test.row
    if row is None:

        def of_item(pod: EffectivePod, c: EffectiveContainer | None, item: Any, source: Any) -> bool:
            return py(item)

        return of_item
    attr, per_container = row.attr, row.container is not None

    def of_field(pod: EffectivePod, c: EffectiveContainer | None, item: Any, source: Any) -> bool:
        if c is not None and per_container:
            found = getattr(c, attr)
            if own and found.source != "container":
                return unset
        else:
            found = getattr(pod, attr)
        if type(found) is tuple:  # capabilities.add, supplementalGroups: a Field per item
            return py(tuple(f.value for f in found))
        return py(found.value) if found.source is not None else unset

    return of_field


def _field_at(row: PodField, pod: EffectivePod, owner: EffectiveContainer | None) -> Field[Any]:
    """The field a hit points at: ``Is(row, ...).field_of`` of the owner's subject."""
    if owner is not None and row.container is not None:
        found: Field[Any] = getattr(owner, row.attr)
    else:
        found = getattr(pod, row.attr)
    return found


# ---------------------------------------------------------------------------------------------- constraints


@dataclass(frozen=True, slots=True)
class Violation:
    """A subject that fails a constraint: the field a hit points at, and the containers it concerns."""

    constraint: Constraint
    pod: EffectivePod
    field: Field[Any]
    containers: tuple[EffectiveContainer, ...] = ()
    item: Any = None

    @property
    def subjects(self) -> list[Subject]:
        if not self.containers:
            return [Subject(self.pod, None, self.item)]
        return [Subject(self.pod, c, self.item) for c in self.containers]

    def hit(self) -> Hit:
        c = self.constraint
        container = self.containers[0].name if len(self.containers) == 1 else None
        severity = c.severity(self) if c.severity is not None else None
        return Hit(self.field.path + c.suffix, c.message(self), container, severity)


def _item_field(row: PodField, item: Any) -> tuple[Any, Field[Any]]:
    """The value an item of a list field is judged by, and the field a hit on it points at."""
    if row.name == "ports":
        return item.host_port.value or 0, item.host_port
    if row.name == "volumes":
        return item.type, Field(item.type, item.path, "pod")
    return item.value, item


_WINDOWS_CEL = (
    "((has({s}.os) && has({s}.os.name) && {s}.os.name == 'windows') || (has({s}.securityContext)"
    " && has({s}.securityContext.windowsOptions) && has({s}.securityContext.windowsOptions.hostProcess)"
    " && {s}.securityContext.windowsOptions.hostProcess == true))"
)


@dataclass(frozen=True)
class Constraint:
    """What must hold of each container (``containers``), of the pod, or of each item of ``items``.

    ``at`` is the field a hit points at (default: the field of a one-leaf test); ``group`` makes one hit
    per field that decides for several containers (a value set once on the pod); ``suffix`` is appended
    to the pointer (``/user`` of seLinuxOptions). ``linux_only`` exempts Windows pods.
    """

    test: Test
    message: Callable[[Violation], str]
    containers: bool = True
    items: PodField | None = None
    at: PodField | None = None
    group: bool = False
    suffix: str = ""
    linux_only: bool = False
    severity: Callable[[Violation], Severity | None] | None = None
    doc: str = field(default="", compare=False)

    def _at(self) -> PodField | None:
        if self.at is not None:
            return self.at
        leaves = list(self.test.leaves())
        return leaves[0].row if len(leaves) == 1 else None

    @cached_property
    def _check(self) -> tuple[_Check, PodField | None]:
        """The compiled test and the field hits point at, made once per constraint (the scan asks for
        them per pod)."""
        return _compiled(self.test), self._at()

    def violations(self, pod: EffectivePod) -> list[Violation]:
        """The subjects of ``pod`` that fail the constraint, in container order (a list, not a generator:
        most constraints find nothing, and a generator costs more to make and finish than a list)."""
        if self.linux_only and pod.is_windows:
            return []
        holds, at = self._check
        owners: Sequence[EffectiveContainer | None] = pod.containers if self.containers else (None,)
        found: list[Violation] = []
        if self.items is not None:
            items = self.items
            for owner in owners:
                holder = owner if owner is not None else pod
                for item in getattr(holder, items.attr):
                    value, field_ = _item_field(items, item)
                    if not holds(pod, owner, value, item):
                        found.append(Violation(self, pod, field_, (owner,) if owner else (), item))
            return found
        assert at is not None, "a constraint over several fields names the field its hits point at"
        groups: dict[str, tuple[Field[Any], list[EffectiveContainer]]] = {}
        for owner in owners:
            if holds(pod, owner, None, None):
                continue
            field_ = _field_at(at, pod, owner)
            if owner is None:
                found.append(Violation(self, pod, field_))
            elif self.group:
                groups.setdefault(field_.path, (field_, []))[1].append(owner)
            else:
                found.append(Violation(self, pod, field_, (owner,)))
        found += [Violation(self, pod, field_, tuple(members)) for field_, members in groups.values()]
        return found

    def failing(self, violation: Violation) -> list[tuple[Subject, list[Is]]]:
        """Per subject of a violation, the test leaves to fix."""
        out = []
        for each in violation.subjects:
            subject = each
            if self.items is not None:
                subject = Subject(each.pod, each.container, _item_field(self.items, each.item)[0], each.item)
            out.append((subject, self.test.failing(subject)))
        return out

    def remedies(self) -> list[Remedy]:
        return [leaf.fix for leaf in self.test.leaves() if leaf.fix is not None]

    def cel(self, roots: CelRoots | None = None) -> str:
        """A CEL expression that is true when the pod passes this constraint."""
        roots = roots or CelRoots()
        spec = roots.spec
        if not self.containers:
            owners: list[tuple[str, str | None]] = [("", None)]
        else:
            owners = [(name, "c") for name in CONTAINER_LISTS]
        parts = []
        for list_name, var in owners:
            subject = _CelSubject(roots, var)
            if self.items is not None:
                holder = var if var is not None else spec
                pointer = (self.items.container if var is not None else self.items.pod) or ""
                presence, expr = _has_path(holder, pointer)
                item = self.items.item
                body = self.test.cel(_CelSubject(roots, var, item))
                body = f"(!({presence}) || {expr}.all(x, {body}))"
            else:
                body = self.test.cel(subject)
            if var is not None:
                if roots.exempt:
                    body = f"({roots.exempt.format(c=var)} || {body})"
                body = f"(!has({spec}.{list_name}) || {spec}.{list_name}.all({var}, {body}))"
            parts.append(body)
        expression = " && ".join(parts)
        if not self.containers and roots.pod_exempt:
            expression = f"{roots.pod_exempt} || ({expression})"
        if self.linux_only:
            expression = f"{_WINDOWS_CEL.format(s=spec)} || ({expression})"
        return expression


def rule_cel(constraints: Sequence[Constraint], roots: CelRoots | None = None) -> str:
    """One CEL expression that is true when the pod passes every constraint of a rule."""
    return " && ".join(f"({c.cel(roots)})" for c in constraints)


def hits(constraints: Sequence[Constraint], pod: EffectivePod) -> list[Hit]:
    """The Python check of a rule: a hit per violation, constraint by constraint."""
    return [violation.hit() for constraint in constraints for violation in constraint.violations(pod)]


def row(name: str) -> PodField:
    return pod_field(name)
