"""Reading a cluster whose API server fails or misbehaves: retried like client-go, bounded, loud.

Every case runs against the API server stand-in of ``fakeapi.py`` on 127.0.0.1, told to drop
connections, trickle or never end its answers, repeat continue tokens, answer 429/503, send huge
bodies. Issue 11's "Reading a cluster" items and issue 19's bounded-time-and-memory items.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakeapi import TOKEN, Behaviour, Certs, FakeApiServer, certs, write_kubeconfig
from fixture import cluster

from kharden import __version__
from kharden.cli import main
from kharden.errors import ClusterError
from kharden.sources import cluster as cluster_source
from kharden.sources.cluster import ClusterOptions, read_cluster
from kharden.sources.documents import Collected

__all__ = ["certs"]  # the fixture, imported for pytest

PODS = "/api/v1/pods"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits before retries, recorded instead of slept."""
    found: list[float] = []
    monkeypatch.setattr(cluster_source, "_sleep", found.append)
    return found


def _read(server: FakeApiServer, tmp_path: Path, certs: Certs, **options: Any) -> Collected:
    kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
    collected = Collected()
    read_cluster(ClusterOptions(kubeconfig=str(kubeconfig), **options), collected)
    return collected


def _errors(collected: Collected) -> list[str]:
    return [str(e) for e in collected.errors]


# -- retries and what the errors say --------------------------------------------------------------


def test_a_dropped_connection_mid_pagination_is_retried(tmp_path: Path, certs: Certs) -> None:
    """Issue 11: one dropped connection on the second page of Pods; the GET is sent again."""
    with FakeApiServer(cluster(), certs, Behaviour(drop={PODS: {2}})) as server:
        collected = _read(server, tmp_path, certs, page_size=5)
    assert collected.errors == []
    assert collected.stats.kinds["Pod"] == 15
    pages = [r.query.get("continue", [""])[0] for r in server.requests if r.path == PODS]
    assert len(pages) == 4  # pages 1, 2 (dropped), 2 again, 3
    assert pages[1] == pages[2] != ""


def test_a_connection_that_keeps_dropping_says_so(tmp_path: Path, certs: Certs, sleeps: list[float]) -> None:
    behaviour = Behaviour(drop={"/api": {1, 2, 3, 4}})
    with FakeApiServer(cluster(), certs, behaviour) as server, pytest.raises(ClusterError) as error:
        _read(server, tmp_path, certs)
    assert str(error.value).startswith(f"the API server at {server.url} dropped the connection (/api): ")
    assert str(error.value).endswith(" (4 attempts)")
    assert sleeps == [0.25, 0.5, 1.0]


