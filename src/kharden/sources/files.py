"""Manifests on disk or on stdin.

A file named on the command line is read whatever its extension; a directory is walked
recursively for ``.yaml``, ``.yml`` and ``.json`` files, skipping hidden directories.
A directory holding a kustomization is rendered with kustomize and a directory holding
``Chart.yaml`` with Helm, instead of being walked: their files are inputs to a render,
not manifests (templates do not even parse as YAML).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO

from .._files import TooLargeError, read_bounded, read_stream
from .._fork import cpus
from .._yaml import documents_started, parse_ahead, reads_in_c
from ..errors import InputError
from ..model import RENDER_ROOT_FILES, STDIN_FILE
from . import _ahead, _split
from ._split import Parsed
from .documents import Collected
from .limits import DEFAULT_MAX_FILE_BYTES, MAX_JOBS_PER_CPU

if TYPE_CHECKING:
    from ._workers import Task

# Kustomize, Helm and the worker processes are imported only when an input needs them: with what they
# import (subprocess, tempfile, multiprocessing), that is a tenth of a scan's start.

__all__ = ["DEFAULT_MAX_FILE_BYTES", "FileOptions", "find_kustomization", "inputs", "read_file", "read_paths"]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class FileOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    stdin: BinaryIO | None = field(default=None, compare=False)
    jobs: int | None = None
    """Processes that parse files (``--jobs``); default: one per CPU for large inputs."""
    stdin_name: str | None = None
    """The file name stdin's objects are reported under (``--stdin-name``), else ``<stdin>``."""


def read_paths(paths: list[str], collected: Collected, options: FileOptions) -> None:
    """Read every path into ``collected``; unreadable inputs become errors, the rest goes on.

    Objects come in the order of the paths and, within a directory, of the sorted walk, however
    many processes parse the files (a large file may be parsed in parts, ``_split.py``).
    """
    inputs = list(_inputs(paths))
    files = [item for kind, item in inputs if kind == "file"]
    jobs = _jobs(options.jobs, files)
    ahead = _ahead.take(paths, options.max_file_bytes, files) if jobs == 1 else None
    if ahead is not None:  # the last files were parsed by the child of _ahead.start: this process, the first
        parse_ahead(False)  # (by the time it is asked, the child keeps the other CPU busy)
        count, theirs = ahead
        tasks: list[list[Task]] = [[path] for path in files]
        parsed: Iterator[Parsed] = itertools.chain(
            _parse_files(files[: len(files) - count], options.max_file_bytes, 1), theirs
        )
    else:
        _ahead.discard()
        tasks = [_tasks(path, options.max_file_bytes, jobs) for path in files]
        parsed = _parse_files([task for each in tasks for task in each], options.max_file_bytes, jobs)
    per_file = iter(tasks)
    for kind, item in inputs:
        try:
            if kind == "error":
                raise item
            if kind == "file":
                count = len(next(per_file))
                if count > 1:
                    whole = partial(_parse_file, item, options.max_file_bytes)
                    collected.add_documents(_split.joined(count, parsed, whole), item)
                    continue
                documents, error = next(parsed)
                if documents is not None:
                    collected.add_documents(documents, item)
                if error is not None:
                    raise error
            elif kind == "stdin":
                _read_stdin(collected, options)
            elif kind == "kustomize":
                from . import kustomize  # noqa: PLC0415 - see the imports

                kustomize.read(item, collected)
            else:
                from . import helm  # noqa: PLC0415 - see the imports

                helm.read(item, collected, values=options.helm_values, set_values=options.helm_set)
        except InputError as e:
            collected.error(e)


def _inputs(paths: list[str]) -> Iterator[tuple[str, Any]]:
    """``(kind, item)`` per input in order: ``stdin``, ``file``, ``kustomize`` or ``helm`` with its
    path, or ``error`` with the :class:`InputError` of a path that cannot be read."""
    for path in paths:
        if path == STDIN:
            yield "stdin", path
            continue
        try:
            os.lstat(path)
        except FileNotFoundError:
            yield "error", InputError("no such file or directory", file=path)
            continue
        except OSError as e:  # a directory on the way that this user may not enter
            yield "error", InputError(f"cannot read: {e.strerror}", file=path)
            continue
        if os.path.isdir(path):
            yield from _walk(path)
        else:
            yield "file", path


def files_of(paths: list[str]) -> list[str]:
    """The manifest files :func:`read_paths` parses for ``paths``, in its order."""
    return [item for kind, item in _inputs(paths) if kind == "file"]


