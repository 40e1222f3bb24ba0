"""kharden under hostile input (issue 19): escaped, bounded, never stuck, never a traceback.

One test per item of the issue, each through the command line as a user (or a CI job) runs it;
those that need a real terminal encoding, a closed or full stdout, or a memory limit run kharden in
a process of its own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, TESTS
from kharden import _files
from kharden.cli import main
from kharden.report import FORMATS, policyreport
from samples import edge_report

PRIVILEGED = """apiVersion: v1
kind: Pod
metadata: {name: NAME, namespace: shop}
spec:
  containers:
  - name: app
    image: nginx:1.27
    securityContext: {privileged: true}
"""
DEBUG_POD = str(EXAMPLES / "insecure" / "debug-pod.yaml")


def _cli(*argv: str, timeout: float = 20) -> tuple[int, str, str]:
    """``main(argv)`` in a thread, with stdout and stderr captured: a hang fails the test."""
    import io  # noqa: PLC0415

    out, err = io.StringIO(), io.StringIO()
    result: list[int] = []

    def run() -> None:
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            result.append(main(list(argv)))
        finally:
            sys.stdout, sys.stderr = old

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert result, f"kharden {' '.join(argv)} did not finish within {timeout} s"
    return result[0], out.getvalue(), err.getvalue()


def _process(
    *argv: str, env: dict[str, str] | None = None, limit: int | None = None, bash: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """kharden in a process of its own (a strict encoding, a memory limit, a shell's redirections)."""

    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    # bash for what only a shell does: redirections (> /dev/full, >&-) and process substitution.
    command = ["bash", "-c", bash] if bash is not None else [sys.executable, "-m", "kharden", *argv]
    return subprocess.run(
        command,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        preexec_fn=limited,
        check=False,
    )


KHARDEN = f"{sys.executable} -m kharden"
GIB = 1 << 30


# -- terminal and line injection ------------------------------------------------------------------

HOSTILE_NAME = "web\x1b[2J\x1b]0;pwned\x07\x9b31m"


def test_object_names_cannot_drive_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(PRIVILEGED.replace("NAME", json.dumps(HOSTILE_NAME)))
    code, out, err = _cli("scan", str(path), "--rule", "pod.privileged")
    assert code == 1
    assert err == ""
    assert not {"\x1b", "\x07", "\x9b"} & set(out)
    assert "Pod shop/web\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m" in out


def test_ignore_reasons_cannot_drive_the_terminal_or_forge_a_line(tmp_path: Path) -> None:
    pod = yaml.safe_load(PRIVILEGED.replace("NAME", "web"))
    pod["metadata"]["annotations"] = {"kharden.io/ignore": "pod.privileged=ok\x1b[2J\x9b31m"}
    path = tmp_path / "pod.yaml"
    path.write_text(json.dumps(pod))
    config = tmp_path / ".kharden.yaml"
    reason = "accepted\r\nkharden: error: forged\x1b]0;pwned\x07"
    config.write_text(json.dumps({"ignore": [{"rule": "pod.privileged", "name": "other", "reason": reason}]}))
    other = tmp_path / "other.yaml"
    other.write_text(PRIVILEGED.replace("NAME", "other"))
    code, out, _ = _cli(
        "scan",
        str(path),
        str(other),
        "--rule",
        "pod.privileged",
        "--show-suppressed",
        "--config",
        str(config),
    )
    assert code == 0
    assert "suppressed (annotation): ok\\x1b[2J\\x9b31m" in out
    assert "suppressed (config): accepted\\r\\nkharden: error: forged\\x1b]0;pwned\\x07" in out
    assert not {"\x1b", "\x9b", "\x07", "\r"} & set(out)
    assert not [line for line in out.splitlines() if line.startswith("kharden: error")]


def test_a_file_name_cannot_forge_an_error_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml\nkharden: error: everything is fine\x1b[2J.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    code, out, err = _cli("scan", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("kharden: error: ")
    assert "x.yaml\\nkharden: error: everything is fine\\x1b[2J.yaml:" in err
    assert "\x1b" not in out


def test_markdown_cells_hold_one_line(tmp_path: Path) -> None:
    path = tmp_path / "a|b\n| injected | row |\x1b.yaml"
    path.write_text(PRIVILEGED.replace("NAME", json.dumps("web\n| x | y |")))
    code, out, _ = _cli("scan", str(path), "--rule", "pod.privileged", "-f", "markdown")
    assert code == 1
    rows = [line for line in out.splitlines() if line.startswith(("| 🔴", "| 🟠"))]
    assert len(rows) == 1
    assert rows[0].replace("\\|", "").count("|") == 6  # five cells
    assert "\x1b" not in out
    assert "| injected | row |" not in out.replace("\\|", "")


def test_snapshot_header_strings_are_escaped(tmp_path: Path) -> None:
    header = {"version": 1, "context": "x", "unread": {"Pod": "forbidden\x1b]0;pwned\x07 to list pods"}}
    path = tmp_path / "snapshot.json"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [namespace], "kharden": header}))
    code, out, _ = _cli("scan", "--snapshot", str(path))
    assert code == 0
    assert "forbidden\\x1b]0;pwned\\x07 to list pods" in out
    assert "\x1b" not in out


