"""``--format policyreport``: ``wgpolicyk8s.io/v1alpha2`` reports, as Policy Reporter, Kyverno and
Trivy Operator users read them.

A ``PolicyReport`` named ``kharden`` in each namespace with findings, and a
``ClusterPolicyReport`` named ``kharden`` for findings on cluster-scoped objects (Namespaces,
ClusterRoles, Nodes...), as one multi-document YAML stream for ``kubectl apply -f`` (the
cluster needs the PolicyReport CRDs, which Kyverno and Policy Reporter install).

Each finding is one result: ``policy`` is the rule ID, ``category`` its checklist section,
``severity`` the finding's, ``result`` ``fail`` (or ``skip`` when suppressed, with the
reason in the properties), ``resources`` the object, ``message`` the finding's message.
Properties (strings, as the API requires) carry the container, the field's JSON pointer,
file and line, the fix and the fingerprint. The summary counts fail and skip: kharden
reports problems, not passes, like Trivy Operator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ..model import Finding, Report
from .catalog import SECTION_TITLES

__all__ = ["API_VERSION", "render"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
# What JSON leaves raw but a YAML stream may not hold (DEL, C1 controls, U+FFFE/U+FFFF) or reads as a
# line break (NEL, U+2028, U+2029): written as \u escapes, which JSON and YAML share. (Lone surrogates
# become U+FFFD in every format, see report.render.)
_NOT_YAML = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _json(value: Any) -> str:
    """``value`` as a JSON (so YAML flow) scalar or collection that any YAML parser reads back as it is."""
    text = _encode(value)
    return text if text.isascii() and "\x7f" not in text else _NOT_YAML.sub(_escape, text)


API_VERSION = "wgpolicyk8s.io/v1alpha2"
NAME = "kharden"
SOURCE = "kharden"


def render(report: Report) -> str:
    namespaced: dict[str, list[Finding]] = {}
    cluster: list[Finding] = []
    for finding in report.findings:
        if finding.object.namespace is None:
            cluster.append(finding)
        else:
            namespaced.setdefault(finding.object.namespace, []).append(finding)
    seconds = int(report.generated_at.timestamp()) if report.generated_at is not None else None
    documents = [_report("PolicyReport", ns, found, seconds) for ns, found in sorted(namespaced.items())]
    if cluster:
        documents.append(_report("ClusterPolicyReport", None, cluster, seconds))
    if not documents:
        return "# kharden: no findings, no policy reports\n"
    return "".join(_yaml(document) for document in documents)


def _yaml(document: dict[str, Any]) -> str:
    """One YAML document: the report in block style, each result one JSON (flow) mapping on its line.

    JSON is YAML, so every scalar is written by the C JSON encoder: quoting is always right, and
    a report of tens of thousands of results is written in a blink (PyYAML's emitter takes seconds).
    """
    lines = ["---"]
    for key, value in document.items():
        if key == "results":
            lines.append("results:")
            lines += [f"  - {_json(result)}" for result in value]
        elif isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {_json(v)}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {_json(value)}")
    return "\n".join(lines) + "\n"


def _report(kind: str, namespace: str | None, findings: list[Finding], seconds: int | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": NAME}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = {"app.kubernetes.io/managed-by": "kharden"}
    results = [_result(f, seconds) for f in findings]
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "summary": _summary(r["result"] for r in results),
        "results": results,
    }


def _result(finding: Finding, seconds: int | None) -> dict[str, Any]:
    ref = finding.object
    resource: dict[str, Any] = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name}
    if ref.namespace is not None:
        resource["namespace"] = ref.namespace
    location = finding.location
    properties = {
        "container": finding.container,
        "path": location.path,
        "file": location.file,
        "line": None if location.line is None else str(location.line),
        "template": location.template,
        "remediation": finding.remediation,
        "fingerprint": finding.fingerprint,
        "suppressed": None
        if finding.suppressed is None
        else f"{finding.suppressed.kind}: {finding.suppressed.reason}",
    }
    result: dict[str, Any] = {
        "source": SOURCE,
        "policy": finding.rule,
        "category": SECTION_TITLES.get(finding.section, finding.section),
        "severity": finding.severity.label,
        "result": "fail" if finding.suppressed is None else "skip",
        "scored": True,
        "message": finding.message,
        "resources": [resource],
        "properties": {key: value for key, value in properties.items() if value is not None},
    }
    if seconds is not None:
        result["timestamp"] = {"seconds": seconds, "nanos": 0}
    return result


def _summary(results: Iterable[str]) -> dict[str, int]:
    summary = dict.fromkeys(("pass", "fail", "warn", "error", "skip"), 0)
    for result in results:
        summary[result] += 1
    return summary
