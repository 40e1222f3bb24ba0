"""Errors the user can fix.

::

    KhardenError          the user can fix it: the CLI prints str(e) on one line, exit 2
    ├── InputError        file[:line]: unreadable, unparsable, too large, too deep, alias bomb,
    │   │                 a field of the wrong type, a chart or kustomization that will not render
    │   └── ConfigError   .kharden.yaml, baseline file
    ├── ClusterError      unreachable cluster, a list the API refuses
    └── UsageError        conflicting flags, a --rule glob that matches no rule

Third-party errors are translated where they enter (``raise InputError(...) from e``).
Messages never echo the offending text, which may hold a secret: file and line are enough.
"""

from __future__ import annotations

from . import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

__all__ = ["ClusterError", "ConfigError", "InputError", "KhardenError", "UsageError"]


class KhardenError(Exception):
    """Base of every error the user can fix; ``str(e)`` is one line."""


class InputError(KhardenError):
    """A source that cannot be read as Kubernetes objects.

    ``file`` and ``line`` (1-based) say where; ``str(e)`` is ``file:line: message``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where = f"{self.file}:{self.line}"
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments: the default (``cls(*args)``) would lose file and line on the way
        # back from a worker process.
        return _input_error, (type(self), self.message, self.file, self.line)


def _input_error(cls: type[InputError], message: str, file: str | None, line: int | None) -> InputError:
    return cls(message, file=file, line=line)


class ConfigError(InputError):
    """A kharden configuration or baseline file that is malformed."""


class ClusterError(KhardenError):
    """A cluster that cannot be reached or that refuses a request."""


class UsageError(KhardenError):
    """Command-line or API arguments that do not make sense together."""
