"""What the fix tests share: running fix and scan in this process, validating objects, kubectl's parser."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from kharden.fix import FixOptions, FixResult, plan_fixes, write_fixes

KUBE_VERSION = "1.33"
KUBECTL = shutil.which("kubectl") or "kubectl"


def fix(paths: list[str], **options: Any) -> FixResult:
    return plan_fixes(paths, FixOptions(**options))


def fix_write(paths: list[str], **options: Any) -> FixResult:
    result = fix(paths, **options)
    assert write_fixes(result) == []
    return result


def documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def objects(data: Any) -> Iterator[dict[str, Any]]:
    """The objects of a document (the items of a List)."""
    if isinstance(data, dict) and "kind" in data and "apiVersion" in data:
        if str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
            for item in data["items"]:
                yield from objects(item)
        else:
            yield data


@functools.cache
def _known(api_version: str, kind: str) -> bool:
    try:
        kubernetes_validate.validate(
            {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}, KUBE_VERSION
        )
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        return True
    return True


def schema_errors(obj: dict[str, Any]) -> list[str] | None:
    """What the Kubernetes OpenAPI schema of the object's kind refuses in it; ``None`` for kinds it
    has no schema for (custom resources)."""
    if not _known(str(obj.get("apiVersion")), str(obj.get("kind"))):
        return None
    try:
        kubernetes_validate.validate(json.loads(json.dumps(obj)), KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'/'.join(str(p) for p in e.path)}: {e.message}"]
    return []


def kubectl_parses(files: list[Path]) -> str | None:
    """``kubectl kustomize`` over a kustomization listing ``files``: ``None`` when it renders them, else
    its error (kubectl's own YAML and object parser, with no cluster needed)."""
    with tempfile.TemporaryDirectory(prefix="kharden-kubectl-") as scratch:
        names = []
        for index, file in enumerate(files):
            name = f"f{index}-{file.name}"
            shutil.copyfile(file, Path(scratch, name))
            names.append(name)
        Path(scratch, "kustomization.yaml").write_text(yaml.safe_dump({"resources": names}), encoding="utf-8")
        done = subprocess.run([KUBECTL, "kustomize", scratch], capture_output=True, timeout=120, check=False)
    return None if done.returncode == 0 else done.stderr.decode("utf-8", "replace").strip()