def test_refused_connections_are_retried_until_the_server_is_up(tmp_path: Path, certs: Certs) -> None:
    """An API server restarting: the first connections are refused, then it answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}", certs)
    servers: list[FakeApiServer] = []

    def start_later() -> None:
        time.sleep(0.4)
        servers.append(FakeApiServer(cluster(), certs, port=port).__enter__())

    starter = threading.Thread(target=start_later)
    starter.start()
    try:
        collected = Collected()
        read_cluster(ClusterOptions(kubeconfig=str(kubeconfig)), collected)
    finally:
        starter.join()
        for server in servers:
            server.__exit__()
    assert collected.errors == []
    assert collected.stats.kinds["Pod"] == 15


def test_a_refused_connection_says_so(tmp_path: Path, certs: Certs, sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}", certs)
    with pytest.raises(ClusterError) as error:
        read_cluster(ClusterOptions(kubeconfig=str(kubeconfig)), Collected())
    assert str(error.value) == (
        f"cannot reach the API server at https://127.0.0.1:{port}: the connection was refused (4 attempts)"
    )


def test_a_tls_failure_says_so_and_is_not_retried(
    tmp_path: Path, certs: Certs, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from fakeapi import make_certs  # noqa: PLC0415

    other = make_certs(tmp_path_factory.mktemp("other-pki"))
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, other)
        with pytest.raises(ClusterError) as error:
            read_cluster(ClusterOptions(kubeconfig=str(kubeconfig)), Collected())
    assert str(error.value) == (
        f"cannot reach the API server at {server.url}: TLS: certificate verify failed:"
        " unable to get local issuer certificate"
    )
    assert len(server.requests) == 0  # no GET got through, and none was tried again


# -- deadlines ------------------------------------------------------------------------------------


def test_request_timeout_is_a_total_deadline(tmp_path: Path, certs: Certs) -> None:
    """Issue 11: a body trickled a byte every 50 ms (each read well within the timeout) ends at 1 s."""
    with FakeApiServer(cluster(), certs, Behaviour(trickle={"/apis"})) as server:
        start = time.monotonic()
        with pytest.raises(ClusterError) as error:
            _read(server, tmp_path, certs, timeout=1.0)
        elapsed = time.monotonic() - start
    assert str(error.value) == f"the API server at {server.url} did not finish its answer within 1 s (/apis)"
    assert elapsed < 3


def test_a_body_that_never_ends_ends_at_the_deadline(tmp_path: Path, certs: Certs) -> None:
    behaviour = Behaviour(endless={"/apis"}, trickle={"/apis"}, trickle_interval=0.01)
    with FakeApiServer(cluster(), certs, behaviour) as server:
        start = time.monotonic()
        with pytest.raises(ClusterError, match=r"did not finish its answer within 1 s \(/apis\)$"):
            _read(server, tmp_path, certs, timeout=1.0)
        assert time.monotonic() - start < 3


# -- failed lists: input errors -------------------------------------------------------------------


def test_retry_after_is_honoured(tmp_path: Path, certs: Certs, sleeps: list[float]) -> None:
    """Issue 11: Retry-After: 7 waits 7 s (it was capped at 5), three times, then the list fails loudly."""
    behaviour = Behaviour(status={"/apis/apps/v1/deployments": (429, {"Retry-After": "7"})})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        collected = _read(server, tmp_path, certs)
    assert sleeps == [7.0, 7.0, 7.0]
    assert _errors(collected) == [
        "cluster kind-test: could not list deployments.apps (429 Too Many Requests: scripted 429; 4 attempts)"
    ]
    assert collected.stats.kinds["Pod"] == 15


def test_retry_after_beyond_the_budget_fails_at_once(
    tmp_path: Path, certs: Certs, sleeps: list[float]
) -> None:
    behaviour = Behaviour(status={"/apis/apps/v1/deployments": (503, {"Retry-After": "3600"})})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        collected = _read(server, tmp_path, certs)
    assert sleeps == []
    assert _errors(collected) == [
        "cluster kind-test: could not list deployments.apps"
        " (503 Service Unavailable: scripted 503 (it asked to retry after 3600 s))"
    ]
    assert len([r for r in server.requests if r.path == "/apis/apps/v1/deployments"]) == 1


def test_the_retry_budget_is_shared_by_the_read(tmp_path: Path, certs: Certs, sleeps: list[float]) -> None:
    """Two lists asking for 7 s each with a budget of 10 s: one wait, then no more."""
    behaviour = Behaviour(
        status={
            "/apis/apps/v1/deployments": (429, {"Retry-After": "7"}),
            "/apis/apps/v1/daemonsets": (429, {"Retry-After": "7"}),
        }
    )
    with FakeApiServer(cluster(), certs, behaviour) as server:
        collected = _read(server, tmp_path, certs, retry_budget=10.0, parallel=1)
    assert sleeps == [7.0]
    assert len(collected.errors) == 2


def test_persistent_429_and_503_are_input_errors(
    tmp_path: Path, certs: Certs, sleeps: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 11: exit 2 and one line naming each resource (it was "not evaluated" and exit 0 or 1)."""
    behaviour = Behaviour(
        status={"/apis/apps/v1/deployments": (429, {}), "/api/v1/services": (503, {})},
    )
    with FakeApiServer(cluster(), certs, behaviour) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(["scan", "--cluster", "--kubeconfig", str(kubeconfig), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [
        "kharden: error: cluster kind-test: could not list services"
        " (503 Service Unavailable: scripted 503; 4 attempts)",
        "kharden: error: cluster kind-test: could not list deployments.apps"
        " (429 Too Many Requests: scripted 429; 4 attempts)",
    ]
    report = json.loads(out)
    assert len(report["errors"]) == 2
    reasons = " ".join(n["reason"] for n in report["not_evaluated"])
    assert "could not list deployments.apps" in reasons


def test_forbidden_is_not_an_error(tmp_path: Path, certs: Certs) -> None:
    """RBAC forbidding a list is the credentials' choice: not evaluated, not an input error."""
    with FakeApiServer(cluster(), certs, Behaviour(forbidden={("apps", "deployments")})) as server:
        collected = _read(server, tmp_path, certs)
    assert collected.errors == []
    assert collected.cluster is not None
    assert dict(collected.cluster.unread) == {"Deployment": "forbidden to list deployments.apps"}


@pytest.mark.parametrize(
    ("how", "options", "message"),
    [
        (
            "repeat",
            {},
            "the server sent a continue token it had sent before, after page 2: a list without end",
        ),
        ("endless", {"max_pages": 20}, "more than 20 pages: stopped (a list that never ends?)"),
    ],
)
def test_pagination_that_never_ends_fails_the_list(
    tmp_path: Path, certs: Certs, how: str, options: dict[str, Any], message: str
) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(pagination={PODS: how})) as server:
        collected = _read(server, tmp_path, certs, **options)
    assert _errors(collected) == [f"cluster kind-test: could not list pods ({message})"]
    assert len([r for r in server.requests if r.path == PODS]) == (2 if how == "repeat" else 20)


def test_a_page_too_large_is_asked_again_smaller_then_fails(tmp_path: Path, certs: Certs) -> None:
    path = "/api/v1/namespaces/kube-system/configmaps"
    with FakeApiServer(cluster(), certs, Behaviour(huge={path: 3 << 20})) as server:
        collected = _read(server, tmp_path, certs, max_response_bytes=1 << 20)
    limits = [r.query["limit"][0] for r in server.requests if r.path == path]
    assert limits == ["500", "50", "5", "1"]  # the server ignores limit: a hostile or broken one
    assert _errors(collected) == [
        f"cluster kind-test: could not list configmaps ({server.url}{path}: the answer is larger than 1 MiB)"
        " in namespace kube-system"
    ]


# -- what kharden sends -----------------------------------------------------------------------------


def test_requests_carry_the_user_agent(tmp_path: Path, certs: Certs) -> None:
    """Issue 11: audit logs show who read (and the credentials still go through kharden's own client)."""
    with FakeApiServer(cluster(), certs) as server:
        _read(server, tmp_path, certs)
    assert {r.user_agent for r in server.requests} == {f"kharden/{__version__}"}
    assert {r.authorization for r in server.requests} == {f"Bearer {TOKEN}"}


def test_a_namespace_admin_gets_the_namespaces_it_may_not_list(tmp_path: Path, certs: Certs) -> None:
    """Issue 11: listing Namespaces is forbidden, GET of each -n namespace is not."""
    behaviour = Behaviour(forbidden_list={("", "namespaces")})
    with FakeApiServer(cluster(), certs, behaviour) as server:
        collected = _read(server, tmp_path, certs, namespaces=("shop",))
    assert collected.errors == []
    assert [o.ref.name for o in collected.objects if o.ref.kind == "Namespace"] == ["shop"]
    assert collected.cluster is not None
    assert "Namespace" not in collected.cluster.unread
    assert [r.path for r in server.requests if "namespaces" in r.path and r.path.count("/") <= 4] == [
        "/api/v1/namespaces",
        "/api/v1/namespaces/shop",
    ]


def test_a_namespace_that_may_not_be_read_either(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(forbidden={("", "namespaces")})) as server:
        collected = _read(server, tmp_path, certs, namespaces=("shop",))
    assert collected.cluster is not None
    assert collected.cluster.unread["Namespace"] == "forbidden to get namespaces (shop)"


# -- memory, in a process of its own under a limit ------------------------------------------------

_LIMIT = 1536 << 20  # address space, not resident memory: Python, libraries and thread stacks reserve much


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_LIMIT, _LIMIT))


