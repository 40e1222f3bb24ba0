"""``scan(paths, options) -> Report``: the library entry point.

Sources fill an inventory; every selected rule whose evidence is present runs on it;
hits become findings with locations and fingerprints; the team's policy (severity
overrides, then suppressions by annotation, config and baseline) is applied to each
finding in one place, :func:`kharden.runner.finding`. An input error in one file is recorded in the
report and never hides other findings.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

from .analysis.context import ScanContext
from .analysis.controlplane import parse_version
from .analysis.podspec import TEMPLATE_KINDS
from .baseline import Baseline, load_baseline
from .config import Config
from .errors import InputError, UsageError
from .inventory import Inventory
from .model import BaselineStats, ErrorRecord, Finding, NotEvaluated, Report, RuleRun, Unevaluated
from .paths.findings import on_paths
from .rules import INPUTS, Rule, select
from .runner import Judgement, Runner, finding, template_annotations
from .score import scorecard
from .sources.cluster import BUILTIN_KINDS, ClusterOptions, read_cluster
from .sources.documents import Collected
from .sources.files import DEFAULT_MAX_FILE_BYTES, FileOptions, read_paths
from .sources.imagescan import read_image_report
from .sources.node import read_node
from .sources.snapshot import read_snapshot
from .suppress import Policy

__all__ = ["ScanOptions", "collect", "evaluate", "scan"]


@dataclass(frozen=True)
class ScanOptions:
    rules: tuple[str, ...] = ()
    """Rule ID globs to run (all when empty)."""
    skip_rules: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    jobs: int | None = None
    """Processes that parse files; default: one per CPU when the files are large enough to gain."""
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    stdin: BinaryIO | None = field(default=None, compare=False)
    cluster: ClusterOptions | None = None
    """Read this live cluster too (``--cluster``)."""
    snapshot: str | None = None
    """Read this cluster snapshot too (``--snapshot FILE``)."""
    image_reports: tuple[str, ...] = ()
    """Trivy or Grype JSON reports of the images the workloads run."""
    config: Config | None = None
    """A team's ``.kharden.yaml`` (:func:`~kharden.config.load_config`): rules, severities, ignores."""
    baseline: Baseline | None = None
    """Findings accepted earlier (:func:`~kharden.baseline.load_baseline`); default: the config's."""
    node_roots: tuple[str, ...] = ()
    """Node root directories to read node and control-plane files under (``/`` for this node)."""
    kube_version: str | None = None
    """The cluster's Kubernetes version (``1.29``); else the cluster's or a node root's, else assumed."""
    attack_paths: bool = True
    """Count the attack paths each finding lies on (``Report.attack_paths``; see ``kharden paths``)."""


def scan(paths: Sequence[str], options: ScanOptions | None = None) -> Report:
    """Scan files, directories (kustomizations and charts are rendered) and ``-`` (stdin).

    Raises :class:`~kharden.errors.UsageError` for a rule glob that matches nothing and
    :class:`~kharden.errors.ConfigError` for a baseline that cannot be read and
    :class:`~kharden.errors.ClusterError` when ``options.cluster`` cannot be read; input
    problems are reported in ``Report.errors``.
    """
    options = options or ScanOptions()
    config = options.config or Config()
    rules = select(list(options.rules or config.include), [*config.exclude, *options.skip_rules])
    if options.cluster is not None and options.snapshot is not None:
        raise UsageError("--cluster and --snapshot: scan one cluster at a time")
    baseline = options.baseline
    if baseline is None and config.baseline is not None:
        baseline = load_baseline(config.baseline)
    kube_version = _version(options.kube_version)
    with acyclic_work():
        collected = collect(paths, options)
        report = evaluate(
            collected,
            rules,
            config.policy(rules, baseline),
            kube_version=kube_version,
            attack_paths=options.attack_paths,
        )
    report.generated_at = scan_time()
    return report


def collect(paths: Sequence[str], options: ScanOptions) -> Collected:
    """Read every input as ``scan`` does: what every command that reads manifests starts from."""
    collected = Collected()
    read_paths(
        list(paths),
        collected,
        FileOptions(
            max_file_bytes=options.max_file_bytes,
            jobs=options.jobs,
            helm_values=options.helm_values,
            helm_set=options.helm_set,
            stdin=options.stdin,
        ),
    )
    for path in options.image_reports:
        read_image_report(path, collected, options.max_file_bytes)
    for root in options.node_roots:
        read_node(root, collected)
    if options.snapshot is not None:
        try:
            read_snapshot(options.snapshot, collected, options.max_file_bytes)
        except InputError as e:
            collected.error(e)
    if options.cluster is not None:
        read_cluster(options.cluster, collected)
    return collected


