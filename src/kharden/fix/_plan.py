"""From findings to changes of the objects: each rule's remedy, placed where the field belongs.

A constraint's remedy says *what* makes its test hold (set, remove, add to a list, ...); this
module says *where*, by the field table: a value a container inherits is set on the pod when
every container inherits it and none overrides it, else per container; a container's override
of a good pod-level value is removed rather than repeated; a legacy annotation that decides is
removed (the API server refuses a field and an annotation that disagree). Changes are applied
to a copy of the object, and the rules judge the copy again until nothing more can be fixed
(removing ``privileged: true`` is what lets ``allowPrivilegeEscalation: false`` stand).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _pointer
from ..analysis.podspec import EffectivePod, effective_pod, pod_template_path
from ..errors import InputError
from ..model import Finding, Obj
from ..rules import Rule
from ..rules._constraint import Each, Is, Remedy, Subject, Violation
from ..runner import judge
from ..suppress import Policy
from ._digests import Digests

__all__ = ["Change", "Edit", "ObjectPlan", "Skipped", "plan_object"]

MAX_ROUNDS = 6
TMP_VOLUME = "tmp"
TMP_PATH = "/tmp"  # noqa: S108 - where the emptyDir of a read-only root filesystem is mounted
# Mappings that mean nothing once empty: removed with their last key.
_PRUNABLE = frozenset(
    {
        "securityContext",
        "capabilities",
        "annotations",
        "seccompProfile",
        "appArmorProfile",
        "windowsOptions",
        "seLinuxOptions",
    }
)


@dataclass(frozen=True, slots=True)
class Edit:
    """One change of an object: ``set`` a pointer, ``remove`` it, ``append`` to the list at it,
    ``remove-named`` the items of the list at it whose ``name`` is ``value``."""

    op: str
    path: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class Change:
    """What was changed for one finding, and why it may break the application (``None``: safe)."""

    rule: str
    message: str
    edits: tuple[Edit, ...]
    unsafe: str | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A finding left as it is: it has no automatic fix, or its fix needs ``--unsafe``."""

    rule: str
    message: str
    reason: str
    path: str = ""


@dataclass
class ObjectPlan:
    obj: Obj
    fixed: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def plan_object(
    obj: Obj,
    findings: Sequence[Finding],
    rules: Sequence[Rule],
    policy: Policy,
    *,
    unsafe: bool,
    digests: Digests | None = None,
) -> ObjectPlan:
    """The changes that fix ``findings`` (active findings of ``obj``), and what they lead to.

    Round one fixes the findings given (whole-inventory rules included); later rounds judge the
    changed object again with the per-object rules, for what a first change made fixable.
    """
    by_id = {r.id: r for r in rules}
    plan = ObjectPlan(obj, copy.deepcopy(dict(obj.raw)))
    current = list(findings)
    seen: set[tuple[str, str, str]] = set()
    for _ in range(MAX_ROUNDS):
        working = Obj(raw=plan.fixed, ref=obj.ref, origin=obj.origin)
        edits: list[Edit] = []
        for finding in current:
            key = (finding.rule, finding.location.path, finding.message)
            rule = by_id.get(finding.rule)
            if rule is None or key in seen:
                continue
            seen.add(key)
            change, skip = _remedy(rule, working, finding, unsafe=unsafe, digests=digests)
            if change is not None:
                plan.changes.append(change)
                edits.extend(change.edits)
            elif skip is not None:
                plan.skipped.append(skip)
        if not edits:
            break
        apply(plan.fixed, edits)
        judged = judge(Obj(raw=plan.fixed, ref=obj.ref, origin=obj.origin), rules, policy)
        current = [f for f in judged.findings if f.suppressed is None]
    # A finding skipped early may have been fixed by a later change (of another rule).
    left = {(f.rule, f.location.path) for f in current}
    plan.skipped = [
        s for s in plan.skipped if (s.rule, s.path) in left or by_id[s.rule].target == "inventory"
    ]
    return plan


def _remedy(
    rule: Rule, obj: Obj, finding: Finding, *, unsafe: bool, digests: Digests | None
) -> tuple[Change | None, Skipped | None]:
    if not rule.remedies:
        return None, Skipped(rule.id, finding.message, path=finding.location.path, reason="no automatic fix")
    if rule.constraints:
        violation = _violation(rule, obj, finding)
        if violation is None:  # pragma: no cover - the finding came from these constraints
            return None, None
        return _constraint_change(rule, violation, finding, unsafe=unsafe)
    remedy = rule.remedy
    assert remedy is not None
    if remedy.unsafe is not None and not unsafe:
        return None, Skipped(
            rule.id, finding.message, path=finding.location.path, reason=f"needs --unsafe: {remedy.unsafe}"
        )
    edits = _rule_edits(remedy, obj, finding.location.path, digests)
    if not edits and remedy.action == "pin-digest":
        return None, Skipped(
            rule.id,
            finding.message,
            path=finding.location.path,
            reason="no digest known for the image: give --digests FILE or --image-report FILE",
        )
    if not edits:
        return None, Skipped(rule.id, finding.message, path=finding.location.path, reason="no automatic fix")
    return Change(rule.id, finding.message, tuple(edits), remedy.unsafe), None


