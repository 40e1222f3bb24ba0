"""Which image scan reports describe the image a container runs.

A report names its image by references (the one scanned, its tags, its repository
digests) and, for Grype, by the manifest digest it pulled. A container's image matches
a report when registry and repository are the same (``nginx`` is
``docker.io/library/nginx``) and

- the container pins a digest: the report knows that digest (the tag is ignored, as the
  runtime ignores it); when the report knows no digest at all, its tag must match;
- otherwise: the report knows the container's tag (no tag means ``latest``).

A digest pins content, a tag only names it: a report of ``nginx:1.25`` with another
digest than the container's is a different image and does not match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..model import ImageScan, Vulnerability
from .imageref import parse_image

__all__ = ["ImageVulnerabilities", "counts", "merge"]

_LATEST = "latest"


@dataclass
class _Known:
    """What the reports know about one repository: tags and digests, each with its reports."""

    tags: dict[str, list[ImageScan]] = field(default_factory=dict)
    digests: dict[str, list[ImageScan]] = field(default_factory=dict)
    with_digest: set[int] = field(default_factory=set)
    """``id()`` of the reports that name some digest of this repository."""


class ImageVulnerabilities:
    """An index of image scan reports by repository, built once per scan."""

    def __init__(self, scans: Iterable[ImageScan]) -> None:
        self._repos: dict[tuple[str, str], _Known] = {}
        for scan in scans:
            refs = [ref for ref in map(parse_image, scan.names) if ref is not None]
            for ref in refs:
                known = self._repos.setdefault((ref.registry, ref.repository), _Known())
                digests = [*scan.digests, *([ref.digest] if ref.digest else [])]
                for digest in digests:
                    known.digests.setdefault(digest, []).append(scan)
                    known.with_digest.add(id(scan))
                if ref.tag is not None or ref.digest is None:
                    known.tags.setdefault(ref.tag or _LATEST, []).append(scan)

    def reports(self, image: str) -> list[ImageScan]:
        """The reports that describe ``image`` (a container's ``image`` field), without repeats."""
        ref = parse_image(image)
        if ref is None:
            return []
        known = self._repos.get((ref.registry, ref.repository))
        if known is None:
            return []
        tagged = known.tags.get(ref.tag or _LATEST, [])
        if ref.digest is None:
            found = tagged
        else:
            # Reports that know digests match by digest; those that know none, by tag.
            found = known.digests.get(ref.digest, []) + [s for s in tagged if id(s) not in known.with_digest]
        return list({id(s): s for s in found}.values())

    def vulnerabilities(self, image: str) -> list[Vulnerability]:
        """The vulnerabilities of ``image`` in every report that describes it, one per ID."""
        return merge(v for scan in self.reports(image) for v in scan.vulnerabilities)


def merge(vulnerabilities: Iterable[Vulnerability]) -> list[Vulnerability]:
    """One entry per ID (the most severe when packages or scanners disagree), most severe first.

    Within a severity, those with a known fix come first, then by ID.
    """
    by_id: dict[str, Vulnerability] = {}
    for vuln in vulnerabilities:
        seen = by_id.get(vuln.id)
        if seen is None or (vuln.severity, bool(vuln.fixed)) > (seen.severity, bool(seen.fixed)):
            by_id[vuln.id] = vuln
    return sorted(by_id.values(), key=lambda v: (-v.severity, not v.fixed, v.id))


def counts(vulnerabilities: Sequence[Vulnerability]) -> dict[str, int]:
    """Vulnerabilities per severity label, highest first, only severities present."""
    result: dict[str, int] = {}
    for vuln in vulnerabilities:
        result[vuln.severity.label] = result.get(vuln.severity.label, 0) + 1
    return result
