"""``who_can(paths, verb, resource)``: which subjects may do something, read from the same inputs as ``scan``.

>>> answer = who_can(["k8s/"], "get", "secrets", namespace="shop")     # doctest: +SKIP
>>> [(str(g.subject), g.chain()) for g in answer.grants]                # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .analysis.context import ScanContext
from .analysis.rbac import Binding, Grant, Request, custom_resources, parse_request
from .errors import UsageError
from .inventory import Inventory
from .model import ErrorRecord
from .scan import ScanOptions, acyclic_work, collect

__all__ = ["WhoCan", "who_can"]


@dataclass(frozen=True)
class WhoCan:
    """The answer: every grant that allows the request, by subject as the bindings name them."""

    request: Request
    namespace: str | None
    """The namespace asked about; ``None``: in any namespace, or cluster-wide."""
    grants: tuple[Grant, ...]
    unresolved: tuple[Binding, ...]
    """Bindings whose role is neither in the inputs nor one every cluster has: they may grant it too."""
    errors: tuple[ErrorRecord, ...]
    objects: int


def who_can(
    paths: Sequence[str],
    verb: str,
    resource: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    options: ScanOptions | None = None,
) -> WhoCan:
    """Who may ``verb`` ``resource`` (``pods/exec``, ``deployments.apps``, ``/metrics``) in ``namespace``.

    ``name`` asks about one object, so rules limited by resourceNames count. Raises
    :class:`UsageError` for a resource kharden cannot place in an API group.
    """
    options = options or ScanOptions()
    with acyclic_work():
        collected = collect(paths, options)
        inventory = Inventory(collected.objects)
        try:
            request = parse_request(verb, resource, name, custom_resources(inventory.objects))
        except ValueError as e:
            raise UsageError(str(e)) from None
        context = ScanContext(inventory, frozenset(collected.evidence))
        rbac = context.rbac
        grants = sorted(
            rbac.who_can(request, namespace),
            key=lambda g: (g.subject, g.scope or "", g.binding.label, g.rule.role, g.rule.index),
        )
        return WhoCan(
            request=request,
            namespace=namespace,
            grants=tuple(grants),
            unresolved=tuple(b for b in rbac.unresolved if b.applies(request, namespace)),
            errors=tuple(collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]),
            objects=len(inventory),
        )
