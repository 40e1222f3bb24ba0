"""image.* rules and image reference parsing."""

from __future__ import annotations

import pytest

from conftest import MINIMAL_POD, fired, mutate
from kharden.analysis.imageref import ImageRef, parse_image

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = "/spec/containers/0/image"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ImageRef("docker.io", "library/nginx", None, None)),
        ("nginx:1.25", ImageRef("docker.io", "library/nginx", "1.25", None)),
        ("bitnami/redis:7.2", ImageRef("docker.io", "bitnami/redis", "7.2", None)),
        ("docker.io/library/ubuntu:22.04", ImageRef("docker.io", "library/ubuntu", "22.04", None)),
        ("index.docker.io/library/ubuntu", ImageRef("docker.io", "library/ubuntu", None, None)),
        ("registry.local:5000/team/app", ImageRef("registry.local:5000", "team/app", None, None)),
        ("registry.local:5000/team/app:1.0", ImageRef("registry.local:5000", "team/app", "1.0", None)),
        ("localhost/app:dev", ImageRef("localhost", "app", "dev", None)),
        ("localhost:5000/app", ImageRef("localhost:5000", "app", None, None)),
        (f"nginx@{DIGEST}", ImageRef("docker.io", "library/nginx", None, DIGEST)),
        (f"nginx:1.25@{DIGEST}", ImageRef("docker.io", "library/nginx", "1.25", DIGEST)),
        (f"ghcr.io/org/app:v2@{DIGEST}", ImageRef("ghcr.io", "org/app", "v2", DIGEST)),
        (
            "gcr.io/distroless/static-debian12:nonroot",
            ImageRef("gcr.io", "distroless/static-debian12", "nonroot", None),
        ),
        ("Registry.Example/app", ImageRef("Registry.Example", "app", None, None)),
    ],
)
def test_parse_image(text: str, expected: ImageRef) -> None:
    assert parse_image(text) == expected


@pytest.mark.parametrize(
    "text", ["", " ", "{{ .Values.image }}", "$(IMAGE)", "nginx:", "NGINX", "nginx@sha256:short", "a b"]
)
def test_parse_image_rejects(text: str) -> None:
    assert parse_image(text) is None


@pytest.mark.parametrize(
    ("image", "fires"),
    [
        ("nginx", True),
        ("nginx:latest", True),
        ("registry.local:5000/app", True),
        ("localhost/app", True),
        ("nginx:1.25", False),
        ("registry.local:5000/app:1.0", False),
        (f"nginx@{DIGEST}", False),
        (f"nginx:latest@{DIGEST}", False),
        ("{{ .Values.image }}", False),
    ],
)
def test_mutable_tag(image: str, fires: bool) -> None:
    pod = mutate(MINIMAL_POD, (IMAGE, image))
    assert fired("image.mutable-tag", pod) == ([(IMAGE, "app")] if fires else [])


@pytest.mark.parametrize(
    ("image", "fires"),
    [
        ("nginx:1.25", True),
        ("nginx", True),
        (f"nginx@{DIGEST}", False),
        (f"r.example.com:443/a/b:1@{DIGEST}", False),
    ],
)
def test_not_pinned(image: str, fires: bool) -> None:
    pod = mutate(MINIMAL_POD, (IMAGE, image))
    assert fired("image.not-pinned", pod) == ([(IMAGE, "app")] if fires else [])


def test_image_rules_cover_init_and_ephemeral_containers() -> None:
    pod = mutate(
        MINIMAL_POD,
        ("/spec/initContainers/0/image", "busybox"),
        ("/spec/ephemeralContainers", [{"name": "debug", "image": "ubuntu:22.04"}]),
    )
    assert fired("image.mutable-tag", pod) == [("/spec/initContainers/0/image", "init")]
    assert fired("image.not-minimal", pod) == [("/spec/ephemeralContainers/0/image", "debug")]


@pytest.mark.parametrize(
    ("image", "fires"),
    [
        ("ubuntu:22.04", True),
        ("ubuntu", True),
        ("debian:bookworm", True),
        ("centos:7", True),
        ("fedora:40", True),
        ("amazonlinux:2023", True),
        ("python:3.12", True),
        ("python", True),
        ("node:20-bookworm", True),
        ("golang:1.22", True),
        ("openjdk:17-jdk", True),
        ("eclipse-temurin:21-jre", True),
        (f"golang:1.22@{DIGEST}", True),
        ("docker.io/library/centos:7", True),
        ("public.ecr.aws/docker/library/ubuntu:22.04", True),
        ("public.ecr.aws/amazonlinux/amazonlinux:2023", True),
        ("registry.access.redhat.com/ubi9/ubi:9.4", True),
        ("redhat/ubi9", True),
        ("debian:bookworm-slim", False),
        ("python:3.12-slim", False),
        ("python:3.12-alpine", False),
        ("node:20-alpine", False),
        ("eclipse-temurin:21-jre-alpine", False),
        ("amazonlinux:2023-minimal", False),
        ("registry.access.redhat.com/ubi9/ubi-minimal:9.4", False),
        ("gcr.io/distroless/static-debian12", False),
        ("alpine:3.20", False),
        ("busybox:1.36", False),
        ("registry.example.com/python:3.12", False),
        ("bitnami/python:3.12", False),
        ("nginx:1.25", False),
    ],
)
def test_not_minimal(image: str, fires: bool) -> None:
    pod = mutate(MINIMAL_POD, (IMAGE, image))
    assert fired("image.not-minimal", pod) == ([(IMAGE, "app")] if fires else [])