def _version(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    version = parse_version(text)
    if version is None:
        raise UsageError(f"--kube-version {text!r} is not a Kubernetes version (expected e.g. 1.29)")
    return version


def scan_time() -> datetime:
    """Now, or ``SOURCE_DATE_EPOCH`` when set (reproducible reports)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except (ValueError, OverflowError, OSError) as e:
            raise UsageError(f"SOURCE_DATE_EPOCH must be a number of seconds, got {epoch!r}") from e
    return datetime.now(tz=UTC).replace(microsecond=0)


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


def evaluate(
    collected: Collected,
    rules: Sequence[Rule],
    policy: Policy | None = None,
    *,
    kube_version: tuple[int, int] | None = None,
    attack_paths: bool = False,
) -> Report:
    """Run ``rules`` over what the sources collected, and apply ``policy`` to the findings
    (``attack_paths``: and count the attack paths each lies on)."""
    policy = policy or Policy()
    available = _available(collected.evidence)
    inputs = {"image-report"} if collected.image_scans else set()
    runnable = [r for r in rules if r.evidence & available and r.requires <= inputs]
    skipped = {r.id for r in rules} - {r.id for r in runnable}
    not_evaluated = [
        NotEvaluated(
            r.id, "no evidence in this scan: needs " + " or ".join(_NEEDS[e] for e in sorted(r.evidence))
        )
        if not r.evidence & available
        else NotEvaluated(r.id, "needs " + " and ".join(INPUTS[i] for i in sorted(r.requires - inputs)))
        for r in rules
        if r.id in skipped
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
    context = ScanContext(
        Inventory(collected.objects),
        available,
        kube_version=kube_version,
        image_scans=collected.image_scans,
        cluster=collected.cluster,
    )
    runner = Runner(runnable, policy)
    judged = Judgement(not_evaluated=not_evaluated)
    if runner.pod_rules:
        for pod in context.pods:
            runner.pod(pod, judged)
    if runner.object_rules:
        for obj in context.inventory.objects:
            runner.object(obj, judged)
    findings = judged.findings

    for rule in runnable:
        if rule.target == "inventory":
            for hit in rule.check(context):
                if isinstance(hit, Unevaluated):
                    not_evaluated.append(NotEvaluated(rule.id, hit.reason))
                    continue
                if hit.obj is None:  # pragma: no cover - a rule bug, caught by the rule's tests
                    raise ValueError(f"{rule.id}: a whole-inventory hit must name its object")
                findings.append(finding(rule, hit.obj, hit, template_annotations(hit.obj), policy))

    counts = on_paths(context, findings) if attack_paths else None  # before errors: it may build engines
    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    findings.sort(key=_order)
    runs = [
        RuleRun(
            rule.id,
            rule.section,
            policy.severity.get(rule.id, rule.severity),
            _examined(rule, context),
            rule.fix_support,
        )
        for rule in runnable
    ]
    baseline = None
    if policy.baseline is not None:
        matched = policy.baseline.entries.keys() & {f.fingerprint for f in findings}
        baseline = BaselineStats(policy.baseline.file, len(policy.baseline.entries), len(matched))
    return Report(
        findings=findings,
        errors=errors,
        not_evaluated=not_evaluated,
        stats=collected.stats,
        rules_run=len(runnable),
        rules=runs,
        scores=scorecard(runs, findings),
        baseline=baseline,
        attack_paths=counts,
        assumptions=context.assumptions,
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


def _examined(rule: Rule, context: ScanContext) -> int:
    """What a rule checks: every workload, every object of its kinds, or the inventory as one."""
    if rule.target == "pod":
        return len(context.pods)
    if rule.target == "object":
        return len(context.inventory.of_kind(*rule.kinds))
    return 1


def _order(finding: Finding) -> tuple[str, int, int, str, str]:
    location = finding.location
    return (location.file or "", location.line or 0, location.column or 0, finding.rule, finding.fingerprint)
