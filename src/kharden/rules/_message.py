"""Finding messages as data: one definition, rendered for a violation in Python and as CEL.

A pod rule written as data (``@rules.policy``) words each finding with a :class:`Message`: the containers
it concerns (``container 'app'``, ``containers 'a', 'b' and init container 'c'``, or ``the pod``), then
parts that read the violation (the value of the field the finding points at, where it was set, a
condition on another field of the container). The scan renders it in Python from the
:class:`~kharden.rules._constraint.Violation`; :func:`message_cel` writes the same words as a CEL
expression for the ``messageExpression`` of a ValidatingAdmissionPolicy, so that the API server names
the container as the scan does. Nothing here is written per rule: every part renders itself both ways.

The CEL groups containers as the scan does: a value set once on the pod (or by the pod's legacy
annotation) and inherited by several containers is one message naming them all; a value set, or
missing, per container is one message per container; messages are joined with ``; `` in container
order (containers, init containers, ephemeral containers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..analysis.podfields import PodField
from ..analysis.podspec import CONTAINER_LISTS
from ._constraint import (
    CelRoots,
    Constraint,
    Pred,
    Test,
    Violation,
    _CelSubject,
    _Check,
    _compiled,
    _has_path,
    cel_literal,
    field_candidates,
    typed_value,
)
from ._podcheck import who

__all__ = [
    "WHO",
    "FromAnnotation",
    "Holds",
    "If",
    "ItemAttr",
    "ItemKind",
    "Items",
    "Key",
    "Message",
    "NonEmpty",
    "Plural",
    "Quoted",
    "UpperIs",
    "Value",
    "Where",
    "message_cel",
]

_LABELS = {
    "containers": "container",
    "initContainers": "init container",
    "ephemeralContainers": "ephemeral container",
}
_ITEM = "x"


@dataclass(frozen=True, slots=True)
class _Cel:
    """Where a message is rendered in CEL: the container (``c``) and item (``x``) variables, the field the
    finding points at, and whether the message names one container or several."""

    roots: CelRoots
    container: str | None
    item_row: PodField | None
    at: list[tuple[str, str, str]]
    plural: bool = False

    def choose(self, by_source: dict[str, str], unset: str) -> str:
        """CEL of the ``by_source`` value of the source that sets the field (``unset`` when none does)."""
        expr = unset
        for presence, _, source in reversed(self.at):
            expr = f"(({presence}) ? {by_source.get(source, unset)} : {expr})"
        return expr

    def value(self, render: str = "string({0})") -> str:
        """CEL of the field's value, ``render`` (``{0}`` is the value) applied; ``''`` when it is unset."""
        expr = "''"
        for presence, value, _ in reversed(self.at):
            expr = f"(({presence}) ? {render.format(value)} : {expr})"
        return expr


class Part:
    """One piece of a message."""

    def py(self, v: Violation) -> str:
        raise NotImplementedError

    def cel(self, m: _Cel) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Text(Part):
    text: str

    def py(self, v: Violation) -> str:
        return self.text

    def cel(self, m: _Cel) -> str:
        return cel_literal(self.text)


@dataclass(frozen=True)
class _Who(Part):
    """The containers the message concerns (``who``), or ``the pod``; only ever first in a message."""

    def py(self, v: Violation) -> str:
        return who(v.containers) if v.containers else "the pod"

    def cel(self, m: _Cel) -> str:  # pragma: no cover - message_cel renders the names itself
        raise AssertionError("WHO is rendered by message_cel")


WHO = _Who()


@dataclass(frozen=True)
class Plural(Part):
    """``one`` when the message names one container (or the pod), else ``many``: ``run`` + ``s``."""

    one: str
    many: str

    def py(self, v: Violation) -> str:
        return self.many if len(v.containers) > 1 else self.one

    def cel(self, m: _Cel) -> str:
        return cel_literal(self.many if m.plural else self.one)


