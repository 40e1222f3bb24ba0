"""Reading the files kharden is given: bounded in size, and never stuck on a FIFO nobody writes to.

Every file is read through :func:`read_bounded` (or :func:`read_fd` for one already open) with a
limit that fits its kind: a token is small, a config a few MiB, a manifest ``--max-file-size``.
A regular file larger than its limit is refused before it is read; anything else (a FIFO, a
character device such as ``/dev/zero``) is read until the limit and refused past it.

A FIFO (named pipe) blocks its reader until some process writes to it. One named on the command
line that nothing writes to would hang kharden forever, so FIFOs are opened without blocking
and given up on after :data:`FIFO_WAIT_SECONDS` without data. The pipes of process substitution
(``--snapshot <(kubectl get ...)``, named ``/dev/fd/N``) have a writer already, the command the
shell started, which may take its time: they are read until it ends.
"""

from __future__ import annotations

import errno
import os
import select
import stat
from collections.abc import Callable
from typing import Any, BinaryIO

from ._yaml import Document, iter_documents
from .errors import ConfigError, InputError

__all__ = [
    "FIFO_WAIT_SECONDS",
    "MAX_YAML_BYTES",
    "TooLargeError",
    "first_document",
    "read_bounded",
    "read_config_documents",
    "read_fd",
    "read_limited",
    "read_stream",
    "read_yaml",
]

MAX_YAML_BYTES = 16 * 1024 * 1024
"""A YAML file kharden reads for itself (a kustomization, a digests file): a few KiB."""
FIFO_WAIT_SECONDS = 10.0
"""How long a FIFO may stay silent (no writer, or a writer that sends nothing) before kharden gives up."""
_CHUNK = 1 << 20
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
# How shells name the pipes of process substitution, `<(command)`.
_SHELL_PIPES = ("/dev/fd/", "/proc/self/fd/", "/dev/stdin")


class TooLargeError(Exception):
    """A file over its limit: ``size`` is its size when known, else the bytes read before stopping."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read_bounded(path: str, limit: int) -> bytes:
    """The bytes of ``path``, at most ``limit``.

    Raises :class:`TooLargeError` past the limit and ``OSError`` when the file cannot be read,
    including a FIFO silent for :data:`FIFO_WAIT_SECONDS` (``ETIMEDOUT``, its ``strerror`` says so).
    """
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        return read_fd(fd, limit, waits=not path.startswith(_SHELL_PIPES))
    finally:
        os.close(fd)


def read_fd(fd: int, limit: int, *, waits: bool = True) -> bytes:
    """The bytes of an open file, at most ``limit`` (see :func:`read_bounded`); ``waits``: a pipe that
    stays silent for :data:`FIFO_WAIT_SECONDS` is an error (``False`` for a pipe whose writer is known)."""
    status = os.fstat(fd)
    if stat.S_ISDIR(status.st_mode):
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    regular = stat.S_ISREG(status.st_mode)
    if regular and status.st_size > limit:
        raise TooLargeError(status.st_size)
    if regular or not waits:
        os.set_blocking(fd, True)
    if regular:
        # One call of the file's size: one allocation, not one of the limit (a file may still grow).
        return _gather(lambda left: os.read(fd, min(max(status.st_size + 1, _CHUNK), left)), limit)

    def read(left: int) -> bytes:
        if waits and not select.select([fd], [], [], FIFO_WAIT_SECONDS)[0]:
            raise OSError(errno.ETIMEDOUT, f"nothing was written to it for {FIFO_WAIT_SECONDS:g} s (a FIFO?)")
        return os.read(fd, min(_CHUNK, left))

    return _gather(read, limit)


def read_stream(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes of an open stream (stdin), in chunks: ``read(limit)`` would reserve the
    whole limit at once. Raises :class:`TooLargeError` past the limit."""
    return _gather(lambda left: stream.read(min(_CHUNK, left)), limit)


def _gather(read: Callable[[int], bytes], limit: int) -> bytes:
    """What ``read(bytes left)`` returns until it returns nothing; :class:`TooLargeError` past ``limit``."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = read(limit + 1 - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise TooLargeError(total)
    return b"".join(chunks)


def _mib(size: int) -> str:
    return f"{size / 1048576:.0f} MiB" if size >= 1048576 else f"{size // 1024} KiB"


def read_limited(path: str, limit: int, what: str, error: type[InputError] = InputError) -> bytes:
    """The bytes of ``path``; a file unreadable or larger than ``limit`` is ``error``, naming ``what``."""
    try:
        return read_bounded(path, limit)
    except OSError as e:
        raise error(f"cannot read {what}: {e.strerror}", file=path) from e
    except TooLargeError as e:
        raise error(f"{what} larger than {_mib(limit)}", file=path) from e


def read_yaml(path: str, limit: int, what: str, error: type[InputError] = InputError) -> list[Document]:
    """The non-empty YAML (or JSON) documents of a small file kharden reads for itself (a config, a
    baseline, Helm values, a kubeconfig), through the guarded loader: an alias bomb, a file too deep,
    too large or not UTF-8 is ``error`` with file and line."""
    text = read_limited(path, limit, what, error)
    try:
        return [d for d in iter_documents(text, path) if d.data is not None]
    except InputError as e:
        raise error(e.message, file=path, line=e.line) from e


def first_document(text: bytes, file: str) -> Any:
    """The data of the first document of a YAML text (``None`` when it has none), through the guarded
    loader: an alias bomb, text nested too deep or not UTF-8 is an :class:`InputError`."""
    for document in iter_documents(text, file):
        return document.data
    return None


def read_config_documents(path: str, limit: int, what: str) -> list[Document]:
    """The non-empty YAML (or JSON) documents of a config-like file; any problem is a :class:`ConfigError`."""
    return read_yaml(path, limit, what, ConfigError)
