"""Baselines: the findings a team accepted on a date, so that only new ones fail the run.

``kharden baseline write FILE PATH...`` records the fingerprint and severity of every
unsuppressed finding; ``kharden scan --baseline FILE`` then reports those findings as
suppressed (``kind: baseline``). Fingerprints come from rule, object, container and
field, never lines (:mod:`kharden.fingerprint`), so moving lines, reordering documents or
containers, and renaming files keep a finding in the baseline. A finding that has become
more severe than it was when recorded (a config override, an image with a new critical
CVE) is new again.

The file is JSON, one finding per line, sorted, without timestamps: it diffs well in
review. Rule, object, file and message are there for the reader; only ``fingerprint``
and ``severity`` are read back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import __version__
from ._files import read_config_documents
from .errors import ConfigError
from .model import Finding, Severity

__all__ = ["BASELINE_VERSION", "Baseline", "baseline_json", "load_baseline"]

BASELINE_VERSION = 1
_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Baseline:
    file: str
    entries: Mapping[str, Severity]
    """Fingerprint -> the severity the finding had when it was recorded."""

    def covers(self, fingerprint: str, severity: Severity) -> bool:
        recorded = self.entries.get(fingerprint)
        return recorded is not None and severity <= recorded


def baseline_json(findings: list[Finding]) -> str:
    """The baseline of the unsuppressed ``findings``."""
    entries: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.suppressed is not None:
            continue
        seen = entries.get(f.fingerprint)
        if seen is not None and Severity.parse(seen["severity"]) >= f.severity:
            continue
        entries[f.fingerprint] = {
            "fingerprint": f.fingerprint,
            "rule": f.rule,
            "severity": f.severity.label,
            "object": str(f.object),
            "container": f.container,
            "file": f.location.file,
            "message": f.message,
        }
    rows = sorted(entries.values(), key=lambda e: (e["file"] or "", e["object"], e["rule"], e["fingerprint"]))
    encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    head = (
        f'{{\n  "version": {BASELINE_VERSION},\n'
        f'  "tool": {encode({"name": "kharden", "version": __version__})},\n  "findings": ['
    )
    body = ",\n".join("    " + encode(row) for row in rows)
    return head + ("\n" + body + "\n  ]\n}\n" if rows else "]\n}\n")


def load_baseline(path: str) -> Baseline:
    """Read a baseline file; a malformed one is a :class:`ConfigError` with file and line."""
    documents = read_config_documents(path, _MAX_BYTES, "baseline")
    if len(documents) != 1 or not isinstance(documents[0].data, Mapping):
        raise ConfigError("not a kharden baseline (expected one JSON object)", file=path)
    document = documents[0]
    data = document.data

    def error(message: str, pointer: str) -> ConfigError:
        found = document.positions.locate(data, pointer)
        return ConfigError(message, file=path, line=found[0] if found else document.line)

    if data.get("version") != BASELINE_VERSION:
        raise error(f"unsupported baseline version {data.get('version')!r} (expected 1)", "/version")
    findings = data.get("findings")
    if not isinstance(findings, list):
        raise error("'findings' must be a list", "/findings")
    entries: dict[str, Severity] = {}
    for index, entry in enumerate(findings):
        at = f"/findings/{index}"
        if not isinstance(entry, Mapping):
            raise error("a baseline entry must be an object", at)
        fingerprint = entry.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise error("a baseline entry needs a 'fingerprint' string", at)
        severity = entry.get("severity", Severity.CRITICAL.label)
        if not isinstance(severity, str) or severity.strip().upper() not in Severity.__members__:
            raise error(f"unknown severity {severity!r}", f"{at}/severity")
        level = Severity[severity.strip().upper()]
        entries[fingerprint] = max(level, entries.get(fingerprint, level))
    return Baseline(file=path, entries=entries)
