"""``kharden paths`` on the command line: exit codes, formats, entry points, errors; and ``kharden scan``'s
per-finding count of attack paths in JSON and HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pathdocs import Doc, deny, ingress, namespace, service, service_account, workload

from conftest import EXAMPLES, run_cli
from kharden.report import html, render
from kharden.scan import ScanOptions, scan
from rbacdocs import binding, cluster_role, rule, sa

INSECURE = str(EXAMPLES / "insecure")
NODE = str(EXAMPLES / "insecure-node")
HARDENED = str(EXAMPLES / "hardened")


def test_paths_found_exit_1_none_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "paths", INSECURE, "--node-root", NODE)
    assert (code, err) == (1, "")
    assert out.startswith("kharden paths: 4 entry points reach 5 of 5 goals")
    code, out, _ = run_cli(capsys, "paths", HARDENED)
    assert code == 0
    assert "cluster-admin: no path" in out


def test_help_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(capsys, "paths", "--help")
    out = capsys.readouterr().out
    for words in ("choke points", "--from", "--to GOAL", "--max-length N", "neo4j", "docs/paths.md"):
        assert words in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "root"], "unknown goal 'root'"),
        (["--from", "shop/nothing"], "--from 'shop/nothing': no workload matches"),
        (["--max-length", "0"], "--max-length must be at least 1"),
        (["-f", "neo4j"], "-f neo4j writes nodes.csv and relationships.csv"),
        (["--context", "x"], "--context, --kubeconfig and --namespace need --cluster"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, "paths", INSECURE, *args)
    assert (code, out) == (2, "")
    assert message in err


def test_nothing_to_read_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "paths")
    assert code == 2
    assert "nothing to read" in err


def test_goal_length_and_entry_options(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "paths", INSECURE, "--to", "cluster-admin", "-f", "json")
    data = json.loads(out)
    assert data["goals"] == ["cluster-admin"]
    assert {p["goal"] for p in data["paths"]} == {"cluster-admin"}
    _, out, _ = run_cli(capsys, "paths", INSECURE, "--max-length", "1", "-f", "json")
    assert {p["length"] for p in json.loads(out)["paths"]} == {1}
    _, out, _ = run_cli(capsys, "paths", INSECURE, "--assume-compromised", "shop/redis", "-f", "json")
    entries = {e["vertex"] for e in json.loads(out)["entry_points"]}
    assert "workload:StatefulSet/shop/redis" in entries
    assert "workload:Deployment/shop/web" in entries  # still the exposed ones
    _, out, _ = run_cli(capsys, "paths", INSECURE, "--from", "shop/redis", "-f", "json")
    assert [e["vertex"] for e in json.loads(out)["entry_points"]] == ["workload:StatefulSet/shop/redis"]


def test_formats_to_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name, file in (
        ("dot", "paths.dot"),
        ("mermaid", "paths.mmd"),
        ("html", "paths.html"),
        ("cypher", "g.cypher"),
    ):
        code, out, _ = run_cli(capsys, "paths", INSECURE, "-f", name, "-o", str(tmp_path / file))
        assert (code, out) == (1, "")
        assert (tmp_path / file).stat().st_size > 100
    code, _, _ = run_cli(capsys, "paths", INSECURE, "-f", "neo4j", "-o", str(tmp_path / "neo4j"))
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "neo4j").iterdir()) == ["nodes.csv", "relationships.csv"]


def test_an_unreadable_input_is_exit_2_and_the_others_still_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "paths", INSECURE, str(tmp_path / "broken.yaml"))
    assert code == 2
    assert "broken.yaml" in err
    assert "cluster-admin: 4 entry points reach it" in out


# -- kharden scan: on how many attack paths each finding lies -----------------------------------------------


def _two_ways_in() -> list[Doc]:
    privileged = workload(
        "agent", container={"securityContext": {"privileged": True}}, automountServiceAccountToken=False
    )
    return [
        namespace(),
        workload("web1", account="deployer"),
        *ingress("web1"),
        workload("web2", account="deployer"),
        service("web2", kind="LoadBalancer"),
        service_account("deployer"),
        cluster_role("secret-reader", rule("", "secrets", "get list")),
        binding("readers", "ClusterRole", "secret-reader", sa("shop", "deployer")),
        privileged,
        service("agent", kind="NodePort"),
        deny("Egress"),
    ]


def test_each_finding_counts_the_attack_paths_it_lies_on(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text(
        yaml.safe_dump_all(_two_ways_in(), sort_keys=False), encoding="utf-8"
    )
    report = scan([str(tmp_path / "cluster.yaml")])
    counts = report.attack_paths
    assert counts is not None
    by_finding = {(f.rule, f.object.name): counts.get(f.fingerprint, 0) for f in report.findings}
    # Three entry points read every Secret through one binding: web1 and web2 with their token, the agent
    # from its node (the kubelet's credentials get a token for the pods the node runs, web1's and web2's).
    assert by_finding[("rbac.secrets-read", "readers")] == 3
    # The privileged agent gets out onto its node: "a node", and from there the cloud account and the Secrets.
    assert by_finding[("pod.privileged", "agent")] == 3
    # Findings that no path rests on count zero.
    assert by_finding[("pod.run-as-root", "web1")] == 0
    data = json.loads(render("json", report))
    assert {f["attack_paths"] for f in data["findings"]} == {0, 3}
    readers = next(f for f in data["findings"] if f["rule"] == "rbac.secrets-read")
    assert readers["attack_paths"] == 3


def test_the_html_report_marks_findings_on_attack_paths(tmp_path: Path) -> None:
    (tmp_path / "cluster.yaml").write_text(
        yaml.safe_dump_all(_two_ways_in(), sort_keys=False), encoding="utf-8"
    )
    page = html.render(scan([str(tmp_path / "cluster.yaml")]))
    assert page.count('<span class="paths">on 3 attack paths</span>') == 2
    assert 'data-rule="rbac.secrets-read" data-suppressed="0" data-paths="3"' in page


def test_counting_is_left_out_when_not_asked_and_the_hardened_shop_counts_nothing() -> None:
    assert scan([HARDENED], ScanOptions(attack_paths=False)).attack_paths is None
    assert scan([HARDENED]).attack_paths == {}
    insecure = scan([INSECURE], ScanOptions(attack_paths=False))
    assert all("attack_paths" not in f for f in json.loads(render("json", insecure))["findings"])


def test_the_cli_counts_only_for_json_and_html(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "scan", INSECURE, "-f", "json", "--fail-on", "never")
    assert code == 0
    findings = json.loads(out)["findings"]
    assert all(isinstance(f["attack_paths"], int) for f in findings)
    assert any(f["attack_paths"] > 0 for f in findings if f["rule"] == "rbac.cluster-admin")


def _labelled(doc: Doc, app: str) -> Doc:
    """``doc`` with its pods labelled ``app: APP`` (two workloads of one label share a network class)."""
    doc["spec"]["selector"]["matchLabels"] = {"app": app}
    doc["spec"]["template"]["metadata"]["labels"] = {"app": app}
    return doc


def test_network_findings_count_the_paths_through_their_own_workload(tmp_path: Path) -> None:
    """Network findings are each workload's: on its pod labels when no policy covers it, on the policy rule
    that lets it through otherwise (the workload stays the finding's object). Each counts the paths that
    go through its own workload, not its namespace's nor its neighbours' with the same labels."""
    quiet: dict[str, Any] = {"automountServiceAccountToken": False}
    agent_in = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "agent-in", "namespace": "shop"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "agent"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
        },
    }
    docs = [
        namespace(),
        workload("web", **quiet),
        service("web", kind="LoadBalancer"),
        # worker-a (a hostPort: an entry point) and worker-b share their labels, so their network class.
        _labelled(
            workload("worker-a", container={"ports": [{"containerPort": 80, "hostPort": 8080}]}, **quiet),
            "worker",
        ),
        _labelled(workload("worker-b", **quiet), "worker"),
        workload("batch", **quiet),
        workload("agent", container={"securityContext": {"privileged": True}}, **quiet),
        agent_in,
    ]
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
    report = scan([str(tmp_path / "cluster.yaml")])
    assert report.attack_paths is not None
    counts = {
        (f.rule, f.object.name, f.location.path): report.attack_paths.get(f.fingerprint, 0)
        for f in report.findings
        if f.rule in {"netpol.egress-open", "netpol.ingress-open", "exposure.metadata-api", "pod.privileged"}
    }
    labels = "/spec/template/metadata/labels"
    # web and worker-a reach the privileged agent over the pod network (a node), and the metadata API.
    assert counts == {
        ("netpol.egress-open", "web", labels): 1,
        ("netpol.egress-open", "worker-a", labels): 1,
        ("netpol.egress-open", "worker-b", labels): 0,
        ("netpol.egress-open", "batch", labels): 0,
        ("netpol.egress-open", "agent", labels): 0,
        ("exposure.metadata-api", "web", labels): 1,
        ("exposure.metadata-api", "worker-a", labels): 1,
        ("exposure.metadata-api", "worker-b", labels): 0,
        ("exposure.metadata-api", "batch", labels): 0,
        ("exposure.metadata-api", "agent", labels): 0,
        ("netpol.ingress-open", "web", labels): 0,
        ("netpol.ingress-open", "worker-a", labels): 0,
        ("netpol.ingress-open", "worker-b", labels): 0,
        ("netpol.ingress-open", "batch", labels): 0,
        # The rule that admits every namespace: the agent's finding, on the rule's peer.
        ("netpol.ingress-open", "agent", "/spec/ingress/0/from/0"): 2,
        ("pod.privileged", "agent", "/spec/template/spec/containers/0/securityContext/privileged"): 2,
    }