def _pod(obj: Obj) -> EffectivePod | None:
    path = pod_template_path(obj)
    if path is None:
        return None
    try:
        return effective_pod(obj, path)
    except InputError:
        return None


def _violation(rule: Rule, obj: Obj, finding: Finding) -> Violation | None:
    pod = _pod(obj)
    if pod is None:
        return None
    for constraint in rule.constraints:
        for violation in constraint.violations(pod):
            hit = violation.hit()
            if (hit.path, hit.message, hit.container) == (
                finding.location.path,
                finding.message,
                finding.container,
            ):
                return violation
    return None


def _constraint_change(
    rule: Rule, violation: Violation, finding: Finding, *, unsafe: bool
) -> tuple[Change | None, Skipped | None]:
    constraint = violation.constraint
    edits: list[Edit] = []
    reasons: list[str] = []
    for subject, leaves in constraint.failing(violation):
        for leaf in leaves:
            if leaf.fix is None:
                return None, Skipped(
                    rule.id, finding.message, path=finding.location.path, reason="no automatic fix"
                )
            if leaf.fix.unsafe is not None:
                if not unsafe:
                    return None, Skipped(
                        rule.id,
                        finding.message,
                        path=finding.location.path,
                        reason=f"needs --unsafe: {leaf.fix.unsafe}",
                    )
                reasons.append(leaf.fix.unsafe)
            placed = _leaf_edits(leaf, subject, violation)
            if not placed:
                return None, Skipped(
                    rule.id, finding.message, path=finding.location.path, reason="no automatic fix"
                )
            edits.extend(placed)
    if not edits:
        return None, None
    why = "; ".join(dict.fromkeys(reasons)) or None
    return Change(rule.id, finding.message, _unique(edits), why), None


def _unique(edits: list[Edit]) -> tuple[Edit, ...]:
    seen: dict[str, Edit] = {}
    for edit in edits:
        seen.setdefault(repr(edit), edit)
    return tuple(seen.values())


def _leaf_edits(leaf: Is, subject: Subject, violation: Violation) -> list[Edit]:
    remedy = leaf.fix
    assert remedy is not None
    pod = subject.pod
    if leaf.row is None:  # a test on one item of a list: the hit points at the item
        if remedy.action == "remove-items":
            return [Edit("remove", violation.field.path)]
        if remedy.action == "remove-volume":
            return _remove_volume(pod, violation.field.path)
        return []
    row = leaf.row
    found = leaf.field_of(subject)
    container = subject.container
    if remedy.action in {"set", "read-only-root"}:
        edits = _set(leaf, subject, remedy.value)
        if remedy.action == "read-only-root" and container is not None:
            edits += _tmp_volume(pod, container.path, container.list_name, container.index)
        return edits
    if remedy.action == "remove":
        if found.source == "annotation" or not row.container or not (row.container or "").endswith("/type"):
            return [Edit("remove", found.path)]
        return [Edit("remove", found.path.rsplit("/", 1)[0])]  # a profile without its type is invalid
    if remedy.action == "add-item":
        if found.source is None:
            return [Edit("set", found.path, [remedy.value])]
        return [Edit("append", found.path, remedy.value)]
    if remedy.action == "remove-items" and isinstance(leaf.pred, Each):
        items = getattr(container, row.attr) if container is not None else getattr(pod, row.attr)
        return [Edit("remove", item.path) for item in items if not leaf.pred.item.py(item.value)]
    return []


def _set(leaf: Is, subject: Subject, value: Any) -> list[Edit]:
    """Set the field where it belongs (see the module's docstring)."""
    row = leaf.row
    assert row is not None
    pod, container = subject.pod, subject.container
    found = leaf.field_of(subject)
    if container is None or row.container is None:
        return [Edit("set", _pointer_of(pod.spec_path, row.pod), value)]
    if found.source == "annotation":
        return [Edit("remove", found.path)]  # the field or the pod's value decides next round
    if found.source == "pod":
        return [Edit("set", found.path, value)]
    if found.source == "container":
        if row.pod is not None and _pod_value_holds(leaf, pod):
            return [Edit("remove", found.path)]  # inherit the pod's value instead of repeating it
        return [Edit("set", found.path, value)]
    # Unset: on the pod when every container inherits it and none overrides it.
    if row.pod is not None and _all_unset(leaf, pod):
        return [Edit("set", _pointer_of(pod.spec_path, row.pod), value)]
    return [Edit("set", _pointer_of(container.path, row.container), value)]


def _pod_value_holds(leaf: Is, pod: EffectivePod) -> bool:
    """Whether the pod-level field is set and passes ``leaf``."""
    assert leaf.row is not None
    assert leaf.row.pod is not None
    node: Any = pod.obj.raw
    for token in _pointer.split(_pointer_of(pod.spec_path, leaf.row.pod)):
        if not isinstance(node, dict) or node.get(token) is None:
            return False
        node = node[token]
    return leaf.pred.py(node)


def _all_unset(leaf: Is, pod: EffectivePod) -> bool:
    return all(leaf.field_of(Subject(pod, c)).source is None for c in pod.containers)


