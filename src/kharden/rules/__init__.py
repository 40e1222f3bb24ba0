"""The rule catalog: one module per checklist section, listed here explicitly and in RULES.md order."""

from __future__ import annotations

from fnmatch import fnmatchcase

from ..errors import UsageError
from . import access, admission, encryption, exposure, images, isolation, logging, pods
from ._ruleset import EVIDENCE, INPUTS, Rule, RuleSet

__all__ = ["EVIDENCE", "INPUTS", "REGISTRY", "SECTIONS", "Rule", "RuleSet", "get", "select"]

SECTIONS: tuple[RuleSet, ...] = (
    exposure.rules,
    access.rules,
    isolation.rules,
    pods.rules,
    images.rules,
    encryption.rules,
    logging.rules,
    admission.rules,
)

REGISTRY: tuple[Rule, ...] = tuple(rule for section in SECTIONS for rule in section.rules)
_BY_ID = {rule.id: rule for rule in REGISTRY}
if len(_BY_ID) != len(REGISTRY):  # pragma: no cover - caught by the registry tests
    raise RuntimeError("duplicate rule IDs in the registry")


def get(rule_id: str) -> Rule:
    """The rule with this exact ID; :class:`UsageError` naming close matches otherwise."""
    try:
        return _BY_ID[rule_id]
    except KeyError:
        prefix = rule_id.split(".", 1)[0]
        near = [r.id for r in REGISTRY if r.id.startswith(prefix + ".")]
        hint = f" (rules of '{prefix}': {', '.join(near)})" if near else " (see 'kharden rules')"
        raise UsageError(f"unknown rule {rule_id!r}{hint}") from None


def select(include: list[str] | None = None, exclude: list[str] | None = None) -> list[Rule]:
    """Rules matching any ``include`` glob (all when none) and no ``exclude`` glob.

    A glob that matches no rule is a :class:`UsageError`: a typo must never silently turn a rule, or a CI
    gate, off.
    """
    for pattern in [*(include or []), *(exclude or [])]:
        if not any(fnmatchcase(rule.id, pattern) for rule in REGISTRY):
            raise UsageError(f"--rule/--skip-rule {pattern!r} matches no rule (see 'kharden rules')")
    chosen = [r for r in REGISTRY if not include or any(fnmatchcase(r.id, p) for p in include)]
    return [r for r in chosen if not any(fnmatchcase(r.id, p) for p in exclude or [])]
