"""Rendering an HTML page in headless Chromium, for the tests of the pages kharden writes.

Debian's ``chromium`` (``.ci/run`` installs it); where it is absent the tests that need it skip,
saying so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "chromium", "needs_chromium"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
)


def chromium(tmp_path: Path, page: str, fragment: str = "", *, screenshot: Path | None = None) -> str:
    """The DOM after the page's script ran, as headless Chromium serialises it (or a screenshot)."""
    assert CHROMIUM is not None
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
    ]
    if screenshot is not None:
        command += ["--window-size=1280,2000", f"--screenshot={screenshot}"]
    else:
        command.append("--dump-dom")
    done = subprocess.run(
        [*command, path.as_uri() + fragment], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
