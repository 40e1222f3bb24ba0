"""``--format github``: GitHub Actions workflow commands, one annotation per unsuppressed finding.

``::error file=k8s/web.yaml,line=12,col=9,title=pod.privileged: Privileged container::...``: the
runner turns each line into an annotation on the file and line, in the run's summary and on the
pull request's diff. Critical and high findings are errors, medium ones warnings, low and info
ones notices; input errors are errors. Values are escaped as the Actions toolkit escapes them
(``%``, carriage return and newline in the message; also ``:`` and ``,`` in the properties), so
that text from a manifest cannot end a command or start another one; other control characters are
escaped by :func:`kharden._display.printable` first. Files are relative to
``root`` (``--sarif-root``, default the working directory: the repository root in a workflow).
GitHub shows at most 10 annotations of each level per step and 50 per job: the last line
counts them all.
"""

from __future__ import annotations

import os

from .._display import printable
from ..model import Report, Severity
from ._source import source_file

__all__ = ["LEVELS", "render"]

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}


def render(report: Report, *, root: str | None = None) -> str:
    base = os.path.abspath(root if root is not None else os.getcwd())
    lines = []
    for finding in report.active:
        properties = {}
        found = source_file(finding.location)
        if found is not None:
            path, lines_apply = found
            properties["file"] = _relative(path, base)
            if lines_apply and finding.location.line is not None:
                properties["line"] = str(finding.location.line)
                if finding.location.column is not None:
                    properties["col"] = str(finding.location.column)
        properties["title"] = f"{finding.rule}: {finding.title}"
        message = (
            f"{printable(str(finding.object))}: {printable(finding.message)}\nfix: {finding.remediation}"
        )
        lines.append(_command(LEVELS[finding.severity], properties, message))
    for error in report.errors:
        properties = {}
        if error.file is not None:
            properties["file"] = _relative(error.file, base)
            if error.line is not None:
                properties["line"] = str(error.line)
        properties["title"] = "kharden: input error"
        lines.append(_command("error", properties, printable(error.message)))
    counts = ", ".join(f"{n} {label}" for label, n in report.counts().items() if n) or "no findings"
    score = report.scores.overall if report.scores is not None else None
    summary = f"kharden: {counts}; score {'n/a' if score is None else f'{score}/100'}"
    if report.errors:
        summary += f"; {len(report.errors)} input error{'s' * (len(report.errors) != 1)}"
    lines.append(_command("notice", {"title": "kharden"}, summary))
    return "\n".join(lines) + "\n"


def _relative(path: str, base: str) -> str:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, base)
    # A log line: no control character of a file name reaches the runner's log (escape sequences).
    return printable(
        absolute if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative
    )


def _command(level: str, properties: dict[str, str], message: str) -> str:
    written = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{level} {written}::{escape_data(message)}" if written else f"::{level}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """A command's message, as the Actions toolkit escapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command's property value, as the Actions toolkit escapes it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
