"""``kharden snapshot`` and ``kharden scan --snapshot``: what --cluster reads, offline; kubectl's output too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakeapi import Behaviour, Certs, FakeApiServer, certs, write_kubeconfig
from fixture import cluster

from kharden.cli import main
from kharden.errors import InputError
from kharden.scan import ScanOptions, scan
from kharden.sources.cluster import ClusterOptions
from kharden.sources.documents import Collected
from kharden.sources.snapshot import read_snapshot, write_snapshot

__all__ = ["certs"]


def _snapshot(server: FakeApiServer, tmp_path: Path, certs: Certs) -> Path:
    kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
    output = tmp_path / "cluster.json"
    write_snapshot(
        ClusterOptions(kubeconfig=str(kubeconfig)),
        str(output),
        now=lambda: datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    )
    return output


def test_snapshot_holds_what_the_cluster_scan_reads(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(forbidden={("batch", "cronjobs")})) as server:
        path = _snapshot(server, tmp_path, certs)
        live = scan([], ScanOptions(cluster=ClusterOptions(kubeconfig=str(tmp_path / "config"))))
    offline = scan([], ScanOptions(snapshot=str(path)))
    assert sorted((f.rule, f.object, f.location.path, f.fingerprint) for f in offline.findings) == sorted(
        (f.rule, f.object, f.location.path, f.fingerprint) for f in live.findings
    )
    # In the file, each object is on a line of its own: findings say which.
    lines = path.read_text().splitlines()
    for finding in offline.findings:
        assert finding.location.line is not None
        assert f'"name":"{finding.object.name}"' in lines[finding.location.line - 1]
    assert offline.not_evaluated == live.not_evaluated
    assert offline.stats.kinds == live.stats.kinds
    assert {f.location.file for f in offline.findings} == {str(path)}


def test_snapshot_file_layout(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(forbidden={("batch", "cronjobs")})) as server:
        path = _snapshot(server, tmp_path, certs)
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == '{"apiVersion": "v1", "kind": "List", "items": ['
    assert len(lines) == 1 + 50 + 1  # one object per line (51 objects, the CronJob forbidden)
    document = json.loads(text)
    assert document["kharden"] == {
        "version": 1,
        "tool": "kharden 0.1.0",
        "taken": "2026-11-01T12:00:00Z",
        "context": "kind-test",
        "server": server.url,
        "serverVersion": "v1.31.2",
        "namespaces": [],
        "resources": document["kharden"]["resources"],
        "unread": {"CronJob": "forbidden to list cronjobs.batch"},
        "apiGroups": document["kharden"]["apiGroups"],
        "failed": [],
    }
    assert document["kharden"]["resources"][:3] == ["namespaces", "nodes", "serviceaccounts"]
    assert document["kharden"]["resources"][-1] == "pods"
    items = document["items"]
    assert all("apiVersion" in i and "kind" in i for i in items)
    assert [i["kind"] for i in items][-15:] == ["Pod"] * 15
    # Secrets as metadata only, pods whole (trimmed of managedFields only), nothing secret anywhere.
    secret = next(i for i in items if i["kind"] == "Secret")
    assert set(secret) == {"apiVersion", "kind", "metadata"}
    assert "czNjcjN0" not in text
    assert "managedFields" not in text
    web = next(i for i in items if i["metadata"]["name"] == "web-5d8f7b9c4-lx8qz")
    assert web["spec"]["volumes"]
    assert web["status"]["containerStatuses"][0]["restartCount"] == 0


def test_snapshot_command(tmp_path: Path, certs: Certs, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeApiServer(cluster(), certs, Behaviour(forbidden={("", "secrets")})) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs)
        code = main(["snapshot", "--kubeconfig", str(kubeconfig), "-o", str(tmp_path / "s.json")])
    assert code == 0
    assert capsys.readouterr().err == "kharden: warning: Secret: forbidden to list secrets\n"
    assert json.loads((tmp_path / "s.json").read_text())["kharden"]["unread"] == {
        "Secret": "forbidden to list secrets"
    }
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".kharden")] == []

    code = main(
        ["scan", "--snapshot", str(tmp_path / "s.json"), "--rule", "exposure.node-public-ip", "-f", "json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0  # medium, below the default --fail-on
    assert [(f["object"]["name"], f["location"]["file"]) for f in report["findings"]] == [
        ("worker-1", str(tmp_path / "s.json"))
    ]


def test_a_failed_snapshot_leaves_no_file(tmp_path: Path, certs: Certs) -> None:
    with FakeApiServer(cluster(), certs) as server:
        kubeconfig = write_kubeconfig(tmp_path / "config", server.url, certs, token="wrong")
        code = main(["snapshot", "--kubeconfig", str(kubeconfig), "-o", str(tmp_path / "s.json")])
    assert code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def _kubectl_list(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``kubectl get pods,deploy,... -A -o json`` prints: items with apiVersion and kind."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects}


@pytest.mark.parametrize("indent", [4, 2, None], ids=["kubectl", "indent-2", "one-line"])
def test_kubectl_list(tmp_path: Path, indent: int | None) -> None:
    path = tmp_path / "kubectl.json"
    text = json.dumps(_kubectl_list(cluster()), indent=indent, sort_keys=True)
    path.write_text(text)
    report = scan([], ScanOptions(snapshot=str(path), rules=("pod.privileged", "exposure.node-public-ip")))
    assert sorted((f.rule, f.object.kind, f.object.name) for f in report.findings) == [
        ("exposure.node-public-ip", "Node", "worker-1"),
        ("pod.privileged", "DaemonSet", "kube-proxy"),
        ("pod.privileged", "Pod", "debug"),
    ]
    assert report.not_evaluated == []
    assert report.errors == []
    assert report.stats.objects == 52
    if indent is not None:  # streamed: each finding names the line where its object starts
        lines = text.splitlines()
        assert {lines[f.location.line - 1] for f in report.findings if f.location.line} == {
            " " * 2 * indent + "{"
        }
        assert all(f.location.line for f in report.findings)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            '{"items": [\n{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}},\n{"oops"},\n{}\n]}',
            id="broken-item",
        ),
        pytest.param(
            '{"items": [\n{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}},\n', id="truncated"
        ),
    ],
)
def test_streamed_list_that_is_not_valid_json(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=r"bad.json(:\d+)?: not valid JSON"):
        read_snapshot(str(path), Collected())


def test_kubectl_get_all_lacks_kinds(tmp_path: Path) -> None:
    """``kubectl get all`` holds no Nodes: the node rules say so rather than pass."""
    path = tmp_path / "all.json"
    workloads = [
        o
        for o in cluster()
        if o["kind"]
        in {"Pod", "Service", "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job", "CronJob"}
    ]
    path.write_text(json.dumps(_kubectl_list(workloads)))
    report = scan([], ScanOptions(snapshot=str(path), rules=("exposure.node-public-ip", "pod.privileged")))
    assert {n.rule: n.reason for n in report.not_evaluated} == {
        "exposure.node-public-ip": "not in the snapshot (it holds no nodes; add them to the kubectl get command)"
    }
    assert {f.object.name for f in report.findings} == {"kube-proxy", "debug"}


@pytest.mark.parametrize("indent", [None, 2], ids=["one-line", "streamed"])
def test_typed_list_items_take_their_kind_from_the_list(tmp_path: Path, indent: int | None) -> None:
    """``curl .../api/v1/pods``: a PodList whose items say neither apiVersion nor kind."""
    pods = [
        {k: v for k, v in o.items() if k not in {"apiVersion", "kind"}}
        for o in cluster()
        if o["kind"] == "Pod"
    ]
    path = tmp_path / "pods.json"
    document = {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}
    path.write_text(json.dumps(document, indent=indent))
    collected = Collected()
    read_snapshot(str(path), collected)
    assert collected.stats.kinds == {"Pod": 15}
    assert {o.ref.api_version for o in collected.objects} == {"v1"}
    assert all(o.origin.line for o in collected.objects) == (indent is not None)
    assert collected.evidence == {"C", "M"}


def test_one_object_and_yaml(tmp_path: Path) -> None:
    node = next(o for o in cluster() if o["metadata"]["name"] == "worker-1")
    (tmp_path / "node.json").write_text(json.dumps(node))
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(_kubectl_list([node])))
    for name in ("node.json", "nodes.yaml"):
        report = scan([], ScanOptions(snapshot=str(tmp_path / name), rules=("exposure.node-public-ip",)))
        assert [(f.object.name, f.location.file) for f in report.findings] == [
            ("worker-1", str(tmp_path / name))
        ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"kind": "List", "items": [\n{"a": 1},\n{"b": ]}',
            "1.json:3: not valid JSON (JSON is malformed: invalid character)",
            id="broken",
        ),
        pytest.param('{"hello": "world"}', "1.json: not a Kubernetes object or List", id="not-kubernetes"),
    ],
)
def test_bad_snapshot(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "1.json"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        read_snapshot(str(path), Collected())
    assert str(error.value) == f"{tmp_path}/{message}"
    report = scan([], ScanOptions(snapshot=str(path)))
    assert [str(e) for e in report.errors] == [f"{tmp_path}/{message}"]


def test_cluster_and_snapshot_together_is_a_usage_error(tmp_path: Path) -> None:
    code = main(["scan", "--cluster", "--snapshot", str(tmp_path / "x.json")])
    assert code == 2


def _with_odd_pods(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fixture's cluster and two Pods off the beaten path: one the typed decoder refuses (a spec field
    it does not know) whose ReplicaSet is read, one whose ReplicaSet is not."""
    web = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "web-5d8f7b9c4-m2p7d")
    odd = json.loads(json.dumps(web))
    odd["metadata"]["name"] += "-odd"
    odd["spec"]["aFieldOfTomorrow"] = True
    orphan = json.loads(json.dumps(web))
    orphan["metadata"]["name"] += "-orphan"
    orphan["metadata"]["ownerReferences"][0]["name"] = "gone-5d8f7b9c4"
    return [*objects, odd, orphan]


