"""The command line for reports: several formats, where each goes, config, baseline and image reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from conftest import IMAGE_REPORTS, MINIMAL_POD, mutate, run_cli
from kharden.errors import UsageError
from kharden.report import plan_outputs

MANIFEST = yaml.safe_dump(
    mutate(
        MINIMAL_POD,
        ("/metadata/name", "web"),
        ("/metadata/namespace", "shop"),
        ("/spec/containers/0/image", "nginx:1.25.4"),
        ("/spec/containers/0/securityContext/privileged", True),
    ),
    sort_keys=False,
)


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "web.yaml"
    path.write_text(MANIFEST)
    return path


@pytest.mark.parametrize(
    ("formats", "output", "planned"),
    [
        (["text"], None, [("text", None)]),
        (["sarif"], "out.sarif", [("sarif", "out.sarif")]),
        (["text", "sarif=k.sarif", "html=-"], None, None),
        (["text", "sarif=k.sarif"], None, [("text", None), ("sarif", "k.sarif")]),
        (["sarif", "html"], "out/kharden", [("sarif", "out/kharden.sarif"), ("html", "out/kharden.html")]),
        (["json", "junit"], "out/report.json", [("json", "out/report.json"), ("junit", "out/report.xml")]),
        (
            ["markdown", "policyreport"],
            "reports/",
            [("markdown", "reports/kharden.md"), ("policyreport", "reports/kharden.yaml")],
        ),
        (["text", "json=-"], "r.txt", [("text", "r.txt"), ("json", None)]),
    ],
)
def test_plan_outputs(
    formats: list[str], output: str | None, planned: list[tuple[str, str | None]] | None
) -> None:
    if planned is None:
        with pytest.raises(UsageError, match="only one --format can go to stdout"):
            plan_outputs(formats, output)
    else:
        assert plan_outputs(formats, output) == planned


def test_plan_outputs_errors() -> None:
    with pytest.raises(UsageError) as caught:
        plan_outputs(["sarif", "html"], None)
    assert str(caught.value) == (
        "several --format need --output BASE (writes BASE.sarif, BASE.html, ...) or FORMAT=FILE"
    )
    with pytest.raises(UsageError, match="two --format would write the same file"):
        plan_outputs(["sarif=r.out", "json=r.out"], None)


def test_several_formats_write_several_files(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, out, err = run_cli(
        capsys, "scan", str(manifest), "-f", "text", "-f", "sarif", "-f", "junit", "-f", "html",
        "-f", "policyreport", "-f", "markdown", "-f", "json", "-o", "reports/",
    )  # fmt: skip
    assert (code, out, err) == (1, "", "")
    reports = manifest.parent / "reports"
    assert sorted(p.name for p in reports.iterdir()) == [
        "kharden.html",
        "kharden.json",
        "kharden.md",
        "kharden.sarif",
        "kharden.txt",
        "kharden.xml",
        "kharden.yaml",
    ]
    assert json.loads((reports / "kharden.sarif").read_text())["version"] == "2.1.0"
    assert ET.fromstring((reports / "kharden.xml").read_text()).tag == "testsuites"
    assert next(yaml.safe_load_all((reports / "kharden.yaml").read_text()))["kind"] == "PolicyReport"
    assert "\x1b[" not in (reports / "kharden.txt").read_text()


def test_text_to_stdout_and_files_beside(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, out, _ = run_cli(capsys, "scan", str(manifest), "-f", "text", "-f", "sarif=k.sarif")
    assert code == 1
    assert out.startswith(f"{manifest}\n  Pod shop/web\n")
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads((manifest.parent / "k.sarif").read_text())["runs"][0]["results"]
    }
    assert uris == {"web.yaml"}


def test_sarif_root(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    sub = manifest.parent / "k8s"
    sub.mkdir()
    moved = sub / "web.yaml"
    manifest.rename(moved)
    run_cli(capsys, "scan", str(moved), "-f", "sarif=a.sarif")
    run_cli(capsys, "scan", str(moved), "-f", "sarif=b.sarif", "--sarif-root", str(sub))
    [a], [b] = (
        {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads((manifest.parent / name).read_text())["runs"][0]["results"]
        }
        for name in ("a.sarif", "b.sarif")
    )
    assert (a, b) == ("k8s/web.yaml", "web.yaml")


def test_format_errors_are_one_line(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, _, err = run_cli(capsys, "scan", str(manifest), "-f", "sarif=")
    assert code == 2
    assert err == (
        "kharden: error: argument -f/--format: sarif= needs a file name (or '-' for stdout) (see 'kharden scan --help')\n"
    )
    code, _, err = run_cli(capsys, "scan", str(manifest), "-f", "sarif", "-f", "html")
    assert (code, err) == (
        2,
        "kharden: error: several --format need --output BASE (writes BASE.sarif, BASE.html, ...) or FORMAT=FILE\n",
    )


def test_config_is_found_and_sets_fail_on(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    (manifest.parent / ".kharden.yaml").write_text("fail-on: never\nrules: {include: [pod.privileged]}\n")
    code, out, _ = run_cli(capsys, "scan", str(manifest), "-f", "json")
    assert code == 0
    assert {f["rule"] for f in json.loads(out)["findings"]} == {"pod.privileged"}
    # The command line wins over the config; --no-config ignores it.
    assert run_cli(capsys, "scan", str(manifest), "--fail-on", "high")[0] == 1
    code, out, _ = run_cli(capsys, "scan", str(manifest), "-f", "json", "--no-config", "--fail-on", "never")
    assert len({f["rule"] for f in json.loads(out)["findings"]}) > 1


def test_config_errors(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    config = manifest.parent / "k.yaml"
    config.write_text("ignore:\n  - rule: pod.privileged\n")
    code, out, err = run_cli(capsys, "scan", str(manifest), "--config", str(config))
    assert (code, out) == (2, "")
    assert (
        err == f"kharden: error: {config}:2: an ignore entry needs a 'reason' (why the finding is accepted)\n"
    )
    code, _, err = run_cli(capsys, "scan", str(manifest), "--config", str(config), "--no-config")
    assert (code, err) == (2, "kharden: error: --config and --no-config contradict each other\n")


def test_image_reports(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    report = str(IMAGE_REPORTS / "trivy-nginx-1.25.4.json")
    code, out, _ = run_cli(
        capsys, "scan", str(manifest), "--image-report", report, "--rule", "image.*", "-f", "json"
    )
    [vulnerable] = [f for f in json.loads(out)["findings"] if f["rule"] == "image.vulnerable"]
    assert (vulnerable["severity"], vulnerable["container"]) == ("critical", "app")
    assert code == 1
    code, _, err = run_cli(capsys, "scan", str(manifest), "--image-report", "missing.json")
    assert code == 2
    assert err.startswith(
        "kharden: error: missing.json: cannot read image report: No such file or directory\n"
    )


def test_baseline_write_needs_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "baseline", "write")
    assert code == 2
    assert err.startswith("kharden: error: the following arguments are required: FILE")
    code, _, err = run_cli(capsys, "baseline")
    assert code == 2
    assert "ACTION" in err


def test_baseline_write_takes_no_baseline(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, _, err = run_cli(capsys, "baseline", "write", "b.json", str(manifest), "--baseline", "old.json")
    assert (code, err) == (
        2,
        "kharden: error: baseline write records every unsuppressed finding: it takes no --baseline\n",
    )
