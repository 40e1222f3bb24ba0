"""Manifests on disk or on stdin.

A file named on the command line is read whatever its extension; a directory is walked
recursively for ``.yaml``, ``.yml`` and ``.json`` files, skipping hidden directories.
A directory holding a kustomization is rendered with kustomize and a directory holding
``Chart.yaml`` with Helm, instead of being walked: their files are inputs to a render,
not manifests (templates do not even parse as YAML).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError
from . import helm, kustomize
from .documents import Collected

__all__ = ["DEFAULT_MAX_FILE_BYTES", "FileOptions", "read_paths"]

DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True)
class FileOptions:
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    stdin: BinaryIO | None = field(default=None, compare=False)


def read_paths(paths: list[str], collected: Collected, options: FileOptions) -> None:
    """Read every path into ``collected``; unreadable inputs become errors, the rest goes on."""
    for path in paths:
        if path == STDIN:
            _read_stdin(collected, options)
            continue
        try:
            _read_path(path, collected, options)
        except InputError as e:
            collected.error(e)


def _read_path(path: str, collected: Collected, options: FileOptions) -> None:
    if not os.path.lexists(path):
        raise InputError("no such file or directory", file=path)
    if os.path.isdir(path):
        for kind, item in _walk(path):
            try:
                _read_item(kind, item, collected, options)
            except InputError as e:
                collected.error(e)
    else:
        _read_item("file", path, collected, options)


def _read_item(kind: str, path: str, collected: Collected, options: FileOptions) -> None:
    if kind == "kustomize":
        kustomize.read(path, collected)
    elif kind == "helm":
        helm.read(path, collected, values=options.helm_values, set_values=options.helm_set)
    else:
        collected.add_stream(_read_file(path, options.max_file_bytes), path)


def _walk(root: str, seen: set[tuple[int, int]] | None = None) -> Iterator[tuple[str, str]]:
    """``(kind, path)`` for each input under ``root``: ``file``, ``kustomize`` or ``helm``, sorted.

    Directory symlinks are followed, each directory once (a link back up would loop forever).
    """
    seen = set() if seen is None else seen
    try:
        status = os.stat(root)
    except OSError as e:
        raise InputError(f"cannot read directory: {e.strerror}", file=root) from e
    if (status.st_dev, status.st_ino) in seen:
        return
    seen.add((status.st_dev, status.st_ino))
    kind = _directory_kind(root)
    if kind is not None:
        yield kind, root
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        raise InputError(f"cannot list directory: {e.strerror}", file=root) from e
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = os.path.join(root, entry.name)
        try:
            is_dir, is_file = entry.is_dir(), entry.is_file()
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", file=path) from e
        if is_dir:
            yield from _walk(path, seen)
        elif is_file and entry.name.endswith(MANIFEST_SUFFIXES):
            yield "file", path


def _directory_kind(path: str) -> str | None:
    if kustomize.find_kustomization(path) is not None:
        return "kustomize"
    if os.path.isfile(os.path.join(path, "Chart.yaml")):
        return "helm"
    return None


def _read_file(path: str, max_bytes: int) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise InputError(_too_large(size, max_bytes), file=path)
            data = handle.read(max_bytes + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from e
    return _check_text(data, path, max_bytes)


def _read_stdin(collected: Collected, options: FileOptions) -> None:
    stream = options.stdin if options.stdin is not None else sys.stdin.buffer
    try:
        data = _check_text(stream.read(options.max_file_bytes + 1), "<stdin>", options.max_file_bytes)
    except InputError as e:
        collected.error(e)
        return
    collected.add_stream(data, "<stdin>")


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
