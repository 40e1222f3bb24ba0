"""The RBAC engine as the attack graph asks it: which subjects may do what, where, through which binding.

This is the one module of :mod:`kharden.paths` that talks to :mod:`kharden.analysis.rbac`, and it
asks only the engine's public question, ``who_can(request, some_object=True)``: every grant that
allows a request, with its binding, subject and scope. Each request is asked once for the whole
scan; a subject holds what is granted to it or to one of the groups it is in
(``Subject.identities``: a ServiceAccount is also ``system:serviceaccounts``,
``system:serviceaccounts:NS`` and ``system:authenticated``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..analysis.rbac import Grant, Rbac, Request, Subject
from ..rules import get as get_rule
from .model import Evidence

__all__ = ["Held", "RbacView"]


@dataclass(frozen=True, slots=True)
class Held:
    """A permission one subject holds, where, and the grant (as evidence) that gives it."""

    scope: str | None
    """The namespace it holds in; ``None``: cluster-wide."""
    names: frozenset[str] | None
    """The objects it is limited to (``resourceNames``); ``None``: every object."""
    evidence: Evidence


class RbacView:
    def __init__(self, rbac: Rbac) -> None:
        self._rbac = rbac
        self._asked: dict[tuple[Request, ...], dict[Subject, list[Grant]]] = {}

    def _granted(self, requests: tuple[Request, ...]) -> dict[Subject, list[Grant]]:
        """Subject as the bindings name it -> the grants that allow one of ``requests`` (each grant once)."""
        found = self._asked.get(requests)
        if found is None:
            seen: set[tuple[int, str, int]] = set()
            found = {}
            for request in requests:
                for grant in self._rbac.who_can(request, some_object=True):
                    key = (id(grant.binding), grant.subject_path, id(grant.rule))
                    if key not in seen:
                        seen.add(key)
                        found.setdefault(grant.subject, []).append(grant)
            self._asked[requests] = found
        return found

    def held(self, subject: Subject, requests: Sequence[Request], what: str, rule: str) -> list[Held]:
        """What ``subject`` holds of ``requests``: one entry per grant (binding, subject, role rule).

        ``what`` says it in words (``create pods``) and ``rule`` names the kharden rule that reports
        such grants; both go into the evidence.
        """
        granted = self._granted(tuple(requests))
        grants = [grant for identity in subject.identities() for grant in granted.get(identity, ())]
        if not grants:
            return []
        remediation = get_rule(rule).remediation
        held = []
        for grant in grants:
            names = grant.rule.rule.resource_names or None
            where = "cluster-wide" if grant.scope is None else f"in namespace {grant.scope!r}"
            only = f" (only {', '.join(sorted(names))})" if names else ""
            evidence = Evidence.at(
                grant.binding.obj,
                grant.subject_path,
                f"{what}{only} {where} for {grant.subject}: {grant.chain()}",
                rule=rule,
                fix=remediation,
            )
            held.append(Held(grant.scope, frozenset(names) if names else None, evidence))
        return held
