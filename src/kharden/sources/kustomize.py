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
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._files import TooLargeError, read_bounded
from .._yaml import iter_documents
from ..errors import InputError
from ..model import EditTracer
from ._fields import display
from .documents import Collected
from .kustomize_edits import KustomizeTracing

__all__ = ["is_component", "read"]
ORIGIN_ANNOTATION = "config.kubernetes.io/origin"
TRANSFORMATIONS_ANNOTATION = "alpha.config.kubernetes.io/transformations"
TIMEOUT_SECONDS = 300


def is_component(path: str) -> bool:
    """Whether the kustomization file at ``path`` is a ``kind: Component``."""
    try:
        text = read_bounded(path, 1024 * 1024)
    except (OSError, TooLargeError):
        return False
    if b"Component" not in text:
        return False
    try:
        documents = list(iter_documents(text, path))
    except InputError:
        return False
    data = documents[0].data if documents else None
    return isinstance(data, dict) and data.get("kind") == "Component"


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
            build_metadata = _build_metadata(output)

            def source(raw: dict[str, Any], template: str | None) -> tuple[str | None, EditTracer | None]:
                del template
                origin, transformations = _pop_metadata(raw)  # where the lines could not be removed
                if origin is None:
                    origin, transformations = build_metadata.get(_identity(raw), (None, []))
                return _origin_file(origin, tracing), tracing.tracer(origin, transformations)

            # The lines of the output are those of a plain build: without the annotations.
            plain = _without_build_metadata(output)
            collected.add_stream(plain, directory, renderer="kustomize", object_source=source)
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


_KLOG_ERROR = re.compile(r'^E\d{4} [\d:.]+\s+\d+ \S+\] "command failed" err="(.*)"$')


def _first_line(stderr: bytes) -> str:
    """kustomize's error: warnings (``# Warning: 'commonLabels' is deprecated``) come first and are
    passed over; kubectl wraps the error in a log line (``E1206 ... "command failed" err="..."``)."""
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("# Warning"):
            continue
        logged = _KLOG_ERROR.match(line)
        if logged is not None:
            line = logged.group(1).replace('\\"', '"')
        return line.removeprefix("Error: ").removeprefix("error: ")[:300]
    return "no error message"


_BUILD_ANNOTATIONS = (
    f"{TRANSFORMATIONS_ANNOTATION}:".encode(),
    f"{ORIGIN_ANNOTATION}:".encode(),
)


def _without_build_metadata(output: bytes) -> bytes:
    """The output as a plain build writes it: the annotation lines kharden asked for removed, and
    ``annotations:`` when nothing else is under it."""
    lines = output.split(b"\n")
    kept: list[bytes] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if stripped.startswith(_BUILD_ANNOTATIONS):
            indent = len(line) - len(stripped)
            index += 1
            while index < len(lines) and (
                not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
            ):
                index += 1
            continue
        kept.append(line)
        index += 1
    result: list[bytes] = []
    for index, line in enumerate(kept):
        if line.strip() == b"annotations:":
            indent = len(line) - len(line.lstrip())
            following = kept[index + 1] if index + 1 < len(kept) else b""
            if len(following) - len(following.lstrip()) <= indent:
                continue
        result.append(line)
    return b"\n".join(result)


def _build_metadata(output: bytes) -> dict[tuple[str, ...], tuple[dict[str, Any] | None, list[Any]]]:
    """What the annotations say of each object, by its identity (unique in a kustomize build)."""
    found: dict[tuple[str, ...], tuple[dict[str, Any] | None, list[Any]]] = {}
    try:
        for document in iter_documents(output, "<kustomize output>"):
            if isinstance(document.data, dict):
                found[_identity(document.data)] = _pop_metadata(document.data)
    except InputError:
        pass  # the same error is reported when the output is read
    return found


def _identity(raw: dict[str, Any]) -> tuple[str, ...]:
    metadata = raw.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return tuple(
        str(v)
        for v in (raw.get("apiVersion"), raw.get("kind"), metadata.get("namespace"), metadata.get("name"))
    )


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
    return _parse(text) if isinstance(text, str) else None


@lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    """An annotation's YAML: objects of one file or one overlay share the same text, and the
    callers never change what they get."""
    try:
        documents = list(iter_documents(text.encode("utf-8", "surrogatepass"), "<annotation>"))
    except InputError:
        return None
    return documents[0].data if documents else None


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
