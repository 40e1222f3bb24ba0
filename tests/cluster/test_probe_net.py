"""``kharden probe --yes`` end to end, with real packets: the test API server runs each probe pod in a
network namespace of its own (tests/cluster/netlab.py), behind an enforcing plugin (nftables from the
NetworkPolicies) or one that ignores them. Nothing leaves the namespaces the test creates: the
metadata API and the Internet are stand-ins in the lab's node namespace, at documentation addresses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import netlab
import pytest
from fakeapi import Behaviour, Certs, FakeApiServer, certs, write_kubeconfig
from netlab import (
    METADATA,
    Enforcing,
    Flannel,
    NetLab,
    Plugin,
    PodRunner,
    RunningPod,
    leftovers,
    nft_tables,
    wait_for,
)
from probecluster import PROBE_ARGS, probe_cluster

from kharden.cli import main

__all__ = ["certs"]  # the fixture, imported for pytest

PROBE_SELECTOR = "kharden.io/probe"


@pytest.fixture
def lab() -> Iterator[NetLab]:
    reason = netlab.unavailable()
    if reason is not None:
        pytest.skip(f"kharden probe's network tests: {reason}")
    made = NetLab()
    try:
        yield made
    finally:
        made.close()
    assert leftovers(made.tag) == []


@pytest.fixture
def nft() -> None:
    reason = netlab.nft_unavailable()
    if reason is not None:
        pytest.skip(f"the enforcing network plugin: {reason}")


@contextmanager
def running_cluster(
    lab: NetLab, plugin: Plugin, certs: Certs, behaviour: Behaviour | None = None
) -> Iterator[tuple[FakeApiServer, PodRunner]]:
    objects = probe_cluster()
    runner = PodRunner(lab, plugin, objects)
    try:
        with FakeApiServer(objects, certs, behaviour, runtime=runner) as server:
            yield server, runner
    finally:
        runner.close()


def _probe(
    server: FakeApiServer, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any], str]:
    kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
    code = main(["probe", "--yes", "--kubeconfig", str(kubeconfig), *PROBE_ARGS, "-f", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _verdicts(data: dict[str, Any]) -> dict[tuple[str, str, str], tuple[str, str]]:
    """``(kind, source, destination) -> (observed, verdict)`` of every probe."""
    found = {}
    for result in data["probe"]["results"]:
        source = f"{result['source']['namespace']}/{result['source']['name']}"
        destination = result["destination"]
        where = destination.get("address") or f"{destination['namespace']}/{destination['name']}"
        found[(result["kind"], source, f"{where}:{result['port']}")] = (result["observed"], result["verdict"])
    return found


def _no_traces(server: FakeApiServer, lab: NetLab) -> None:
    assert server.pods(PROBE_SELECTOR) == []
    assert leftovers(lab.tag) == [lab.node]  # every pod's namespace (and its nftables table) is gone
    assert not [t for t in nft_tables() if "kharden" in t]


def test_enforcing_network_every_probe_as_expected(
    lab: NetLab, nft: None, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_cluster(lab, Enforcing(), certs) as (server, _):
        code, data, _ = _probe(server, tmp_path, certs, capsys)
        _no_traces(server, lab)
    assert _verdicts(data) == {
        ("denied", "shop/web", "payments/db:5432"): ("timeout", "expected"),
        ("denied", "payments/api", "shop/debug:5432"): ("timeout", "expected"),
        ("denied", "payments/db", "shop/web:8080"): ("timeout", "expected"),
        # No allowed connection from debug exists (its egress admits no pod, and the plan is full).
        ("denied", "shop/debug", "shop/web:8080"): ("timeout", "unverified"),
        ("control", "payments/api", "payments/db:5432"): ("connected", "expected"),
        ("control", "payments/db", "shop/debug:5432"): ("connected", "expected"),
        ("control", "shop/web", "shop/web:8080"): ("connected", "expected"),
        ("metadata", "payments/api", f"{METADATA}:80"): ("timeout", "expected"),
    }
    assert data["findings"] == []
    assert code == 0
    # What it wrote: pods, and nothing else (deploy/probe/'s ClusterRole).
    writes = {
        (r.method, r.path.rsplit("/", 1)[0] if r.method == "DELETE" else r.path)
        for r in server.requests
        if r.method != "GET"
    }
    assert {(method, path.split("/")[-1]) for method, path in writes} == {
        ("POST", "pods"),
        ("DELETE", "pods"),
    }


def test_flannel_does_not_enforce_observed(
    lab: NetLab, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_cluster(lab, Flannel(), certs) as (server, _):
        code, data, _ = _probe(server, tmp_path, certs, capsys)
        _no_traces(server, lab)
    verdicts = _verdicts(data)
    assert {k: v for k, v in verdicts.items() if k[0] != "control"} == {
        ("denied", "shop/web", "payments/db:5432"): ("connected", "not-enforced"),
        ("denied", "payments/api", "shop/debug:5432"): ("connected", "not-enforced"),
        ("denied", "payments/db", "shop/web:8080"): ("connected", "not-enforced"),
        ("denied", "shop/debug", "shop/web:8080"): ("connected", "not-enforced"),
        ("metadata", "payments/api", f"{METADATA}:80"): ("connected", "not-enforced"),
    }
    found = sorted(
        (f["rule"], f["object"]["kind"], f["object"]["namespace"], f["object"]["name"], f["location"]["path"])
        for f in data["findings"]
    )
    assert found == [
        ("exposure.metadata-api", "Deployment", "payments", "api", "/spec/template/spec"),
        ("netpol.cni-unsupported", "NetworkPolicy", "payments", "api-egress", "/spec/egress"),
        ("netpol.cni-unsupported", "NetworkPolicy", "payments", "db-ingress", "/spec/ingress"),
        ("netpol.cni-unsupported", "NetworkPolicy", "shop", "debug-egress", "/spec/egress"),
        ("netpol.cni-unsupported", "NetworkPolicy", "shop", "web-ingress", "/spec/ingress"),
    ]
    messages = {f["object"]["name"]: f["message"] for f in data["findings"]}
    assert messages["db-ingress"].startswith(
        "NetworkPolicy payments/db-ingress is not enforced: a probe pod standing for Deployment shop/web reached"
        " Deployment payments/db:5432/TCP, which its ingress rules deny"
    )
    assert code == 1


def test_metadata_reachable_through_an_enforcing_network(
    lab: NetLab, nft: None, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    """A node that answers the metadata address before the plugin sees it (as some clouds' agents do)."""
    with running_cluster(lab, Enforcing(exempt=f"{METADATA}/32"), certs) as (server, _):
        code, data, _ = _probe(server, tmp_path, certs, capsys)
        _no_traces(server, lab)
    verdicts = _verdicts(data)
    assert verdicts[("metadata", "payments/api", f"{METADATA}:80")] == ("connected", "not-enforced")
    assert {v for k, v in verdicts.items() if k[0] == "denied"} == {
        ("timeout", "expected"),
        ("timeout", "unverified"),
    }
    assert [(f["rule"], f["object"]["name"], f["message"]) for f in data["findings"]] == [
        (
            "exposure.metadata-api",
            "api",
            f"a probe pod standing for Deployment payments/api reached the metadata API at {METADATA}:80 although"
            " NetworkPolicy payments/api-egress denies it: the network plugin or the node lets this traffic"
            " through; observed by kharden probe",
        )
    ]
    assert code == 1


def test_failing_control_makes_the_denied_probe_inconclusive(
    lab: NetLab, nft: None, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something besides the policies drops everything into db: its allowed control fails too."""

    def broken(pod: RunningPod) -> bool:
        return (pod.pod["metadata"].get("labels") or {}).get("app") == "db"

    with running_cluster(lab, Enforcing(drop_into=broken), certs) as (server, _):
        code, data, _ = _probe(server, tmp_path, certs, capsys)
        _no_traces(server, lab)
    assert _verdicts(data) == {
        ("control", "payments/api", "payments/db:5432"): ("timeout", "control-failed"),
        # api -> db failed: either end may be at fault, so what either end's probes saw proves nothing.
        ("denied", "shop/web", "payments/db:5432"): ("timeout", "inconclusive"),
        ("denied", "payments/api", "shop/debug:5432"): ("timeout", "inconclusive"),
        ("metadata", "payments/api", f"{METADATA}:80"): ("timeout", "inconclusive"),
        ("denied", "payments/db", "shop/web:8080"): ("timeout", "expected"),
        ("denied", "shop/debug", "shop/web:8080"): ("timeout", "unverified"),
        ("control", "payments/db", "shop/debug:5432"): ("connected", "expected"),
        ("control", "shop/web", "shop/web:8080"): ("connected", "expected"),
    }
    assert data["findings"] == []
    reasons = sorted(
        n["reason"] for n in data["not_evaluated"] if n["reason"].startswith("probe inconclusive")
    )
    ids = {(r["source"]["name"], r["kind"]): r["id"] for r in data["probe"]["results"]}
    control = ids[("api", "control")]
    failed = f"the allowed connection Deployment payments/api -> Deployment payments/db:5432/TCP failed too (timeout) ({control})"
    assert reasons == sorted(
        [
            f"probe inconclusive: Deployment shop/web -> Deployment payments/db:5432/TCP ({ids[('web', 'denied')]}): {failed}",
            f"probe inconclusive: Deployment payments/api -> Deployment shop/debug:5432/TCP ({ids[('api', 'denied')]}): {failed}",
            f"probe inconclusive: Deployment payments/api -> the metadata API ({METADATA}:80) ({ids[('api', 'metadata')]}): {failed}",
        ]
    )
    assert code == 0


def _stop_mid_run(server: FakeApiServer, lab: NetLab, kubeconfig: Path, signum: int) -> tuple[int, str]:
    """Run ``kharden probe --yes`` in a process of its own and send it ``signum`` once every probe pod is
    up (a long settle time holds them before they connect); its exit code and stderr."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kharden",
            "probe",
            "--yes",
            "--kubeconfig",
            str(kubeconfig),
            *PROBE_ARGS,
            "--settle",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
    )
    try:
        sources = f"{PROBE_SELECTOR},kharden.io/probe-role=source"
        assert wait_for(lambda: len(server.pods(sources)) == 4, 30)
        # The stand-in runtime starts a pod's network namespace just after the API records the pod.
        assert wait_for(lambda: len(leftovers(lab.tag)) == 1 + 7, 30)
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    return process.returncode, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_deletes_its_pods(lab: NetLab, tmp_path: Path, certs: Certs, signum: int) -> None:
    with running_cluster(lab, Flannel(), certs) as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code, err = _stop_mid_run(server, lab, kubeconfig, signum)
        assert code == 130, err
        _no_traces(server, lab)
        assert [r.method for r in server.requests].count("DELETE") >= 7


def test_killed_run_leaves_pods_that_cleanup_removes(
    lab: NetLab, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_cluster(lab, Flannel(), certs) as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code, _ = _stop_mid_run(server, lab, kubeconfig, signal.SIGKILL)  # kharden crashes
        assert code == -signal.SIGKILL
        left = server.pods(PROBE_SELECTOR)
        assert len(left) == 7
        assert len(leftovers(lab.tag)) == 1 + 7
        assert all(p["spec"]["activeDeadlineSeconds"] > 0 for p in left)

        code = main(["probe", "--cleanup", "--kubeconfig", str(kubeconfig)])
        out, err = capsys.readouterr()
        assert code == 0
        assert sorted(out.splitlines()) == sorted(
            f"deleted pod {p['metadata']['namespace']}/{p['metadata']['name']}" for p in left
        )
        assert "7 probe pods deleted in any namespace" in err
        _no_traces(server, lab)


def test_error_mid_run_deletes_the_pods_created(
    lab: NetLab, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_cluster(lab, Flannel(), certs, Behaviour(refuse_creates_after=3)) as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(["probe", "--yes", "--kubeconfig", str(kubeconfig), *PROBE_ARGS])
        _, err = capsys.readouterr()
        _no_traces(server, lab)
    assert code == 2
    assert "forbidden to create pods in namespace" in err
    assert [r.method for r in server.requests].count("POST") == 4
    assert [r.method for r in server.requests].count("DELETE") == 3


def test_plan_changes_nothing(
    lab: NetLab, tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_cluster(lab, Flannel(), certs) as (server, _):
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(["probe", "--plan", "--kubeconfig", str(kubeconfig), *PROBE_ARGS])
        out, _ = capsys.readouterr()
        assert {r.method for r in server.requests} == {"GET"}
        assert not any("/log" in r.path for r in server.requests)
        assert server.pods(PROBE_SELECTOR) == []
        assert leftovers(lab.tag) == [lab.node]
    assert code == 0
    assert "Deployment shop/web -> Deployment payments/db:5432/TCP" in out
    assert "Nothing was created." in out