def parses_in_one_process(files: list[str]) -> bool:
    """Whether :func:`read_paths` parses ``files`` in this process when ``--jobs`` is not given."""
    return _jobs(None, files) == 1


def parse_file(path: str, max_bytes: int) -> Parsed:
    """The documents of one file as :func:`read_paths` parses them: an iterator that raises the
    :class:`InputError` ending them, or ``None`` and the error of a file that cannot be read."""
    return _parse_file(path, max_bytes)


def inputs(paths: list[str]) -> Iterator[tuple[str, Any]]:
    """What :func:`read_paths` would read, in its order: ``(kind, item)`` as :func:`_inputs` yields."""
    return _inputs(paths)


def read_file(path: str, max_bytes: int) -> bytes:
    """A file's bytes as the scan reads them: refused when too large or binary (:class:`InputError`)."""
    return _read_file(path, max_bytes)


def _walk(root: str) -> Iterator[tuple[str, Any]]:
    """``(kind, path)`` for each input under ``root``: ``file``, ``kustomize`` or ``helm``, sorted;
    ``("error", InputError)`` for what cannot be read, and the walk goes on.

    Directory symlinks are followed, each directory once (a link back up would loop forever).
    Depth first with a stack of its own: a tree may nest deeper than Python recurses.
    """
    seen: set[tuple[int, int]] = set()
    stack: list[Iterator[tuple[str, Any]]] = [_directory(root, seen)]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
        elif item[0] == "directory":
            stack.append(_directory(item[1], seen))
        else:
            yield item


def _directory(root: str, seen: set[tuple[int, int]]) -> Iterator[tuple[str, Any]]:
    """What one directory holds, in order: its inputs, and ``("directory", path)`` for each
    subdirectory (walked by :func:`_walk`)."""
    try:
        status = os.stat(root)
    except OSError as e:
        yield "error", InputError(f"cannot read directory: {e.strerror}", file=root)
        return
    if (status.st_dev, status.st_ino) in seen:
        return
    seen.add((status.st_dev, status.st_ino))
    kind = _directory_kind(root)
    if kind == "component":
        # A kustomize Component is built only through the kustomizations that use it; its
        # patches are not manifests. Named on the command line, say so; in a walk, pass over it.
        if not seen - {(status.st_dev, status.st_ino)}:
            message = "a kustomize Component is rendered through the kustomizations that use it: scan those"
            yield "error", InputError(message, file=root)
        return
    if kind is not None:
        yield kind, root
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        yield "error", InputError(f"cannot list directory: {e.strerror}", file=root)
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = os.path.join(root, entry.name)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()
        except OSError as e:
            yield "error", InputError(f"cannot read: {e.strerror}", file=path)
            continue
        if is_dir:
            yield "directory", path
        elif is_file and entry.name.endswith(MANIFEST_SUFFIXES):
            yield "file", path


def _directory_kind(path: str) -> str | None:
    found = find_kustomization(path)
    if found is not None:
        from . import kustomize  # noqa: PLC0415 - see the imports

        return "component" if kustomize.is_component(found) else "kustomize"
    if os.path.isfile(os.path.join(path, "Chart.yaml")):
        return "helm"
    return None


def _parse_file(path: Task, max_bytes: int) -> Parsed:
    """The documents of one file, parsed as they are asked for (the iterator raises the error that ends
    them); ``None`` documents for a file that cannot be read at all (it is not counted as read).
    The documents of a part of a file, or ``None`` when the file changed since it was cut."""
    if isinstance(path, _split.Part):
        documents = _split.parse_part(path)
        return documents, None if documents is not None else InputError("changed", file=path.path)
    try:
        text = _read_file(path, max_bytes)
    except InputError as e:
        return None, e
    return documents_started(text, path), None


# Parsed the Python way, parsing is most of a scan's time and each file parses on its own: worth other
# processes when there is enough of it to pay for starting them and for sending the documents back
# (about a quarter of the parse time). The C reader parses about three times faster, and workers then
# gained nothing, while holding more memory (the corpus, 10,000 and 100,000 generated documents, four
# 60 MB files: bench/README.md): they parse only when --jobs asks.
_PARALLEL_MIN_BYTES: int | None = None if reads_in_c() else 2 * 1024 * 1024
_MAX_JOBS = 8
# fork starts a worker in milliseconds with kharden already imported; elsewhere (macOS, Windows)
# fork is unsafe or missing, and spawn is used when --jobs asks for workers.
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"


