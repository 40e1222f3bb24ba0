"""``kharden paths``: the attack graph of the same inputs as ``scan``, its shortest paths and choke points.

>>> from kharden.attack_paths import load
>>> found = load(["k8s/"], goals=["cluster-admin"])                    # doctest: +SKIP
>>> [(p.entry, len(p)) for p in found.analysis.paths]                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .analysis.context import ScanContext
from .inventory import Inventory
from .model import ErrorRecord
from .paths import EXPOSED, GOALS, Analysis, analyze
from .scan import ScanOptions, acyclic_work, collect

__all__ = ["PathsResult", "load"]


@dataclass(frozen=True)
class PathsResult:
    analysis: Analysis
    errors: tuple[ErrorRecord, ...]
    """Inputs that could not be read (the graph is built from the others)."""
    objects: int


def load(
    paths: Sequence[str],
    options: ScanOptions | None = None,
    *,
    sources: Sequence[str] = (EXPOSED,),
    goals: Sequence[str] = GOALS,
    max_length: int | None = None,
    lateral: bool = True,
) -> PathsResult:
    """Read ``paths`` (and the cluster, snapshot or node roots of ``options``) as ``scan`` does, and analyse
    the attack paths. Input errors are returned, not raised; :class:`~kharden.errors.UsageError` for a
    source that names no workload or an unknown goal."""
    options = options or ScanOptions()
    with acyclic_work():
        collected = collect(paths, options)
        context = ScanContext(
            Inventory(collected.objects), frozenset(collected.evidence), cluster=collected.cluster
        )
        analysis = analyze(context, sources=sources, goals=goals, max_length=max_length, lateral=lateral)
    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    return PathsResult(analysis, tuple(errors), len(context.inventory))