def test_policyreport_yaml_holds_any_name() -> None:
    """DEL, U+FFFE, NEL and C1 controls in a name: the PolicyReport stays YAML and says the name as it is."""
    report = edge_report()
    name = "web\x7f\ufffe\x85\x9b\u2028end"
    report.findings[0] = report.findings[0]._replace(
        object=report.findings[0].object.__class__("Deployment", "shop", name, "apps/v1")
    )
    documents = list(yaml.safe_load_all(policyreport.render(report)))
    names = [r["resources"][0]["name"] for d in documents for r in d["results"]]
    assert name in names


# -- file names that are not UTF-8 -------------------------------------------------------------------


def _parses(name: str, output: bytes) -> None:
    text = output.decode("utf-8")  # every structured format is UTF-8, whatever the terminal's encoding
    if name in {"json", "sarif"}:
        json.loads(text)
    elif name == "junit":
        ET.fromstring(output)
    elif name == "policyreport":
        list(yaml.safe_load_all(text))


@pytest.mark.parametrize("name", FORMATS)
def test_file_names_that_are_not_utf8_in_every_format(tmp_path: Path, name: str) -> None:
    """With a strict ASCII stdout too: a traceback (exit 1, "findings" to a CI) in every format before."""
    directory = os.fsencode(tmp_path)
    with open(os.path.join(directory, b"bad\xff.yaml"), "w") as handle:
        handle.write(PRIVILEGED.replace("NAME", "web"))
    result = _process(
        "scan",
        os.fsdecode(os.path.join(directory, b"bad\xff.yaml")),
        "-f",
        name,
        "--rule",
        "pod.privileged",
        env={"PYTHONIOENCODING": "ascii:strict"},
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == b""
    _parses(name, result.stdout)
    if name in {"text", "markdown", "github"}:  # text destinations: the byte as an escape
        assert b"bad\\xff.yaml" in result.stdout
    elif name == "sarif":  # a URI: the byte percent-encoded, as a URI holds it
        assert b"bad%FF.yaml" in result.stdout
    else:  # structured formats: U+FFFD, which no format needs to escape
        assert "bad\ufffd.yaml".encode() in result.stdout


def test_an_error_about_a_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    directory = os.fsencode(tmp_path)
    with open(os.path.join(directory, b"bad\xff.yaml"), "w") as handle:
        handle.write("kind: [\n")
    result = _process("scan", os.fsdecode(directory), env={"PYTHONIOENCODING": "ascii:strict"})
    assert result.returncode == 2
    assert result.stderr.decode().startswith("kharden: error: ")
    assert b"bad\\xff.yaml:" in result.stderr
    assert b"Traceback" not in result.stderr


# -- stdout that cannot be written --------------------------------------------------------------------


def test_stdout_that_is_dev_full() -> None:
    result = _process(bash=f"{KHARDEN} scan {DEBUG_POD} > /dev/full")
    assert result.returncode == 2
    assert (
        result.stderr.decode()
        == "kharden: error: cannot write the output to stdout: No space left on device\n"
    )


def test_stdout_that_is_closed() -> None:
    result = _process(bash=f"{KHARDEN} scan {DEBUG_POD} >&-")
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "kharden: error: cannot write the output: stdout is closed (give --output FILE)\n"
    )


# -- numbers, empty values, deep values ---------------------------------------------------------------


@pytest.mark.parametrize("option", ["--max-file-size", "--request-timeout"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "0", "-1", "abc"])
def test_numeric_options_refuse_what_is_no_amount(option: str, value: str) -> None:
    extra = ["--cluster"] if option == "--request-timeout" else []
    code, out, err = _cli("scan", DEBUG_POD, *extra, f"{option}={value}")
    assert code == 2
    assert out == ""
    assert err.startswith(f"kharden: error: argument {option}: {value!r}")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["", " "])
def test_fail_on_empty_is_refused(value: str) -> None:
    """It was silently 'high'."""
    code, _, err = _cli("scan", DEBUG_POD, "--fail-on", value)
    assert code == 2
    assert (
        err == "kharden: error: --fail-on needs a severity (critical, high, medium, low, info) or 'never'\n"
    )