def _jobs(requested: int | None, files: list[str]) -> int:
    """Processes to parse ``files`` with: ``requested`` (``--jobs``), else one per available CPU
    when the files are large enough to gain from it and the C reader is not built; never more than the
    parts the files can be parsed in (a file each, or more for a large one), nor than
    :data:`~.limits.MAX_JOBS_PER_CPU` per CPU (parsing keeps a CPU busy: more only wait their turn)."""
    pieces = _pieces(files)
    if pieces < 2:
        return 1
    available = cpus()
    if requested is not None:
        return max(1, min(requested, pieces, MAX_JOBS_PER_CPU * available))
    if _START_METHOD != "fork" or _PARALLEL_MIN_BYTES is None:
        return 1  # starting a fresh interpreter per worker costs more than it gains
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += os.path.getsize(path)
        if total >= _PARALLEL_MIN_BYTES:
            return min(available, _MAX_JOBS, pieces)
    return 1


def _pieces(files: list[str]) -> int:
    """The parts ``files`` may be parsed in, at most: one per file, or one per :data:`~._split.PART_BYTES`
    of a file large enough to be cut. Counted only when there are few files (many keep the workers busy
    anyway)."""
    if len(files) >= _MAX_JOBS:
        return len(files)
    pieces = 0
    for path in files:
        size = 0
        with contextlib.suppress(OSError):
            size = os.path.getsize(path)
        pieces += max(1, size // _split.PART_BYTES)
    return pieces


def _tasks(path: str, max_bytes: int, jobs: int) -> list[Task]:
    """What workers parse of one file: the file, or its parts when it is large enough to be cut and can
    be (``_split.py``); read here to find where to cut it, then again by the workers."""
    if jobs < 2:
        return [path]
    try:
        status = os.stat(path)
        if not stat.S_ISREG(status.st_mode) or status.st_size < 2 * _split.PART_BYTES:
            return [path]  # what is not a regular file (a FIFO) can be read only once
        text = _read_file(path, max_bytes)
    except (OSError, InputError):
        return [path]  # the worker's parse reports what is wrong with it
    cut = _split.parts(path, text)
    return [path] if cut is None else list(cut)


def _parse_files(files: list[Task], max_bytes: int, jobs: int) -> Iterator[Parsed]:
    """:func:`_parse_file` of each file, in order, by ``jobs`` processes (this one when 1)."""
    if jobs <= 1:
        return _one_ahead(_parse_file(path, max_bytes) for path in files)
    from . import _workers  # noqa: PLC0415 - see the imports

    return _workers.parse_files(files, max_bytes, jobs, _parse_file, _START_METHOD)


def _one_ahead(parsed: Iterator[Parsed]) -> Iterator[Parsed]:
    """``parsed``, each file read and its parsing started (``documents_started``) while the one before is
    handed out: where the C reader parses ahead, the next file's events are made while the documents of
    this one are built (rather than each file's parse waiting for the build of the one before)."""
    pending: deque[Parsed] = deque()
    for each in parsed:
        pending.append(each)
        if len(pending) == 2:
            yield pending.popleft()
    yield from pending


def find_kustomization(directory: str) -> str | None:
    """The kustomization file of ``directory``, if it has one."""
    for name in RENDER_ROOT_FILES["kustomize"]:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def _read_file(path: str, max_bytes: int) -> bytes:
    try:
        data = read_bounded(path, max_bytes)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from e
    except TooLargeError as e:
        raise InputError(_too_large(e.size, max_bytes), file=path) from e
    return _check_text(data, path, max_bytes)


def _read_stdin(collected: Collected, options: FileOptions) -> None:
    stream = options.stdin if options.stdin is not None else sys.stdin.buffer
    name = options.stdin_name or STDIN_FILE
    try:
        data = _check_text(read_stream(stream, options.max_file_bytes), name, options.max_file_bytes)
    except TooLargeError as e:
        collected.error(InputError(_too_large(e.size, options.max_file_bytes), file=name))
        return
    except InputError as e:
        collected.error(e)
        return
    collected.add_stream(data, name)


def _check_text(data: bytes, path: str, max_bytes: int) -> bytes:
    """Refuse what is too large or not text before the YAML parser sees it."""
    if len(data) > max_bytes:
        raise InputError(_too_large(len(data), max_bytes), file=path)
    if data.startswith(_UTF16_BOMS):
        return data  # libyaml reads UTF-16 with a byte order mark
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputError("binary file, not YAML or JSON (NUL byte)", file=path, line=line)
    return data


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"file too large: {size / 1048576:.1f} MiB, the limit is {max_bytes / 1048576:.0f} MiB"
        " (raise it with --max-file-size)"
    )
