"""``kharden generate pod-security``: Pod Security Admission labels for every namespace with workloads.

``enforce`` is the strictest level that every workload of the namespace passes today (restricted, else
baseline), so that applying the labels rejects no pod that runs now; ``warn`` and ``audit`` are
``restricted``, so that what keeps a namespace below it shows at every deploy and in the audit log. A
namespace where some workload fails even baseline gets no ``enforce`` label (privileged is what it has);
an ``enforce`` label already stricter than what the workloads pass is kept, never loosened, and the
workloads it would reject are named. kube-system is left alone (its components need the host).

The report lists, per namespace below restricted, the workloads that keep it there and the controls
they fail (:mod:`kharden.analysis.pss`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..analysis.context import ScanContext
from ..analysis.podspec import EffectivePod
from ..analysis.pss import LEVELS, Violation, violations
from ..analysis.staticpods import is_static_pod
from .model import GENERATED_BY, REASON, Generated, Item

__all__ = ["ENFORCE", "generate_pod_security"]

ENFORCE = "pod-security.kubernetes.io/enforce"
WARN = "pod-security.kubernetes.io/warn"
AUDIT = "pod-security.kubernetes.io/audit"
SKIPPED = ("kube-system",)
_DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def generate_pod_security(context: ScanContext) -> Generated:
    out = Generated("pod-security")
    by_namespace: dict[str, list[EffectivePod]] = {}
    for pod in context.pods:
        if is_static_pod(pod.obj):
            continue
        by_namespace.setdefault(pod.obj.ref.namespace or "default", []).append(pod)
    for namespace_obj in context.inventory.of_kind("Namespace"):
        by_namespace.setdefault(namespace_obj.ref.name, [])
    for namespace in sorted(by_namespace):
        if namespace in SKIPPED:
            out.inform(f"namespace {namespace}: left alone (its components run privileged by design)")
            continue
        _namespace(out, context, namespace, by_namespace[namespace])
    return out


def _namespace(out: Generated, context: ScanContext, namespace: str, pods: list[EffectivePod]) -> None:
    failing: dict[str, list[tuple[EffectivePod, list[Violation]]]] = {"baseline": [], "restricted": []}
    for pod in pods:
        found = list(violations(pod))
        for level in ("baseline", "restricted"):
            # A workload below baseline also keeps the namespace below restricted: list it once, at baseline.
            mine = [v for v in found if v.level == level]
            if mine and not (level == "restricted" and any(v.level == "baseline" for v in found)):
                failing[level].append((pod, mine))
    level = "privileged" if failing["baseline"] else "baseline" if failing["restricted"] else "restricted"
    existing = context.inventory.get("Namespace", None, namespace)
    labels = dict(existing.labels) if existing is not None else {}
    written = labels.get(ENFORCE)
    enforce = level
    if written in LEVELS and LEVELS.index(written) > LEVELS.index(level):
        enforce = written
        rejected = failing["baseline"] + (failing["restricted"] if written == "restricted" else [])
        out.warn(
            f"namespace {namespace}: already enforces {written}, which rejects "
            + "; ".join(_why(pod, found) for pod, found in rejected)
            + ": the label is kept"
        )
    new = dict(labels)
    if enforce != "privileged":
        new[ENFORCE] = enforce
    new[WARN] = "restricted"
    new[AUDIT] = "restricted"
    why = _reason(namespace, enforce, pods, failing)
    if level != "restricted":
        below = failing["baseline"] + failing["restricted"]
        out.warn(f"namespace {namespace} stays below restricted: " + "; ".join(_why(p, f) for p, f in below))
    out.summary.append(
        f"namespace {namespace}: enforce {enforce if enforce != 'privileged' else '(none: privileged)'},"
        " warn and audit restricted"
    )
    if new == labels:
        return
    metadata: dict[str, Any] = {"name": namespace, "labels": new}
    annotations = {
        k: v
        for k, v in (existing.annotations if existing is not None else {}).items()
        if k not in _DROPPED_ANNOTATIONS
    }
    annotations[GENERATED_BY] = "kharden generate pod-security"
    annotations[REASON] = why
    metadata["annotations"] = annotations
    out.items.append(
        Item({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}, why, existing is not None)
    )


def _reason(namespace: str, enforce: str, pods: list[EffectivePod], failing: Mapping[str, list[Any]]) -> str:
    count = len({p.obj.ref for p in pods})
    workloads = f"{count} workload{'s' * (count != 1)}"
    if enforce == "restricted":
        return f"all {workloads} of namespace {namespace} pass restricted: it is enforced"
    if enforce == "baseline":
        return (
            f"the {workloads} of namespace {namespace} pass baseline, {len(failing['restricted'])} fail"
            " restricted: baseline is enforced, restricted warned about and audited"
        )
    return (
        f"{len(failing['baseline'])} of the {workloads} of namespace {namespace} fail even baseline:"
        " nothing is enforced yet, restricted is warned about and audited"
    )


def _why(pod: EffectivePod, found: list[Violation]) -> str:
    controls = ", ".join(dict.fromkeys(str(v) for v in found))
    ref = pod.obj.ref
    return f"{ref.kind} {ref.name}: {controls}"
