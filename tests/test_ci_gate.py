"""What a CI pipeline gates on and reads: --severity, --min-score, GitHub annotations, SARIF locations for
stdin and rendered output, shell completion, the rules legend, the package's metadata and docs, CI=true."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import conftest
from conftest import EXAMPLES, PRIVILEGED_POD, TESTS, run_cli
from kharden.cli import COMPLETION_SHELLS, _complete, completion_script
from kharden.model import Location
from kharden.report import _source, github
from kharden.rules import EVIDENCE

ROOT = TESTS.parent
INSECURE = str(EXAMPLES / "insecure")
PRIVILEGED = PRIVILEGED_POD


def _json(out: str) -> dict[str, object]:
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


# -- --severity -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "shown", "code"),
    [
        (["--severity", "critical"], {"critical"}, 1),
        (["--severity", "critical,high"], {"critical", "high"}, 1),
        (["--severity", "low", "--severity", "info"], {"low"}, 0),  # the insecure app has no info finding
    ],
)
def test_severity_shows_and_counts_only_those(
    argv: list[str], shown: set[str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = _json(run_cli(capsys, "scan", INSECURE, "-f", "json")[1])
    got, out, _ = run_cli(capsys, "scan", INSECURE, "-f", "json", *argv)
    report = _json(out)
    findings = report["findings"]
    assert isinstance(findings, list)
    assert {f["severity"] for f in findings} == shown
    assert got == code
    summary = report["summary"]
    assert isinstance(summary, dict)
    assert {k for k, n in summary["findings"].items() if n} == shown
    assert summary["score"] == everything["summary"]["score"]  # type: ignore[index]


def test_severity_rejects_an_unknown_level(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "scan", INSECURE, "--severity", "critical,urgent")
    assert code == 2
    assert "unknown severity 'urgent'" in err


# -- --min-score ------------------------------------------------------------------------------------


def test_min_score_gates_on_the_overall_score(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "scan", INSECURE, "--fail-on", "never", "--min-score", "50")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("kharden: the score ")
    assert err.strip().endswith("is below --min-score 50")
    assert run_cli(capsys, "scan", INSECURE, "--fail-on", "never", "--min-score", "0")[0] == 0
    assert run_cli(capsys, "scan", str(EXAMPLES / "hardened"), "--min-score", "100")[0] == 0


def test_min_score_fails_when_nothing_was_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "scan", str(tmp_path), "--allow-empty", "--min-score", "1")
    assert code == 1
    assert "kharden: the score n/a is below --min-score 1" in err


@pytest.mark.parametrize("value", ["-1", "101"])
def test_min_score_is_a_percentage(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "scan", INSECURE, "--min-score", value)
    assert (code, err.strip()) == (2, "kharden: error: --min-score must be between 0 and 100")


# -- GitHub Actions annotations -----------------------------------------------------------------------


def test_github_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "debug.yaml").write_text(PRIVILEGED, encoding="utf-8")
    (tmp_path / "k8s" / "broken.yaml").write_text("kind: [\n", encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "scan", "k8s", "-f", "github", "--rule", "pod.privileged", "--rule", "image.*"
    )
    assert code == 2
    lines = out.splitlines()
    assert lines[0].startswith("::notice file=k8s/debug.yaml,line=6,col=19,title=image.not-pinned%3A")
    assert lines[1] == (
        "::error file=k8s/debug.yaml,line=6,col=58,title=pod.privileged%3A Privileged container::Pod shop/debug:"
        " container 'shell' runs privileged (securityContext.privileged: true)%0Afix: set"
        " securityContext.privileged to false (and windowsOptions.hostProcess to false)"
    )
    assert lines[-2].startswith("::error file=k8s/broken.yaml,line=2,title=kharden%3A input error::")
    assert lines[-1] == ("::notice title=kharden::kharden: 1 critical, 1 low; score 40/100; 1 input error")


def test_github_escapes_what_could_end_or_start_a_command() -> None:
    assert github.escape_data("100% done\r\n::error::pwned") == "100%25 done%0D%0A::error::pwned"
    assert github.escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"
    command = github._command("warning", {"file": "a,b.yaml", "title": "x: y"}, "line\n::error::no")
    assert command == "::warning file=a%2Cb.yaml,title=x%3A y::line%0A::error::no"
    assert "\n" not in command


# -- locations of stdin and rendered output -----------------------------------------------------------


def _sarif_locations(out: str) -> list[object]:
    return [r["locations"][0].get("physicalLocation") for r in _json(out)["runs"][0]["results"]]  # type: ignore[index]


def test_sarif_from_stdin_names_the_source_templates(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = "---\n# Source: web/templates/debug.yaml\n" + PRIVILEGED
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(rendered.encode())))
    code, out, _ = run_cli(
        capsys, "scan", "-", "-f", "sarif", "--rule", "pod.privileged", "--sarif-root", "."
    )
    assert code == 1
    assert _sarif_locations(out) == [
        {"artifactLocation": {"uri": "web/templates/debug.yaml", "uriBaseId": "%SRCROOT%"}}
    ]


def test_sarif_from_stdin_takes_a_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PRIVILEGED.encode())))
    argv = ["scan", "-", "-f", "sarif", "--rule", "pod.privileged", "--sarif-root", "."]
    code, out, _ = run_cli(capsys, *argv, "--stdin-name", "k8s/debug.yaml")
    assert code == 1
    assert _sarif_locations(out) == [
        {
            "artifactLocation": {"uri": "k8s/debug.yaml", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": 6, "startColumn": 58},
        }
    ]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PRIVILEGED.encode())))
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert (
        err.strip()
        == "kharden: error: 1 finding from stdin have no file for sarif: name it with --stdin-name NAME"
    )


def test_rendered_output_without_a_template_points_at_the_chart_or_kustomization(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\n", encoding="utf-8")
    rendered = Location(str(tmp_path), 3, 1, "/spec", None, "kustomize")
    assert _source.source_file(rendered) == (str(tmp_path / "kustomization.yaml"), False)
    (tmp_path / "Chart.yaml").write_text("name: web\n", encoding="utf-8")
    assert _source.source_file(rendered._replace(renderer="helm")) == (str(tmp_path / "Chart.yaml"), False)
    edit = Location("overlays/debug/escalation.yaml", 7, 5, "/spec", "base/deployment.yaml", "kustomize")
    assert _source.source_file(edit) == ("overlays/debug/escalation.yaml", True)  # where a person edits
    assert _source.source_file(Location(None, None, None, "/spec")) is None


def test_rendered_charts_have_a_location_in_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    chart = str(TESTS / "data" / "charts" / "web")
    code, out, _ = run_cli(
        capsys, "scan", chart, "-f", "sarif", "--fail-on", "never", "--sarif-root", str(ROOT)
    )
    assert code == 0
    locations = _sarif_locations(out)
    assert locations
    assert all(
        isinstance(p, dict) and p["artifactLocation"]["uri"].startswith("tests/data/charts/web/")
        for p in locations
    )


# -- shell completion ---------------------------------------------------------------------------------


def _completions(line: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What kharden answers a shell asking to complete ``line`` (in this process: argcomplete's debug
    stream, file descriptor 9 in a shell, would be one of pytest's here)."""
    from argcomplete import finders  # noqa: PLC0415

    monkeypatch.setattr(finders.CompletionFinder, "_init_debug_stream", lambda self: None)
    monkeypatch.setenv("_ARGCOMPLETE", "1")
    monkeypatch.setenv("_ARGCOMPLETE_IFS", "\n")
    monkeypatch.setenv("COMP_LINE", line)
    monkeypatch.setenv("COMP_POINT", str(len(line)))
    output = io.StringIO()

    def done(code: int) -> None:
        raise SystemExit(code)

    with pytest.raises(SystemExit):
        _complete(output, done)
    return sorted(output.getvalue().split("\n"))