@pytest.mark.parametrize("order", ["as-read", "controllers-first", "shuffled"])
@pytest.mark.parametrize("indent", [None, 4], ids=["one-line", "kubectl"])
def test_one_pass_keeps_what_the_whole_read_keeps(tmp_path: Path, order: str, indent: int | None) -> None:
    """The streamed read decides each Pod once every controller is known, as the read of the whole List."""
    import random  # noqa: PLC0415

    objects = _with_odd_pods(cluster())
    if order == "controllers-first":
        objects.sort(key=lambda o: o["kind"] == "Pod")
    elif order == "shuffled":
        random.Random(18).shuffle(objects)  # noqa: S311 - an order, not a secret
    streamed, whole = tmp_path / "streamed.json", tmp_path / "whole.json"
    if indent is None:  # kharden's layout: one item per line
        streamed.write_text(
            '{"apiVersion": "v1", "kind": "List", "items": [\n'
            + ",\n".join(json.dumps(o) for o in objects)
            + '\n], "metadata": {}}\n'
        )
    else:
        streamed.write_text(json.dumps(_kubectl_list(objects), indent=indent))
    whole.write_text(json.dumps(_kubectl_list(objects)))  # no line breaks: decoded whole
    read: dict[str, Collected] = {}
    for path in (streamed, whole):
        read[path.name] = Collected()
        read_snapshot(str(path), read[path.name])
    one_pass, at_once = read["streamed.json"], read["whole.json"]
    assert all(o.origin.line for o in one_pass.objects)
    assert [(o.ref, o.raw) for o in one_pass.objects] == [(o.ref, o.raw) for o in at_once.objects]
    assert (one_pass.stats, one_pass.errors) == (at_once.stats, at_once.errors)
    pods = {o.ref.name: o.raw for o in one_pass.objects if o.ref.kind == "Pod"}
    assert "volumes" not in pods["web-5d8f7b9c4-m2p7d"]["spec"]  # a runtime record
    assert set(pods["web-5d8f7b9c4-m2p7d-odd"]["spec"]) - {"aFieldOfTomorrow"} == set(
        pods["web-5d8f7b9c4-m2p7d"]["spec"]
    )
    assert "imagePullPolicy" in pods["web-5d8f7b9c4-m2p7d-orphan"]["spec"]["containers"][0]  # kept whole


