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
from typing import TYPE_CHECKING, BinaryIO

from . import _fork
from ._yaml import new_shared
from .analysis.context import ScanContext
from .analysis.controlplane import parse_version
from .analysis.podspec import TEMPLATE_KINDS
from .baseline import Baseline, load_baseline
from .config import Config
from .errors import InputError, UsageError
from .fingerprint import object_instances, tell_apart
from .inventory import Inventory
from .model import (
    BaselineStats,
    ErrorRecord,
    Finding,
    NotEvaluated,
    Obj,
    Report,
    RuleRun,
    Severity,
    Unevaluated,
)
from .rules import INPUTS, Rule, select
from .runner import Judgement, Runner, template_annotations
from .score import scorecard
from .sources.documents import Collected
from .sources.files import DEFAULT_MAX_FILE_BYTES, FileOptions, read_paths
from .sources.imagescan import read_image_report
from .sources.node import read_node
from .suppress import Policy

if TYPE_CHECKING:  # a cluster's reader (its HTTP, TLS and decoders) is imported by the scans that read one
    from .sources.cluster import ClusterOptions

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
    stdin_name: str | None = None
    """The file stdin's objects are reported under (``--stdin-name``): what a SARIF result needs."""
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
    allow_empty: bool = False
    """Accept inputs that give nothing to judge; else each is an input error (``--allow-empty``)."""
    share: bool = True
    """Objects read from files share their repeated parts (``Collected.shared``): read them, never write to
    them (a command that edits what it read sets this ``False``)."""
    severities: frozenset[Severity] | None = None
    """Report only findings of these severities (``--severity``); the scores stay the whole checklist's."""


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
    keep = _kept if _fork.enabled else None
    with acyclic_work():
        collected = collect(paths, options)
        report = evaluate(
            collected,
            rules,
            config.policy(rules, baseline),
            kube_version=kube_version,
            attack_paths=options.attack_paths,
            keep=keep,
        )
    if keep is not None:
        keep += (collected, report)
    if options.severities is not None:
        report.findings = [f for f in report.findings if f.severity in options.severities]
    report.generated_at = scan_time()
    return report


def collect(paths: Sequence[str], options: ScanOptions) -> Collected:
    """Read every input as ``scan`` does: what every command that reads manifests starts from.

    An input that gives nothing to judge (paths without a Kubernetes object, a node root without a
    control-plane component or kubelet, an empty snapshot or cluster) is an input error unless
    ``options.allow_empty``: a wrong directory or a failed ``kubectl get > file`` must not pass.
    """
    collected = Collected(shared=new_shared() if options.share else None)
    empty = _Emptiness(collected, options.allow_empty)
    if paths:
        with empty.watch(_named(paths), "no Kubernetes object in the files read"):
            read_paths(
                list(paths),
                collected,
                FileOptions(
                    max_file_bytes=options.max_file_bytes,
                    jobs=options.jobs,
                    helm_values=options.helm_values,
                    helm_set=options.helm_set,
                    stdin=options.stdin,
                    stdin_name=options.stdin_name,
                ),
            )
    collected.shared = None  # every file read: the table of shared containers is needed no more
    for path in options.image_reports:
        read_image_report(path, collected, options.max_file_bytes)
    for root in options.node_roots:
        with empty.watch(root, _EMPTY_NODE) as found:
            found.append(read_node(root, collected))
    if options.snapshot is not None:
        from .sources.snapshot import read_snapshot  # noqa: PLC0415

        with empty.watch(options.snapshot, "the snapshot holds no object"):
            try:
                read_snapshot(options.snapshot, collected, options.max_file_bytes)
            except InputError as e:
                collected.error(e)
    if options.cluster is not None:
        from .sources.cluster import read_cluster  # noqa: PLC0415

        with empty.watch(f"cluster {options.cluster.context or ''}".strip(), "no object could be read"):
            read_cluster(options.cluster, collected)
    return collected


_EMPTY_NODE = (
    "no control-plane component or kubelet under this node root (no static pod, kubelet unit, flags or"
    " KubeletConfiguration, k3s or RKE2 configuration)"
)


@dataclass
class _Emptiness:
    """Turns an input that gave nothing to judge, and no error either, into an input error."""

    collected: Collected
    allowed: bool

    @contextmanager
    def watch(self, name: str, what: str) -> Iterator[list[bool]]:
        """Watch one input being read; the caller may append whether it found what counts."""
        objects, errors = len(self.collected.objects), len(self.collected.errors)
        found: list[bool] = []
        yield found
        if self.allowed or len(self.collected.errors) > errors:
            return
        if all(found) and len(self.collected.objects) > objects:
            return
        self.collected.error(InputError(f"{what}; nothing to judge (--allow-empty accepts it)", file=name))


def _named(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:3])
    return shown + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


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


