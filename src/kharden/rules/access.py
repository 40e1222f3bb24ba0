"""Checklist section B: access, ServiceAccounts and RBAC (rules land with the RBAC engine)."""

from __future__ import annotations

from ._ruleset import RuleSet

rules = RuleSet("access")
