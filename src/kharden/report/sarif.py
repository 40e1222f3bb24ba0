"""``--format sarif``: SARIF 2.1.0, shaped for GitHub code scanning and other SARIF viewers.

- One ``reportingDescriptor`` per rule that ran, generated from the rule registry: short
  description (the title), full description (when it fires), help as text and Markdown
  (why, what it reads, the fix, references), ``defaultConfiguration.level`` from the
  severity, and the ``security-severity`` GitHub ranks security alerts by, with the
  ``security`` tag it requires.
- One result per finding: level from the finding's own severity (rules that grade by
  value, and image.vulnerable, vary per finding; GitHub reads ``security-severity``
  from the rule only, so each result also carries it in its properties), the message
  prefixed with the object, a physical location relative to ``root`` (``--sarif-root``,
  default the working directory) under ``%SRCROOT%``, a logical location naming the
  Kubernetes object, ``partialFingerprints`` from kharden's line-independent fingerprint,
  and ``suppressions`` for suppressed findings (annotation: ``inSource``; config and
  baseline: ``external``).
- A finding in rendered output (Helm, kustomize) is located where a person edits the field
  (the patch, base, kustomization, template or values line); the rendered output's line is a
  ``relatedLocations`` entry. When the line to edit is not known, the location is the
  template (or resource file) without a region. A finding without a file (a cluster) has
  only its logical location.
- Input errors are ``toolExecutionNotifications``; rules not evaluated are
  ``toolConfigurationNotifications``; the scorecard is in the run's properties.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..model import STDIN_FILE, Finding, Location, Report, Severity
from ..rules import Rule
from ..rules import get as get_rule
from . import json as json_report
from ._source import source_file
from .catalog import explain, help_markdown

__all__ = ["LEVELS", "SECURITY_SEVERITY", "render"]

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "khardenFingerprint/v1"
SRCROOT = "%SRCROOT%"
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub: over 9.0 is critical, 7.0 to 8.9 high, 4.0 to 6.9 medium, 0.1 to 3.9 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
_SUPPRESSION_KINDS = {"annotation": "inSource"}
_ONE_PER_LINE = frozenset(
    {"rules", "results", "toolExecutionNotifications", "toolConfigurationNotifications"}
)


def render(report: Report, *, root: str | None = None) -> str:
    """The SARIF log of ``report``; file URIs are relative to ``root`` (default: the working directory)."""
    base = os.path.abspath(root if root is not None else os.getcwd())
    severities = {run.rule: run.severity for run in report.rules}
    ids = list(severities) + sorted({f.rule for f in report.findings} - severities.keys())
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "kharden",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_descriptor(get_rule(i), severities.get(i)) for i in ids],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path(base).as_uri().rstrip("/") + "/"}},
        "invocations": [_invocation(report, base)],
        "results": [_result(f, index[f.rule], base) for f in report.findings],
        "columnKind": "unicodeCodePoints",
        "properties": {"score": json_report.scores_dict(report.scores)},
    }
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json_report.layout(log, _ONE_PER_LINE) + "\n"


def _descriptor(rule: Rule, severity: Severity | None) -> dict[str, Any]:
    severity = rule.severity if severity is None else severity
    properties: dict[str, Any] = {
        "tags": ["security", "kubernetes", rule.section],
        "precision": "very-high",
    }
    if severity in SECURITY_SEVERITY:
        properties["security-severity"] = SECURITY_SEVERITY[severity]
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(word[:1].upper() + word[1:] for word in re.split(r"[^A-Za-z0-9]+", rule.title)),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.summary if rule.summary.endswith(".") else rule.summary + "."},
        "help": {"text": explain(rule), "markdown": help_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": properties,
    }
    if rule.references:
        descriptor["helpUri"] = rule.references[0]
    return descriptor


def _result(finding: Finding, rule_index: int, base: str) -> dict[str, Any]:
    ref = finding.object
    location: dict[str, Any] = {}
    physical = _physical(finding.location, base)
    if physical is not None:
        location["physicalLocation"] = physical
    location["logicalLocations"] = [
        {"name": ref.name, "fullyQualifiedName": str(ref), "kind": "resource"},
    ]
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{ref}: {finding.message}"},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "severity": finding.severity.label,
            "security-severity": SECURITY_SEVERITY.get(finding.severity, "0.0"),
            "section": finding.section,
            "object": json_report.object_dict(ref),
            "container": finding.container,
            "path": finding.location.path,
            "remediation": finding.remediation,
        },
    }
    related = _rendered(finding.location, base)
    if related is not None:
        result["relatedLocations"] = [related]
    if finding.suppressed is not None:
        result["suppressions"] = [
            {
                "kind": _SUPPRESSION_KINDS.get(finding.suppressed.kind, "external"),
                "status": "accepted",
                "justification": f"{finding.suppressed.kind}: {finding.suppressed.reason}",
            }
        ]
    return result


def _physical(location: Location, base: str) -> dict[str, Any] | None:
    found = source_file(location)
    if found is None:
        return None
    path, lines = found
    physical: dict[str, Any] = {"artifactLocation": _artifact(path, base)}
    if lines and location.line is not None:
        region = {"startLine": location.line}
        if location.column is not None:
            region["startColumn"] = location.column
        physical["region"] = region
    return physical


def _rendered(location: Location, base: str) -> dict[str, Any] | None:
    """Where the field is in the output of ``kustomize build``/``helm template`` (what was scanned)."""
    rendered = location.rendered
    if rendered is None or rendered.file is None or rendered.file == "<stdin>":
        return None
    text = f"{location.renderer} output of {rendered.file}"
    if location.template is not None:
        text += f", object from {location.template}"
    if rendered.line is not None:
        text += f", line {rendered.line}"
    related: dict[str, Any] = {
        "id": 1,
        "physicalLocation": {"artifactLocation": _artifact(rendered.file, base)},
        "message": {"text": text},
    }
    if rendered.line is not None:
        region = {"startLine": rendered.line}
        if rendered.column is not None:
            region["startColumn"] = rendered.column
        related["physicalLocation"]["region"] = region
    return related


@lru_cache(maxsize=4096)
def _artifact(path: str, base: str) -> dict[str, Any]:
    """A URI relative to ``%SRCROOT%``, or an absolute ``file:`` URI for a file outside it.

    Cached: a file has many findings. The callers never change the mapping they get.
    """
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, base)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return {"uri": Path(absolute).as_uri()}
    # A URI holds bytes: a file name that is not UTF-8 is percent-encoded as the bytes it is (%FF).
    return {"uri": quote(os.fsencode(Path(relative).as_posix())), "uriBaseId": SRCROOT}


def _invocation(report: Report, base: str) -> dict[str, Any]:
    errors = []
    for error in report.errors:
        notification: dict[str, Any] = {"level": "error", "message": {"text": error.message}}
        if error.file is not None and error.file != STDIN_FILE:
            physical: dict[str, Any] = {"artifactLocation": _artifact(error.file, base)}
            if error.line is not None:
                physical["region"] = {"startLine": error.line}
            notification["locations"] = [{"physicalLocation": physical}]
        errors.append(notification)
    return {
        "executionSuccessful": not report.errors,
        "toolExecutionNotifications": errors,
        "toolConfigurationNotifications": [
            {
                "level": "note",
                "message": {"text": f"not evaluated: {n.reason}"},
                "associatedRule": {"id": n.rule},
            }
            for n in report.not_evaluated
        ],
    }
