"""Nothing read is not a pass: empty inputs and unreadable directories are input errors (exit 2), the
other inputs' findings are kept, and a section whose rules judged nothing scores n/a, never 100."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import EXAMPLES, PRIVILEGED_POD, TESTS, run_cli, scan_text
from kharden import ScanOptions, scan
from kharden.cli import main
from kharden.model import Report

PRIVILEGED = PRIVILEGED_POD


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("kharden: error:")]


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_a_directory_without_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "values.yaml").write_text("replicas: 3\nimage: nginx\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "scan", str(docs))
    assert code == 2
    assert _errors(err) == [
        f"kharden: error: {docs}: no Kubernetes object in the files read; nothing to judge"
        " (--allow-empty accepts it)"
    ]
    assert "no findings" in out
    assert run_cli(capsys, "scan", str(docs), "--allow-empty")[0] == 0


def test_empty_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    code, _, err = run_cli(capsys, "scan", "-")
    assert code == 2
    assert len(_errors(err)) == 1
    assert "-: no Kubernetes object in the files read" in err


def test_an_empty_node_root(empty_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "scan", "--node-root", str(empty_dir))
    assert code == 2
    assert _errors(err) == [
        f"kharden: error: {empty_dir}: no control-plane component or kubelet under this node root (no static"
        " pod, kubelet unit, flags or KubeletConfiguration, k3s or RKE2 configuration); nothing to judge"
        " (--allow-empty accepts it)"
    ]
    assert "0 objects in 0 files" in out
    code, out, err = run_cli(capsys, "scan", "--node-root", str(empty_dir), "--allow-empty")
    assert (code, _errors(err)) == (0, [])
    assert "score n/a (no rule judged anything)" in out


def test_a_node_root_with_no_component_beside_manifests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong directory given as a node root fails the run; the manifests' findings are still reported."""
    root = tmp_path / "mnt" / "worker"
    (root / "etc" / "cni" / "net.d").mkdir(parents=True)
    shutil.copy(
        EXAMPLES / "insecure-node" / "etc" / "cni" / "net.d" / "10-flannel.conflist", root / "etc/cni/net.d"
    )
    code, out, _ = run_cli(capsys, "scan", str(EXAMPLES / "insecure"), "--node-root", str(root), "-f", "json")
    report = json.loads(out)
    assert code == 2
    assert [e["file"] for e in report["errors"]] == [str(root)]
    assert "no control-plane component or kubelet under this node root" in report["errors"][0]["message"]
    assert len(report["findings"]) > 100


@pytest.mark.parametrize(
    "text",
    ["", '{"apiVersion": "v1", "kind": "List", "items": []}\n'],
    ids=["empty-file", "empty-list"],
)
def test_an_empty_snapshot(text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = tmp_path / "cluster.json"
    snapshot.write_text(text, encoding="utf-8")
    code, _, err = run_cli(capsys, "scan", "--snapshot", str(snapshot))
    assert code == 2
    assert _errors(err) == [
        f"kharden: error: {snapshot}: the snapshot holds no object; nothing to judge (--allow-empty accepts it)"
    ]
    assert run_cli(capsys, "scan", "--snapshot", str(snapshot), "--allow-empty")[0] == 0


def test_a_broken_file_is_one_error_not_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "scan", str(broken))
    assert code == 2
    assert len(_errors(err)) == 1
    assert "nothing to judge" not in err


# -- scores of sections that judged nothing ---------------------------------------------------------