def test_a_huge_answer_is_refused_within_a_memory_limit(tmp_path: Path, certs: Certs) -> None:
    """A list answer that never ends is cut at 64 MiB (asked again in smaller pages, then failed),
    in a kharden process limited to 1.5 GiB of address space; it used to be buffered whole."""
    path = "/api/v1/namespaces/kube-system/configmaps"
    with FakeApiServer(cluster(), certs, Behaviour(endless={path})) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        result = subprocess.run(
            [sys.executable, "-m", "kharden", "scan", "--cluster", "--kubeconfig", str(kubeconfig)],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_limited,
            env={**os.environ, "NO_PROXY": "127.0.0.1"},
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"kharden: error: cluster kind-test: could not list configmaps ({server.url}{path}:"
        " the answer is larger than 64 MiB) in namespace kube-system"
    ]


# -- wrong types where the issue found tracebacks ----------------------------------------------------


def _aggregated_with_list_metadata() -> dict[str, Any]:
    from fakeapi import FakeApi  # noqa: PLC0415

    body = FakeApi(cluster()).answer("/apis", {}, "as=APIGroupDiscoveryList")[1]
    body["items"][0]["metadata"] = ["apps"]
    return body


def _legacy_with_string_preferred_version() -> dict[str, Any]:
    from fakeapi import FakeApi  # noqa: PLC0415

    body = FakeApi(cluster()).answer("/apis", {}, "application/json")[1]
    for group in body["groups"]:
        group["preferredVersion"] = "v1"
    return body


