"""The file a finding is in, for the formats that need one (SARIF, GitHub annotations)."""

from __future__ import annotations

import os

from ..model import RENDER_ROOT_FILES, STDIN_FILE, Location

__all__ = ["source_file"]


def source_file(location: Location) -> tuple[str, bool] | None:
    """``(file, lines apply)`` of a location, or ``None`` when it has no file (a live cluster).

    A rendered object's location is where a person edits the field, or its template without a line;
    when kustomize or Helm did not say where an object came from, the location is the rendered
    directory: the kustomization file or ``Chart.yaml`` stands for it, without a line. Objects read
    from stdin are named by the ``# Source:`` comment of a rendered chart, without a line (the lines
    are the stream's; ``--stdin-name`` names the stream as a file, lines included).
    """
    path = location.file
    if path is None:
        return None
    if location.renderer is not None and os.path.isdir(path):
        for name in RENDER_ROOT_FILES.get(location.renderer, ()):
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name), False
        return None
    if path == STDIN_FILE:
        return (location.template, False) if location.template else None
    return path, True
