"""Constraint kinds whose parameter is what a policy allows: ID ranges, name patterns, profiles, host
path prefixes, volume drivers, SELinux options.

The pod rules judge against fixed values (no user 0, a RuntimeDefault or Localhost profile, the safe
sysctls); a PodSecurityPolicy names its own (``fsGroup`` in 1-65535, ``allowedHostPaths``,
``allowedCSIDrivers``, the seccomp profiles of an annotation). These kinds are written like those of
:mod:`._constraint` and combine with them: each judges the effective pod in Python and writes the same
judgement as CEL, with the same roots and the same subset of CEL (no optional chaining).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import _pointer
from ..analysis.podspec import CONTAINER_LISTS, EffectivePod, Field, Volume
from ._constraint import Is, Pred, Subject, Test, _CelSubject, cel_literal

__all__ = [
    "HostPathUnder",
    "InRanges",
    "LocalhostProfile",
    "Matches",
    "NotEmpty",
    "SELinuxIs",
    "VolumeDriverIn",
    "has_path_prefix",
]


@dataclass(frozen=True)
class InRanges(Pred):
    """An integer in one of the inclusive ``(min, max)`` ranges."""

    ranges: tuple[tuple[int, int], ...]

    def py(self, value: Any) -> bool:
        return type(value) is int and any(low <= value <= high for low, high in self.ranges)

    def cel(self, expr: str) -> str:
        parts = [f"({expr} >= {low} && {expr} <= {high})" for low, high in self.ranges]
        return "(" + " || ".join(parts) + ")" if parts else "false"


@dataclass(frozen=True)
class NotEmpty(Pred):
    """A list with at least one item."""

    def py(self, value: Any) -> bool:
        return bool(value)

    def cel(self, expr: str) -> str:
        return f"size({expr}) > 0"


@dataclass(frozen=True)
class Matches(Pred):
    """A name equal to one of the patterns, or starting with what precedes a pattern's final ``*``."""

    patterns: tuple[str, ...]

    def py(self, value: Any) -> bool:
        text = value if isinstance(value, str) else ""
        return any(text.startswith(p[:-1]) if p.endswith("*") else text == p for p in self.patterns)

    def cel(self, expr: str) -> str:
        parts = [
            f"{expr}.startsWith({cel_literal(p[:-1])})" if p.endswith("*") else f"{expr} == {cel_literal(p)}"
            for p in self.patterns
        ]
        return "(" + " || ".join(parts) + ")" if parts else "false"


def same_level(expected: str, actual: str) -> bool:
    """SELinux levels as PodSecurityPolicy compared them: equal, or the same sensitivity and the same
    categories in any order (``s0:c6,c0`` is ``s0:c0,c6``)."""
    if expected == actual:
        return True
    want, have = expected.split(":", 1), actual.split(":", 1)
    if len(want) != 2 or len(have) != 2:
        return False
    return want[0] == have[0] and sorted(want[1].split(",")) == sorted(have[1].split(","))