def _pods_whose_items_are_wrong() -> dict[str, Any]:
    items: list[Any] = [
        {"metadata": ["not", "a", "mapping"], "spec": {}},
        {"kind": ["Pod"], "metadata": {"name": "a", "namespace": "shop"}},
        {
            "kind": "Pod",
            "metadata": {
                "name": "b",
                "namespace": "shop",
                "ownerReferences": [{"kind": ["ReplicaSet"], "name": "x", "controller": True}],
            },
        },
        "not an object",
    ]
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}


@pytest.mark.parametrize(
    ("path", "body", "aggregated"),
    [
        ("/apis", _aggregated_with_list_metadata(), True),
        ("/apis", _legacy_with_string_preferred_version(), False),
        ("/api/v1/pods", _pods_whose_items_are_wrong(), True),
    ],
    ids=[
        "aggregated discovery metadata a list",
        "preferredVersion a string",
        "list items of the wrong shape",
    ],
)
def test_api_answers_of_the_wrong_shape(
    tmp_path: Path, certs: Certs, path: str, body: dict[str, Any], aggregated: bool
) -> None:
    """Issue 19: each was a traceback; now the read goes on and what is wrong is an error or skipped."""
    behaviour = Behaviour(replace={path: body}, aggregated=aggregated)
    with FakeApiServer(cluster(), certs, behaviour) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(
            [
                "scan",
                "--cluster",
                "--kubeconfig",
                str(kubeconfig),
                "-f",
                "json",
                "-o",
                str(tmp_path / "r.json"),
            ]
        )
    report = json.loads((tmp_path / "r.json").read_text())
    assert code in {1, 2}
    assert report["summary"]["objects"] > 20
    assert all("\n" not in e["message"] for e in report["errors"])
    if path == "/api/v1/pods":
        assert [e["message"] for e in report["errors"]] == ["Pod: metadata must be a mapping"]


def test_the_admission_webhooks_role_reader_says_who_reads(tmp_path: Path, certs: Certs) -> None:
    """The webhook's reader is built by the same client code: User-Agent, exec plugins, bounded credentials."""
    import asyncio  # noqa: PLC0415

    from kharden.enforce.cluster import ClusterRoles  # noqa: PLC0415

    with FakeApiServer(cluster(), certs) as server:
        roles = ClusterRoles(str(write_kubeconfig(tmp_path / "config", server.url, certs)))
        assert asyncio.run(roles("ClusterRole", None, "no-such-role")) is None
    assert [(r.path, r.user_agent) for r in server.requests] == [
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles/no-such-role", f"kharden/{__version__}")
    ]