@dataclass(frozen=True)
class Where(Part):
    """`` on the pod`` when the value is inherited from the pod's securityContext."""

    def py(self, v: Violation) -> str:
        return " on the pod" if v.field.source == "pod" else ""

    def cel(self, m: _Cel) -> str:
        return m.choose({"pod": "' on the pod'"}, "''")


@dataclass(frozen=True)
class Value(Part):
    """The value of the field the finding points at, or of the list item judged."""

    def py(self, v: Violation) -> str:
        return str(v.field.value)

    def cel(self, m: _Cel) -> str:
        if m.item_row is not None:
            return f"string({m.item_row.item})"
        return m.value()


@dataclass(frozen=True)
class Quoted(Part):
    """A part in quotes, as Python's ``repr`` writes a plain string: ``'NET_ADMIN'``."""

    inner: Part

    def py(self, v: Violation) -> str:
        return repr(self.inner.py(v))

    def cel(self, m: _Cel) -> str:
        return f'"\'" + {self.inner.cel(m)} + "\'"'


@dataclass(frozen=True)
class Items(Part):
    """The items of the list field the finding points at, quoted, comma-separated."""

    def py(self, v: Violation) -> str:
        return ", ".join(repr(item) for item in v.field.value or ())

    def cel(self, m: _Cel) -> str:
        return m.value("{0}.map(i, \"'\" + i + \"'\").join(', ')")


@dataclass(frozen=True)
class Key(Part):
    """A key of the mapping field the finding points at (``''`` when unset): ``seLinuxOptions.type``."""

    key: str

    def py(self, v: Violation) -> str:
        return str((v.field.value or {}).get(self.key) or "")

    def cel(self, m: _Cel) -> str:
        return m.value(f"(has({{0}}.{self.key}) ? {{0}}.{self.key} : '')")


@dataclass(frozen=True)
class ItemAttr(Part):
    """A key of the list item judged (a volume's ``name``, a port's ``protocol``), ``default`` when unset."""

    name: str
    default: str = ""

    def py(self, v: Violation) -> str:
        return str(getattr(v.item, self.name) or self.default)

    def cel(self, m: _Cel) -> str:
        return f"(has({_ITEM}.{self.name}) ? {_ITEM}.{self.name} : {cel_literal(self.default)})"


@dataclass(frozen=True)
class ItemKind(Part):
    """Which of ``keys`` the list item judged has: a volume's type."""

    keys: tuple[str, ...]

    def py(self, v: Violation) -> str:
        return str(v.item.type)

    def cel(self, m: _Cel) -> str:
        # A list, not nested conditionals: CEL parsers limit nesting (cel-cpp to 32 levels).
        keys = ", ".join(f"(has({_ITEM}.{key}) ? {cel_literal(key)} : '')" for key in self.keys)
        return f"[{keys}].join('')"


class Cond:
    """A condition a message reads."""

    def py(self, v: Violation) -> bool:
        raise NotImplementedError

    def cel(self, m: _Cel) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Holds(Cond):
    """A test of the constraint language holds for the violation's (first) container or the pod."""

    test: Test

    @cached_property
    def _check(self) -> _Check:
        return _compiled(self.test)

    def py(self, v: Violation) -> bool:
        # ``test.holds`` of ``v.subjects[0]``, compiled once
        return self._check(v.pod, v.containers[0] if v.containers else None, v.item, None)

    def cel(self, m: _Cel) -> str:
        return self.test.cel(_CelSubject(m.roots, m.container))


@dataclass(frozen=True)
class FromAnnotation(Cond):
    """The value comes from a legacy annotation."""

    def py(self, v: Violation) -> bool:
        return v.field.source == "annotation"

    def cel(self, m: _Cel) -> str:
        return m.choose({"container-annotation": "true", "pod-annotation": "true"}, "false")


@dataclass(frozen=True)
class If(Part):
    cond: Cond
    then: tuple[Part, ...]
    otherwise: tuple[Part, ...] = ()

    def py(self, v: Violation) -> str:
        then, otherwise = self._pieces
        return _render(then if self.cond.py(v) else otherwise, v)

    @cached_property
    def _pieces(self) -> tuple[_Pieces, _Pieces]:
        return _pieces(self.then), _pieces(self.otherwise)

    def cel(self, m: _Cel) -> str:
        return f"({self.cond.cel(m)} ? {_concat(self.then, m)} : {_concat(self.otherwise, m)})"


