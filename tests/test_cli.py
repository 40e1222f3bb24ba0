"""The command line: exit codes, formats, rule selection, errors as one line each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kharden import __version__
from kharden.cli import main

PRIVILEGED = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
    - name: app
      image: registry.example.com/app:1.0@sha256:{digest}
      securityContext:
        privileged: true
        allowPrivilegeEscalation: true
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
""".replace("{digest}", "0123456789abcdef" * 4)


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(PRIVILEGED)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_findings_at_or_above_fail_on_exit_1(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, out, err = run(capsys, "scan", str(manifest))
    assert (code, err) == (1, "")
    assert "pod.privileged" in out
    assert "\x1b[" not in out  # no colour when not a terminal


@pytest.mark.parametrize(
    ("fail_on", "code"), [("critical", 1), ("CRITICAL", 1), ("high", 1), ("never", 0), ("low", 1)]
)
def test_fail_on(capsys: pytest.CaptureFixture[str], manifest: Path, fail_on: str, code: int) -> None:
    assert run(capsys, "scan", str(manifest), "--fail-on", fail_on)[0] == code


def test_fail_on_above_every_finding_exits_0(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    assert (
        run(capsys, "scan", str(manifest), "--rule", "pod.privilege-escalation", "--fail-on", "critical")[0]
        == 0
    )


def test_unknown_severity(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, _, err = run(capsys, "scan", str(manifest), "--fail-on", "severe")
    assert (code, err) == (
        2,
        "kharden: error: unknown severity 'severe' (expected one of: info, low, medium, high, critical)\n",
    )


@pytest.mark.parametrize("option", ["--rule", "--skip-rule"])
def test_rule_glob_matching_nothing_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], manifest: Path, option: str
) -> None:
    code, out, err = run(capsys, "scan", str(manifest), option, "pod.privilegd")
    assert (code, out) == (2, "")
    assert err == "kharden: error: --rule/--skip-rule 'pod.privilegd' matches no rule (see 'kharden rules')\n"


def test_rule_and_skip_rule_globs(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, out, _ = run(
        capsys, "scan", str(manifest), "-f", "json", "--rule", "pod.*", "--skip-rule", "pod.privileged"
    )
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert rules == {"pod.privilege-escalation"}
    assert code == 1


def test_input_error_exits_2_and_still_reports_other_files(
    capsys: pytest.CaptureFixture[str], manifest: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [\n")
    code, out, err = run(capsys, "scan", str(manifest), str(broken), "-f", "json")
    assert code == 2
    assert err == f"kharden: error: {broken}:2: invalid YAML: did not find expected node content (column 1)\n"
    data = json.loads(out)
    assert {f["rule"] for f in data["findings"]} >= {"pod.privileged"}
    assert data["errors"] == [
        {
            "file": str(broken),
            "line": 2,
            "message": "invalid YAML: did not find expected node content (column 1)",
        }
    ]


def test_nothing_to_scan(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "scan") == (
        2,
        "",
        "kharden: error: nothing to scan: give files, directories, '-' for stdin, --node-root DIR, --cluster"
        " or --snapshot FILE\n",
    )


def test_bad_arguments_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "scan", "x.yaml", "--format", "xml")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("kharden: error: argument -f/--format: invalid choice: 'xml'")


def test_json_contract(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, out, _ = run(capsys, "scan", str(manifest), "-f", "json", "--rule", "pod.privileged")
    data = json.loads(out)
    assert data["version"] == 1
    assert data["tool"] == {"name": "kharden", "version": __version__}
    [finding] = data["findings"]
    assert finding == {
        "rule": "pod.privileged",
        "severity": "critical",
        "section": "pods",
        "title": "Privileged container",
        "object": {"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "web"},
        "container": "app",
        "location": {
            "file": str(manifest),
            "line": 12,
            "column": 9,
            "path": "/spec/containers/0/securityContext/privileged",
        },
        "message": "container 'app' runs privileged (securityContext.privileged: true)",
        "remediation": "set securityContext.privileged to false (and windowsOptions.hostProcess to false)",
        "fingerprint": finding["fingerprint"],
        "suppressed": None,
        "fix": {"automatic": True, "unsafe": False},
        "attack_paths": 0,  # the pod is exposed by nothing: no attack path starts there
    }
    assert len(finding["fingerprint"]) == 32
    assert data["errors"] == []
    assert data["not_evaluated"] == []
    summary = data["summary"]
    assert summary["objects"] == 1
    assert summary["findings"] == {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0}
    assert (summary["suppressed"], summary["by_section"]) == (0, {"pods": 1})


def test_output_file(capsys: pytest.CaptureFixture[str], manifest: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = run(capsys, "scan", str(manifest), "-f", "json", "-o", str(target))
    assert (code, out) == (1, "")
    assert json.loads(target.read_text())["summary"]["objects"] == 1


def test_color_always(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, out, _ = run(capsys, "scan", str(manifest), "--color", "always")
    assert "\x1b[" in out


def test_text_report_groups_by_file_and_object(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, out, _ = run(capsys, "scan", str(manifest), "--rule", "pod.privileged")
    lines = out.splitlines()
    assert lines[0] == str(manifest)
    assert lines[1] == "  Pod shop/web"
    assert lines[2].split() == [
        "12:9",
        "critical",
        "pod.privileged",
        *["container", "'app'", "runs", "privileged", "(securityContext.privileged:", "true)"],
    ]
    assert "Summary" in lines
    assert "  1 object in 1 file" in lines
    assert "  1 finding: 1 critical" in lines


def test_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = __import__("io").BytesIO(PRIVILEGED.encode())

    monkeypatch.setattr(sys, "stdin", Stdin)
    code, out, _ = run(capsys, "scan", "-", "-f", "json", "--rule", "pod.privileged")
    assert code == 1
    assert json.loads(out)["findings"][0]["location"]["file"] == "<stdin>"


def test_rules_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0
    assert out.splitlines()[0].split() == ["ID", "SEVERITY", "FROM", "CEL", "FIX", "TITLE"]
    rows = {line.split()[0]: line.split() for line in out.split("\n\n")[0].splitlines()[1:]}
    assert rows["pod.privileged"][3:5] == ["yes", "auto"]
    assert rows["pod.sensitive-mount"][3:5] == ["-", "unsafe"]
    assert rows["pod.seccomp"][3:5] == ["yes", "auto"]
    assert rows["pod.writable-root-fs"][3:5] == ["yes", "unsafe"]
    assert rows["pod.root-group"][3:5] == ["yes", "-"]
    assert rows["sa.automount"][4] == "auto"
    code, out, _ = run(capsys, "rules", "-f", "json")
    assert "pod.privileged" in [r["id"] for r in json.loads(out)["rules"]]
    code, out, _ = run(capsys, "explain", "pod.privileged")
    assert code == 0
    assert out.startswith("pod.privileged: Privileged container\n")
    assert "Reads: " in out
    assert "\nkharden fix: automatic\nAdmission policy (CEL): exported\n" in out
    code, out, _ = run(capsys, "explain", "pod.sensitive-mount")
    assert "\nkharden fix: only with --unsafe\n" in out
    assert "Admission policy (CEL): not exported: paths are normalised" in out


def test_explain_unknown_rule(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "pod.privilegd")
    assert code == 2
    assert err.startswith("kharden: error: unknown rule 'pod.privilegd' (rules of 'pod': pod.run-as-root, ")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"kharden {__version__}\n"


@pytest.mark.parametrize("command", ["kharden", "kubectl-kharden"])
def test_installed_commands(command: str, manifest: Path) -> None:
    executable = Path(sys.executable).parent / command
    result = subprocess.run(
        [str(executable), "scan", str(manifest), "--rule", "pod.privileged"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "pod.privileged" in result.stdout
    assert result.stderr == ""


def test_broken_pipe_is_quiet(manifest: Path) -> None:
    executable = Path(sys.executable).parent / "kharden"
    many = manifest.parent / "many.yaml"
    many.write_text("---\n".join(PRIVILEGED.replace("name: web", f"name: web{i}") for i in range(300)))
    result = subprocess.run(  # noqa: S602 - the test needs a real shell pipe to a reader that quits
        f"'{executable}' scan '{many}' | head -1", shell=True, capture_output=True, text=True, check=False
    )
    assert result.stderr == ""
    assert result.stdout == f"{many}\n"


def test_the_command_ends_at_once_with_every_report_written_whole(manifest: Path, tmp_path: Path) -> None:
    """``kharden`` skips the interpreter's teardown (``cli.run``): what it wrote to a pipe and to files must
    all be there, and its exit code be main's."""
    many = manifest.parent / "many.yaml"
    many.write_text("---\n".join(PRIVILEGED.replace("name: web", f"name: web{i}") for i in range(300)))
    sarif = tmp_path / "out.sarif"
    executable = Path(sys.executable).parent / "kharden"
    result = subprocess.run(
        [str(executable), "scan", str(many), "-f", "json", "-f", f"sarif={sarif}"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 1
    assert len(result.stdout) > 100_000  # more than a pipe holds: written while the reader reads
    assert {f["object"]["name"] for f in json.loads(result.stdout)["findings"]} >= {
        f"web{i}" for i in range(300)
    }
    assert len(json.loads(sarif.read_text())["runs"][0]["results"]) >= 300
    module = subprocess.run(
        [sys.executable, "-m", "kharden", "scan", str(many), "-f", "json"], capture_output=True, check=False
    )
    assert (module.returncode, module.stdout) == (result.returncode, result.stdout)
