"""``kharden who-can`` answers as text (grouped by subject) or JSON."""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from .. import __version__
from .._display import printable
from ..analysis.rbac import Binding, Grant, RoleId, RuleRef
from ..whocan import WhoCan
from .json import location_dict

__all__ = ["render_json", "render_text"]


def _question(answer: WhoCan) -> str:
    where = "anywhere" if answer.namespace is None else f"in namespace {answer.namespace!r}"
    if answer.request.cluster_scoped:
        where = "cluster-wide"
    return f"who can {answer.request} {where}"


def render_text(answer: WhoCan) -> str:
    subjects = len({g.subject for g in answer.grants})
    lines = [f"{_question(answer)}: {subjects} subject{'' if subjects == 1 else 's'}", ""]
    for subject, grants in groupby(answer.grants, key=lambda g: g.subject):
        lines.append(f"  {subject}")
        for grant in grants:
            scope = "cluster-wide" if grant.scope is None else f"in {grant.scope!r}"
            lines.append(f"    {scope:<24} {grant.chain()}")
    if answer.grants:
        lines.append("")
    if answer.unresolved:
        lines.append("bindings whose role is neither in the inputs nor built in (they may grant it too):")
        lines += [f"  {b.label} -> {b.role_ref}" for b in answer.unresolved]
        lines.append("")
    if answer.request.name is None and answer.request.url is None:
        lines.append("rules limited by resourceNames are not counted: ask about one object with --name")
    return "\n".join(printable(line) for line in lines) + "\n"


def render_json(answer: WhoCan) -> str:
    request = answer.request
    subjects = []
    for subject, grants in groupby(answer.grants, key=lambda g: g.subject):
        subjects.append(
            {
                "kind": subject.kind,
                "name": subject.name,
                "namespace": subject.namespace,
                "grants": [_grant(g) for g in grants],
            }
        )
    data = {
        "version": 1,
        "tool": {"name": "kharden", "version": __version__},
        "query": {
            "verb": request.verb,
            "resource": request.resource or None,
            "group": request.group if request.url is None else None,
            "subresource": request.subresource or None,
            "name": request.name,
            "url": request.url,
            "namespace": answer.namespace,
        },
        "subjects": subjects,
        "unresolved": [
            {"binding": _binding(b), "roleRef": {"kind": b.role_ref.kind, "name": b.role_ref.name}}
            for b in answer.unresolved
        ],
        "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in answer.errors],
        "summary": {"objects": answer.objects, "subjects": len(subjects), "grants": len(answer.grants)},
    }
    return json.dumps(data, indent=2) + "\n"


def _binding(binding: Binding) -> dict[str, Any]:
    ref = binding.obj.ref
    return {
        "kind": ref.kind,
        "namespace": ref.namespace,
        "name": ref.name,
        "location": location_dict(binding.obj.locate("")),
    }


def _role(role: RoleId, builtin: bool) -> dict[str, Any]:
    return {"kind": role.kind, "namespace": role.namespace, "name": role.name, "builtin": builtin}


def _rule(ref: RuleRef) -> dict[str, Any]:
    location = ref.location
    return {
        **_role(ref.role, ref.obj is None),
        "index": ref.index,
        "location": location_dict(location) if location is not None else None,
    }


def _grant(grant: Grant) -> dict[str, Any]:
    role = grant.binding.role
    return {
        "scope": grant.scope,
        "binding": {**_binding(grant.binding), "subjectPath": grant.subject_path},
        "role": _role(role.id, role.obj is None) if role is not None else None,
        "rule": _rule(grant.rule),
        "resourceNames": sorted(grant.rule.rule.resource_names),
        "chain": grant.chain(),
    }