def _pointer_of(base: str, relative: str | None) -> str:
    assert relative is not None
    return base + "/" + relative


def _tmp_volume(pod: EffectivePod, path: str, list_name: str, index: int) -> list[Edit]:
    """An emptyDir mounted at /tmp, unless the container already mounts something there."""
    raw: Any = pod.obj.raw
    for token in _pointer.split(path):
        raw = raw[int(token)] if isinstance(raw, list) else raw[token]
    mounts = raw.get("volumeMounts") or []
    if any(isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == TMP_PATH for m in mounts):
        return []
    names = {v.name for v in pod.volumes}
    name = TMP_VOLUME if TMP_VOLUME not in names else "kharden-tmp"
    edits = [Edit("append", f"{path}/volumeMounts", {"name": name, "mountPath": TMP_PATH})]
    if name not in names:
        edits.append(Edit("append", f"{pod.spec_path}/volumes", {"name": name, "emptyDir": {}}))
    return edits


def _remove_volume(pod: EffectivePod, path: str) -> list[Edit]:
    """A hostPath volume and every mount of it; other volume types are left (data may live there)."""
    for volume in pod.volumes:
        if path.startswith(volume.path) and volume.type == "hostPath":
            index = volume.path.rsplit("/", 2)[-2]
            edits = [Edit("remove", f"{pod.spec_path}/volumes/{index}")]
            for container in pod.containers:
                edits.append(Edit("remove-named", f"{container.path}/volumeMounts", volume.name))
                edits.append(Edit("remove-named", f"{container.path}/volumeDevices", volume.name))
            return edits
    return []


def _rule_edits(remedy: Remedy, obj: Obj, path: str, digests: Digests | None) -> list[Edit]:
    """The remedy of a rule written as code, at the finding's pointer."""
    if remedy.action == "pin-digest":
        node: Any = obj.raw
        for token in _pointer.split(path):
            node = node[int(token)] if isinstance(node, list) else node.get(token)
        pinned = digests.pin(node) if digests is not None and isinstance(node, str) else None
        return [Edit("set", path, pinned)] if pinned else []
    if remedy.action == "set":
        return [Edit("set", path, remedy.value)]
    if remedy.action == "remove-volume":
        pod = _pod(obj)
        return _remove_volume(pod, path) if pod is not None else []
    return []


# ---------------------------------------------------------------------------------------------- apply


def apply(raw: dict[str, Any], edits: Iterable[Edit]) -> None:
    """Apply ``edits`` to ``raw`` in place; list items are removed last, highest index first."""
    ordered = sorted(edits, key=_apply_order)
    for edit in ordered:
        if edit.op == "set":
            _set_path(raw, edit.path, copy.deepcopy(edit.value))
        elif edit.op == "append":
            parent, key = _parent(raw, edit.path, create=True)
            if parent is not None:
                items = parent.get(key)
                if not isinstance(items, list):
                    items = parent[key] = []
                if edit.value not in items:
                    items.append(copy.deepcopy(edit.value))
        elif edit.op == "remove-named":
            parent, key = _parent(raw, edit.path, create=False)
            if parent is not None and isinstance(parent.get(key), list):
                parent[key] = [
                    i for i in parent[key] if not (isinstance(i, dict) and i.get("name") == edit.value)
                ]
                if not parent[key]:
                    del parent[key]
        else:
            _remove_path(raw, edit.path)


def _apply_order(edit: Edit) -> tuple[int, str, int]:
    tokens = _pointer.split(edit.path)
    last = tokens[-1] if tokens else ""
    if edit.op == "remove" and last.isdigit():
        return (2, "/".join(tokens[:-1]), -int(last))
    return (1 if edit.op == "remove-named" else 0, "", 0)


def _parent(raw: Any, path: str, *, create: bool) -> tuple[Any, str]:
    tokens = _pointer.split(path)
    node = raw
    for token in tokens[:-1]:
        if isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                return None, ""
            node = node[int(token)]
        elif isinstance(node, dict):
            if token not in node or node[token] is None:
                if not create:
                    return None, ""
                node[token] = {}
            node = node[token]
        else:
            return None, ""
    return (node if isinstance(node, dict) else None), tokens[-1]


def _set_path(raw: Any, path: str, value: Any) -> None:
    parent, key = _parent(raw, path, create=True)
    if parent is not None:
        parent[key] = value


def _remove_path(raw: Any, path: str) -> None:
    tokens = _pointer.split(path)
    chain: list[tuple[Any, str | int]] = []
    node = raw
    for token in tokens:
        if isinstance(node, dict) and token in node:
            chain.append((node, token))
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            chain.append((node, int(token)))
            node = node[int(token)]
        else:
            return
    container, key = chain[-1]
    del container[key]
    # Prune what the removal left empty: a list, or a mapping that means nothing without keys.
    for parent, parent_key in reversed(chain[:-1]):
        child = parent[parent_key]
        if (isinstance(child, list) and not child) or (
            isinstance(child, dict) and not child and parent_key in _PRUNABLE
        ):
            del parent[parent_key]
        else:
            break
