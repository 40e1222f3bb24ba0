"""Container image references, parsed as the container runtimes parse them.

``[registry[:port]/]path[:tag][@algorithm:digest]``. The first path component is a
registry when it contains ``.`` or ``:``, is ``localhost``, or has upper-case letters
(distribution/reference's rule); otherwise the image is on Docker Hub, where a
one-component path lives under ``library/``. A ``:`` before the last ``/`` belongs to
the registry's port, never to the tag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["DOCKER_HUB", "ImageRef", "parse_image"]

DOCKER_HUB = "docker.io"
_LEGACY_HUB_NAMES = frozenset({"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_SPACE = re.compile(r"\s")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str
    repository: str
    """Path within the registry, ``library/nginx`` for Docker Hub's official images."""
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The last path component: ``nginx`` for ``docker.io/library/nginx:1.25``."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def official(self) -> bool:
        """A Docker Hub official image (``library/...``)."""
        return self.registry == DOCKER_HUB and self.repository.startswith("library/")


@lru_cache(maxsize=4096)
def parse_image(text: str) -> ImageRef | None:
    """The parts of an image reference, or ``None`` when ``text`` is not one (a template placeholder)."""
    text = text.strip()
    if not text or _SPACE.search(text) or "{{" in text or "$" in text:
        return None
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.match(tag):
            return None
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry in _LEGACY_HUB_NAMES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = "library/" + path
    if not path or not all(_PATH_COMPONENT.match(part) for part in path.split("/")):
        return None
    return ImageRef(registry=registry, repository=path, tag=tag, digest=digest or None)
