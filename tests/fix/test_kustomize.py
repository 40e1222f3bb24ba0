"""Kustomize overlays: the fix is a JSON 6902 patch in the overlay, listed under ``patches:``; the shared
base is never edited; ``kubectl kustomize`` of the overlay then scans clean for the fixed rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from fix.helpers import fix, fix_write
from kharden.scan import ScanOptions, scan

DATA = Path(__file__).parent / "data" / "kustomize"
pytestmark = pytest.mark.skipif(
    not (shutil.which("kubectl") or shutil.which("kustomize")), reason="needs kubectl or kustomize"
)
SAFE_RULES = (
    "pod.privileged",
    "pod.privilege-escalation",
    "pod.host-namespaces",
    "pod.capabilities",
    "pod.seccomp",
    "pod.run-as-root",
)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_overlay_gets_a_patch_and_the_base_is_untouched(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    base, overlay = tmp_path / "app" / "base", tmp_path / "app" / "prod"
    base_before = _tree(base)
    before = scan([str(overlay)], ScanOptions(rules=SAFE_RULES))
    assert {f.rule for f in before.findings} == set(SAFE_RULES)

    result = fix_write([str(overlay)], rules=SAFE_RULES)
    assert result.errors == []
    assert _tree(base) == base_before
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))
    assert kustomization["patches"] == [
        {"path": "debug.yaml"},
        {
            "path": "kharden-fix/deployment-web.yaml",
            "target": {"kind": "Deployment", "name": "web", "group": "apps", "version": "v1"},
        },
    ]
    assert (overlay / "kustomization.yaml").read_text(encoding="utf-8").startswith("# Production overlay.\n")
    ops = yaml.safe_load((overlay / "kharden-fix" / "deployment-web.yaml").read_text(encoding="utf-8"))
    assert {"op": "remove", "path": "/spec/template/spec/hostPID"} in ops
    assert {"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/privileged"} in ops

    after = scan([str(overlay)], ScanOptions(rules=SAFE_RULES))
    assert after.errors == []
    assert [(f.rule, f.location.path) for f in after.findings] == []
    assert [f.path for f in fix([str(overlay)], rules=SAFE_RULES).files if f.before != f.after] == []


def test_a_second_fix_extends_the_same_patch(tmp_path: Path) -> None:
    shutil.copytree(DATA, tmp_path / "app")
    overlay = tmp_path / "app" / "prod"
    fix_write([str(overlay)], rules=("pod.privileged",))
    fix_write([str(overlay)], rules=("pod.host-namespaces",))
    ops = yaml.safe_load((overlay / "kharden-fix" / "deployment-web.yaml").read_text(encoding="utf-8"))
    # Removing privileged left the securityContext empty: it goes too.
    assert [op["path"] for op in ops] == [
        "/spec/template/spec/containers/0/securityContext",
        "/spec/template/spec/hostPID",
    ]
    patches = yaml.safe_load((overlay / "kustomization.yaml").read_text(encoding="utf-8"))["patches"]
    assert [p["path"] for p in patches] == ["debug.yaml", "kharden-fix/deployment-web.yaml"]
    report = scan([str(overlay)], ScanOptions(rules=("pod.privileged", "pod.host-namespaces")))
    assert report.findings == []
