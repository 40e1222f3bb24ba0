"""Audit policy: the level a request is recorded at, by the first rule that matches it.

Rules are evaluated in order and the first match sets the level; a request no rule matches is not
recorded (level None). ``omitStages`` of the policy and of the matching rule add up. Matching
follows the API server's policy checker: every selector a rule sets must match; ``resources``
match by exact group, ``*``, ``*/subresource`` and ``resource/*``; a rule with ``resourceNames``
only matches those names. https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model import Obj

__all__ = ["LEVELS", "Decision", "Request", "decide"]

LEVELS = ("None", "Metadata", "Request", "RequestResponse")


@dataclass(frozen=True, slots=True)
class Request:
    """A resource request by an ordinary user (no rule naming specific users or groups matches it)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    namespace: str = "default"
    user: str = "alice"
    groups: tuple[str, ...] = ("system:authenticated",)

    def __str__(self) -> str:
        resource = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        return f"{self.verb} {resource}"


@dataclass(frozen=True, slots=True)
class Decision:
    level: str
    rule: int | None
    """Index of the matching rule; ``None`` when no rule matches (not recorded)."""
    path: str
    omit_stages: frozenset[str] = field(default_factory=frozenset)
    catch_all: bool = False
    """The matching rule selects every request (it sets no selector)."""

    @property
    def rank(self) -> int:
        return LEVELS.index(self.level) if self.level in LEVELS else 0


_SELECTORS = ("users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs")


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _matches_resource(rule: Mapping[str, Any], request: Request) -> bool:
    groups = rule.get("resources")
    if not isinstance(groups, list):
        return True
    combined = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
    for entry in groups:
        if not isinstance(entry, Mapping) or (entry.get("group") or "") != request.group:
            continue
        names = _strings(entry.get("resources"))
        if not names:
            return True
        if _strings(entry.get("resourceNames")):
            continue  # only named objects: not the request of any name
        for name in names:
            if name in {combined, "*"}:
                return True
            if request.subresource and name.startswith("*/") and name[2:] == request.subresource:
                return True
            if name.endswith("/*") and name[:-2] == request.resource:
                return True
    return False


def _matches(rule: Mapping[str, Any], request: Request) -> bool:
    users = _strings(rule.get("users"))
    if "users" in rule and request.user not in users:
        return False
    if "userGroups" in rule and not set(_strings(rule.get("userGroups"))) & set(request.groups):
        return False
    if (
        "verbs" in rule
        and request.verb not in _strings(rule.get("verbs"))
        and "*" not in _strings(rule.get("verbs"))
    ):
        return False
    if rule.get("nonResourceURLs"):
        return False
    if (
        "namespaces" in rule
        and _strings(rule.get("namespaces"))
        and request.namespace not in _strings(rule.get("namespaces"))
    ):
        return False
    return _matches_resource(rule, request)


def decide(policy: Obj, request: Request) -> Decision:
    """The level ``policy`` records ``request`` at, and the rule that decided it."""
    base = frozenset(_strings(policy.raw.get("omitStages")))
    rules = policy.raw.get("rules")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if not isinstance(rule, Mapping) or not _matches(rule, request):
            continue
        level = rule.get("level")
        catch_all = not any(rule.get(k) for k in _SELECTORS)
        return Decision(
            level if isinstance(level, str) else "None",
            index,
            f"/rules/{index}",
            base | frozenset(_strings(rule.get("omitStages"))),
            catch_all,
        )
    return Decision("None", None, "/rules", base)