def test_a_section_whose_rules_judged_nothing_scores_na_in_every_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A worker node has no API server: the audit-logging rules cannot judge anything there."""
    worker = str(TESTS / "data" / "nodes" / "worker")
    report = scan([], ScanOptions(node_roots=(worker,)))
    assert report.scores is not None
    sections = {s.section: s.score for s in report.scores.sections}
    assert sections["logging"] is None
    assert {r.rule: r.examined for r in report.rules if r.section == "logging"} == dict.fromkeys(
        ("logging.audit-disabled", "logging.audit-retention", "logging.audit-not-shipped"), 0
    ) | {"logging.audit-policy": 0}

    _, text, _ = run_cli(capsys, "scan", "--node-root", worker)
    assert [line.split()[-1] for line in text.splitlines() if line.startswith("  logging ")] == ["n/a"]
    _, markdown, _ = run_cli(capsys, "scan", "--node-root", worker, "-f", "markdown")
    assert "| logging | · | · | · | · | · | n/a |" in markdown
    _, data, _ = run_cli(capsys, "scan", "--node-root", worker, "-f", "json")
    assert json.loads(data)["summary"]["score"]["sections"]["logging"]["score"] is None
    _, html, _ = run_cli(capsys, "scan", "--node-root", worker, "-f", "html")
    assert 'data-section="logging"' in html
    card = html.split('data-section="logging"', 1)[1].split("</div>", 2)
    assert "n/a" in "".join(card[:2])


def _statuses(report: Report) -> dict[str, str]:
    """Each rule run's outcome: ``fires``, ``passes`` (judged something, found nothing) or the reason it
    was not evaluated."""
    findings = {f.rule for f in report.findings}
    reasons = {n.rule: n.reason for n in report.not_evaluated}
    return {
        run.rule: "fires"
        if run.rule in findings
        else reasons.get(run.rule, "passes" if run.examined else "?")
        for run in report.rules
    }


def test_a_worker_node_passes_only_what_it_judged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A worker node root holds a kubelet, its kubeconfig and a CNI: no kube-apiserver, no policy object.
    The admission rules cannot judge anything there (the section is n/a, not 100); the rules that pass
    judged something (the kubelet's flags, the API server address in kubelet.conf, Cilium enforcing any
    NetworkPolicy). A worker running flannel cannot say whether policies go unenforced, nor one without
    a kubeconfig where the API server is."""
    worker = TESTS / "data" / "nodes" / "worker"
    report = scan([], ScanOptions(node_roots=(str(worker),)))
    assert report.scores is not None
    statuses = _statuses(report)
    assert statuses["admission.psp-unenforced"] == (
        "no PodSecurityPolicy and no kube-apiserver in this scan: nothing tells whether the cluster holds"
        " PodSecurityPolicies or enforces them (scan the cluster or a control-plane node)"
    )
    assert statuses["admission.plugins"].startswith("no kube-apiserver in this scan")
    assert {r.rule: r.examined for r in report.rules if r.section == "admission"} == {
        "admission.psp-unenforced": 0,
        "admission.plugins": 0,
    }
    assert [rule for rule, status in statuses.items() if status == "passes"] == [
        "exposure.apiserver-public",
        "exposure.kubelet-auth",
        "netpol.cni-unsupported",
    ]
    sections = {s.section: s.score for s in report.scores.sections}
    assert sections == {
        "exposure": 100,
        "isolation": 100,
        "encryption": None,
        "logging": None,
        "admission": None,
    }
    _, text, _ = run_cli(capsys, "scan", "--node-root", str(worker))
    assert [line.split()[-1] for line in text.splitlines() if line.startswith("  admission ")] == ["n/a"]

    flannel = tmp_path / "flannel"
    shutil.copytree(worker, flannel)
    (flannel / "etc" / "cni" / "net.d" / "05-cilium.conflist").unlink()
    shutil.copy(
        TESTS / "data" / "nodes" / "kubeadm-insecure" / "etc" / "cni" / "net.d" / "10-flannel.conflist",
        flannel / "etc" / "cni" / "net.d",
    )
    (flannel / "etc" / "kubernetes" / "kubelet.conf").unlink()
    report = scan([], ScanOptions(node_roots=(str(flannel),)))
    statuses = _statuses(report)
    assert statuses["netpol.cni-unsupported"] == (
        "no NetworkPolicy in this scan tells whether the cluster holds any, and node"
        f" {flannel} runs the flannel CNI, which would not enforce them"
    )
    assert statuses["exposure.apiserver-public"] == (
        "no API server address in this scan (no kube-apiserver --advertise-address, kubeconfig under the"
        " node's etc/kubernetes or etc/rancher, or LoadBalancer in front of kube-apiserver)"
    )
    assert [rule for rule, status in statuses.items() if status == "passes"] == ["exposure.kubelet-auth"]
    assert report.scores is not None
    sections = {s.section: s.score for s in report.scores.sections}
    assert sections == {
        "exposure": 100,
        "isolation": None,
        "encryption": None,
        "logging": None,
        "admission": None,
    }


def test_a_control_plane_without_a_podsecuritypolicy_is_judged_where_it_can_be() -> None:
    """1.31: no PodSecurityPolicy can exist, a pass. 1.24 without the plugin: only the cluster's objects
    tell whether some go unenforced; a cluster read that lists none is a pass."""
    rules = ("admission.psp-unenforced",)
    current = scan(
        [], ScanOptions(node_roots=(str(TESTS / "data" / "nodes" / "kubeadm-secure"),), rules=rules)
    )
    assert _statuses(current) == {"admission.psp-unenforced": "passes"}
    old = TESTS / "data" / "nodes" / "kubeadm-insecure"
    report = scan([], ScanOptions(node_roots=(str(old),), rules=rules))
    assert _statuses(report) == {
        "admission.psp-unenforced": "Kubernetes 1.24: kube-apiserver does not enable the PodSecurityPolicy"
        " admission plugin and no PodSecurityPolicy in this scan tells whether the cluster holds any"
        " (scan the cluster)"
    }
    namespace = "kind: Namespace\napiVersion: v1\nmetadata: {name: shop}\n"
    cluster = scan_text(namespace, list(rules), node_roots=(str(old),), evidence=("C",))
    assert _statuses(cluster) == {"admission.psp-unenforced": "passes"}


