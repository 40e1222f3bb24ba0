"""``kharden generate serviceaccounts``: an identity per workload, tokens only where RBAC grants something."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, run_cli
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
    assert (
        "patches:\n- path: kharden-serviceaccount-kube-system-deployment-tiller-deploy.yaml\n"
        in kustomization
    )
    assert "- path: kharden-serviceaccount-shop-deployment-web.yaml\n" in kustomization
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(app)], capture_output=True, text=True, check=True
    ).stdout
    web = next(d for d in documents(rendered) if d["kind"] == "Deployment" and d["metadata"]["name"] == "web")
    assert web["spec"]["template"]["spec"]["serviceAccountName"] == "web"
    after = scan([str(app)], ScanOptions(rules=SA_RULES))
    assert [(f.rule, str(f.object)) for f in after.findings] == []


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
