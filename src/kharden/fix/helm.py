"""Fixes of a Helm chart: a values file, proven by rendering the chart again; templates are not rewritten.

Charts commonly expose the security settings as values: ``securityContext`` or
``containerSecurityContext`` (the container's), ``podSecurityContext`` (the pod's) and
``serviceAccount.automount``. For each such key of the chart's ``values.yaml``, kharden proposes
the fixed settings, renders the chart with them, and keeps the key only when the re-render fixes
findings of the selected rules and adds none. What no values key can fix is named with the
template line that writes it (the template alone when that line is not certain), for a person to change.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .._files import read_yaml
from ..errors import InputError
from ..rules import Rule
from ..scan import evaluate
from ..sources import helm as helm_source
from ..sources.documents import Collected
from ..sources.helm import VALUES_MAX_BYTES

if TYPE_CHECKING:
    from ._apply import FixOptions, FixResult
    from ._plan import ObjectPlan

__all__ = ["values"]

CONTAINER_KEYS = ("containerSecurityContext", "securityContext")
POD_KEYS = ("podSecurityContext",)


def values(
    plans_by_chart: dict[str, list[ObjectPlan]], rules: list[Rule], options: FixOptions, result: FixResult
) -> None:
    from ._apply import FileFix  # noqa: PLC0415 - a cycle otherwise

    for chart, plans in plans_by_chart.items():
        try:
            defaults = _values(os.path.join(chart, "values.yaml"))
        except InputError:
            defaults = {}
        user = _user_values(options)
        candidates = _candidates(plans, defaults if isinstance(defaults, dict) else {}, user)
        baseline = _findings(chart, options, rules, None)
        if baseline is None:
            continue
        kept: dict[str, Any] = {}
        for key, value in candidates.items():
            trial = _findings(chart, options, rules, {**kept, key: value})
            if trial is not None and _better(baseline[0], trial[0]):
                kept[key] = value
        final = _findings(chart, options, rules, kept) if kept else baseline
        counts, where = final if final is not None else baseline
        for found, count in sorted(counts.items()):
            rule, template, path = found
            if count > 0 and any(rule == c.rule for p in plans for c in p.changes):
                result.advice.append(
                    f"{where.get(found) or template or chart}: {rule} at {path}: no values key of the chart"
                    " sets it; change the template"
                )
        if not kept:
            continue
        if options.values_out is None:
            result.advice.insert(
                0,
                f"{chart}: the chart's values can fix {len(kept)} setting(s);"
                " write them with --values-out FILE",
            )
            continue
        text = "# Written by kharden fix: values that fix findings of this chart (proven by re-rendering).\n"
        text += yaml.safe_dump(kept, sort_keys=False, default_flow_style=False)
        before = (
            Path(options.values_out).read_text(encoding="utf-8") if os.path.exists(options.values_out) else ""
        )
        original = Path(options.values_out).read_bytes() if before else None
        result.files.append(FileFix(options.values_out, before, text, original, created=not before))
        result.fixed += sum(baseline[0].values()) - sum(counts.values())


def _user_values(options: FixOptions) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in options.helm_values:
        try:
            merged.update(_values(path))
        except InputError:
            continue  # the scan said why
    return merged


def _values(path: str) -> dict[str, Any]:
    """A values file's mapping (``{}`` for another document), through the guarded loader: a chart's
    values.yaml is input like any YAML."""
    documents = read_yaml(path, VALUES_MAX_BYTES, "values file")
    data = documents[0].data if documents else None
    return data if isinstance(data, dict) else {}


def _candidates(
    plans: list[ObjectPlan], defaults: Mapping[str, Any], user: Mapping[str, Any]
) -> dict[str, Any]:
    """Values keys of the chart that may hold the fixed settings, with the settings merged in."""
    container: dict[str, Any] = {}
    pod: dict[str, Any] = {}
    automount = False
    for plan in plans:
        for change in plan.changes:
            for edit in change.edits:
                tokens = edit.path.split("/")
                if "securityContext" not in tokens or edit.op not in {"set", "append"}:
                    if edit.path.endswith("/automountServiceAccountToken"):
                        automount = True
                    continue
                at = tokens.index("securityContext")
                rest = tokens[at + 1 :]
                target = container if at >= 2 and tokens[at - 2] in {"containers", "initContainers"} else pod
                if not rest:
                    continue
                node = target
                for token in rest[:-1]:
                    node = node.setdefault(token, {})
                if edit.op == "set":
                    node[rest[-1]] = copy.deepcopy(edit.value)
                else:
                    node.setdefault(rest[-1], [])
                    if edit.value not in node[rest[-1]]:
                        node[rest[-1]].append(edit.value)
    out: dict[str, Any] = {}
    for keys, settings in ((CONTAINER_KEYS, container), (POD_KEYS, pod)):
        for key in keys:
            if key in defaults and settings and (defaults[key] is None or isinstance(defaults[key], dict)):
                out[key] = _merge(copy.deepcopy(user.get(key) or defaults[key] or {}), settings)
                break
    account = defaults.get("serviceAccount")
    if automount and isinstance(account, dict) and "automount" in account:
        out["serviceAccount"] = {**account, **(user.get("serviceAccount") or {}), "automount": False}
    return out


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key] = into[key] + [v for v in value if v not in into[key]]
        else:
            into[key] = value
    return into


_Key = tuple[str, str | None, str]
"""A finding of a render: rule, template, field (the template line would move with a values file's)."""


def _findings(
    chart: str, options: FixOptions, rules: list[Rule], extra: dict[str, Any] | None
) -> tuple[Counter[_Key], dict[_Key, str]] | None:
    """Findings of ``rules`` when the chart is rendered with ``extra`` values on top, counted, and the
    template line that writes each field where it is known for certain (the place issue 20's locations
    name); ``None`` when the chart does not render."""
    collected = Collected()
    with tempfile.TemporaryDirectory(prefix="kharden-values-") as scratch:
        files = options.helm_values
        if extra:
            path = os.path.join(scratch, "values.yaml")
            Path(path).write_text(yaml.safe_dump(extra), encoding="utf-8")
            files = (*files, path)
        try:
            helm_source.read(chart, collected, values=files, set_values=options.helm_set)
        except InputError:
            return None
    report = evaluate(collected, rules)
    live = [f for f in report.findings if f.suppressed is None]
    keys = [(f.rule, f.location.template, f.location.path) for f in live]
    where = {
        key: str(f.location)
        for key, f in zip(keys, live, strict=True)
        if f.location.edit is not None and f.location.edit.kind == "template"
    }
    return Counter(keys), where


def _better(before: Counter[_Key], after: Counter[_Key]) -> bool:
    """Some finding fixed, none added."""
    return sum(after.values()) < sum(before.values()) and not (after - before)