def test_rules_without_the_kinds_they_read_judge_nothing() -> None:
    """A Deployment alone: no RBAC object, so the RBAC rules examined nothing (they do not pass)."""
    report = scan([str(EXAMPLES / "insecure" / "web.yaml")], ScanOptions(rules=("rbac.*",)))
    assert {r.examined for r in report.rules} == {0}
    assert report.scores is not None
    assert report.scores.overall is None


# -- unreadable directories ---------------------------------------------------------------------------


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory another user may read (pytest's own are private to the user running the tests)."""
    path = Path(tempfile.mkdtemp(prefix="kharden-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for directory, _, _ in os.walk(path):
            Path(directory).chmod(0o755)
        shutil.rmtree(path)


def _lock(directory: Path) -> None:
    """Make ``directory`` unreadable to the user the scan runs as (root reads everything: the scan then
    runs as nobody, see :func:`_scan_as_another_user`)."""
    directory.chmod(0o700 if os.geteuid() == 0 else 0o000)


def _scan_as_another_user(*argv: str) -> tuple[int, str, str]:
    """``kharden scan ARGV...``: as nobody in a forked child when the tests run as root (root reads every
    directory; the interpreter may live where nobody can exec it, hence a fork and no exec), else here."""
    args = ["scan", "--no-config", *argv]
    if os.geteuid() != 0:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        return code, out.getvalue(), err.getvalue()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, scan, send the result, never return into pytest
        code, out, err = 1, io.StringIO(), io.StringIO()
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(args)
        except BaseException as e:  # noqa: BLE001 - whatever happens is reported to the parent
            err.write(f"child failed: {e!r}")
        finally:
            with os.fdopen(write, "w", encoding="utf-8") as pipe:
                json.dump([code, out.getvalue(), err.getvalue()], pipe)
            os._exit(0)
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        code, out, err = json.load(pipe)
    os.waitpid(pid, 0)
    return code, out, err


def test_an_unreadable_directory_of_a_node_root(shared_tmp: Path) -> None:
    """kubeadm's etc/kubernetes/manifests is 0700: read as another user, the control plane must not look
    like a worker. The directory is named, the rest of the node is still judged."""
    root = shared_tmp / "cp-1"
    shutil.copytree(EXAMPLES / "insecure-node", root)
    manifests = root / "etc" / "kubernetes" / "manifests"
    _lock(manifests)
    code, out, err = _scan_as_another_user("--node-root", str(root), "-f", "json")
    report = json.loads(out)
    assert code == 2, err
    assert report["errors"] == [
        {"file": str(manifests), "line": None, "message": "cannot read directory: Permission denied"}
    ]
    rules = {f["rule"] for f in report["findings"]}
    assert {"exposure.apiserver-public", "exposure.kubelet-auth"} <= rules  # admin.conf, the kubelet
    assert "admission.plugins" not in rules


def test_an_unreadable_directory_among_the_paths(shared_tmp: Path) -> None:
    (shared_tmp / "a.yaml").write_text(PRIVILEGED, encoding="utf-8")
    locked = shared_tmp / "team-b"
    locked.mkdir()
    (locked / "b.yaml").write_text(PRIVILEGED.replace("debug", "other"), encoding="utf-8")
    _lock(locked)
    code, out, err = _scan_as_another_user(str(shared_tmp), "--rule", "pod.privileged", "-f", "json")
    report = json.loads(out)
    assert code == 2, err
    assert report["errors"] == [
        {"file": str(locked), "line": None, "message": "cannot list directory: Permission denied"}
    ]
    assert [f["object"]["name"] for f in report["findings"]] == ["debug"]


def test_a_file_under_an_unreadable_directory_is_not_missing(shared_tmp: Path) -> None:
    locked = shared_tmp / "team-b"
    locked.mkdir()
    (locked / "b.yaml").write_text(PRIVILEGED, encoding="utf-8")
    _lock(locked)
    code, out, _ = _scan_as_another_user(str(locked / "b.yaml"), str(shared_tmp), "-f", "json")
    assert code == 2
    assert json.loads(out)["errors"] == [
        {"file": str(locked / "b.yaml"), "line": None, "message": "cannot read: Permission denied"},
        {"file": str(locked), "line": None, "message": "cannot list directory: Permission denied"},
    ]
