"""deploy/ (kharden inside the cluster) scans clean under kharden's own rules, and reads what the scanner reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kharden.scan import scan
from kharden.sources.cluster import BUILTIN, EXTENSIONS, METADATA_ONLY

DEPLOY = Path(__file__).parent.parent / "deploy"


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


@pytest.mark.skipif(
    not (shutil.which("kubectl") or shutil.which("kustomize")),
    reason="needs kubectl or kustomize to render deploy/",
)
def test_deploy_scans_clean() -> None:
    report = scan([str(DEPLOY)])
    assert report.errors == []
    assert report.stats.objects == 10
    assert [(f.rule, f.object.name, f.location.path, f.message) for f in report.active] == []
    # The one suppression, with its reason: the release pins the image by digest.
    assert {(f.rule, f.suppressed.reason if f.suppressed else None) for f in report.findings} <= {
        (
            "image.not-pinned",
            "the release pins ghcr.io/kharden/kharden by digest with kustomize edit set image (see deploy/README.md)",
        ),
        (
            "rbac.wildcard",
            "Gatekeeper names one resource per ConstraintTemplate installed: they cannot be listed in advance,"
            " and the wildcard grants get and list only, in constraints.gatekeeper.sh only",
        ),
    }


def test_read_role_grants_get_and_list_of_what_the_scanner_reads() -> None:
    role = next(d for d in _documents("rbac-read.yaml") if d["kind"] == "ClusterRole")
    granted = set()
    for rule in role["rules"]:
        assert rule["verbs"] == ["get", "list"], rule
        granted |= {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
    wanted = {*BUILTIN, *((g, r) for g, names in EXTENSIONS.items() for r in names)}
    wanted |= {("projectcalico.org", r) for r in EXTENSIONS["crd.projectcalico.org"]}
    assert granted == wanted - METADATA_ONLY  # Secrets are left out: no rule needs them


def test_cronjob_scans_read_only_and_publishes_separately() -> None:
    (cronjob,) = _documents("cronjob.yaml")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (scan_step,) = pod["initContainers"]
    assert scan_step["args"][:4] == ["scan", "--cluster", "--format", "policyreport"]
    assert {m["mountPath"] for m in pod["containers"][0]["volumeMounts"] if m.get("readOnly")} == {"/reports"}


def test_probe_role_grants_pods_and_their_logs_only() -> None:
    (role,) = _documents("probe/clusterrole.yaml")
    assert role["kind"] == "ClusterRole"
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "list", "delete"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    ]


@pytest.mark.skipif(
    not (shutil.which("kubectl") or shutil.which("kustomize")),
    reason="needs kubectl or kustomize to render deploy/probe/",
)
def test_probe_role_scans_clean() -> None:
    report = scan([str(DEPLOY / "probe")])
    assert report.errors == []
    assert report.stats.objects == 1
    assert report.findings == []