_Pieces = tuple[str | Callable[[Violation], str], ...]


def _pieces(parts: Sequence[Part]) -> _Pieces:
    """Parts as the scan renders them: text as is, the others' ``py`` looked up once, not per hit."""
    return tuple(p.text if type(p) is Text else p.py for p in parts)


def _render(pieces: _Pieces, v: Violation) -> str:
    return "".join([piece if isinstance(piece, str) else piece(v) for piece in pieces])


def _concat(parts: Sequence[Part], m: _Cel) -> str:
    return " + ".join(p.cel(m) for p in parts) if parts else "''"


@dataclass(frozen=True)
class NonEmpty(Pred):
    """A list with at least one item."""

    def py(self, value: Any) -> bool:
        return bool(value)

    def cel(self, expr: str) -> str:
        return f"{expr}.size() > 0"


@dataclass(frozen=True)
class UpperIs(Pred):
    """Some item of a list is ``literal`` once upper-cased (``all`` for ``ALL``)."""

    literal: str

    def py(self, value: Any) -> bool:
        return any(isinstance(item, str) and item.upper() == self.literal for item in value or ())

    def cel(self, expr: str) -> str:
        return f"{expr}.exists(i, i.upperAscii() == {cel_literal(self.literal)})"


def _parts(items: Sequence[Part | str]) -> tuple[Part, ...]:
    return tuple(Text(p) if isinstance(p, str) else p for p in items)


class Message:
    """A finding's message: ``WHO`` (the containers, or the pod) first, then parts; plain strings are text.

    Called with a violation, it is the scan's message; :func:`message_cel` writes it as CEL.
    """

    def __init__(self, *parts: Part | str) -> None:
        self.parts = _parts(parts)
        self.who = bool(self.parts) and self.parts[0] is WHO
        self.tail = self.parts[1:] if self.who else self.parts
        if any(p is WHO for p in self.tail):
            raise ValueError("WHO comes first in a message")
        self._pieces = _pieces(self.parts)

    def __call__(self, v: Violation) -> str:
        return _render(self._pieces, v)

    def tail_cel(self, m: _Cel) -> str:
        return _concat(self.tail, m)


def If_(cond: Cond | Test, then: Sequence[Part | str], otherwise: Sequence[Part | str] = ()) -> If:  # noqa: N802
    """``If`` with plain strings for text and a test of the constraint language for a condition."""
    return If(cond if isinstance(cond, Cond) else Holds(cond), _parts(then), _parts(otherwise))


# ---------------------------------------------------------------------------------------------- CEL


def _name(var: str) -> str:
    return f"(has({var}.name) ? {var}.name : '')"


def _one(label: str, var: str) -> str:
    return f'{cel_literal(label + " ")} + "\'" + {_name(var)} + "\'"'


def _who_of(group: str) -> str:
    """CEL naming the containers of ``group``, a list of ``[label, name, ...]`` entries, as ``who`` does."""
    parts = []
    for label in _LABELS.values():
        members = f"{group}.filter(g, g[0] == {cel_literal(label)})"
        parts.append(
            f"({members}.size() == 0 ? '' : {cel_literal(label)} + ({members}.size() > 1 ? 's ' : ' ')"
            f" + {members}.map(g, \"'\" + g[1] + \"'\").join(', '))"
        )
    several = "[" + ", ".join(parts) + "].filter(s, s != '').join(' and ')"
    return f'({group}.size() == 1 ? {group}[0][0] + " \'" + {group}[0][1] + "\'" : {several})'


@dataclass(frozen=True)
class MessageCel:
    """The CEL of a constraint's message: ``expression``, and for grouped containers the ``entries``
    (one ``[label, name, source, message tail (one), message tail (several)]`` per failing container)
    that ``expression`` reads through the variable named when it was written."""

    expression: str
    entries: str | None = None


