"""``kharden generate serviceaccounts``: a ServiceAccount for each workload that runs as ``default`` or
shares its ServiceAccount with other workloads (``sa.default``, ``sa.shared``).

- The new ServiceAccount is named after the workload and sets ``automountServiceAccountToken: false``,
  unless an RBAC binding grants the shared ServiceAccount something by name: then the token stays
  mounted and each such binding is copied for the new ServiceAccount (same role, the new subject), so
  the workload keeps the permissions it runs with today. The copies carry the reason and say to review
  them: what the workload needs is often less than what its shared identity held. Grants to groups
  (``system:serviceaccounts[:NAMESPACE]``) need no copy: the new ServiceAccount is in them too. What a
  binding grants ``default`` was given to every pod that names no ServiceAccount (``rbac.default-sa-bound``)
  and is not copied: the report names it, for the user to bind what the workload really needs.
- The workload's ``serviceAccountName``: with ``--write``, set in the workload's own file by ``kharden
  fix``'s in-place editor (:func:`assign`: only that line is added or changed), or, for a kustomization,
  by a JSON 6902 patch in it (``fix``'s kustomize patches: the bases are never edited); ``-o DIR``
  writes a strategic-merge patch per workload under ``patches/``; printed output lists the equivalent
  ``kubectl patch`` commands.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from .. import _pointer
from ..analysis.context import ScanContext
from ..analysis.rbac import Binding, Subject
from ..analysis.serviceaccounts import DEFAULT, WorkloadAccount
from ..fix import Change, Edit, ObjectPlan
from ..model import Obj, ObjRef
from .model import GENERATED_BY, REASON, Assignment, Generated, Item

__all__ = ["assign", "generate_serviceaccounts", "kubectl_patches"]

_BY = "kharden generate serviceaccounts"


def generate_serviceaccounts(context: ScanContext) -> Generated:
    out = Generated("serviceaccounts")
    accounts = context.service_accounts
    taken: dict[str, set[str]] = {}  # namespace -> ServiceAccount names in use or generated
    for subject in accounts.accounts:
        taken.setdefault(subject.namespace or DEFAULT, set()).add(subject.name)
    for subject in accounts.by_account:
        taken.setdefault(subject.namespace or DEFAULT, set()).add(subject.name)
    moving: list[tuple[WorkloadAccount, str, str]] = []
    for subject, workloads in sorted(accounts.by_account.items(), key=lambda kv: str(kv[0])):
        refs = sorted({w.pod.obj.ref for w in workloads})
        if subject.name != DEFAULT and len(refs) < 2:
            continue
        why = (
            "runs as the namespace's default ServiceAccount"
            if subject.name == DEFAULT
            else (
                f"shares ServiceAccount {subject.name} with {len(refs) - 1}"
                f" other workload{'s' * (len(refs) > 2)}"
            )
        )
        seen = set()
        for workload in sorted(workloads, key=lambda w: w.pod.obj.ref):
            ref = workload.pod.obj.ref
            if ref in seen:
                continue
            seen.add(ref)
            namespace = ref.namespace or DEFAULT
            name = _free_name(ref.name, ref.kind, taken.setdefault(namespace, set()))
            moving.append((workload, name, "sa.default" if subject.name == DEFAULT else "sa.shared"))
            _account(out, context, workload, name, why)
    for workload, name, rule in moving:
        _patch(out, workload, name)
        out.assignments.append(Assignment(workload.pod.obj, workload.pod.spec_path, name, rule))
    if not moving:
        out.inform("every workload already runs as a ServiceAccount of its own")
    else:
        out.summary.append(
            f"{len(moving)} ServiceAccount{'s' * (len(moving) != 1)} for workloads that ran as default"
            " or shared one"
        )
    return out


def _free_name(name: str, kind: str, taken: set[str]) -> str:
    candidate = name
    if candidate in taken:
        candidate = f"{name}-{kind.lower()}"
    index = 2
    base = candidate
    while candidate in taken:
        candidate = f"{base}-{index}"
        index += 1
    taken.add(candidate)
    return candidate


def _account(out: Generated, context: ScanContext, workload: WorkloadAccount, name: str, why: str) -> None:
    ref = workload.pod.obj.ref
    namespace = ref.namespace or DEFAULT
    old = workload.account
    granted = [
        binding
        for binding, named, _ in context.rbac.bindings_of(old)
        if not binding.stock and named.kind != "Group"
    ]
    granted = list({id(b): b for b in granted}.values())
    # What a shared ServiceAccount holds was given to its workloads; what `default` holds was given to
    # every pod that names no account (rbac.default-sa-bound): it is not copied.
    bindings = [] if old.name == DEFAULT else granted
    reason = f"{ref.kind} {namespace}/{ref.name} {why}: it gets an identity of its own"
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kharden"},
            "annotations": {GENERATED_BY: _BY, REASON: reason},
        },
    }
    if not bindings:
        account["automountServiceAccountToken"] = False
        reason += "; no RBAC binding grants it anything, so no token is mounted"
    account["metadata"]["annotations"][REASON] = reason
    out.items.append(Item(account, reason))
    for binding in sorted(
        bindings, key=lambda b: (b.obj.ref.kind, b.obj.ref.namespace or "", b.obj.ref.name)
    ):
        out.items.append(_copy(binding, old, Subject.service_account(namespace, name), ref.kind, ref.name))
    if granted and not bindings:
        out.warn(
            f"{ref.kind} {namespace}/{ref.name} ran as {old}, which "
            + ", ".join(b.label for b in granted)
            + f" grants permissions: its ServiceAccount {name} gets none of them (and no token); bind what it"
            " really needs to it",
            "default-grants",
        )
    if bindings:
        out.warn(
            f"{ref.kind} {namespace}/{ref.name}: its ServiceAccount {name} gets copies of "
            + ", ".join(b.label for b in bindings)
            + f" (granted to {old}): review which permissions it really needs"
        )


def _copy(binding: Binding, old: Subject, new: Subject, kind: str, workload: str) -> Item:
    obj = binding.obj
    role_ref = obj.raw.get("roleRef")
    name = f"{obj.ref.name}-{new.name}"
    metadata: dict[str, Any] = {"name": name}
    if obj.ref.namespace is not None and obj.ref.kind == "RoleBinding":
        metadata["namespace"] = obj.ref.namespace
    reason = (
        f"copy of {obj.ref.kind} {obj.ref.name}, which grants {old} that {kind} {workload} ran as:"
        f" the same role for its own ServiceAccount {new.name} (review: it may need less)"
    )
    metadata["labels"] = {"app.kubernetes.io/managed-by": "kharden"}
    metadata["annotations"] = {GENERATED_BY: _BY, REASON: reason}
    raw = {
        "apiVersion": obj.ref.api_version or "rbac.authorization.k8s.io/v1",
        "kind": obj.ref.kind,
        "metadata": metadata,
        "roleRef": dict(role_ref) if isinstance(role_ref, Mapping) else {},
        "subjects": [{"kind": "ServiceAccount", "name": new.name, "namespace": new.namespace}],
    }
    return Item(raw, reason)


def _patch(out: Generated, workload: WorkloadAccount, name: str) -> None:
    obj = workload.pod.obj
    ref = obj.ref
    spec: dict[str, Any] = {"serviceAccountName": name}
    tokens = _pointer.split(workload.pod.spec_path)
    patch: dict[str, Any] = spec
    for token in reversed(tokens):
        patch = {token: patch}
    document = {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace or DEFAULT},
        **patch,
    }
    why = f"{ref.kind} {ref.namespace or DEFAULT}/{ref.name} runs as ServiceAccount {name}"
    stem = f"serviceaccount-{ref.namespace or DEFAULT}-{ref.kind.lower()}-{ref.name}"
    out.patches.append((stem, document, why))


def kubectl_patches(out: Generated) -> list[str]:
    """The patches as ``kubectl patch`` commands (for printed output)."""
    lines = []
    for _, document, _ in out.patches:
        metadata = document["metadata"]
        body = {k: v for k, v in document.items() if k not in {"apiVersion", "kind", "metadata"}}
        lines.append(
            f"kubectl -n {metadata['namespace']} patch {document['kind'].lower()} {metadata['name']}"
            f" -p '{json.dumps(body, separators=(',', ':'))}'"
        )
    return lines


def assign(assignments: list[Assignment], placed: set[ObjRef]) -> Callable[[Obj], ObjectPlan | None]:
    """For ``fix.plan_edits``: the plan that sets an assigned workload's ``serviceAccountName`` (and the
    deprecated ``serviceAccount``, where written, to the same name). Workloads are recognised by the
    file they were read from and their reference; two of one name in one file are left alone. Each
    workload planned is added to ``placed``."""
    by_key: dict[tuple[str | None, ObjRef], Assignment | None] = {}
    for a in assignments:
        key = (a.workload.origin.file, a.workload.ref)
        by_key[key] = None if key in by_key else a

    def edit(obj: Obj) -> ObjectPlan | None:
        found = by_key.get((obj.origin.file, obj.ref))
        if found is None:
            return None
        fixed = copy.deepcopy(dict(obj.raw))
        spec: Any = fixed
        for token in _pointer.split(found.spec_path):
            spec = spec.get(token) if isinstance(spec, dict) else None
        if not isinstance(spec, dict):
            return None
        edits = [Edit("set", found.spec_path + "/serviceAccountName", found.account)]
        spec["serviceAccountName"] = found.account
        if "serviceAccount" in spec:
            spec["serviceAccount"] = found.account
            edits.append(Edit("set", found.spec_path + "/serviceAccount", found.account))
        placed.add(obj.ref)
        message = f"{obj.ref.kind} {obj.ref.name} runs as ServiceAccount {found.account}"
        return ObjectPlan(obj, fixed, [Change(found.rule, message, tuple(edits))])

    return edit
