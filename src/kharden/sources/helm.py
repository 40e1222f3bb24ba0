"""Helm chart directories, rendered offline.

With the ``helm`` binary on PATH the chart is rendered by ``helm template``; without it,
by Helm's own engine bundled in ``helm-python-sdk`` (``pip install 'kharden[helm]'``).
Findings point at the template file each object was rendered from (from Helm's
``# Source:`` comments, or the SDK's per-template output); lines are those of the
rendered output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from .._files import read_yaml
from ..errors import InputError
from .documents import Collected

__all__ = ["RELEASE_NAME", "read"]

RELEASE_NAME = "release-name"  # what `helm template` calls a release that has no name
TIMEOUT_SECONDS = 300
VALUES_MAX_BYTES = 16 * 1024 * 1024
_NOT_MANIFESTS = ("NOTES.txt",)


def read(
    directory: str, collected: Collected, *, values: tuple[str, ...] = (), set_values: tuple[str, ...] = ()
) -> None:
    """Render the chart in ``directory`` and add its objects; a failed render is an input error."""
    if shutil.which("helm"):
        _read_with_binary(directory, collected, values, set_values)
        return
    try:
        import helm_python  # noqa: PLC0415 - optional extra, imported only for charts
    except ImportError:
        raise InputError(
            "this is a Helm chart; install the helm binary or `pip install 'kharden[helm]'` to render it",
            file=directory,
        ) from None
    _read_with_sdk(helm_python, directory, collected, values, set_values)


def _template_path(directory: str, source: str) -> str:
    """``web/templates/x.yaml`` (chart name first, as Helm writes it) to ``DIRECTORY/templates/x.yaml``."""
    _, _, rest = source.partition("/")
    return os.path.join(directory, rest) if rest else source


def _read_with_binary(
    directory: str, collected: Collected, values: tuple[str, ...], set_values: tuple[str, ...]
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
        template_path=lambda source: _template_path(directory, source),
    )


def _read_with_sdk(
    sdk: Any, directory: str, collected: Collected, values: tuple[str, ...], set_values: tuple[str, ...]
) -> None:
    try:
        user_values = _user_values(sdk, directory, values, set_values)
        chart = sdk.Chart.load(os.path.abspath(directory))
        try:
            rendered: dict[str, str] = chart.render(user_values, name=RELEASE_NAME, namespace="default")
        finally:
            chart.close()
    except sdk.HelmError as e:
        raise InputError(f"helm template failed: {_one_line(str(e))}", file=directory) from e
    for source in sorted(rendered):
        if source.endswith(_NOT_MANIFESTS) or not rendered[source].strip():
            continue
        template = _template_path(directory, source)
        collected.add_stream(rendered[source].encode("utf-8"), template, renderer="helm", template=template)


def _user_values(
    sdk: Any, directory: str, files: tuple[str, ...], set_values: tuple[str, ...]
) -> dict[str, Any]:
    """``--values`` files then ``--set`` expressions, later ones winning key by key, as Helm merges them."""
    merged: dict[str, Any] = {}
    for path in files:
        # Through the guarded loader, as every YAML kharden reads: a values file is input too.
        # Helm reads the first document of a values file only.
        for document in read_yaml(path, VALUES_MAX_BYTES, "values file")[:1]:
            if not isinstance(document.data, dict):
                raise InputError("a values file must hold a mapping", file=path, line=document.line)
            _merge(merged, document.data)
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