@dataclass(frozen=True)
class SELinuxIs(Pred):
    """SELinux options equal to these: user, role and type exactly (unset reads as ``""``), the level
    by :func:`same_level`."""

    user: str = ""
    role: str = ""
    type: str = ""
    level: str = ""

    def py(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        if any((value.get(k) or "") != getattr(self, k) for k in ("user", "role", "type")):
            return False
        level = value.get("level") or ""
        return isinstance(level, str) and same_level(self.level, level)

    def cel(self, expr: str) -> str:
        def of(key: str) -> str:
            return f"(has({expr}.{key}) ? {expr}.{key} : '')"

        parts = [f"{of(k)} == {cel_literal(getattr(self, k))}" for k in ("user", "role", "type")]
        level = of("level")
        same = f"{level} == {cel_literal(self.level)}"
        if ":" in self.level:
            sensitivity, categories = self.level.split(":", 1)
            halves = f"{level}.split(':', 2)"
            found = f"{halves}[1].split(',')"
            wanted = Counter(categories.split(","))
            counts = " && ".join(
                f"size({found}.filter(k, k == {cel_literal(name)})) == {count}"
                for name, count in sorted(wanted.items())
            )
            same = (
                f"({same} || (size({halves}) == 2 && {halves}[0] == {cel_literal(sensitivity)}"
                f" && size({found}) == {sum(wanted.values())} && {counts}))"
            )
        return "(" + " && ".join([*parts, same]) + ")"


@dataclass(frozen=True)
class LocalhostProfile(Is):
    """The effective seccomp or AppArmor profile (``row``) is ``Localhost`` with one of ``names``: the
    field's ``localhostProfile``, or the ``localhost/NAME`` of a legacy annotation. ``pred`` is unused."""

    names: tuple[str, ...] = ()

    def holds(self, subject: Subject) -> bool:
        found = self.field_of(subject)
        if found.source is None:
            return self.unset
        return found.value == "Localhost" and _localhost_name(subject.pod, found) in self.names

    def cel(self, subject: _CelSubject) -> str:
        expr = cel_literal(self.unset)
        for presence, value, annotation in reversed(self.cel_candidates(subject)):
            if annotation:
                test = f"{value} in {cel_literal(['localhost/' + n for n in self.names])}"
            else:
                profile = value.removesuffix(".type")
                test = (
                    f"{value} == 'Localhost' && has({profile}.localhostProfile)"
                    f" && {profile}.localhostProfile in {cel_literal(list(self.names))}"
                )
            expr = f"(({presence}) ? ({test}) : {expr})"
        return expr


def _localhost_name(pod: EffectivePod, found: Field[Any]) -> str | None:
    """The profile name of a ``Localhost`` profile, by the field or annotation that set it."""
    if found.source == "annotation":
        key = _pointer.split(found.path)[-1]
        return pod.annotations.get(key, "").removeprefix("localhost/")
    name = _at(pod.obj.raw, found.path.rsplit("/", 1)[0] + "/localhostProfile")
    return name if isinstance(name, str) else None


def _at(root: Any, pointer: str) -> Any:
    """The value at ``pointer``, ``None`` when it is not there."""
    steps = list(_pointer.walk(root, pointer))
    if len(steps) != len(_pointer.split(pointer)):
        return None
    if not steps:
        return root
    holder, key = steps[-1]
    return holder[key]


def has_path_prefix(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or lies under it, a path component at a time, one trailing ``/`` of either
    ignored (``/var/log`` is under ``/var`` and ``/var/``, ``/variable`` is not)."""
    path, prefix = path.removesuffix("/"), prefix.removesuffix("/")
    return path == prefix or path.startswith(prefix + "/")


def _prefix_cel(expr: str, prefix: str) -> str:
    trimmed = f"({expr}.endsWith('/') ? {expr}.substring(0, size({expr}) - 1) : {expr})"
    prefix = prefix.removesuffix("/")
    return f"({trimmed} == {cel_literal(prefix)} || {trimmed}.startsWith({cel_literal(prefix + '/')}))"


@dataclass(frozen=True)
class HostPathUnder(Test):
    """Of a volume (a constraint over ``volumes``): not a hostPath, or its path lies under one of the
    ``(prefix, read_only)`` prefixes (:func:`has_path_prefix`); when only read-only prefixes hold it,
    every mount of it in every container must be read-only."""

    prefixes: tuple[tuple[str, bool], ...]

    def holds(self, subject: Subject) -> bool:
        volume = subject.source
        if not isinstance(volume, Volume) or volume.type != "hostPath":
            return True
        path = volume.source.get("path")
        under = [read_only for prefix, read_only in self.prefixes if has_path_prefix(_text(path), prefix)]
        if not under:
            return False
        return not all(under) or all(_read_only(m) for m in _mounts(subject.pod, volume.name))

    def failing(self, subject: Subject) -> list[Is]:
        return []  # no remedy: which host path the program needs is for a person to say

    def leaves(self) -> Iterator[Is]:
        return iter(())

    def cel(self, subject: _CelSubject) -> str:
        assert subject.item is not None
        volume, spec = subject.item, subject.roots.spec
        path = f"{volume}.hostPath.path"
        writable = [_prefix_cel(path, p) for p, read_only in self.prefixes if not read_only]
        read_only = [_prefix_cel(path, p) for p, read_only in self.prefixes if read_only]
        options = list(writable)
        if read_only:
            mounts = " && ".join(
                f"(!has({spec}.{name}) || {spec}.{name}.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m,"
                f" m.name != {volume}.name || (has(m.readOnly) && m.readOnly == true))))"
                for name in CONTAINER_LISTS
            )
            options.append(f"(({' || '.join(read_only)}) && {mounts})")
        return f"(!has({volume}.hostPath) || {' || '.join(options) or 'false'})"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _mounts(pod: EffectivePod, volume: str) -> Iterator[Any]:
    for container in pod.containers:
        raw = _at(pod.obj.raw, container.path)
        mounts = raw.get("volumeMounts") if isinstance(raw, dict) else None
        for mount in mounts if isinstance(mounts, list) else ():
            if isinstance(mount, dict) and mount.get("name") == volume:
                yield mount


def _read_only(mount: dict[str, Any]) -> bool:
    return mount.get("readOnly") is True


@dataclass(frozen=True)
class VolumeDriverIn(Test):
    """Of a volume: not of ``kind`` (``csi``, ``flexVolume``), or its ``driver`` is one of ``names``."""

    kind: str
    names: tuple[str, ...]

    def holds(self, subject: Subject) -> bool:
        volume = subject.source
        if not isinstance(volume, Volume) or volume.type != self.kind:
            return True
        return volume.source.get("driver") in self.names

    def failing(self, subject: Subject) -> list[Is]:
        return []

    def leaves(self) -> Iterator[Is]:
        return iter(())

    def cel(self, subject: _CelSubject) -> str:
        source, names = f"{subject.item}.{self.kind}", cel_literal(list(self.names))
        return f"(!has({source}) || (has({source}.driver) && {source}.driver in {names}))"
