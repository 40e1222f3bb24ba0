"""Checklist section F: audit logging (rules land with the control-plane audit)."""

from __future__ import annotations

from ._ruleset import RuleSet

rules = RuleSet("logging")