def test_a_deep_directory_tree(tmp_path: Path) -> None:
    """1,500 nested directories: the walk recursed, and Python stopped it with a traceback."""
    deep = tmp_path
    for _ in range(1500):  # one level at a time: Path.mkdir(parents=True) recurses once per level
        deep = deep / "d"
        deep.mkdir()
    (deep / "pod.yaml").write_text(PRIVILEGED.replace("NAME", "deep"))
    try:
        code, out, err = _cli("scan", str(tmp_path), "--rule", "pod.privileged", "-f", "json")
        assert (code, err) == (1, "")
        assert [f["object"]["name"] for f in json.loads(out)["findings"]] == ["deep"]
    finally:
        # Removed here, bottom up: pytest's own clean-up of old temporary directories recurses once
        # per level and would stop with a RecursionError in a later session.
        (deep / "pod.yaml").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent


CHART = str(TESTS / "data" / "charts" / "web")


def test_set_nested_20000_levels() -> None:
    code, _, err = _cli("scan", CHART, "--set", "a" + "[0]" * 20000 + "=1")
    assert code == 2
    assert err == f"kharden: error: {CHART}: a --set value is nested too deeply\n"


def test_a_values_file_that_is_not_utf8(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_bytes(b"image: \xff\xfe\n")
    code, _, err = _cli("scan", CHART, "--values", str(values))
    assert code == 2
    assert err == f"kharden: error: {values}:1: not valid UTF-8 or UTF-16 text (byte 7)\n"


def _bomb(levels: int = 8) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_a_values_alias_bomb_within_a_memory_limit(tmp_path: Path) -> None:
    """An 8-level alias bomb of 1 KB took 12 GB through yaml.safe_load."""
    values = tmp_path / "values.yaml"
    values.write_text(_bomb())
    assert values.stat().st_size < 1024
    result = _process("scan", CHART, "--values", str(values), limit=GIB)
    assert result.returncode == 2, result.stderr
    assert result.stderr.decode() == (
        f"kharden: error: {values}:4: aliases of the anchor on this line expand the document past"
        " 100,000 nodes (a YAML alias bomb?)\n"
    )


def test_a_scalar_alias_bomb_within_a_memory_limit(tmp_path: Path) -> None:
    """One 1 MiB scalar anchored once and aliased as 3,000 images: 1.1 MB of file, 8 GB of memory."""
    big = "x" * (1 << 20)
    lines = [PRIVILEGED.replace("NAME", "web").rstrip(), "  - name: a0", f"    image: &img {big}"]
    lines += [f"  - name: a{i}\n    image: *img" for i in range(1, 3000)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = _process("scan", str(path), limit=GIB)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        f"kharden: error: {path}:10: aliases of the anchor on this line expand the document past 16 MiB of text"
        " (a YAML alias bomb?)\n"
    )


# -- unbounded reads and FIFOs ------------------------------------------------------------------------


def test_snapshot_dev_zero_within_a_memory_limit() -> None:
    """``--snapshot /dev/zero`` read 5.9 GB."""
    result = _process("scan", "--snapshot", "/dev/zero", limit=GIB)
    assert result.returncode == 2
    assert result.stderr.decode() == (
        "kharden: error: /dev/zero: too large: 64.0 MiB, the limit is 64 MiB for a snapshot that is not a"
        " regular file or not in kubectl's layout (raise it with --max-file-size)\n"
    )


def test_a_manifest_that_is_a_device() -> None:
    code, _, err = _cli("scan", "/dev/zero")
    assert code == 2
    assert err == (
        "kharden: error: /dev/zero: file too large: 64.0 MiB, the limit is 64 MiB (raise it with --max-file-size)\n"
    )


@pytest.fixture
def fifo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(_files, "FIFO_WAIT_SECONDS", 0.3)
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


WAITED = "cannot read{}: nothing was written to it for 0.3 s (a FIFO?)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda f: [str(f)], f"{{f}}: {WAITED.format('')}"),
        (lambda f: [DEBUG_POD, "--config", str(f)], f"{{f}}: {WAITED.format(' config')}"),
        (lambda f: [DEBUG_POD, "--baseline", str(f)], f"{{f}}: {WAITED.format(' baseline')}"),
        (lambda f: [DEBUG_POD, "--image-report", str(f)], f"{{f}}: {WAITED.format(' image report')}"),
        (lambda f: ["--snapshot", str(f)], f"{{f}}: {WAITED.format('')}"),
    ],
    ids=["path", "config", "baseline", "image-report", "snapshot"],
)
def test_fifos_nobody_writes_to_are_given_up_on(
    fifo: Path, args: Callable[[Path], list[str]], message: str
) -> None:
    """They blocked forever."""
    code, _, err = _cli("scan", *args(fifo), timeout=10)
    assert code == 2
    assert f"kharden: error: {message.format(f=fifo)}\n" in err