_kept: list[object] = []
"""What the command's scan is done with (the objects read, the engines, the effective pods), and its report
once written, kept to the end of the command rather than freed: ``kharden`` ends with ``os._exit``
(``cli.run``), and freeing millions of objects one by one before it is time for nothing (manifests-100k:
0.37 s, and 0.2 s more for the report). Only :func:`scan` under the command keeps them (once a command): a
program that calls it, and the commands that evaluate again and again (``kharden fix`` on each chart), get
their memory back as ever."""


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
    keep: list[object] | None = None,
) -> Report:
    """Run ``rules`` over what the sources collected, and apply ``policy`` to the findings
    (``attack_paths``: and count the attack paths each lies on; ``keep``: where to put what the evaluation is
    done with, its context and runner, rather than free it (see ``_kept``))."""
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
    pod_rules = any(rule.target == "pod" for rule in runnable)
    context = ScanContext(
        Inventory(collected.objects),
        available,
        kube_version=kube_version,
        image_scans=collected.image_scans,
        cluster=collected.cluster,
        whole_pods=pod_rules,
    )
    counting = sums = None
    # The count in a child, where the command may fork, while the rules run here: only with the pod rules
    # to run, else the child, which builds the engines again, holds this process up (a scan of six network
    # rules on 3,000 pods: 0.62 -> 0.80 s). Else it is worked out here before the rules (see count_early).
    if attack_paths and pod_rules:
        from .paths.findings import count_ahead, count_early  # noqa: PLC0415 - only when counted

        counting = count_ahead(context)
        if counting is None:
            context.pods  # noqa: B018 - first, as without the count: its errors are the rules'
            sums = count_early(context)
    instances = object_instances(context.inventory.objects)
    runner = Runner(runnable, policy, instances, context.pod_answers)
    judged = Judgement(not_evaluated=not_evaluated)
    if runner.pod_rules:
        for pod in context.pods:
            runner.pod(pod, judged)
    if runner.object_rules:
        for obj in context.inventory.objects:
            runner.object(obj, judged)
    findings = judged.findings

    inventory_rules = [r for r in runnable if r.target == "inventory"]
    undecided = _run_inventory(inventory_rules, context, runner, findings, not_evaluated)

    findings.sort(key=_order)
    _tell_apart(findings, policy)  # final fingerprints, before the attack paths count by them
    counts = None
    if attack_paths:  # before errors: it may build engines
        from .paths.findings import on_paths  # noqa: PLC0415 - networkx and the graph, only when counted

        if counting is not None:
            counts = counting.counts(context, findings)
        else:
            counts = on_paths(context, findings, sums)
    errors = collected.errors + [ErrorRecord(e.file, e.line, e.message) for e in context.errors]
    runs = [
        RuleRun(
            rule.id,
            rule.section,
            policy.severity.get(rule.id, rule.severity),
            _examined(rule, context) if rule.id not in undecided else 0,
            rule.fix_support,
        )
        for rule in runnable
    ]
    if keep is not None:
        keep += (context, runner)
    return Report(
        findings=findings,
        errors=errors,
        not_evaluated=not_evaluated,
        stats=collected.stats,
        rules_run=len(runnable),
        rules=runs,
        scores=scorecard(runs, findings),
        baseline=_baseline_stats(policy, findings),
        attack_paths=counts,
        assumptions=context.assumptions,
    )


def _baseline_stats(policy: Policy, findings: Sequence[Finding]) -> BaselineStats | None:
    """How many of the baseline's entries the findings matched, if the policy has a baseline."""
    if policy.baseline is None:
        return None
    matched = policy.baseline.entries.keys() & {f.fingerprint for f in findings}
    return BaselineStats(policy.baseline.file, len(policy.baseline.entries), len(matched))


def _run_inventory(
    rules: Sequence[Rule],
    context: ScanContext,
    runner: Runner,
    findings: list[Finding],
    not_evaluated: list[NotEvaluated],
) -> set[str]:
    """Run the whole-inventory rules; the IDs of those that could only say what they could not judge
    (they examined nothing: a section of such rules scores n/a, never 100)."""
    undecided: set[str] = set()
    read: dict[Obj, Mapping[str, str]] = {}  # template annotations by object: read once, not per finding
    for rule in rules:
        found = 0
        for hit in context.answer(rule):
            if isinstance(hit, Unevaluated):
                not_evaluated.append(NotEvaluated(rule.id, hit.reason))
                undecided.add(rule.id)
                continue
            found += 1
            if hit.obj is None:  # pragma: no cover - a rule bug, caught by the rule's tests
                raise ValueError(f"{rule.id}: a whole-inventory hit must name its object")
            annotations = read.get(hit.obj)
            if annotations is None:
                annotations = read[hit.obj] = template_annotations(hit.obj)
            findings.append(runner.finding(rule, hit.obj, hit, annotations))
        if found:
            undecided.discard(rule.id)
    return undecided


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
        from .sources.cluster import BUILTIN_KINDS  # noqa: PLC0415 - only cluster scans have unread kinds

        kinds = unread.keys() & (BUILTIN_KINDS - {"Secret"})
    return [unread[kind] for kind in sorted(kinds)]


def _examined(rule: Rule, context: ScanContext) -> int:
    """What a rule checks: every workload, every object of its kinds, or the inventory as one (when it
    holds some of the kinds the rule reads: RBAC rules judge nothing in a scan without RBAC objects)."""
    if rule.target == "pod":
        return len(context.pods)
    if rule.target == "object":
        return len(context.inventory.of_kind(*rule.kinds))
    if rule.needs is not None and not context.inventory.of_kind(*rule.needs):
        return 0
    return 1


def _tell_apart(findings: list[Finding], policy: Policy) -> None:
    """Give the findings on copies of one object fingerprints of their own (see
    :func:`~kharden.fingerprint.tell_apart`); the baseline is asked again about their new ones."""
    changed = tell_apart(findings)
    for index, fingerprint in changed.items():
        finding = findings[index]
        suppressed = finding.suppressed
        if suppressed is None or suppressed.kind == "baseline":
            suppressed = policy.baseline_suppression(fingerprint, finding.severity)
        findings[index] = finding._replace(fingerprint=fingerprint, suppressed=suppressed)
    if changed:
        findings.sort(key=_order)


def _order(finding: Finding) -> tuple[str, int, int, str, str]:
    location = finding.location
    return (location.file or "", location.line or 0, location.column or 0, finding.rule, finding.fingerprint)
