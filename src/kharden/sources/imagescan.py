"""Image scan reports: the JSON that Trivy (``trivy image -f json``) and Grype (``grype -o json``) write.

Each report describes one image: the names it is known by (the reference that was
scanned, its tags and repository digests) and the vulnerabilities found in it. The
format is recognised by its shape: Trivy's ``SchemaVersion``/``ArtifactName``/``Results``,
Grype's ``matches``/``source``. Reports of anything but a container image (a
filesystem, a repository, an SBOM of a directory) are input errors: they name no image
that a workload could run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._files import read_limited
from ..errors import InputError
from ..model import ImageScan, Severity, Vulnerability
from .documents import Collected

__all__ = ["parse_image_report", "read_image_report"]

# Trivy: CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN. Grype: Critical, High, Medium, Low, Negligible, Unknown.
_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
}


def read_image_report(path: str, collected: Collected, max_bytes: int) -> None:
    """Add the image scan report at ``path`` to ``collected``; a bad report is recorded as an error."""
    try:
        collected.image_scans.append(parse_image_report(read_limited(path, max_bytes, "image report"), path))
    except InputError as e:
        collected.error(e)


def parse_image_report(data: bytes, file: str) -> ImageScan:
    """The image and vulnerabilities of one Trivy or Grype JSON report."""
    try:
        report = json.loads(data)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg} (column {e.colno})", file=file, line=e.lineno) from e
    except UnicodeDecodeError as e:
        raise InputError("not UTF-8 text", file=file) from e
    if isinstance(report, Mapping) and "SchemaVersion" in report:
        return _trivy(_Reader(file, "Trivy"), report)
    if isinstance(report, Mapping) and "matches" in report and "source" in report:
        return _grype(_Reader(file, "Grype"), report)
    raise InputError(
        "not a Trivy or Grype JSON report of an image (no 'SchemaVersion' or 'matches' and 'source')",
        file=file,
    )


class _Reader:
    """Typed access to a report's fields; a wrong type is an input error naming the field."""

    def __init__(self, file: str, scanner: str) -> None:
        self.file = file
        self.scanner = scanner

    def error(self, message: str) -> InputError:
        return InputError(f"{self.scanner} report: {message}", file=self.file)

    def mapping(self, parent: Mapping[str, Any], key: str, at: str) -> Mapping[str, Any]:
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"{at}{key} must be an object")
        return value

    def items(self, parent: Mapping[str, Any], key: str, at: str) -> list[tuple[str, Mapping[str, Any]]]:
        """``(path, item)`` of a list of objects; a missing or null list is empty (Trivy writes null)."""
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(f"{at}{key} must be a list")
        found = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise self.error(f"{at}{key}[{index}] must be an object")
            found.append((f"{at}{key}[{index}].", item))
        return found

    def strings(self, parent: Mapping[str, Any], key: str, at: str) -> list[str]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{at}{key} must be a list of strings")
        return list(value)

    def string(self, parent: Mapping[str, Any], key: str, at: str, *, required: bool = False) -> str:
        value = parent.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            raise self.error(f"{at}{key} must be a{' non-empty' if required else ''} string")
        return value


def _severity(text: str) -> Severity:
    """Unknown and negligible severities are information: the scanner could not rate them."""
    return _SEVERITIES.get(text.strip().lower(), Severity.INFO)


def _trivy(read: _Reader, report: Mapping[str, Any]) -> ImageScan:
    """``trivy image --format json`` (SchemaVersion 2)."""
    kind = read.string(report, "ArtifactType", "")
    if kind and kind != "container_image":
        raise read.error(f"ArtifactType is {kind!r}, not 'container_image': it names no image")
    metadata = read.mapping(report, "Metadata", "")
    names = [read.string(report, "ArtifactName", "", required=True)]
    names += read.strings(metadata, "RepoTags", "Metadata.")
    names += read.strings(metadata, "RepoDigests", "Metadata.")
    vulnerabilities = []
    for at, result in read.items(report, "Results", ""):
        for vat, vuln in read.items(result, "Vulnerabilities", at):
            vulnerabilities.append(
                Vulnerability(
                    id=read.string(vuln, "VulnerabilityID", vat, required=True),
                    severity=_severity(read.string(vuln, "Severity", vat)),
                    package=read.string(vuln, "PkgName", vat),
                    installed=read.string(vuln, "InstalledVersion", vat),
                    fixed=read.string(vuln, "FixedVersion", vat),
                )
            )
    return ImageScan(read.file, "trivy", _unique(names), (), tuple(vulnerabilities))


def _grype(read: _Reader, report: Mapping[str, Any]) -> ImageScan:
    """``grype IMAGE -o json``."""
    source = read.mapping(report, "source", "")
    kind = read.string(source, "type", "source.")
    if kind != "image":
        raise read.error(f"source.type is {kind!r}, not 'image': it names no image")
    target = read.mapping(source, "target", "source.")
    names = [read.string(target, "userInput", "source.target.", required=True)]
    names += read.strings(target, "tags", "source.target.")
    names += read.strings(target, "repoDigests", "source.target.")
    digest = read.string(target, "manifestDigest", "source.target.")
    vulnerabilities = []
    for at, match in read.items(report, "matches", ""):
        vuln = read.mapping(match, "vulnerability", at)
        artifact = read.mapping(match, "artifact", at)
        fix = read.mapping(vuln, "fix", f"{at}vulnerability.")
        fixed = read.strings(fix, "versions", f"{at}vulnerability.fix.")
        vulnerabilities.append(
            Vulnerability(
                id=_cve(read, match, read.string(vuln, "id", f"{at}vulnerability.", required=True), at),
                severity=_severity(read.string(vuln, "severity", f"{at}vulnerability.")),
                package=read.string(artifact, "name", f"{at}artifact."),
                installed=read.string(artifact, "version", f"{at}artifact."),
                fixed=", ".join(fixed)
                if read.string(fix, "state", f"{at}vulnerability.fix.") == "fixed"
                else "",
            )
        )
    return ImageScan(read.file, "grype", _unique(names), (digest,) if digest else (), tuple(vulnerabilities))


def _cve(read: _Reader, match: Mapping[str, Any], vuln_id: str, at: str) -> str:
    """The CVE of a GHSA (or other) match when Grype relates exactly one, as ``grype --by-cve`` does."""
    if vuln_id.startswith("CVE-"):
        return vuln_id
    related = {
        read.string(item, "id", vat)
        for vat, item in read.items(match, "relatedVulnerabilities", at)
        if read.string(item, "id", vat).startswith("CVE-")
    }
    return related.pop() if len(related) == 1 else vuln_id


def _unique(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in names if n))