def test_completion_of_commands_formats_and_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _completions("kharden sc", monkeypatch) == ["scan", "schema"]
    assert "github" in _completions("kharden scan -f ", monkeypatch)
    assert _completions("kharden scan --rule pod.priv", monkeypatch) == [
        "pod.privilege-escalation",
        "pod.privileged",
    ]
    assert "netpol.\\*" in _completions("kharden scan --skip-rule net", monkeypatch)  # escaped for the shell
    assert [c for c in _completions("kharden completion ", monkeypatch) if not c.startswith("-")] == [
        "bash",
        "fish",
        "zsh",
    ]


@pytest.mark.parametrize("shell", COMPLETION_SHELLS)
def test_completion_scripts(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "completion", shell)
    assert code == 0
    assert out == completion_script(shell)
    assert "_ARGCOMPLETE" in out
    if shell == "bash":
        subprocess.run(["bash", "-n"], input=out, text=True, check=True)  # noqa: S607 - the shell it is for
        assert "complete " in out
    if shell == "fish":
        assert "complete --command kharden" in out


def test_bash_completes_through_the_script(tmp_path: Path) -> None:
    """The whole path: bash runs the script's completion function, which asks kharden."""
    script = tmp_path / "kharden.bash"
    script.write_text(completion_script("bash"), encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    test = (
        f"source {script}; COMP_WORDS=(kharden scan --fail); COMP_CWORD=2; COMP_LINE='kharden scan --fail';"
        " COMP_POINT=${#COMP_LINE}; _python_argcomplete kharden; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", test],  # noqa: S607 - the shell the script is for
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.stdout.split() == ["--fail-on"], done.stderr


# -- the rules' FROM column ---------------------------------------------------------------------------


def test_rules_table_explains_its_from_column(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "rules")
    legend = out.split("\n\nFROM: ", 1)[1].split("\n\n")[0].splitlines()
    assert legend[0] == "the evidence a rule judges (it runs when the scan has one of them)"
    assert legend[1 : 1 + len(EVIDENCE)] == [f"  {letter}  {meaning}" for letter, meaning in EVIDENCE.items()]
    assert [line.split(":")[0] for line in legend[1 + len(EVIDENCE) :]] == ["CEL", "FIX"]


# -- license, metadata, docs, CI ----------------------------------------------------------------------


def test_license_and_project_urls() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    found = metadata.metadata("kharden")
    assert found["License-Expression"] == "Apache-2.0"
    urls = dict(entry.split(", ", 1) for entry in found.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= urls.keys()


_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize(
    "doc",
    [p.relative_to(ROOT) for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]]
    + [
        Path(p) for p in ("examples/README.md", "deploy/README.md", "bench/README.md") if (ROOT / p).is_file()
    ],
    ids=str,
)
def test_docs_link_only_inside_the_repository(doc: Path) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a web page, or a heading of this page
        path = ((ROOT / doc).parent / target.split("#", 1)[0]).resolve()
        assert path.is_relative_to(ROOT.resolve()), f"{doc}: {target} is outside the repository"
        assert path.exists(), f"{doc}: {target} does not exist"
    if doc.parts[0] in {"README.md", "docs"}:
        assert "../shared" not in text, f"{doc} sends readers outside the repository"


def test_the_shared_folder_is_required_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require_shared()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        conftest.require_shared()
    assert "export CI=true" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
