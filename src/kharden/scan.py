"""``scan(paths, options) -> Report``: the library entry point.

Sources fill an inventory; every selected rule whose evidence is present runs on it;
hits become findings with locations and fingerprints; suppressions are applied last.
An input error in one file is recorded in the report and never hides other findings.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from .analysis.context import ScanContext
from .analysis.podspec import TEMPLATE_KINDS, pod_template_path
from .errors import InputError, UsageError
from .fingerprint import fingerprint
from .inventory import Inventory
from .model import ErrorRecord, Finding, Hit, NotEvaluated, Obj, Report
from .rules import Rule, select
from .sources.cluster import BUILTIN_KINDS, ClusterOptions, read_cluster
from .sources.documents import Collected
from .sources.files import DEFAULT_MAX_FILE_BYTES, FileOptions, read_paths
from .sources.snapshot import read_snapshot
from .suppress import annotation_suppression

__all__ = ["ScanOptions", "evaluate", "scan"]


@dataclass(frozen=True)
class ScanOptions:
    rules: tuple[str, ...] = ()
    """Rule ID globs to run (all when empty)."""
    skip_rules: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    stdin: BinaryIO | None = field(default=None, compare=False)
    cluster: ClusterOptions | None = None
    """Read this live cluster too (``--cluster``)."""
    snapshot: str | None = None
    """Read this cluster snapshot too (``--snapshot FILE``)."""


def scan(paths: Sequence[str], options: ScanOptions | None = None) -> Report:
    """Scan files, directories (kustomizations and charts are rendered) and ``-`` (stdin).

    Raises :class:`~kharden.errors.UsageError` for a rule glob that matches nothing and
    :class:`~kharden.errors.ClusterError` when ``options.cluster`` cannot be read;
    input problems are reported in ``Report.errors``.
    """
    options = options or ScanOptions()
    rules = select(list(options.rules), list(options.skip_rules))
    if options.cluster is not None and options.snapshot is not None:
        raise UsageError("--cluster and --snapshot: scan one cluster at a time")
    with acyclic_work():
        collected = Collected()
        read_paths(
            list(paths),
            collected,
            FileOptions(
                max_file_bytes=options.max_file_bytes,
                helm_values=options.helm_values,
                helm_set=options.helm_set,
                stdin=options.stdin,
            ),
        )
        if options.snapshot is not None:
            try:
                read_snapshot(options.snapshot, collected)
            except InputError as e:
                collected.error(e)
        if options.cluster is not None:
            read_cluster(options.cluster, collected)
        return evaluate(collected, rules)


@contextmanager
def acyclic_work() -> Iterator[None]:
    """Pause the cycle collector while a scan builds millions of acyclic dicts and lists.

    Nothing a scan builds holds a reference cycle, so the collector could only walk the
    growing heap again and again: on 10,000 documents that is 40% of the run time.
    Memory is still freed by reference counting; the collector's state is restored
    (the CLI, a short-lived process, keeps it off throughout).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_NEEDS = {
    "N": "node and control-plane files (--node-root DIR)",
    "C": "a live cluster or a snapshot (--cluster, --snapshot FILE)",
    "M": "manifests",
    "G": "manifests or a cluster",
}


def _available(evidence: set[str]) -> frozenset[str]:
    """Whole-inventory analyses need objects, from manifests or a cluster."""
    return frozenset(evidence | ({"G"} if evidence & {"M", "C"} else set()))


def evaluate(collected: Collected, rules: Sequence[Rule]) -> Report:
    """Run ``rules`` over what the sources collected."""
    available = _available(collected.evidence)
    runnable = [r for r in rules if r.evidence & available]
    not_evaluated = [
        NotEvaluated(
            r.id, "no evidence in this scan: needs " + " or ".join(_NEEDS[e] for e in sorted(r.evidence))
        )
        for r in rules
        if not r.evidence & available
    ]
    blocked = set()
    unread = collected.cluster.unread if collected.cluster is not None else {}
    for rule in runnable if unread else ():
        reasons = unread_reasons(rule, unread)
        if reasons:
            not_evaluated.append(NotEvaluated(rule.id, "; ".join(reasons)))
            if rule.target == "inventory":  # a whole-inventory answer on part of the cluster would be wrong
                blocked.add(rule.id)
    runnable = [r for r in runnable if r.id not in blocked]
    context = ScanContext(Inventory(collected.objects), available, cluster=collected.cluster)
    findings: list[Finding] = []

    pod_rules = [r for r in runnable if r.target == "pod"]
    if pod_rules:
        for pod in context.pods:
            for rule in pod_rules:
                findings.extend(_finding(rule, pod.obj, hit, pod.annotations) for hit in rule.check(pod))

    object_rules: dict[str, list[Rule]] = {}
    for rule in runnable:
        if rule.target == "object":
            for kind in rule.kinds:
                object_rules.setdefault(kind, []).append(rule)
    if object_rules:
        for obj in context.inventory.objects:
            for rule in object_rules.get(obj.ref.kind, ()):
                findings.extend(
                    _finding(rule, obj, hit, _template_annotations(obj)) for hit in rule.check(obj)
                )

    for rule in runnable:
        if rule.target == "inventory":
            for hit in rule.check(context):
                if hit.obj is None:  # pragma: no cover - a rule bug, caught by the rule's tests
                    raise ValueError(f"{rule.id}: a whole-inventory hit must name its object")
                findings.append(_finding(rule, hit.obj, hit, _template_annotations(hit.obj)))

    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    findings.sort(key=_order)
    return Report(
        findings=findings,
        errors=errors,
        not_evaluated=not_evaluated,
        stats=collected.stats,
        rules_run=len(runnable),
    )


def unread_reasons(rule: Rule, unread: Mapping[str, str]) -> list[str]:
    """Why ``rule`` cannot see every object it reads: the reasons of the unread kinds it reads.

    Per-object rules still run on the objects that were read; whole-inventory rules read
    the kinds they declare (``needs``), or else every built-in kind but Secrets (the policy
    objects of add-ons count only for the rules that declare them).
    """
    if rule.target == "pod":
        kinds: Iterable[str] = TEMPLATE_KINDS & unread.keys()
    elif rule.target == "object":
        kinds = rule.kinds & unread.keys()
    elif rule.needs is not None:
        kinds = rule.needs & unread.keys()
    else:
        kinds = unread.keys() & (BUILTIN_KINDS - {"Secret"})
    return [unread[kind] for kind in sorted(kinds)]


def _finding(rule: Rule, obj: Obj, hit: Hit, template_annotations: Mapping[str, str]) -> Finding:
    return Finding(
        rule=rule.id,
        severity=hit.severity if hit.severity is not None else rule.severity,
        section=rule.section,
        title=rule.title,
        object=obj.ref,
        container=hit.container,
        location=obj.locate(hit.path),
        message=hit.message,
        remediation=rule.remediation,
        fingerprint=fingerprint(rule.id, obj.ref, hit.container, obj.raw, hit.path),
        suppressed=annotation_suppression(rule.id, obj, template_annotations),
    )


def _template_annotations(obj: Obj) -> Mapping[str, str]:
    path = pod_template_path(obj)
    if not path:
        return {}
    node: object = obj.raw
    for token in (*path.strip("/").split("/"), "metadata", "annotations"):
        node = node.get(token) if isinstance(node, Mapping) else None
    return {k: v for k, v in node.items() if isinstance(v, str)} if isinstance(node, Mapping) else {}


def _order(finding: Finding) -> tuple[str, int, int, str, str]:
    location = finding.location
    return (location.file or "", location.line or 0, location.column or 0, finding.rule, finding.fingerprint)
