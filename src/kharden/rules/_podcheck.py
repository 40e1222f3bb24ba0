"""Helpers pod rules share: grouping containers by the field that decides, and naming them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..analysis.podspec import EffectiveContainer, EffectivePod, Field
from ..model import Hit, Severity

__all__ = ["by_field", "hit_for", "plural_s", "set_where", "who"]


def by_field(
    pod: EffectivePod, select: Callable[[EffectiveContainer], Field[Any] | None]
) -> Iterator[tuple[Field[Any], list[EffectiveContainer]]]:
    """Containers grouped by the field that decides for them, in container order.

    A value set once on the pod and inherited by three containers is one group (one finding at the pod's
    field); values set, or missing, per container are one group each.
    """
    groups: dict[str, tuple[Field[Any], list[EffectiveContainer]]] = {}
    for container in pod.containers:
        field = select(container)
        if field is not None:
            groups.setdefault(field.path, (field, []))[1].append(container)
    yield from groups.values()


def who(containers: Sequence[EffectiveContainer]) -> str:
    """``container 'app'``,
    ``containers 'app', 'sidecar'``, ``container 'app' and init container 'setup'``."""
    if len(containers) == 1:
        return f"{containers[0].kind_label} {containers[0].name!r}"
    groups: dict[str, list[str]] = {}
    for container in containers:
        groups.setdefault(container.kind_label, []).append(repr(container.name))
    parts = [f"{label}{'s' if len(names) > 1 else ''} {', '.join(names)}" for label, names in groups.items()]
    return " and ".join(parts)


def hit_for(
    field: Field[Any],
    containers: Sequence[EffectiveContainer],
    message: str,
    severity: Severity | None = None,
) -> Hit:
    """A hit on ``field``; it names the container when exactly one is concerned."""
    container = containers[0].name if len(containers) == 1 else None
    return Hit(path=field.path, message=message, container=container, severity=severity)


def set_where(field: Field[Any]) -> str:
    """`` on the pod`` when the value is inherited from the pod securityContext."""
    return " on the pod" if field.source == "pod" else ""


def plural_s(containers: Sequence[EffectiveContainer]) -> str:
    """The verb ending for :func:`who`: 'container runs' but 'containers run'."""
    return "s" if len(containers) == 1 else ""
