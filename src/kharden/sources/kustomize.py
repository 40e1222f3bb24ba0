"""Kustomize directories, rendered with ``kubectl kustomize`` or ``kustomize build``.

To tell the user which file to edit for each finding, the directory is built through a
throw-away overlay that asks kustomize where each object came from and which
kustomizations transformed it (``buildMetadata: [originAnnotations,
transformerAnnotations]``); the annotations are removed again before any rule sees the
object, and :mod:`.kustomize_edits` turns them into the place to edit each field. The
user's files are never written. If that overlay does not build, the directory is built as
is (findings then carry the lines of the rendered output only).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError
from ..model import EditTracer
from ._fields import display
from .documents import Collected
from .kustomize_edits import KustomizeTracing

__all__ = ["KUSTOMIZATION_FILES", "find_kustomization", "read"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations"
TIMEOUT_SECONDS = 300


def find_kustomization(directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def read(directory: str, collected: Collected) -> None:
    """Render ``directory`` and add its objects; a failed render is an input error."""
    command = _command(directory)
    with tempfile.TemporaryDirectory(prefix="kharden-kustomize-") as wrapper:
        target = os.path.relpath(os.path.abspath(directory), wrapper)
        Path(wrapper, "kustomization.yaml").write_text(
            f"resources:\n- {json.dumps(target)}\n"
            "buildMetadata: [originAnnotations, transformerAnnotations]\n",
            encoding="utf-8",
        )
        try:
            output = _run([*command, wrapper], directory)
        except InputError:
            output = None
        if output is not None:
            tracing = KustomizeTracing(wrapper)

            def source(raw: dict[str, Any], template: str | None) -> tuple[str | None, EditTracer | None]:
                del template
                origin, transformations = _pop_metadata(raw)
                return _origin_file(origin, tracing), tracing.tracer(origin, transformations)

            collected.add_stream(output, directory, renderer="kustomize", object_source=source)
            return
    collected.add_stream(_run([*command, directory], directory), directory, renderer="kustomize")


def _command(directory: str) -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise InputError(
        "this is a kustomization; install kubectl (for 'kubectl kustomize') or kustomize to render it",
        file=directory,
    )


def _run(command: list[str], directory: str) -> bytes:
    try:
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as e:
        raise InputError(f"kustomize build timed out after {TIMEOUT_SECONDS} s", file=directory) from e
    except OSError as e:
        raise InputError(f"cannot run {command[0]}: {e.strerror}", file=directory) from e
    if result.returncode != 0:
        raise InputError(f"kustomize build failed: {_first_line(result.stderr)}", file=directory)
    return result.stdout


def _first_line(stderr: bytes) -> str:
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line:
            return line.removeprefix("Error: ").removeprefix("error: ")[:300]
    return "no error message"


def _pop_metadata(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Any]]:
    """Remove the annotations kharden asked kustomize for; return what they say."""
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return None, []
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict):
        return None, []
    origin = _load(annotations.pop(ORIGIN_ANNOTATION, None))
    transformations = _load(annotations.pop(TRANSFORMATIONS_ANNOTATION, None))
    if not annotations:
        del metadata["annotations"]
    return (
        origin if isinstance(origin, dict) else None,
        transformations if isinstance(transformations, list) else [],
    )


def _load(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _origin_file(origin: dict[str, Any] | None, tracing: KustomizeTracing) -> str | None:
    """The file an object came from, as the user would write it: its resource file, or the
    kustomization whose generator made it."""
    if origin is None:
        return None
    path = origin.get("path") or origin.get("configuredIn")
    if not isinstance(path, str):
        return None
    repo = origin.get("repo")
    if isinstance(repo, str):
        return f"{repo}//{path}"
    return display(tracing.path(path))
