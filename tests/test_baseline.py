"""Baselines: today's findings recorded, only new ones fail; lines may move, documents reorder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES, MINIMAL_POD, mutate, run_cli, scan_objects
from kharden.baseline import Baseline, baseline_json, load_baseline
from kharden.errors import ConfigError
from kharden.model import Severity
from kharden.rules import select
from kharden.scan import ScanOptions, evaluate, scan
from kharden.sources.documents import Collected
from kharden.suppress import Policy


def copy_app(directory: Path) -> None:
    """A copy of the insecure web and API manifests: the estate a team adopts kharden on."""
    directory.mkdir(exist_ok=True)
    for name in ("web.yaml", "api.yaml"):
        shutil.copy(EXAMPLES / "insecure" / name, directory / name)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    copy_app(tmp_path / "k8s")
    return tmp_path / "k8s"


def edit_web(app: Path, *, new_problem: bool) -> None:
    """Move lines (a comment block, the Service first, keys reordered) and maybe add one new problem."""
    text = (app / "web.yaml").read_text()
    deployment, service, *rest = text.split("\n---\n")
    deployment = deployment.replace(
        "          ports:\n            - {name: http, containerPort: 80}\n"
        "          resources:\n            requests: {cpu: 50m, memory: 64Mi}\n            limits: {memory: 128Mi}",
        "          resources:\n            requests: {cpu: 50m, memory: 64Mi}\n            limits: {memory: 128Mi}\n"
        "          ports:\n            - {name: http, containerPort: 80}",
    )
    assert "limits: {memory: 128Mi}\n          ports:" in deployment
    if new_problem:
        deployment = deployment.replace(
            "    spec:\n      containers:", "    spec:\n      hostPID: true\n      containers:"
        )
        assert "hostPID: true" in deployment
    header = "# Reviewed in the platform meeting.\n# Owner: web team.\n# Ticket: WEB-1234.\n"
    documents = [service.strip(), deployment, *(document.strip() for document in rest)]
    (app / "web.yaml").write_text(header + "\n---\n".join(documents) + "\n")
    # The API's containers swap places too.
    api = (app / "api.yaml").read_text()
    first = api.index("        - name: api\n")
    second = api.index("        - name: envoy\n")
    end = api.index("---", second)
    api = api[:first] + api[second:end] + api[first:second] + api[end:]
    (app / "api.yaml").write_text(api)


def test_only_the_new_problem_fails(capsys: pytest.CaptureFixture[str], app: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    code, out, err = run_cli(capsys, "baseline", "write", str(baseline), str(app))
    recorded = json.loads(baseline.read_text())["findings"]
    assert (code, out) == (0, "")
    assert err == f"kharden: wrote {len(recorded)} findings to the baseline {baseline}\n"
    assert len(recorded) > 20

    # Today: everything is in the baseline, nothing fails.
    code, out, _ = run_cli(capsys, "scan", str(app), "--baseline", str(baseline), "-f", "json")
    data = json.loads(out)
    assert code == 0
    assert {f["suppressed"]["kind"] for f in data["findings"]} == {"baseline"}
    assert data["summary"]["baseline"] == {
        "file": str(baseline),
        "entries": len(recorded),
        "matched": len(recorded),
        "fixed": 0,
    }

    # Lines moved, documents and containers reordered: still nothing new.
    edit_web(app, new_problem=False)
    code, out, _ = run_cli(capsys, "scan", str(app), "--baseline", str(baseline), "-f", "json")
    assert code == 0
    assert [f for f in json.loads(out)["findings"] if f["suppressed"] is None] == []

    # One new problem: it alone is active, and it fails the run.
    copy_app(app)
    edit_web(app, new_problem=True)
    code, out, _ = run_cli(capsys, "scan", str(app), "--baseline", str(baseline), "-f", "json")
    active = [f for f in json.loads(out)["findings"] if f["suppressed"] is None]
    assert [(f["rule"], f["object"]["name"], f["location"]["path"]) for f in active] == [
        ("pod.host-namespaces", "web", "/spec/template/spec/hostPID")
    ]
    line = active[0]["location"]["line"]
    assert (app / "web.yaml").read_text().splitlines()[line - 1] == "      hostPID: true"
    assert code == 1


def test_text_report_says_what_the_baseline_did(
    capsys: pytest.CaptureFixture[str], app: Path, tmp_path: Path
) -> None:
    baseline = tmp_path / "baseline.json"
    run_cli(capsys, "baseline", "write", str(baseline), str(app), "--rule", "pod.*")
    (app / "api.yaml").unlink()
    web = len(scan([str(app)], ScanOptions(rules=("pod.*",))).findings)
    code, out, _ = run_cli(capsys, "scan", str(app), "--baseline", str(baseline), "--rule", "pod.*")
    assert code == 0
    entries = len(json.loads(baseline.read_text())["findings"])
    assert f"  no findings ({web} suppressed by baseline)\n" in out
    fixed = entries - web
    assert (
        f"  baseline {baseline}: {web} of {entries} entries still found, {fixed} fixed or no longer scanned\n"
        in out
    )


def test_a_finding_that_got_worse_is_new() -> None:
    bad = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))
    [finding] = scan_objects(bad, rules=["pod.privileged"]).findings
    recorded = Baseline("b.json", {finding.fingerprint: Severity.CRITICAL})
    assert recorded.covers(finding.fingerprint, Severity.CRITICAL)
    assert recorded.covers(finding.fingerprint, Severity.HIGH)
    lower = Baseline("b.json", {finding.fingerprint: Severity.HIGH})
    assert not lower.covers(finding.fingerprint, Severity.CRITICAL)
    assert not recorded.covers("0" * 32, Severity.LOW)


def test_policy_applies_the_baseline() -> None:
    bad = mutate(MINIMAL_POD, ("/spec/containers/0/securityContext/privileged", True))
    [finding] = scan_objects(bad, rules=["pod.privileged"]).findings
    policy = Policy(baseline=Baseline("b.json", {finding.fingerprint: Severity.CRITICAL}))
    collected = Collected()
    collected.add_stream(yaml.safe_dump(bad).encode(), "pod.yaml")
    report = evaluate(collected, select(["pod.privileged"]), policy)
    assert [(f.suppressed.kind, f.suppressed.reason) for f in report.findings if f.suppressed] == [
        ("baseline", "in the baseline b.json")
    ]
    assert report.exit_code(Severity.HIGH) == 0


def test_file_is_sorted_stable_and_round_trips(app: Path) -> None:
    report = scan([str(app)])
    text = baseline_json(report.findings)
    assert baseline_json(list(reversed(report.findings))) == text
    data = json.loads(text)
    assert list(data) == ["version", "tool", "findings"]
    rows = data["findings"]
    assert rows == sorted(rows, key=lambda r: (r["file"], r["object"], r["rule"], r["fingerprint"]))
    assert set(rows[0]) == {"fingerprint", "rule", "severity", "object", "container", "file", "message"}
    path = app.parent / "b.json"
    path.write_text(text)
    loaded = load_baseline(str(path))
    assert loaded.entries == {f.fingerprint: f.severity for f in report.findings}
    # One finding per line: a baseline diffs well in review.
    assert text.count("\n") == len(rows) + 6


def test_suppressed_findings_are_not_recorded() -> None:
    annotated = mutate(
        MINIMAL_POD,
        ("/spec/containers/0/securityContext/privileged", True),
        ("/metadata/annotations", {"kharden.io/ignore": "pod.privileged"}),
    )
    report = scan_objects(annotated, rules=["pod.privileged", "pod.privilege-escalation"])
    rows = json.loads(baseline_json(report.findings))["findings"]
    assert [r["rule"] for r in rows] == ["pod.privilege-escalation"]


def test_empty_baseline(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text(baseline_json([]))
    assert json.loads(path.read_text())["findings"] == []
    assert load_baseline(str(path)).entries == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"version": 1,\n "findings": [\n',
            ":3: invalid YAML: did not find expected node content (column 1)",
        ),
        ('{"version": 2, "findings": []}', ":1: unsupported baseline version 2 (expected 1)"),
        ('{"version": 1,\n "findings": {}}', ":2: 'findings' must be a list"),
        (
            '{"version": 1, "findings": [\n  {"rule": "pod.privileged"}\n]}',
            ":2: a baseline entry needs a 'fingerprint' string",
        ),
        ('{"version": 1, "findings": [\n  "abc"\n]}', ":2: a baseline entry must be an object"),
        (
            '{"version": 1, "findings": [\n  {"fingerprint": "ab",\n   "severity": "severe"}\n]}',
            ":3: unknown severity 'severe'",
        ),
        ("[]", ": not a kharden baseline (expected one JSON object)"),
    ],
)
def test_malformed_baselines(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_baseline(str(path))
    assert str(caught.value) == f"{path}{message}"


def test_missing_baseline_is_a_usage_error(capsys: pytest.CaptureFixture[str], app: Path) -> None:
    code, out, err = run_cli(capsys, "scan", str(app), "--baseline", "nope.json")
    assert (code, out) == (2, "")
    assert err == "kharden: error: nope.json: cannot read baseline: No such file or directory\n"


def test_baseline_write_refuses_an_incomplete_scan(
    capsys: pytest.CaptureFixture[str], app: Path, tmp_path: Path
) -> None:
    (app / "broken.yaml").write_text("a: [\n")
    baseline = tmp_path / "b.json"
    code, _, err = run_cli(capsys, "baseline", "write", str(baseline), str(app))
    assert code == 2
    assert err.splitlines()[-1] == (
        "kharden: error: not writing the baseline: 1 input(s) could not be read, and their findings would be"
        " missing from it"
    )
    assert not baseline.exists()


def test_config_names_the_baseline(capsys: pytest.CaptureFixture[str], app: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "kharden-baseline.json"
    run_cli(capsys, "baseline", "write", str(baseline), str(app))
    config = tmp_path / ".kharden.yaml"
    config.write_text("baseline: kharden-baseline.json\n")
    code, out, _ = run_cli(capsys, "scan", str(app), "--config", str(config), "-f", "json")
    assert code == 0
    assert json.loads(out)["summary"]["suppressed_by"] == {"baseline": len(scan([str(app)]).findings)}
    # `baseline write` ignores the config's baseline: it records every finding again.
    code, _, err = run_cli(capsys, "baseline", "write", str(baseline), str(app), "--config", str(config))
    assert code == 0
    assert err.startswith("kharden: wrote ")
    assert ScanOptions().baseline is None
