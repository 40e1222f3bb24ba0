"""Label selectors, as the API server and controllers evaluate them.

Two shapes exist in the API:

- ``metav1.LabelSelector`` (NetworkPolicy peers, Deployments, ClusterRole aggregation,
  PodDisruptionBudgets): ``matchLabels`` and ``matchExpressions`` (``In``, ``NotIn``,
  ``Exists``, ``DoesNotExist``), all requirements ANDed. An empty selector ``{}`` matches
  every object; what an *absent* selector means depends on the field (a NetworkPolicy's
  ``podSelector: {}`` selects all pods of its namespace, while a ClusterRole aggregation
  rule with no selectors aggregates nothing), so callers decide that with
  :func:`parse_label_selector`'s ``absent`` argument.
- a plain ``map[string]string`` (Service and ReplicationController ``selector``): equality
  on every pair. A Service whose selector is absent or empty selects no pods (its
  endpoints are managed by hand).

https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "LabelSelector",
    "Requirement",
    "parse_label_selector",
    "parse_set_selector",
]

OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            # NotIn matches objects without the key too (apimachinery's labels.Requirement).
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels  # DoesNotExist


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """ANDed requirements; ``selects_nothing`` marks a selector that can match no object."""

    requirements: tuple[Requirement, ...] = ()
    selects_nothing: bool = False

    @property
    def selects_everything(self) -> bool:
        return not self.selects_nothing and not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.selects_nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    @property
    def index_key(self) -> tuple[str, str] | None:
        """A ``(key, value)`` label every object it matches has (its first equality), for indexing
        objects by label: ``None`` when it has none (then any object may match)."""
        for r in self.requirements:
            if r.operator == "In" and len(r.values) == 1:
                return r.key, next(iter(r.values))
        return None

    def __str__(self) -> str:
        if self.selects_nothing:
            return "<nothing>"
        if not self.requirements:
            return "<everything>"
        parts = []
        for r in self.requirements:
            if r.operator == "In" and len(r.values) == 1:
                parts.append(f"{r.key}={next(iter(r.values))}")
            elif r.operator in {"In", "NotIn"}:
                parts.append(f"{r.key} {r.operator.lower()} ({','.join(sorted(r.values))})")
            elif r.operator == "Exists":
                parts.append(r.key)
            else:
                parts.append(f"!{r.key}")
        return ",".join(parts)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(selects_nothing=True)


def parse_label_selector(raw: Any, *, absent: LabelSelector) -> LabelSelector:
    """A ``metav1.LabelSelector``; ``absent`` is what a missing (null) selector means here.

    Raises :class:`ValueError` with a one-line reason for a malformed selector (the API
    server would refuse the object); callers turn it into an input error with the line.
    """
    if raw is None:
        return absent
    if not isinstance(raw, Mapping):
        raise ValueError("a label selector must be a mapping")
    requirements: list[Requirement] = []
    match_labels = raw.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise ValueError("matchLabels must be a mapping")
    for key, value in match_labels.items():
        requirements.append(Requirement(str(key), "In", frozenset({_label_value(key, value)})))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ValueError("matchExpressions must be a list")
    for expression in expressions:
        requirements.append(_requirement(expression))
    return LabelSelector(tuple(requirements))


def parse_set_selector(raw: Any) -> LabelSelector:
    """A Service or ReplicationController ``selector`` map; absent or empty selects nothing."""
    if raw is None:
        return NOTHING
    if not isinstance(raw, Mapping):
        raise ValueError("a selector must be a mapping of labels")
    if not raw:
        return NOTHING
    return LabelSelector(
        tuple(Requirement(str(k), "In", frozenset({_label_value(k, v)})) for k, v in raw.items())
    )


def _requirement(expression: Any) -> Requirement:
    if not isinstance(expression, Mapping):
        raise ValueError("a matchExpressions entry must be a mapping")
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values")
    if not isinstance(key, str) or not key:
        raise ValueError("a matchExpressions entry needs a key")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise ValueError(
            f"matchExpressions operator {operator!r} is not one of In, NotIn, Exists, DoesNotExist"
        )
    if operator in {"In", "NotIn"}:
        if not isinstance(values, list) or not values:
            raise ValueError(f"matchExpressions {operator} for {key!r} needs a non-empty values list")
        return Requirement(key, operator, frozenset(_label_value(key, v) for v in values))
    if values:
        raise ValueError(f"matchExpressions {operator} for {key!r} must not have values")
    return Requirement(key, operator)


def _label_value(key: Any, value: Any) -> str:
    """Label values are strings; the API server refuses ``version: 1`` in a selector."""
    if not isinstance(value, str):
        raise ValueError(f"the value of label {key!r} must be a string")
    return value
