"""Helm chart directories, rendered offline.

With the ``helm`` binary on PATH the chart is rendered by ``helm template``; without it,
by Helm's own engine bundled in ``helm-python-sdk`` (``pip install 'kharden[helm]'``).
Each object knows the template it was rendered from (Helm's ``# Source:`` comments, or
the SDK's per-template output); its findings point at the template line, or the values
line, that writes the field when :mod:`.helm_edits` can tell it with certainty, and carry
the line of the rendered output too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from .._files import read_yaml
from ..errors import InputError
from ..model import EditTracer
from .documents import Collected, ObjectSource
from .helm_edits import HelmTracing

__all__ = ["RELEASE_NAME", "read"]

RELEASE_NAME = "release-name"  # what `helm template` calls a release that has no name
TIMEOUT_SECONDS = 300
VALUES_MAX_BYTES = 16 * 1024 * 1024
_NOT_MANIFESTS = ("NOTES.txt",)


def read(
    directory: str, collected: Collected, *, values: tuple[str, ...] = (), set_values: tuple[str, ...] = ()
) -> None:
    """Render the chart in ``directory`` and add its objects; a failed render is an input error."""
    # Read by kharden first, through the guarded loader as every YAML (and whichever renders them):
    # a values file is input too, and an alias bomb in one never reaches a renderer.
    loaded = _values_files(values)
    tracing = HelmTracing(directory, values, set_values)

    def source(raw: dict[str, Any], template: str | None) -> tuple[str | None, EditTracer | None]:
        del raw
        return template, tracing.tracer(template)

    if shutil.which("helm"):
        _read_with_binary(directory, collected, values, set_values, source)
        return
    try:
        import helm_python  # noqa: PLC0415 - optional extra, imported only for charts
    except ImportError:
        raise InputError(
            "this is a Helm chart; install the helm binary or `pip install 'kharden[helm]'` to render it",
            file=directory,
        ) from None
    _read_with_sdk(helm_python, directory, collected, loaded, set_values, source)


def _template_path(directory: str, source: str) -> str:
    """``web/templates/x.yaml`` (chart name first, as Helm writes it) to ``DIRECTORY/templates/x.yaml``."""
    _, _, rest = source.partition("/")
    return os.path.join(directory, rest) if rest else source


def _read_with_binary(
    directory: str,
    collected: Collected,
    values: tuple[str, ...],
    set_values: tuple[str, ...],
    source: ObjectSource,
) -> None:
    command = ["helm", "template", RELEASE_NAME, directory]
    for path in values:
        command += ["--values", path]
    for expression in set_values:
        command += ["--set", expression]
    try:
        result = subprocess.run(command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired as e:
        raise InputError(f"helm template timed out after {TIMEOUT_SECONDS} s", file=directory) from e
    if result.returncode != 0:
        message = next((s for s in result.stderr.decode("utf-8", "replace").splitlines() if s.strip()), "")
        raise InputError(f"helm template failed: {message.removeprefix('Error: ')[:300]}", file=directory)
    collected.add_stream(
        result.stdout,
        directory,
        renderer="helm",
        template_path=lambda comment: _template_path(directory, comment),
        object_source=source,
    )


def _read_with_sdk(
    sdk: Any,
    directory: str,
    collected: Collected,
    values: dict[str, Any],
    set_values: tuple[str, ...],
    source: ObjectSource,
) -> None:
    try:
        user_values = _with_set_values(sdk, directory, values, set_values)
        chart = sdk.Chart.load(os.path.abspath(directory))
        try:
            rendered: dict[str, str] = chart.render(user_values, name=RELEASE_NAME, namespace="default")
        finally:
            chart.close()
    except sdk.HelmError as e:
        raise InputError(f"helm template failed: {_one_line(str(e))}", file=directory) from e
    for name in sorted(rendered):
        if name.endswith(_NOT_MANIFESTS) or not rendered[name].strip():
            continue
        # The rendered output is the chart's; its lines count in this template's output.
        template = _template_path(directory, name)
        collected.add_stream(
            rendered[name].encode("utf-8"),
            directory,
            renderer="helm",
            template=template,
            object_source=source,
        )


def _values_files(files: tuple[str, ...]) -> dict[str, Any]:
    """The ``--values`` files merged, later ones winning key by key as Helm merges them (Helm reads the
    first document of each)."""
    merged: dict[str, Any] = {}
    for path in files:
        for document in read_yaml(path, VALUES_MAX_BYTES, "values file")[:1]:
            if not isinstance(document.data, dict):
                raise InputError("a values file must hold a mapping", file=path, line=document.line)
            _merge(merged, document.data)
    return merged


def _with_set_values(
    sdk: Any, directory: str, merged: dict[str, Any], set_values: tuple[str, ...]
) -> dict[str, Any]:
    """``merged`` values with the ``--set`` expressions over them, in order."""
    for expression in set_values:
        try:
            _merge(merged, sdk.parse_set_string(expression))
        except RecursionError:
            raise InputError("a --set value is nested too deeply", file=directory) from None
    return merged


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
