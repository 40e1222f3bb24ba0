"""The checklist's notes on admission: Pod Security Admission, PodSecurityPolicy, admission plugins."""

from __future__ import annotations

from ._ruleset import RuleSet

rules = RuleSet("admission")