def test_a_fifo_that_is_written_to_is_read(fifo: Path) -> None:
    def write() -> None:
        with fifo.open("w") as handle:
            handle.write(PRIVILEGED.replace("NAME", "piped"))

    writer = threading.Thread(target=write)
    writer.start()
    code, out, err = _cli("scan", str(fifo), "--rule", "pod.privileged", "-f", "json")
    writer.join()
    assert (code, err) == (1, "")
    assert [f["object"]["name"] for f in json.loads(out)["findings"]] == ["piped"]


def test_process_substitution_keeps_working(tmp_path: Path) -> None:
    """``<(command)`` is a pipe the shell's command writes to, however late: read to its end."""
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [yaml.safe_load(PRIVILEGED.replace("NAME", "snap"))],
            }
        )
    )
    config = tmp_path / "config.yaml"
    config.write_text("rules: {include: ['pod.privileged']}\n")
    manifest = tmp_path / "piped.yaml"
    manifest.write_text(PRIVILEGED.replace("NAME", "piped"))
    result = _process(
        bash=(
            f"{KHARDEN} scan <(sleep 0.5; cat {manifest}) --snapshot <(cat {snapshot})"
            f" --config <(cat {config}) -f json"
        )
    )
    assert result.returncode == 1, result.stderr
    names = {f["object"]["name"] for f in json.loads(result.stdout)["findings"]}
    assert names == {"piped", "snap"}


# -- snapshot -o DIR ------------------------------------------------------------------------------------


def test_snapshot_to_a_directory_is_refused_before_reading(tmp_path: Path) -> None:
    code, out, err = _cli("snapshot", "-o", str(tmp_path), "--kubeconfig", str(tmp_path / "none"))
    assert (code, out) == (2, "")
    assert (
        err
        == f"kharden: error: cannot write the snapshot to {tmp_path}: it is a directory (give a file name)\n"
    )


def test_a_digests_file_alias_bomb(tmp_path: Path) -> None:
    """``kharden fix --digests FILE`` reads YAML too: through the guarded loader."""
    digests = tmp_path / "digests.yaml"
    digests.write_text(_bomb())
    code, _, err = _cli("fix", DEBUG_POD, "--digests", str(digests))
    assert code == 2
    assert err.splitlines()[0] == (
        f"kharden: error: {digests}:4: aliases of the anchor on this line expand the document past 100,000"
        " nodes (a YAML alias bomb?)"
    )


# -- wrong types in snapshots, at the sites that crashed ------------------------------------------------

_NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "shop", "labels": {"team": "shop"}},
}
_POD = yaml.safe_load(PRIVILEGED.replace("NAME", "web"))
_VAP = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "p"},
    "spec": {
        "matchConstraints": {"resourceRules": [{"resources": ["pods"], "operations": ["CREATE"]}]},
        "validations": [{"expression": "privileged hostPID hostNetwork hostPath capabilities"}],
    },
}


@pytest.mark.parametrize(
    "item",
    [
        {"apiVersion": "v1", "kind": [], "metadata": {"name": "a"}},
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchExpressions": [{"key": "a", "operator": ["In"], "values": ["b"]}]}
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": "b"},
            "spec": {"policyName": "p", "validationActions": 5},
        },
        {"apiVersion": "v1", "kind": "Pod", "metadata": [], "spec": {}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "x",
                "namespace": "shop",
                "ownerReferences": [{"kind": ["ReplicaSet"], "name": "r", "controller": True}],
            },
            "spec": {"containers": []},
        },
    ],
    ids=[
        "kind a list",
        "operator a list",
        "validationActions an int",
        "metadata a list",
        "owner kind a list",
    ],
)
def test_snapshots_with_wrong_types_at_the_sites_that_crashed(tmp_path: Path, item: dict[str, Any]) -> None:
    path = tmp_path / "snapshot.json"
    items = [_NAMESPACE, _POD, _VAP, item]
    path.write_text(
        '{"apiVersion": "v1", "kind": "List", "items": [\n'
        + ",\n".join(json.dumps(i) for i in items)
        + "\n]}\n"
    )
    code, out, err = _cli("scan", "--snapshot", str(path), "-f", "json")
    assert code in {1, 2}, err
    assert "Traceback" not in err
    assert all(line.startswith("kharden: error: ") for line in err.splitlines())
    assert json.loads(out)["summary"]["objects"] >= 3
