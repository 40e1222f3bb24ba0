"""``kharden generate``: write the hardening objects a repository or cluster is missing.

- :mod:`.networkpolicies` (+ :mod:`.proof`): default deny per namespace, then what the manifests show
  is needed, each rule with its reason, proven with the NetworkPolicy engine;
- :mod:`.serviceaccounts`: a ServiceAccount per workload that runs as ``default`` or shares one;
- :mod:`.podsecurity`: Pod Security Admission labels at the strictest level each namespace passes;
- :mod:`.psp`: PodSecurityPolicies migrated to Pod Security Admission and ValidatingAdmissionPolicies.

Each reads what ``scan`` reads (:func:`load`) and returns a :class:`~.model.Generated`; :mod:`.output`
writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..analysis.context import ScanContext
from ..inventory import Inventory
from ..model import ErrorRecord
from ..scan import ScanOptions, acyclic_work, collect

__all__ = ["load"]


def load(paths: Sequence[str], options: ScanOptions | None = None) -> tuple[ScanContext, list[ErrorRecord]]:
    """Read ``paths`` (and the options' cluster or snapshot) as ``scan`` does; input errors are returned."""
    with acyclic_work():
        # Unshared: the generators plan edits on copies of what they read (deepcopy keeps what is shared).
        collected = collect(paths, replace(options or ScanOptions(), share=False))
        context = ScanContext(
            Inventory(collected.objects), frozenset(collected.evidence), cluster=collected.cluster
        )
    return context, list(collected.errors)
