"""Kubeconfig resolution as kubectl does it: --kubeconfig, KUBECONFIG (merged), ~/.kube/config, in-cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakeapi import TOKEN, Certs, FakeApiServer, certs
from fixture import cluster

from kharden.errors import ClusterError
from kharden.scan import ScanOptions, scan
from kharden.sources.cluster import ClusterOptions
from kharden.sources.kubeconfig import resolve

__all__ = ["certs"]


def _config(path: Path, *, context: str, server: str, current: str | None = None, **user: Any) -> Path:
    conf: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": user or {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
    if current:
        conf["current-context"] = current
    path.write_text(yaml.safe_dump(conf))
    return path


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_explicit_file(tmp_path: Path) -> None:
    path = _config(tmp_path / "a", context="a", server="https://127.0.0.1:6443", current="a")
    target = resolve(str(path))
    assert (target.context, target.server) == ("a", "https://127.0.0.1:6443")


def test_explicit_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"^kubeconfig .*/missing: no such file$"):
        resolve(str(tmp_path / "missing"))


def test_kubeconfig_list_is_merged_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _config(tmp_path / "first", context="prod", server="https://127.0.0.1:1111", current="prod")
    second = _config(tmp_path / "second", context="prod", server="https://127.0.0.1:2222", current="dev")
    third = _config(tmp_path / "third", context="dev", server="https://127.0.0.1:3333")
    monkeypatch.setenv(
        "KUBECONFIG", os.pathsep.join([str(tmp_path / "absent"), str(first), str(second), str(third)])
    )
    assert resolve().server == "https://127.0.0.1:1111"  # current-context and 'prod' from the first file
    assert resolve(context="dev").server == "https://127.0.0.1:3333"


def test_home_kube_config(tmp_path: Path) -> None:
    (tmp_path / "home" / ".kube").mkdir(parents=True)
    _config(
        tmp_path / "home" / ".kube" / "config",
        context="home",
        server="https://127.0.0.1:4444",
        current="home",
    )
    assert resolve().context == "home"


def test_relative_paths_are_relative_to_their_file(tmp_path: Path, certs: Certs) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    (directory / "ca.crt").write_bytes(certs.ca_cert.read_bytes())
    (directory / "token").write_text(TOKEN)
    with FakeApiServer(cluster(), certs) as server:
        conf = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "rel",
            "clusters": [
                {"name": "rel", "cluster": {"server": server.url, "certificate-authority": "ca.crt"}}
            ],
            "users": [{"name": "rel", "user": {"tokenFile": "token"}}],
            "contexts": [{"name": "rel", "context": {"cluster": "rel", "user": "rel"}}],
        }
        (directory / "config").write_text(yaml.safe_dump(conf))
        report = scan(
            [],
            ScanOptions(
                rules=("exposure.node-public-ip",),
                cluster=ClusterOptions(kubeconfig=str(directory / "config")),
            ),
        )
    assert [f.object.name for f in report.findings] == ["worker-1"]


def test_in_cluster_service_account(tmp_path: Path, certs: Certs, monkeypatch: pytest.MonkeyPatch) -> None:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "namespace").write_text("kharden")
    (account / "ca.crt").write_bytes(certs.ca_cert.read_bytes())
    with FakeApiServer(cluster(), certs) as server:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", server.url.rsplit(":", 1)[1])
        target = resolve(service_account_dir=str(account))
        assert (target.context, target.server) == ("in-cluster", server.url)
        monkeypatch.setattr("kharden.sources.kubeconfig.SERVICE_ACCOUNT_DIR", str(account))
        report = scan([], ScanOptions(rules=("exposure.node-public-ip",), cluster=ClusterOptions()))
    assert [(f.object.name, f.location.file) for f in report.findings] == [("worker-1", "cluster in-cluster")]


@pytest.mark.parametrize(
    ("conf", "context", "message"),
    [
        pytest.param(
            {"clusters": [], "contexts": [], "users": []},
            None,
            "no current-context; choose one with --context",
            id="no-current",
        ),
        pytest.param(
            {"current-context": "x", "clusters": [], "contexts": [], "users": []},
            None,
            "no context 'x' (contexts: none)",
            id="no-context",
        ),
        pytest.param(
            {
                "current-context": "x",
                "clusters": [],
                "contexts": [{"name": "x", "context": {"cluster": "c"}}],
            },
            None,
            "context 'x' names cluster 'c', which is not defined",
            id="no-cluster",
        ),
        pytest.param(
            {
                "current-context": "x",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "users": [{"name": "u", "user": {"auth-provider": {"name": "gcp"}}}],
            },
            None,
            "user 'u' uses an auth-provider, which kubectl no longer supports either; use an exec credential plugin (client.authentication.k8s.io)",
            id="auth-provider",
        ),
    ],
)
def test_bad_kubeconfig(tmp_path: Path, conf: dict[str, Any], context: str | None, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(conf))
    with pytest.raises(ClusterError) as error:
        resolve(str(path), context)
    assert str(error.value).endswith(message)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [\n  - {")
    with pytest.raises(ClusterError, match=r"config:\d+: invalid YAML: "):
        resolve(str(path))


def test_nothing_to_connect_to() -> None:
    with pytest.raises(ClusterError, match=r"^no kubeconfig: give --kubeconfig FILE, set KUBECONFIG"):
        resolve()
