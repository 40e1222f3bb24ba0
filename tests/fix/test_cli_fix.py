"""``kharden fix`` on the command line: diff or --write, --unsafe, exit codes, safe writes, bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conftest import run_cli
from fix.helpers import fix
from kharden.fix import write_fixes

POD = """\
# the web pod
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: app
      image: registry.example.com/web:1.0   # pinned by the release job
      securityContext:
        privileged: true
"""

HARDENED = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: app
      image: registry.example.com/web:1.0
      securityContext:
        allowPrivilegeEscalation: false
"""


@pytest.fixture
def pod(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(POD, encoding="utf-8")
    return path


def test_diff_by_default_exit_1_and_nothing_written(capsys: pytest.CaptureFixture[str], pod: Path) -> None:
    code, out, err = run_cli(
        capsys, "fix", str(pod), "--rule", "pod.privileged", "--rule", "pod.privilege-escalation"
    )
    assert code == 1
    assert out == (
        f"--- {pod}\n+++ {pod}\n@@ -13,4 +13,4 @@\n"
        "     - name: app\n"
        "       image: registry.example.com/web:1.0   # pinned by the release job\n"
        "       securityContext:\n"
        "-        privileged: true\n"
        "+        allowPrivilegeEscalation: false\n"
    )
    assert err == "kharden: 2 findings fixed in 1 file (diff only; --write to apply)\n"
    assert pod.read_text(encoding="utf-8") == POD


def test_write_then_nothing_left_exit_0(capsys: pytest.CaptureFixture[str], pod: Path) -> None:
    code, out, err = run_cli(capsys, "fix", str(pod), "--write")
    assert (code, out) == (1, "")
    assert "fixed in 1 file (written)" in err
    text = pod.read_text(encoding="utf-8")
    assert "privileged" not in text
    assert "# pinned by the release job" in text
    assert run_cli(capsys, "fix", str(pod), "--write")[:2] == (0, "")
    code, out, _ = run_cli(capsys, "scan", str(pod), "--rule", "pod.*", "-f", "json")
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["pod.writable-root-fs"]


def test_nothing_to_fix_exit_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HARDENED, encoding="utf-8")
    assert run_cli(capsys, "fix", str(path), "--rule", "pod.privilege-escalation") == (
        0,
        "",
        "kharden: 0 findings fixed in 0 files\n",
    )


def test_unsafe_fixes_only_with_unsafe_and_the_hunk_says_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HARDENED, encoding="utf-8")
    code, out, err = run_cli(capsys, "fix", str(path), "--rule", "pod.writable-root-fs")
    assert (code, out) == (0, "")
    assert err == "kharden: 0 findings fixed in 0 files; 1 left that only --unsafe fixes\n"
    code, out, err = run_cli(capsys, "fix", str(path), "--rule", "pod.writable-root-fs", "--unsafe")
    assert code == 1
    assert out == (
        f"--- {path}\n+++ {path}\n"
        "@@ -8,3 +8,10 @@ may break: pod.writable-root-fs: the program may write outside /tmp"
        " (caches, pid files, its own data)\n"
        "       image: registry.example.com/web:1.0\n"
        "       securityContext:\n"
        "         allowPrivilegeEscalation: false\n"
        "+        readOnlyRootFilesystem: true\n"
        "+      volumeMounts:\n"
        "+        - name: tmp\n"
        "+          mountPath: /tmp\n"
        "+  volumes:\n"
        "+    - name: tmp\n"
        "+      emptyDir: {}\n"
    )


def test_write_keeps_the_mode_and_leaves_no_temporary_file(
    capsys: pytest.CaptureFixture[str], pod: Path
) -> None:
    pod.chmod(0o640)
    assert run_cli(capsys, "fix", str(pod), "--write")[0] == 1
    assert stat.S_IMODE(os.stat(pod).st_mode) == 0o640
    assert sorted(p.name for p in pod.parent.iterdir()) == ["web.yaml"]


def test_a_file_changed_on_disk_is_not_overwritten(pod: Path) -> None:
    result = fix([str(pod)])
    pod.write_text(POD + "# edited meanwhile\n", encoding="utf-8")
    errors = write_fixes(result)
    assert [(e.file, e.message) for e in errors] == [
        (str(pod), "changed on disk since kharden read it: not overwritten")
    ]
    assert pod.read_text(encoding="utf-8") == POD + "# edited meanwhile\n"


def test_a_broken_file_is_reported_and_left_the_others_fixed(
    capsys: pytest.CaptureFixture[str], pod: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Pod\nspec: [unclosed\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "fix", str(tmp_path), "--write")
    assert code == 2
    assert f"kharden: error: {broken}:4: invalid YAML" in err
    assert broken.read_text(encoding="utf-8") == "apiVersion: v1\nkind: Pod\nspec: [unclosed\n"
    assert "privileged" not in pod.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fix", "-"], "kharden: error: kharden fix edits files: give paths, not '-'\n"),
        (
            ["fix", "x.yaml", "--rule", "pod.nope"],
            "kharden: error: --rule/--skip-rule 'pod.nope' matches no rule",
        ),
        (
            ["fix", "x.yaml", "--rule", "rbac.*"],
            "kharden: error: none of the selected rules has an automatic fix (see 'kharden rules', column FIX)\n",
        ),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message)


def test_help_documents_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "fix", "--help")
    out = capsys.readouterr().out
    for words in ("--write", "--unsafe", "--values-out", "patches:", "Exit codes: 0 nothing to change"):
        assert words in out


def test_scan_json_says_what_fix_can_do(capsys: pytest.CaptureFixture[str], pod: Path) -> None:
    _, out, _ = run_cli(capsys, "scan", str(pod), "-f", "json", "--rule", "pod.*", "--rule", "image.*")
    fixes = {f["rule"]: f["fix"] for f in json.loads(out)["findings"]}
    assert fixes == {
        "pod.privileged": {"automatic": True, "unsafe": False},
        "pod.privilege-escalation": {"automatic": True, "unsafe": True},
        "pod.writable-root-fs": {"automatic": False, "unsafe": True},
        "pod.capabilities": {"automatic": True, "unsafe": False},
        "image.not-pinned": {"automatic": True, "unsafe": False},  # with the digests the user gives
    }
