"""Renderers: each turns a Report into text and decides nothing.

``--format`` takes several formats at once; :func:`plan_outputs` says where each goes.
"""

from __future__ import annotations

import importlib
import os

from .. import TYPE_CHECKING
from .._display import without_surrogates
from ..errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from ..model import Report, Severity

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "github",
    "html",
    "json",
    "junit",
    "markdown",
    "plan_outputs",
    "policyreport",
    "render",
    "render_pieces",
    "sarif",
    "text",
]

FORMATS = ("text", "json", "sarif", "junit", "html", "policyreport", "markdown", "github")
EXTENSIONS = {
    "text": ".txt",
    "json": ".json",
    "sarif": ".sarif",
    "junit": ".xml",
    "html": ".html",
    "policyreport": ".yaml",
    "markdown": ".md",
    "github": ".github",
}
STDOUT = "-"
_HIGH: Any = object()  # render()'s default fail_on: Severity.HIGH, without importing the model here


def render(
    name: str,
    report: Report,
    *,
    color: bool = False,
    show_suppressed: bool = False,
    sarif_root: str | None = None,
    fail_on: Severity | None = _HIGH,
) -> str:
    """``report`` in the format ``name`` (one of :data:`FORMATS`); ``fail_on`` is the run's ``--fail-on``
    (``None``: never), for the formats that say what fails the run.

    Each renderer module is imported when its format is asked for: a scan that prints text
    does not pay for the HTML and SARIF machinery at startup.
    """
    if name not in FORMATS:
        raise UsageError(f"unknown format {name!r} (expected one of: {', '.join(FORMATS)})")
    if fail_on is _HIGH:
        from ..model import Severity  # noqa: PLC0415 - the command line imports this module at start-up

        fail_on = Severity.HIGH
    module = importlib.import_module(f"{__name__}.{name}")
    if name == "text":
        output = module.render(report, color=color, show_suppressed=show_suppressed)
    elif name in {"sarif", "github"}:
        output = module.render(report, root=sarif_root)
    elif name == "junit":
        output = module.render(report, fail_on=fail_on)
    else:
        output = module.render(report)
    # A file name that is not UTF-8 (or a \udcff escape in a manifest) must not make the report unwritable.
    return without_surrogates(str(output))


def render_pieces(name: str, report: Report, **options: Any) -> Iterator[str]:
    """:func:`render`'s output in consecutive pieces, to be written as they come: the JSON and text reports
    of a large scan (a hundred megabytes and more) are never held whole, nor their encoded copies. Other
    formats come in one piece."""
    if name == "text":
        module = importlib.import_module(f"{__name__}.text")
        color, suppressed = options.get("color", False), options.get("show_suppressed", False)
        for piece in module.pieces(report, color=color, show_suppressed=suppressed):
            yield without_surrogates(piece)
        return
    if name != "json":
        yield render(name, report, **options)
        return
    module = importlib.import_module(f"{__name__}.json")
    for piece in module.pieces(report):
        yield without_surrogates(piece)  # a surrogate is one character: pieces change nothing


def plan_outputs(formats: list[str], output: str | None) -> list[tuple[str, str | None]]:
    """``(format, file)`` for each ``--format`` (``None`` is stdout).

    - ``FORMAT=FILE`` writes to FILE (``-`` for stdout);
    - one plain ``FORMAT`` writes to ``--output``, or stdout;
    - several plain formats write ``BASE.EXT`` each, where BASE is ``--output`` less a known
      extension (``-o out/report.json`` gives ``out/report.json``, ``out/report.sarif``...),
      or ``DIR/kharden.EXT`` when ``--output`` is a directory or ends with ``/``.

    Two formats may not share a file, and at most one goes to stdout.
    """
    pairs = [(f.partition("=")[0], f.partition("=")[2] if "=" in f else None) for f in formats]
    plain = [name for name, file in pairs if file is None]
    planned: list[tuple[str, str | None]] = []
    base = None
    if len(plain) > 1:
        if output is None:
            raise UsageError(
                "several --format need --output BASE (writes BASE.sarif, BASE.html, ...) or FORMAT=FILE"
            )
        base = output
        if output.endswith(("/", os.sep)) or os.path.isdir(output):
            base = os.path.join(output, "kharden")
        else:
            root, extension = os.path.splitext(output)
            if extension in EXTENSIONS.values():
                base = root
    for name, file in pairs:
        target = file if file is not None else base + EXTENSIONS[name] if base is not None else output
        planned.append((name, None if target in (None, STDOUT) else target))
    targets = [file for _, file in planned]
    if targets.count(None) > 1:
        raise UsageError(
            "only one --format can go to stdout: give the others a file (FORMAT=FILE or --output)"
        )
    files = [file for file in targets if file is not None]
    if len(set(files)) != len(files):
        raise UsageError("two --format would write the same file")
    return planned
