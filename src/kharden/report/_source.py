"""The file a finding is in, for the formats that need one (SARIF, GitHub annotations)."""

from __future__ import annotations

import os

from ..model import RENDER_ROOT_FILES, STDIN_FILE, Location

__all__ = ["source_file"]


def source_file(location: Location) -> tuple[str, bool] | None:
    """``(file, lines apply)`` of a location, or ``None`` when it has no file (a live cluster).

    Rendered output (Helm, kustomize) is named by its template, without a line (the lines are the
    rendered output's), or else by the chart's ``Chart.yaml`` or the ``kustomization.yaml``; stdin by the
    ``# Source:`` comment of a rendered chart, without a line (``--stdin-name`` names it as a file).
    """
    if location.renderer is not None:
        if location.template and not os.path.isdir(location.template):
            return location.template, False
        directory = location.file
        if directory is None or not os.path.isdir(directory):
            return None
        for name in RENDER_ROOT_FILES.get(location.renderer, ()):
            if os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name), False
        return None
    if location.file == STDIN_FILE:
        return (location.template, False) if location.template else None
    if location.file is None:
        return None
    return location.file, True
