"""Kustomize directories, rendered with ``kubectl kustomize`` or ``kustomize build``.

To tell the user which file each object came from, the directory is built through a
throw-away overlay that asks kustomize for origin annotations
(``buildMetadata: [originAnnotations]``); the annotation is removed again before any
rule sees the object. If that overlay does not build, the directory is built as is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from .._yaml import iter_documents
from ..errors import InputError
from .documents import Collected

__all__ = ["KUSTOMIZATION_FILES", "find_kustomization", "read"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
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
            f"resources:\n- {json.dumps(target)}\nbuildMetadata: [originAnnotations]\n", encoding="utf-8"
        )
        try:
            output = _run([*command, wrapper], directory)
        except InputError:
            output = None
        if output is not None:

            def template(raw: dict[str, Any]) -> str | None:
                return _pop_origin(raw, wrapper)

            collected.add_stream(output, directory, renderer="kustomize", object_template=template)
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


def _pop_origin(raw: dict[str, Any], wrapper: str) -> str | None:
    """Remove kustomize's origin annotation and return the file it names, as the user would write it."""
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return None
    annotations = metadata.get("annotations")
    if not isinstance(annotations, dict) or ORIGIN_ANNOTATION not in annotations:
        return None
    text = annotations.pop(ORIGIN_ANNOTATION)
    if not annotations:
        del metadata["annotations"]
    try:
        # The annotation is text of the manifest: read through the guarded loader like every YAML.
        document = (
            next(iter_documents(text.encode(), ORIGIN_ANNOTATION), None) if isinstance(text, str) else None
        )
    except InputError:
        return None
    origin = document.data if document is not None else None
    if not isinstance(origin, dict) or not isinstance(origin.get("path"), str):
        return None
    path: str = origin["path"]
    repo = origin.get("repo")
    if isinstance(repo, str):
        return f"{repo}//{path}"
    absolute = os.path.normpath(os.path.join(wrapper, path))
    return _display(absolute)


def _display(absolute: str) -> str:
    """Relative to the working directory when the file is below it, else absolute."""
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return os.path.relpath(absolute, cwd)
    return absolute
