"""``kharden generate serviceaccounts``: an identity per workload, tokens only where RBAC grants something."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, run_cli
from kharden.fix import FixResult, write_fixes
from kharden.generate import command
from kharden.model import ErrorRecord
from kharden.scan import ScanOptions, scan

from .helpers import documents, schema_errors

INSECURE = EXAMPLES / "insecure"
SA_RULES = ("sa.default", "sa.shared", "sa.automount")
KUBECTL = shutil.which("kubectl") or "kubectl"


def test_the_example_app(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "generate", "serviceaccounts", str(INSECURE))
    assert code == 0, err
    docs = documents(out)
    for doc in docs:
        assert schema_errors(doc) == []
    accounts = {
        (d["metadata"]["namespace"], d["metadata"]["name"]): d.get("automountServiceAccountToken")
        for d in docs
        if d["kind"] == "ServiceAccount"
    }
    # Ran as default: no token (the deployer Role granted to `default` is not copied); shared shop-api:
    # its cluster-admin binding is copied for each, so the token stays.
    assert accounts == {
        ("kube-system", "tiller-deploy"): False,
        ("shop", "log-agent"): False,
        ("shop", "web"): False,
        ("shop", "debug"): False,
        ("shop", "redis"): False,
        ("shop", "db-backup"): None,
        ("shop", "api"): None,
    }
    copies = sorted(
        (d["kind"], d["metadata"]["name"], d["subjects"][0]["name"])
        for d in docs
        if d["kind"].endswith("Binding")
    )
    assert copies == [
        ("ClusterRoleBinding", "shop-api-admin-api", "api"),
        ("ClusterRoleBinding", "shop-api-admin-db-backup", "db-backup"),
    ]
    assert (
        "Deployment shop/web ran as ServiceAccount 'shop/default', which RoleBinding 'shop/deployer' grants"
        in err
    )
    assert "#   kubectl -n shop patch cronjob db-backup -p" in out
    assert '{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"serviceAccountName":"db-backup"}}}}}}' in out


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed")
def test_written_into_a_kustomization_the_next_scan_is_clean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = tmp_path / "app"
    shutil.copytree(INSECURE, app)
    files = sorted(p.name for p in app.glob("*.yaml"))
    (app / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"- {f}\n" for f in files), encoding="utf-8"
    )
    before = scan([str(app)], ScanOptions(rules=SA_RULES))
    assert {f.rule for f in before.findings} == set(SA_RULES)
    code, out, err = run_cli(capsys, "generate", "serviceaccounts", str(app), "--write")
    assert code == 0, err
    assert out == ""
    kustomization = (app / "kustomization.yaml").read_text()
    assert "- kharden-serviceaccounts.yaml\n" in kustomization
    # kharden fix's kustomize patches: one JSON 6902 patch per workload, the resources untouched.
    assert "patches:\n- path: kharden-fix/deployment-tiller-deploy.yaml\n" in kustomization
    assert "- path: kharden-fix/deployment-web.yaml\n" in kustomization
    assert (app / "kharden-fix" / "deployment-web.yaml").read_text() == (
        "# Written by kharden generate serviceaccounts: sa.default on Deployment web.\n"
        '- {"op": "add", "path": "/spec/template/spec/serviceAccountName", "value": "web"}\n'
    )
    assert (
        (app / "kharden-fix" / "deployment-api.yaml")
        .read_text()
        .endswith('- {"op": "replace", "path": "/spec/template/spec/serviceAccountName", "value": "api"}\n')
    )
    for name in files:
        assert (app / name).read_bytes() == (INSECURE / name).read_bytes()
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(app)], capture_output=True, text=True, check=True
    ).stdout
    web = next(d for d in documents(rendered) if d["kind"] == "Deployment" and d["metadata"]["name"] == "web")
    assert web["spec"]["template"]["spec"]["serviceAccountName"] == "web"
    after = scan([str(app)], ScanOptions(rules=SA_RULES))
    assert [(f.rule, str(f.object)) for f in after.findings] == []
    # Again: nothing to move, nothing written.
    written = _tree(app)
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(app), "--write")
    assert code == 0, err
    assert "every workload already runs as a ServiceAccount of its own" in err
    assert _tree(app) == written


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _changed_lines(before: bytes, after: bytes) -> tuple[list[str], list[str]]:
    """The lines a change removed and added (every other line byte for byte the same)."""
    old, new = before.decode().splitlines(keepends=True), after.decode().splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    removed, added = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def test_write_sets_the_service_account_in_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(INSECURE, app)
    before = _tree(app)
    old = scan([str(app)], ScanOptions(rules=SA_RULES))
    # sa.default names the workloads, sa.shared the ServiceAccount api and db-backup share.
    assert {(f.rule, str(f.object)) for f in old.findings if f.rule != "sa.automount"} == {
        ("sa.default", "Deployment kube-system/tiller-deploy"),
        ("sa.default", "DaemonSet shop/log-agent"),
        ("sa.default", "Deployment shop/web"),
        ("sa.default", "Pod shop/debug"),
        ("sa.default", "StatefulSet shop/redis"),
        ("sa.shared", "ServiceAccount shop/shop-api"),
    }
    code, out, err = run_cli(capsys, "generate", "serviceaccounts", str(app), "--write")
    assert code == 0, err
    assert out == ""
    after = _tree(app)
    accounts = documents(after.pop("kharden-serviceaccounts.yaml").decode())
    assert sorted(d["metadata"]["name"] for d in accounts if d["kind"] == "ServiceAccount") == [
        "api", "db-backup", "debug", "log-agent", "redis", "tiller-deploy", "web",
    ]  # fmt: skip
    for doc in accounts:
        assert schema_errors(doc) == []
    assert set(after) == set(before)
    changed = sorted(name for name in after if after[name] != before[name])
    assert changed == [
        "api.yaml", "backup-cronjob.yaml", "cluster-tools.yaml", "debug-pod.yaml", "log-agent-daemonset.yaml",
        "redis.yaml", "web.yaml",
    ]  # fmt: skip
    # Only the lines that name the ServiceAccount: added where it was unset, changed where it was shared;
    # the comment at the end of the CronJob's line stays.
    assert _changed_lines(before["web.yaml"], after["web.yaml"]) == ([], ["      serviceAccountName: web\n"])
    assert _changed_lines(before["debug-pod.yaml"], after["debug-pod.yaml"]) == (
        [],
        ["  serviceAccountName: debug\n"],
    )
    removed, added = _changed_lines(before["backup-cronjob.yaml"], after["backup-cronjob.yaml"])
    assert [line.replace("shop-api", "db-backup") for line in removed] == added
    assert added[0].startswith("          serviceAccountName: db-backup  # ")
    for name in changed:
        removed, added = _changed_lines(before[name], after[name])
        assert len(added) == 1
        assert "serviceAccountName: " in added[0]
        assert all("serviceAccountName: " in line for line in removed)
    # The next scan: those workloads run as their own ServiceAccounts, without a token.
    new = scan([str(app)], ScanOptions(rules=SA_RULES))
    assert [(f.rule, str(f.object)) for f in new.findings] == []
    assert new.errors == []
    # Idempotent: a second run changes nothing.
    written = _tree(app)
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(app), "--write")
    assert code == 0, err
    assert _tree(app) == written


FLOW = """\
# two workloads share one account (the deprecated field), written in flow style
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {serviceAccount: shared, containers: [{name: c, image: c}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: a}
spec:
  template:
    spec:
      serviceAccount: shared   # kept from the chart
      restartPolicy: Never
      containers: [{name: c, image: c}]
"""
JSON = """\
{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "tool", "namespace": "a"},
  "spec": {
    "containers": [{"name": "c", "image": "c"}]
  }
}
"""


def test_write_keeps_each_files_style(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "apps.yaml").write_text(FLOW, encoding="utf-8")
    (tmp_path / "tool.json").write_text(JSON, encoding="utf-8")
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(tmp_path), "--write")
    assert code == 0, err
    assert (tmp_path / "apps.yaml").read_text() == FLOW.replace(
        "spec: {serviceAccount: shared, containers",
        "spec: {serviceAccount: web, containers",
    ).replace(
        "  template: {metadata: {labels: {app: web}}, spec: {serviceAccount: web, containers: [{name: c, image: c}]}}",
        "  template: {metadata: {labels: {app: web}}, spec: {serviceAccount: web, containers: [{name: c, image: c}],"
        " serviceAccountName: web}}",
    ).replace(
        "      serviceAccount: shared   # kept from the chart\n",
        "      serviceAccount: migrate   # kept from the chart\n",
    ).replace(
        "      containers: [{name: c, image: c}]\n",
        "      containers: [{name: c, image: c}]\n      serviceAccountName: migrate\n",
    )
    tool = json.loads((tmp_path / "tool.json").read_text())
    assert tool["spec"]["serviceAccountName"] == "tool"
    assert (tmp_path / "tool.json").read_text().splitlines()[:5] == JSON.splitlines()[:5]
    report = scan([str(tmp_path)], ScanOptions(rules=SA_RULES))
    assert [(f.rule, str(f.object)) for f in report.findings] == []


def test_a_later_run_keeps_what_an_earlier_one_wrote(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "tool.json").write_text(JSON, encoding="utf-8")
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(tmp_path), "--write")
    assert code == 0, err
    (tmp_path / "apps.yaml").write_text(FLOW, encoding="utf-8")
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(tmp_path), "--write")
    assert code == 0, err
    written = documents((tmp_path / "kharden-serviceaccounts.yaml").read_text())
    assert [d["metadata"]["name"] for d in written] == ["tool", "web", "migrate"]
    assert (
        "#   ServiceAccount a/tool: Pod a/tool runs as the namespace's default ServiceAccount"
        in (tmp_path / "kharden-serviceaccounts.yaml").read_text()
    )


def test_write_never_overwrites_a_file_changed_meanwhile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tool.json").write_text(JSON, encoding="utf-8")
    real = write_fixes

    def edited_meanwhile(result: FixResult) -> list[ErrorRecord]:
        with (tmp_path / "tool.json").open("a", encoding="utf-8") as out:
            out.write("\n")
        return real(result)

    monkeypatch.setattr(command, "write_fixes", edited_meanwhile)
    code, _, err = run_cli(capsys, "generate", "serviceaccounts", str(tmp_path), "--write")
    assert code == 2
    assert f"{tmp_path / 'tool.json'}: changed on disk since kharden read it: not overwritten" in err
    assert (tmp_path / "tool.json").read_text() == JSON + "\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_write_needs_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    snapshot = tmp_path / "s.json"
    snapshot.write_text("{}", encoding="utf-8")
    for argv in (["-", "--write"], ["--snapshot", str(snapshot), "--write"]):
        code, _, err = run_cli(capsys, "generate", "serviceaccounts", *argv)
        assert code == 2
        assert "generate serviceaccounts --write edits files" in err


def test_one_account_per_workload_already(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "generate", "serviceaccounts", str(EXAMPLES / "hardened"))
    assert code == 0
    assert documents(out) == []
    assert "every workload already runs as a ServiceAccount of its own" in err


def test_names_never_collide(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: a}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {serviceAccountName: shared, containers: [{name: c, image: c}]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web-db}}
  template: {metadata: {labels: {app: web-db}}, spec: {serviceAccountName: shared, containers: [{name: c, image: c}]}}
"""
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    _, out, _ = run_cli(capsys, "generate", "serviceaccounts", str(path))
    names = [d["metadata"]["name"] for d in documents(out)]
    assert names == ["web-deployment", "web-statefulset"]


@pytest.mark.parametrize(
    "argv",
    [
        ["networkpolicies", str(INSECURE), "--include-system"],
        ["serviceaccounts", str(INSECURE)],
        ["pod-security", str(INSECURE)],
        [
            "psa",
            "--from-psp",
            str(Path(__file__).parent / "psp" / "seed-restricted.yaml"),
            str(Path(__file__).parent / "psp" / "rbac.yaml"),
        ],
    ],
    ids=["networkpolicies", "serviceaccounts", "pod-security", "psa"],
)
def test_the_same_input_gives_the_same_bytes(argv: list[str]) -> None:
    outputs = set()
    for seed in ("0", "1", "4242"):
        result = subprocess.run(
            [sys.executable, "-m", "kharden.cli", "generate", *argv],
            capture_output=True,
            check=False,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1