def message_cel(
    constraint: Constraint, roots: CelRoots, entries_var: str = "variables.failing"
) -> MessageCel:
    """The CEL of ``constraint``'s message for a pod that fails it: every hit of the scan, joined by ``; ``.

    A grouped constraint (a value set once on the pod names all the containers that inherit it) needs
    its failing containers twice: they are ``entries``, to bind to ``entries_var``.
    """
    message = constraint.message
    if not isinstance(message, Message):
        raise TypeError("the constraint's message is a Python function, not a Message")
    spec = roots.spec
    at_row = constraint._at()
    if not constraint.containers:
        m = _Cel(roots, None, constraint.items, _at(at_row, roots, None))
        tail = message.tail_cel(m)
        text = f"{cel_literal('the pod')} + {tail}" if message.who else tail
        if constraint.items is None:
            return MessageCel(text)
        presence, items = _has_path(spec, constraint.items.pod or "")
        test = constraint.test.cel(_CelSubject(roots, None, constraint.items.item))
        return MessageCel(
            f"(!({presence}) ? '' : {items}.filter({_ITEM}, !({test})).map({_ITEM}, {text}).join('; '))"
        )
    lists = []
    entries = []
    for list_name in CONTAINER_LISTS:
        label = _LABELS[list_name]
        guard = f"!({roots.exempt.format(c='c')}) && " if roots.exempt else ""
        if constraint.items is not None:
            m = _Cel(roots, "c", constraint.items, [])
            presence, items = _has_path("c", constraint.items.container or "")
            test = constraint.test.cel(_CelSubject(roots, "c", constraint.items.item))
            failing = f"{items}.filter({_ITEM}, !({test}))"
            text = f"{_one(label, 'c')} + {message.tail_cel(m)}"
            lists.append(
                f"(!has({spec}.{list_name}) ? [] : {spec}.{list_name}.filter(c, {guard}({presence})"
                f" && {failing}.size() > 0).map(c, {failing}.map({_ITEM}, {text}).join('; ')))"
            )
            continue
        m = _Cel(roots, "c", None, _at(at_row, roots, "c"))
        failing = f"{spec}.{list_name}.filter(c, {guard}!({constraint.test.cel(_CelSubject(roots, 'c'))}))"
        if constraint.group:
            source = m.choose(
                {s: cel_literal(s) for s in ("container", "container-annotation", "pod", "pod-annotation")},
                "''",
            )
            plural = _Cel(roots, "c", None, m.at, plural=True)
            tails = f"{message.tail_cel(m)}, {message.tail_cel(plural)}"
            entry = f"[{cel_literal(label)}, {_name('c')}, {source}, {tails}]"
            entries.append(f"(!has({spec}.{list_name}) ? [] : {failing}.map(c, {entry}))")
        else:
            text = f"{_one(label, 'c')} + {message.tail_cel(m)}"
            lists.append(f"(!has({spec}.{list_name}) ? [] : {failing}.map(c, {text}))")
    if not constraint.group or constraint.items is not None:
        return MessageCel("(" + " + ".join(lists) + ").join('; ')")
    shared = ["pod", "pod-annotation"] + ([""] if at_row is not None and at_row.container is None else [])
    e = entries_var
    group = f"{e}.filter(f, f[2] == e[2])"
    is_shared = f"e[2] in {cel_literal(shared)}"
    first = f"(!({is_shared}) || {group}[0] == e)"
    text = (
        f"({is_shared} ? {_who_of(group)} + ({group}.size() == 1 ? e[3] : e[4])"
        f' : e[0] + " \'" + e[1] + "\'" + e[3])'
    )
    return MessageCel(f"{e}.filter(e, {first}).map(e, {text}).join('; ')", "(" + " + ".join(entries) + ")")


def _at(row: PodField | None, roots: CelRoots, container: str | None) -> list[tuple[str, str, str]]:
    if row is None:
        return []
    return [(p, typed_value(v, s), s) for p, v, s in field_candidates(row, roots, container, own=False)]
