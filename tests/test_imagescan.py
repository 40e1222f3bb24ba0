"""Image scan reports (Trivy, Grype JSON) and the image.vulnerable rule that reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import IMAGE_REPORTS, MINIMAL_POD, as_kind, mutate, scan_objects, scan_text
from kharden.analysis.vulns import ImageVulnerabilities, merge
from kharden.errors import InputError
from kharden.model import Finding, ImageScan, Severity, Vulnerability
from kharden.rules.images import TOP_VULNERABILITIES
from kharden.sources.imagescan import parse_image_report

TRIVY = IMAGE_REPORTS / "trivy-nginx-1.25.4.json"
GRYPE = IMAGE_REPORTS / "grype-redis-7.2.json"
CLEAN = IMAGE_REPORTS / "trivy-fluent-bit-3.0.json"
NGINX_INDEX = "sha256:cd718324f7aba907cb804a6f03282fa71d1d30b28c7cbf43c294acd4be97e0a1"
REDIS_INDEX = "sha256:0ecb6d7d2b70b79243d45c3a0fde89dcbd069604bf145015a9d170e0b81ff7b2"
REDIS_MANIFEST = "sha256:c3b60a73d0825c9b226a90a81af2774c1663b16c4ea52bcc6fdcbfc50e7c2192"
OTHER = "sha256:" + "0" * 64


def parse(path: Path) -> ImageScan:
    return parse_image_report(path.read_bytes(), str(path))


def test_trivy_report() -> None:
    scan = parse(TRIVY)
    assert (scan.scanner, scan.names, scan.digests) == (
        "trivy",
        ("nginx:1.25.4", f"nginx@{NGINX_INDEX}"),
        (),
    )
    assert len(scan.vulnerabilities) == 12  # CVE-2024-2961 twice: libc-bin and libc6
    first = scan.vulnerabilities[1]
    assert first == Vulnerability(
        "CVE-2024-2961", Severity.HIGH, "libc-bin", "2.36-9+deb12u4", "2.36-9+deb12u7"
    )
    assert {v.id for v in scan.vulnerabilities if v.severity is Severity.CRITICAL} == {
        "CVE-2024-45491",
        "CVE-2024-45492",
        "CVE-2024-37371",
        "CVE-2023-45853",
    }
    # Not fixed: no FixedVersion ("affected", "will_not_fix").
    assert next(v for v in scan.vulnerabilities if v.id == "CVE-2023-45853").fixed == ""


def test_trivy_report_without_vulnerabilities() -> None:
    scan = parse(CLEAN)
    assert scan.names[0] == "fluent/fluent-bit:3.0"
    assert scan.vulnerabilities == ()


def test_grype_report() -> None:
    scan = parse(GRYPE)
    assert (scan.scanner, scan.names, scan.digests) == (
        "grype",
        ("redis:7.2", f"redis@{REDIS_INDEX}"),
        (REDIS_MANIFEST,),
    )
    by_id = {v.id: v for v in scan.vulnerabilities}
    # A GHSA match is reported by the CVE Grype relates to it (as `grype --by-cve` does).
    assert by_id["CVE-2023-44487"] == Vulnerability(
        "CVE-2023-44487", Severity.HIGH, "google.golang.org/grpc", "v1.56.2", "1.56.3"
    )
    # Negligible is information; not-fixed and wont-fix have no fixed version.
    assert by_id["CVE-2011-3374"].severity is Severity.INFO
    assert by_id["CVE-2023-52425"].fixed == ""
    assert by_id["CVE-2024-26461"].fixed == ""


def _trivy(**changes: Any) -> bytes:
    data = json.loads(TRIVY.read_text())
    data.update(changes)
    return json.dumps(data, indent=2).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"SchemaVersion": 2,\n "Results": [}', "r.json:2: invalid JSON: Expecting value (column 14)"),
        (
            b"[]",
            "r.json: not a Trivy or Grype JSON report of an image (no 'SchemaVersion' or 'matches' and 'source')",
        ),
        (
            b'{"kind": "Pod"}',
            "r.json: not a Trivy or Grype JSON report of an image (no 'SchemaVersion' or 'matches' and 'source')",
        ),
        (
            _trivy(ArtifactType="filesystem"),
            "r.json: Trivy report: ArtifactType is 'filesystem', not 'container_image': it names no image",
        ),
        (_trivy(ArtifactName=""), "r.json: Trivy report: ArtifactName must be a non-empty string"),
        (_trivy(Results={"Vulnerabilities": []}), "r.json: Trivy report: Results must be a list"),
        (
            _trivy(Results=[{"Vulnerabilities": [{"VulnerabilityID": 7, "Severity": "HIGH"}]}]),
            "r.json: Trivy report: Results[0].Vulnerabilities[0].VulnerabilityID must be a non-empty string",
        ),
        (
            _trivy(Metadata={"RepoTags": "nginx:1.25.4"}),
            "r.json: Trivy report: Metadata.RepoTags must be a list of strings",
        ),
        (
            json.dumps({"matches": [], "source": {"type": "directory", "target": "."}}).encode(),
            "r.json: Grype report: source.type is 'directory', not 'image': it names no image",
        ),
        (
            json.dumps(
                {
                    "matches": [{"vulnerability": {"id": None}}],
                    "source": {"type": "image", "target": {"userInput": "x"}},
                }
            ).encode(),
            "r.json: Grype report: matches[0].vulnerability.id must be a non-empty string",
        ),
        (b"\xff\xfe{", "r.json: not UTF-8 text"),
    ],
)
def test_bad_reports_are_input_errors(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_image_report(data, "r.json")
    assert str(caught.value) == message


def vuln(id_: str, severity: Severity, fixed: str = "") -> Vulnerability:
    return Vulnerability(id_, severity, "pkg", "1", fixed)


def report(*names: str, digests: tuple[str, ...] = (), vulns: tuple[Vulnerability, ...] = ()) -> ImageScan:
    return ImageScan("r.json", "trivy", names, digests, vulns or (vuln("CVE-1", Severity.HIGH),))


@pytest.mark.parametrize(
    ("names", "digests", "image", "matches"),
    [
        pytest.param(("nginx:1.25.4",), (), "nginx:1.25.4", True, id="same-tag"),
        pytest.param(
            ("nginx:1.25.4",), (), "docker.io/library/nginx:1.25.4", True, id="docker-hub-normalised"
        ),
        pytest.param(
            ("docker.io/library/nginx:1.25.4",), (), "nginx:1.25.4", True, id="normalised-in-report"
        ),
        pytest.param(("nginx:1.25.4",), (), "nginx:1.25.5", False, id="other-tag"),
        pytest.param(("nginx",), (), "nginx:latest", True, id="untagged-report-is-latest"),
        pytest.param(("nginx:latest",), (), "nginx", True, id="untagged-image-is-latest"),
        pytest.param(("nginx:1.25.4",), (), "quay.io/nginx:1.25.4", False, id="other-registry"),
        pytest.param(
            ("nginx:1.25.4", f"nginx@{NGINX_INDEX}"), (), f"nginx@{NGINX_INDEX}", True, id="repo-digest"
        ),
        pytest.param(
            ("nginx:1.25.4", f"nginx@{NGINX_INDEX}"),
            (),
            f"nginx:1.25.4@{OTHER}",
            False,
            id="digest-decides-not-tag",
        ),
        pytest.param(("nginx:1.25.4",), (), f"nginx:1.25.4@{OTHER}", True, id="report-without-digest-by-tag"),
        pytest.param(
            ("nginx:1.25.4",), (), f"nginx@{OTHER}", False, id="report-without-digest-image-without-tag"
        ),
        pytest.param(
            ("redis:7.2",), (REDIS_MANIFEST,), f"redis@{REDIS_MANIFEST}", True, id="manifest-digest"
        ),
        pytest.param(
            ("redis:7.2",),
            (REDIS_MANIFEST,),
            f"bitnami/redis@{REDIS_MANIFEST}",
            False,
            id="digest-other-repo",
        ),
        pytest.param(("nginx:1.25.4",), (), "{{ .Values.image }}", False, id="template"),
        pytest.param(
            ("nginx@" + NGINX_INDEX,), (), "nginx:latest", False, id="digest-only-report-has-no-tag"
        ),
    ],
)
def test_matching(names: tuple[str, ...], digests: tuple[str, ...], image: str, matches: bool) -> None:
    scan = report(*names, digests=digests)
    assert (ImageVulnerabilities([scan]).reports(image) == [scan]) is matches


def test_merge_keeps_the_most_severe_per_id_and_orders_fixable_first() -> None:
    merged = merge(
        [
            vuln("CVE-3", Severity.MEDIUM),
            vuln("CVE-2", Severity.HIGH),
            vuln("CVE-1", Severity.LOW),
            vuln("CVE-1", Severity.HIGH),  # another package or scanner rates it higher
            vuln("CVE-4", Severity.HIGH, fixed="2.0"),
        ]
    )
    assert [(v.id, v.severity.label, v.fixed) for v in merged] == [
        ("CVE-4", "high", "2.0"),
        ("CVE-1", "high", ""),
        ("CVE-2", "high", ""),
        ("CVE-3", "medium", ""),
    ]


def test_two_reports_of_one_image_merge() -> None:
    trivy = report("nginx:1.25.4", vulns=(vuln("CVE-1", Severity.MEDIUM), vuln("CVE-2", Severity.LOW)))
    grype = report("nginx:1.25.4", vulns=(vuln("CVE-1", Severity.CRITICAL),))
    found = ImageVulnerabilities([trivy, grype]).vulnerabilities("nginx:1.25.4")
    assert [(v.id, v.severity) for v in found] == [("CVE-1", Severity.CRITICAL), ("CVE-2", Severity.LOW)]


NGINX_POD = mutate(MINIMAL_POD, ("/spec/containers/0/image", "nginx:1.25.4"))


def vulnerable(*objects: dict[str, Any], reports: tuple[Path, ...] = (TRIVY, GRYPE, CLEAN)) -> list[Finding]:
    text = yaml.safe_dump_all(list(objects), sort_keys=False)
    result = scan_text(text, ["image.vulnerable"], image_reports=tuple(map(str, reports)))
    assert result.errors == []
    return [f for f in result.findings if f.rule == "image.vulnerable"]


def test_finding_names_the_most_severe_and_counts_the_rest() -> None:
    [finding] = vulnerable(as_kind(NGINX_POD, "Deployment"))
    assert (finding.object.kind, finding.container, finding.location.path, finding.severity) == (
        "Deployment",
        "app",
        "/spec/template/spec/containers/0/image",
        Severity.CRITICAL,
    )
    assert finding.message == (
        "container 'app' runs image 'nginx:1.25.4' with 11 known vulnerabilities (4 critical, 3 high, 1 medium,"
        " 3 low; 6 with a fix): CVE-2024-37371 (critical, libgssapi-krb5-2), CVE-2024-45491 (critical, libexpat1),"
        " CVE-2024-45492 (critical, libexpat1), CVE-2023-45853 (critical, zlib1g), CVE-2024-2961 (high, libc-bin)"
        " and 6 more"
    )
    assert TOP_VULNERABILITIES == 5


def test_one_finding_per_image_and_workload() -> None:
    pod = mutate(
        NGINX_POD,
        ("/spec/initContainers", [{"name": "setup", "image": "nginx:1.25.4"}]),
        ("/spec/containers/-", {"name": "cache", "image": "redis:7.2"}),
    )
    found = vulnerable(pod)
    assert sorted((f.location.path, f.container, f.severity.label) for f in found) == [
        # Two containers run nginx: one finding, on the first, naming both.
        ("/spec/containers/0/image", None, "critical"),
        ("/spec/containers/1/image", "cache", "critical"),
    ]
    [both] = [f for f in found if f.container is None]
    assert both.message.startswith(
        "container 'app' and init container 'setup' run image 'nginx:1.25.4' with 11"
    )


def test_severity_is_the_worst_cve(tmp_path: Path) -> None:
    data = json.loads(TRIVY.read_text())
    data["Results"][0]["Vulnerabilities"] = [
        v for v in data["Results"][0]["Vulnerabilities"] if v["Severity"] == "LOW"
    ]
    path = tmp_path / "only-low.json"
    path.write_text(json.dumps(data))
    [finding] = vulnerable(NGINX_POD, reports=(path,))
    assert finding.severity is Severity.LOW
    assert finding.message.endswith(
        "(3 low; 1 with a fix): CVE-2024-5535 (low, libssl3), CVE-2011-3374 (low, apt),"
        " TEMP-0841856-B18BAF (low, bash)"
    )


def test_clean_and_unknown_images_do_not_fire() -> None:
    pod = mutate(MINIMAL_POD, ("/spec/containers/0/image", "fluent/fluent-bit:3.0"))
    other = mutate(MINIMAL_POD, ("/metadata/name", "other"), ("/spec/containers/0/image", "nginx:1.27"))
    assert vulnerable(pod, other) == []


def test_not_evaluated_without_reports() -> None:
    result = scan_objects(NGINX_POD, rules=["image.vulnerable"])
    assert result.findings == []
    assert [(n.rule, n.reason) for n in result.not_evaluated] == [
        ("image.vulnerable", "needs an image scan report (--image-report FILE: Trivy or Grype JSON)")
    ]


def test_a_bad_report_is_an_error_and_the_others_still_count(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = scan_text(
        yaml.safe_dump(NGINX_POD), ["image.vulnerable"], image_reports=(str(broken), str(TRIVY))
    )
    assert [str(e) for e in result.errors] == [
        f"{broken}:1: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]
    assert [f.rule for f in result.findings] == ["image.vulnerable"]
