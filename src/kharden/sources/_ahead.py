"""A share of the files parsed ahead, by a forked child, while the command line is still importing kharden.

``kharden scan`` spends its first tenth of a second importing the rules, then parses the files in one
process (the C reader makes workers not worth their transfer). On two CPUs or more, :func:`start` forks
a child first thing: it walks the paths as :func:`.files.read_paths` will, takes the last files (about
:data:`_CHILD_SHARE` of the bytes, what it can parse before the parent is done importing and parsing the
first ones), parses them and writes their documents, pickled, to an anonymous memory file, then exits.
:func:`take` gives them to ``read_paths``, which parses the first files itself: the same documents and
errors, in the same order, as one process gives.

Only for inputs whose files add up to at most :data:`_MAX_BYTES` (the pickles wait in memory until they
are taken); otherwise, and wherever the child fails or the files it walked are not those the parent walks,
the parent parses everything itself. This module imports only what forking needs, so that the child starts
before the rest of kharden is imported (``_fork.py`` does the forking).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from .._fork import Child, can_fork

if TYPE_CHECKING:
    from ._split import Parsed

__all__ = ["child_files", "discard", "start", "take"]

_MAX_BYTES = 32 * 1024 * 1024
"""Files adding up to more than this are parsed as usual (their documents, pickled, would wait in memory)."""
_MIN_BYTES = 1024 * 1024
"""Less than this parses in a few hundredths of a second: not worth a fork."""
_CHILD_SHARE = 0.6
"""The share of the bytes the child parses: it starts at once, the parent after importing kharden (about
0.12 s, in which the child imports what parsing needs, walks the paths and parses 60% of the real corpus)."""


class _Started:
    """A child :func:`start` forked, and for which paths and ``--max-file-size``."""

    def __init__(self, key: tuple[tuple[str, ...], int], child: Child) -> None:
        self.key = key
        self.child = child


_started: list[_Started] = []  # at most one


def start(paths: list[str], max_bytes: int) -> None:
    """Fork the child that parses a share of the files of ``paths`` (``--max-file-size`` ``max_bytes``), where
    :func:`~kharden._fork.can_fork`."""
    if not _started and can_fork():
        _started.append(_Started((tuple(paths), max_bytes), Child(partial(_write_share, paths, max_bytes))))


def _write_share(paths: list[str], max_bytes: int, out: IO[bytes]) -> None:
    import pickle  # noqa: PLC0415

    from .. import _yaml  # noqa: PLC0415 - imported here, while the parent imports the rest
    from . import files  # noqa: PLC0415

    _yaml.parse_ahead(False)  # the parent parses beside this process: the CPUs are busy

    walked = files.files_of(paths)
    share = child_files(walked) if files.parses_in_one_process(walked) else []
    pickler = pickle.Pickler(out, pickle.HIGHEST_PROTOCOL)
    pickler.dump(share)
    for path in share:
        documents, error = files.parse_file(path, max_bytes)
        if documents is None:
            pickler.dump((None, error))
            continue
        kept: list[Any] = []
        ended: Exception | None = None
        try:
            kept.extend(documents)
        except Exception as e:  # noqa: BLE001 - an InputError ends the file's documents; it is given on
            ended = e
        pickler.dump((kept, ended))


def child_files(files: list[str]) -> list[str]:
    """The files the child parses: the last ones, about :data:`_CHILD_SHARE` of the bytes; none when the
    files add up to less than :data:`_MIN_BYTES` or more than :data:`_MAX_BYTES`, or one is not a regular
    file (a pipe can be read only once: by the parent, which must read it if the child fails)."""
    sizes = []
    for path in files:
        try:
            status = os.stat(path)
        except OSError:
            sizes.append(0)  # the parse says what is wrong with it
            continue
        if not stat.S_ISREG(status.st_mode):
            return []
        sizes.append(status.st_size)
    total = sum(sizes)
    if not _MIN_BYTES <= total <= _MAX_BYTES:
        return []
    wanted = _CHILD_SHARE * total
    taken = 0
    first = len(files)
    # From the end, while a file more brings the share closer to what is wanted (files come in all sizes).
    while first > 0 and abs(taken + sizes[first - 1] - wanted) <= abs(taken - wanted):
        first -= 1
        taken += sizes[first]
    return files[first:]


def take(paths: list[str], max_bytes: int, files: list[str]) -> tuple[int, Iterator[Parsed]] | None:
    """What the child parsed, for ``read_paths`` of ``paths`` that will parse ``files`` in one process: how
    many of the last files it parsed, and their parse results, read when first asked for (they come as
    each file's documents, then the error that ended them, or no documents and the error of a file that
    cannot be read). ``None`` when no child parsed for these arguments (one started for others is ended)."""
    if not _started:
        return None
    started = _started.pop()
    share = child_files(files) if started.key == (tuple(paths), max_bytes) else []
    if not share:
        started.child.close()
        return None
    return len(share), _results(started, share)


def discard() -> None:
    """End a child whose files will not be taken (the scan parses with workers)."""
    while _started:
        _started.pop().child.close()


def _results(started: _Started, share: list[str]) -> Iterator[Parsed]:
    """The results of ``share`` from the child's file, read once the child has ended; those it did not give
    (it failed, or walked other files) parsed here."""
    import pickle  # noqa: PLC0415

    given = 0
    try:
        stream = started.child.output()
        if stream is not None:
            with stream:
                unpickler = pickle.Unpickler(stream)  # noqa: S301 - our own child's bytes
                if _load(unpickler) == share:
                    while given < len(share):
                        result = _load(unpickler)
                        if not isinstance(result, tuple):
                            break
                        documents, error = result
                        given += 1
                        yield (None, error) if documents is None else (_given(documents, error), None)
        from . import files  # noqa: PLC0415

        for path in share[given:]:
            yield files.parse_file(path, started.key[1])
    finally:
        started.child.close()


def _load(unpickler: Any) -> Any:
    """The next pickle, or ``None`` where the child's file ends or is not what it writes."""
    try:
        return unpickler.load()
    except Exception:  # noqa: BLE001 - whatever is wrong with it, the parent parses those files itself
        return None


def _given(documents: list[Any], error: BaseException | None) -> Iterator[Any]:
    """The documents, then the error that ended them, as a parse gives them."""
    yield from documents
    if error is not None:
        raise error
