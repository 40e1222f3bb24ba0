"""Credentials of a kubeconfig: exec plugins (v1 and v1beta1), bounded credential files, redacted URLs."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from fakeapi import TOKEN, Certs, FakeApiServer, certs, write_kubeconfig
from fixture import cluster

from kharden import _files
from kharden.cli import main
from kharden.errors import ClusterError
from kharden.scan import ScanOptions, scan
from kharden.sources.cluster import ClusterOptions
from kharden.sources.documents import Collected
from kharden.sources.kubeconfig import resolve
from kharden.sources.snapshot import read_snapshot, write_snapshot

__all__ = ["certs"]  # the fixture, imported for pytest


def _kubeconfig(path: Path, server: str, certs: Certs, user: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "test",
                "clusters": [
                    {
                        "name": "test",
                        "cluster": {"server": server, "certificate-authority-data": certs.ca_data},
                    }
                ],
                "users": [{"name": "me", "user": user}],
                "contexts": [{"name": "test", "context": {"cluster": "test", "user": "me"}}],
            }
        )
    )
    return path


def _plugin(tmp_path: Path, body: str) -> str:
    """An executable exec credential plugin: a Python script whose body sees ``info`` (KUBERNETES_EXEC_INFO)."""
    script = tmp_path / "plugin"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        f"json.dump(info, open({str(tmp_path / 'info.json')!r}, 'w'))\n{body}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _answer(api_version: str, status: Any) -> str:
    return f"print(json.dumps({{'apiVersion': {api_version!r}, 'kind': 'ExecCredential', 'status': {status!r}}}))"


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_exec_plugins_of_v1_and_v1beta1(tmp_path: Path, certs: Certs, version: str) -> None:
    """Issue 19: a plugin answering client.authentication.k8s.io/v1 stopped with "not implemented"."""
    api_version = f"client.authentication.k8s.io/{version}"
    command = _plugin(tmp_path, _answer(api_version, {"token": TOKEN}))
    exec_spec = {"apiVersion": api_version, "command": command, "interactiveMode": "Never"}
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = _kubeconfig(tmp_path / "config", server.url, certs, {"exec": exec_spec})
        report = scan(
            [], ScanOptions(rules=("pod.privileged",), cluster=ClusterOptions(kubeconfig=str(kubeconfig)))
        )
    assert report.errors == []
    assert report.stats.kinds["Pod"] == 15
    info = json.loads((tmp_path / "info.json").read_text())
    assert info == {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_answer("client.authentication.k8s.io/v1beta1", {"token": "t"}), "it answered with apiVersion"),
        ("print('not json')", "its output is not JSON (an ExecCredential is expected)"),
        ("sys.exit(3)", "it exited with status 3"),
        (
            _answer("client.authentication.k8s.io/v1", {"token": ["t"]}),
            "status.token of its ExecCredential is not a string",
        ),
        (_answer("client.authentication.k8s.io/v1", []), "its ExecCredential has no status"),
        (_answer("client.authentication.k8s.io/v1", {}), "holds neither status.token nor"),
        ("print(json.dumps([1]))", "its output is not an ExecCredential"),
    ],
)
def test_exec_plugin_failures_are_one_error(tmp_path: Path, certs: Certs, body: str, message: str) -> None:
    command = _plugin(tmp_path, body)
    exec_spec = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": command,
        "interactiveMode": "Never",
    }
    kubeconfig = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1", certs, {"exec": exec_spec})
    with pytest.raises(ClusterError) as error:
        scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(kubeconfig))))
    assert str(error.value).startswith("context 'test': exec credential plugin 'plugin': ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_an_exec_plugin_that_is_not_there(tmp_path: Path, certs: Certs) -> None:
    exec_spec = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": str(tmp_path / "no-such-plugin"),
        "installHint": "install it with: brew install no-such-plugin",
    }
    kubeconfig = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1", certs, {"exec": exec_spec})
    with pytest.raises(ClusterError) as error:
        scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(kubeconfig))))
    assert str(error.value) == (
        "context 'test': exec credential plugin 'no-such-plugin': cannot run it: No such file or directory"
        " (install it with: brew install no-such-plugin)"
    )


# -- credential files: bounded --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"tokenFile": "/dev/zero"}, "kubeconfig: context 'test': tokenFile /dev/zero: larger than 1024 KiB"),
        (
            {"client-certificate": "/dev/zero", "client-key": "/dev/zero"},
            "kubeconfig: context 'test': client-certificate /dev/zero: larger than 1024 KiB",
        ),
    ],
)
def test_credential_files_are_read_with_a_bound(
    tmp_path: Path, certs: Certs, user: dict[str, Any], message: str
) -> None:
    """Issue 19: ``tokenFile: /dev/zero`` took 3.7 GB."""
    kubeconfig = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1", certs, user)
    with pytest.raises(ClusterError) as error:
        resolve(str(kubeconfig))
    assert str(error.value) == message


def test_a_fifo_token_file_is_given_up_on(
    tmp_path: Path, certs: Certs, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_files, "FIFO_WAIT_SECONDS", 0.2)
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    kubeconfig = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1", certs, {"tokenFile": str(fifo)})
    with pytest.raises(ClusterError) as error:
        resolve(str(kubeconfig))
    assert str(error.value) == (
        f"kubeconfig: context 'test': tokenFile {fifo}: cannot read: nothing was written to it for 0.2 s (a FIFO?)"
    )


def test_a_token_file_is_read_and_used(tmp_path: Path, certs: Certs) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = _kubeconfig(tmp_path / "config", server.url, certs, {"tokenFile": "token"})
        report = scan(
            [], ScanOptions(rules=("pod.privileged",), cluster=ClusterOptions(kubeconfig=str(kubeconfig)))
        )
    assert report.errors == []
    assert {r.authorization for r in server.requests} == {f"Bearer {TOKEN}"}


# -- the kubeconfig itself --------------------------------------------------------------------------


def test_a_kubeconfig_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config"
    path.write_bytes(b"apiVersion: v1\nkind: Config\ncurrent-context: \xff\xfe\x00x\n")
    code = main(["scan", "--cluster", "--kubeconfig", str(path)])
    assert code == 2
    assert capsys.readouterr().err == (
        f"kharden: error: kubeconfig {path}:3: not valid UTF-8 or UTF-16 text (byte 45)\n"
    )


def test_a_kubeconfig_alias_bomb(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    path = tmp_path / "config"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        ClusterError, match=r"config:\d+: aliases of the anchor on this line expand the document"
    ):
        resolve(str(path))


# -- credentials in the server URL ----------------------------------------------------------------


def test_userinfo_in_the_server_url_is_never_shown(
    tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: ``https://user:PASS@host`` was printed in "cannot reach" and kept in the snapshot."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", f"https://admin:s3cr3t@127.0.0.1:{port}", certs)
    code = main(["scan", "--cluster", "--kubeconfig", str(kubeconfig)])
    err = capsys.readouterr().err
    assert code == 2
    assert "s3cr3t" not in err
    assert err.startswith(f"kharden: error: cannot reach the API server at https://***@127.0.0.1:{port}: ")


def test_the_snapshot_header_holds_no_userinfo(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        url = server.url.replace("https://", "https://admin:s3cr3t@")
        kubeconfig = write_kubeconfig(tmp_path / "config", url, certs)
        info = write_snapshot(ClusterOptions(kubeconfig=str(kubeconfig)), str(tmp_path / "snap.json"))
    text = (tmp_path / "snap.json").read_text()
    assert "s3cr3t" not in text
    assert info.server == server.url.replace("https://", "https://***@")
    assert json.loads(text)["kharden"]["server"] == info.server


def test_an_old_snapshot_with_userinfo_is_redacted_on_reading(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    header = {"version": 1, "server": "https://admin:s3cr3t@10.0.0.1:6443", "context": "x"}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [], "kharden": header}))
    collected = Collected()
    read_snapshot(str(path), collected)
    assert collected.cluster is not None
    assert collected.cluster.server == "https://***@10.0.0.1:6443"
