"""Image digests the user gave: ``--digests FILE`` and the repository digests of image scan reports.

kharden never looks a digest up in a registry (no network): an image is pinned only when the user's
own information names its digest, for the same registry, repository and tag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .._files import MAX_YAML_BYTES, read_yaml
from ..analysis.imageref import ImageRef, parse_image
from ..errors import InputError
from ..model import ImageScan

__all__ = ["Digests", "read_digests"]

_Key = tuple[str, str, str]


def _key(ref: ImageRef) -> _Key:
    return ref.registry, ref.repository, ref.tag or "latest"


class Digests:
    """Digest per image (registry, repository, tag; no tag means ``latest``)."""

    def __init__(self) -> None:
        self.by_image: dict[_Key, str] = {}

    def add(self, image: str, digest: str, source: str) -> None:
        ref = parse_image(image)
        pinned = parse_image(f"{ref.registry}/{ref.repository}@{digest}") if ref is not None else None
        if ref is None or pinned is None or pinned.digest is None:
            raise InputError(f"not an image and a digest: {image!r}: {digest!r}", file=source)
        self.by_image.setdefault(_key(ref), pinned.digest)

    def add_scans(self, scans: Iterable[ImageScan]) -> None:
        """A report names an image by its tags and by its repository digests (``nginx@sha256:...``)."""
        for scan in scans:
            refs = [r for r in (parse_image(n) for n in scan.names) if r is not None]
            for tagged in (r for r in refs if r.digest is None):
                digest = next(
                    (r.digest for r in refs if r.digest and (r.registry, r.repository) == _key(tagged)[:2]),
                    scan.digests[0] if scan.digests else None,
                )
                if digest is not None:
                    self.by_image.setdefault(_key(tagged), digest)

    def pin(self, image: str) -> str | None:
        """``image@digest`` when the digest of ``image`` is known; ``None`` otherwise."""
        ref = parse_image(image)
        if ref is None or ref.digest is not None:
            return None
        digest = self.by_image.get(_key(ref))
        return f"{image.strip()}@{digest}" if digest else None


def read_digests(paths: Iterable[str], scans: Iterable[ImageScan]) -> Digests:
    """``--digests FILE`` (a YAML or JSON mapping of image reference to digest) and scan reports."""
    digests = Digests()
    for path in paths:
        documents = read_yaml(path, MAX_YAML_BYTES, "digests file")  # guarded: input like any YAML
        loaded = documents[0].data if documents else None
        if not isinstance(loaded, Mapping):
            raise InputError("a digests file maps image references to digests (image: sha256:...)", file=path)
        for image, digest in loaded.items():
            if not isinstance(image, str) or not isinstance(digest, str):
                raise InputError(f"{image!r}: image and digest must be strings", file=path)
            digests.add(image, digest.rpartition("@")[2], path)
    digests.add_scans(scans)
    return digests
