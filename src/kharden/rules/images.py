"""Checklist section D: container images (references as the runtimes parse them)."""

from __future__ import annotations

from collections.abc import Iterator

from ..analysis.context import ScanContext
from ..analysis.imageref import DOCKER_HUB, ImageRef, parse_image
from ..analysis.podspec import EffectiveContainer, EffectivePod
from ..analysis.vulns import counts
from ..model import Hit, Severity, Vulnerability
from ._constraint import Remedy
from ._podcheck import hit_for, who
from ._ruleset import RuleSet

rules = RuleSet("images")

IMAGES_DOC = "https://kubernetes.io/docs/concepts/containers/images/"


def _images(pod: EffectivePod) -> Iterator[tuple[EffectiveContainer, ImageRef]]:
    """Containers whose image is a reference (templated or empty images are left alone)."""
    for container in pod.containers:
        if container.image.value:
            ref = parse_image(container.image.value)
            if ref is not None:
                yield container, ref


@rules.pod(
    "image.mutable-tag",
    Severity.MEDIUM,
    title="Image with a mutable tag",
    remediation="pin a specific version tag (better: a digest, image@sha256:...)",
    references=(IMAGES_DOC + "#image-names",),
    fix=Remedy("pin-digest"),
    not_exported="image references are parsed by the distribution grammar",
)
def mutable_tag(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when an image has no tag or the ``latest`` tag and no digest.

    What runs then changes whenever someone pushes, without a change in the manifest: nobody can say which
    version runs, roll it back, or keep it patched. A digest pins the image whatever the tag says, so
    a digest-pinned image never fires.

    Reads: image of every container, initContainer and ephemeralContainer.
    """
    for container, ref in _images(pod):
        if ref.digest is not None:
            continue
        image = container.image.value
        if ref.tag is None:
            yield container.hit(
                container.image, f"{who([container])} uses image {image!r} with no tag (it pulls :latest)"
            )
        elif ref.tag == "latest":
            yield container.hit(
                container.image, f"{who([container])} uses image {image!r} with the mutable tag 'latest'"
            )


@rules.pod(
    "image.not-pinned",
    Severity.LOW,
    title="Image not pinned by digest",
    remediation="refer to the image by digest (image:tag@sha256:...), updated by a bot such as Renovate",
    references=(IMAGES_DOC + "#image-names",),
    fix=Remedy("pin-digest"),
    not_exported="image references are parsed by the distribution grammar",
)
def not_pinned(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when an image is not pinned by digest.

    A tag can be moved to other content at any time (by the publisher, or by whoever compromises the
    registry account); only a digest names exactly the bytes that were reviewed and scanned.

    Reads: image of every container, initContainer and ephemeralContainer.
    """
    for container, ref in _images(pod):
        if ref.digest is None:
            yield container.hit(
                container.image,
                f"{who([container])} uses image {container.image.value!r}, not pinned by digest",
            )


# Full operating-system images, by repository (Docker Hub official images by their short name).
FULL_DISTRIBUTIONS = frozenset(
    {
        "ubuntu",
        "debian",
        "centos",
        "fedora",
        "amazonlinux",
        "rockylinux",
        "almalinux",
        "oraclelinux",
        "archlinux",
        "photon",
        "clearlinux",
        "mageia",
        "opensuse/leap",
        "opensuse/tumbleweed",
        "redhat/ubi8",
        "redhat/ubi9",
        "registry.access.redhat.com/ubi8/ubi",
        "registry.access.redhat.com/ubi9/ubi",
        "registry.access.redhat.com/ubi8",
        "registry.access.redhat.com/ubi9",
        "registry.redhat.io/ubi8/ubi",
        "registry.redhat.io/ubi9/ubi",
        "registry.redhat.io/ubi8",
        "registry.redhat.io/ubi9",
        "quay.io/centos/centos",
        "quay.io/fedora/fedora",
        "registry.fedoraproject.org/fedora",
        "public.ecr.aws/amazonlinux/amazonlinux",
        "mcr.microsoft.com/windows",
        "mcr.microsoft.com/windows/servercore",
        "mcr.microsoft.com/windows/server",
    }
)
# Language images whose default variants are a full Debian or Ubuntu plus a toolchain.
FULL_LANGUAGE_IMAGES = frozenset(
    {
        "node",
        "python",
        "golang",
        "openjdk",
        "eclipse-temurin",
        "amazoncorretto",
        "ruby",
        "php",
        "perl",
        "rust",
        "maven",
        "gradle",
        "gcc",
        "buildpack-deps",
        "elixir",
        "erlang",
        "haskell",
        "julia",
        "r-base",
        "swift",
    }
)
MINIMAL_VARIANTS = (
    "slim",
    "alpine",
    "distroless",
    "minimal",
    "micro",
    "busybox",
    "chiseled",
    "nanoserver",
    "scratch",
)
# Registries that mirror Docker Hub's official images under the same short names.
_HUB_MIRRORS = {"public.ecr.aws": "docker/library/", "mirror.gcr.io": "library/"}


def _short_name(ref: ImageRef) -> str:
    """``python`` for docker.io/library/python and its mirrors, else registry/repository."""
    if ref.registry == DOCKER_HUB:
        return ref.repository.removeprefix("library/")
    prefix = _HUB_MIRRORS.get(ref.registry)
    if prefix and ref.repository.startswith(prefix):
        return ref.repository.removeprefix(prefix)
    return f"{ref.registry}/{ref.repository}"


def full_distribution(ref: ImageRef) -> bool:
    """True for a known full-distribution base, judged by repository and tag variant."""
    name = _short_name(ref)
    if name not in FULL_DISTRIBUTIONS and name not in FULL_LANGUAGE_IMAGES:
        return False
    tag = (ref.tag or "").lower()
    return not any(variant in tag for variant in MINIMAL_VARIANTS)


@rules.pod(
    "image.not-minimal",
    Severity.LOW,
    title="Full-distribution base image",
    remediation="build on a distroless, alpine, slim or scratch image, with only what the program needs",
    references=("https://github.com/GoogleContainerTools/distroless",),
    not_exported="base images are recognised by name",
)
def not_minimal(pod: EffectivePod) -> Iterator[Hit]:
    """Fires when an image is a known full-distribution base (ubuntu, debian, centos, fedora, amazonlinux,
    ...) or the full variant of a language image (node, python, golang, openjdk, ...) rather than a
    distroless, alpine, slim or scratch one.

    A full distribution ships a shell, a package manager and hundreds of packages the program never uses:
    tools for an attacker, and vulnerabilities to patch.

    Reads: image of every container, initContainer and ephemeralContainer (Docker Hub official images and
    their public mirrors, and the vendors' own registries).
    """
    for container, ref in _images(pod):
        if full_distribution(ref):
            yield container.hit(
                container.image,
                f"{who([container])} uses {container.image.value!r}, a full-distribution image",
            )


TOP_VULNERABILITIES = 5
"""How many vulnerability IDs a finding names; it counts the others."""


@rules.inventory(
    "image.vulnerable",
    Severity.HIGH,
    evidence="M",
    requires=("image-report",),
    title="Image with known vulnerabilities",
    remediation="update the image (or rebuild it on an updated base) to versions that fix the"
    " vulnerabilities, then scan it again",
    references=(IMAGES_DOC + "#updating-images", "https://kubernetes.io/docs/concepts/security/overview/"),
)
def vulnerable(context: ScanContext) -> Iterator[Hit]:
    """Fires when an image scan report given to the scan (Trivy or Grype JSON, ``--image-report``) lists
    known vulnerabilities in an image that a workload runs: one finding per workload and image, with the
    severity of its most severe vulnerability (so its severity is the CVEs', not the rule's), naming the
    most severe IDs and counting each severity.

    A known vulnerability in a running image is the easiest way in: exploits for it are public, and
    scanners that attackers use find it as fast as yours do. Most have a fix in a newer package version.

    Reads: image of every container, initContainer and ephemeralContainer; the names (repository, tag,
    digest) and vulnerabilities of each image scan report. An image pinned by digest matches a report of
    that digest, or by tag a report that knows no digest.
    """
    index = context.image_vulnerabilities
    for pod in context.pods:
        by_image: dict[str, list[EffectiveContainer]] = {}
        for container in pod.containers:
            if container.image.value:
                by_image.setdefault(container.image.value, []).append(container)
        for image, containers in by_image.items():
            found = index.vulnerabilities(image)
            if found:
                hit = hit_for(containers[0].image, containers, _vulnerable_message(image, containers, found))
                yield hit._replace(severity=found[0].severity, obj=pod.obj)


def _vulnerable_message(image: str, containers: list[EffectiveContainer], found: list[Vulnerability]) -> str:
    total = len(found)
    by_severity = ", ".join(f"{n} {label}" for label, n in counts(found).items())
    fixable = sum(1 for v in found if v.fixed)
    named = ", ".join(
        f"{v.id} ({v.severity.label}{', ' + v.package if v.package else ''})"
        for v in found[:TOP_VULNERABILITIES]
    )
    more = f" and {total - TOP_VULNERABILITIES} more" if total > TOP_VULNERABILITIES else ""
    runs = "runs" if len(containers) == 1 else "run"
    noun = "vulnerability" if total == 1 else "vulnerabilities"
    return (
        f"{who(containers)} {runs} image {image!r} with {total} known {noun}"
        f" ({by_severity}; {fixable} with a fix): {named}{more}"
    )