def test_an_item_that_is_not_an_object_reads_the_list_whole(tmp_path: Path) -> None:
    """As the layout's guess fails: every object still read, none with a line."""
    path = tmp_path / "odd.json"
    objects: list[Any] = [*cluster()[:3], [1, 2]]
    path.write_text('{"kind": "List", "items": [\n' + ",\n".join(json.dumps(o) for o in objects) + "\n]}")
    collected = Collected()
    read_snapshot(str(path), collected)
    assert len(collected.objects) == 3
    assert collected.stats.skipped_documents == 1
    assert not any(o.origin.line for o in collected.objects)


@pytest.mark.parametrize("block", [1, 7, 100, 4096])
@pytest.mark.parametrize(
    ("indent", "separator"),
    [(None, ",\n"), (None, ",\r\n"), (None, " , \n"), (4, None)],
    ids=["one-line", "crlf", "blanks", "kubectl"],
)
def test_items_cut_across_blocks_are_the_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int, indent: int | None, separator: str | None
) -> None:
    """However the blocks read cut the file (in an item, in a separator, one byte at a time), the streamed
    read finds each item and the line it starts on, as it does when the whole file is one block."""
    from kharden.sources import snapshot  # noqa: PLC0415

    objects = _with_odd_pods(cluster())
    path = tmp_path / "cut.json"
    if separator is None:
        path.write_text(json.dumps(_kubectl_list(objects), indent=indent))
    else:
        path.write_text(
            '{"apiVersion": "v1", "kind": "List", "items": [\n'
            + separator.join(json.dumps(o) for o in objects)
            + '\n], "metadata": {}}\n'
        )
    read: list[list[Any]] = []
    for size in (1 << 30, block):
        monkeypatch.setattr(snapshot, "_BLOCK", size)
        collected = Collected()
        read_snapshot(str(path), collected)
        read.append([(o.ref, o.raw, o.origin.line) for o in collected.objects])
        assert all(o.origin.line for o in collected.objects)
    assert read[1] == read[0]
    assert len(read[0]) == len(objects)


def test_an_item_larger_than_the_limit_is_an_input_error_however_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads of an item longer than a block grow with it, to the limit and no further."""
    from kharden.sources import snapshot  # noqa: PLC0415

    monkeypatch.setattr(snapshot, "_BLOCK", 64)
    objects = cluster()
    big = json.loads(json.dumps(objects[0]))
    big["metadata"]["annotations"] = {"note": "x" * 5000}
    path = tmp_path / "big.json"
    path.write_text(
        '{"apiVersion": "v1", "kind": "List", "items": [\n'
        + ",\n".join(json.dumps(o) for o in [*objects[:3], big, *objects[3:]])
        + '\n], "metadata": {}}\n'
    )
    collected = Collected()
    read_snapshot(str(path), collected, max_bytes=8000)
    assert len(collected.objects) == len(objects) + 1
    with pytest.raises(InputError, match=r"big.json:5: an item larger than 0 MiB"):
        read_snapshot(str(path), Collected(), max_bytes=4000)
