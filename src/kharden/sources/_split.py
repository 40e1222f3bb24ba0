"""One large YAML file parsed by several worker processes, in parts of whole documents.

A cluster dump is often one file of tens of megabytes: parsed whole, it keeps one CPU busy while the
others wait. It is cut at document markers into :class:`Part` s that worker processes parse side by
side; their documents are put back together (:func:`joined`) exactly as one parse of the file gives
them: same data, same lines and columns, same numbering, same errors.

Where the file may be cut: at a line that starts with ``---`` followed by a space, a tab, a line break
or the end of the file. libyaml reads such a line as the start of a document wherever it is, except
inside a quoted scalar or a flow collection (``"...``, ``[...``), where it is an error: the content of
a block scalar is indented at least one column (libyaml's ``yaml_parser_scan_block_scalar_breaks``
sets an indent of 1 at the least, even for a scalar at the top of a document), a plain scalar ends at
it, and every block collection is closed by it. A part parsed alone therefore gives the same documents
as the whole file, or ends in an error (the scalar or collection left open at its end); then the file
is parsed again in this process, whole, and the documents after those already given, with the error
that ends them, come from that parse. Errors are always the serial parse's.

A part is parsed after as many empty lines as precede it in the file, so that libyaml counts the lines
of the file: every position (keys, items, errors) is the file's without any adjustment. That needs a
line count that is libyaml's: files with line breaks other than ``\\n`` and ``\\r\\n`` (a lone ``\\r``,
NEL, LS, PS) are not cut. Nor are files whose parse looks beyond one document (``%`` directives, Helm
``# Source:`` comments, which may sit above a marker), files with a byte order mark anywhere, files that
are not UTF-8, and what cannot be read twice (a FIFO, stdin).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

from .._yaml import Document, iter_documents
from ..errors import InputError

__all__ = ["Parsed", "Part", "joined", "parse_part", "parts"]

PART_BYTES = 4 * 1024 * 1024
"""The least bytes of a part: smaller ones would cost more to start and send back than they save."""

# A document marker at the start of a line; the '\n' before it belongs to the part before.
_MARKER = re.compile(rb"\n---(?=[ \t\r\n]|\Z)")
# Line breaks libyaml counts that str.count(b"\n") would not: NEL, LS, PS (a lone '\r' is checked apart).
_OTHER_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(frozen=True, slots=True)
class Part:
    """Bytes ``start`` to ``end`` of the file at ``path``, which begin on its 0-based line ``line``."""

    path: str
    start: int
    end: int
    line: int
    size: int
    """The file's size and modification time when it was cut: a file changed since is not trusted."""
    mtime_ns: int


def parts(path: str, text: bytes) -> list[Part] | None:
    """``text`` (the bytes of the regular file ``path``) cut into parts of about :data:`PART_BYTES`, at
    document markers; ``None`` when it is not to be cut (see the module)."""
    if len(text) < 2 * PART_BYTES or not _cuttable(text):
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode) or status.st_size != len(text):
        return None
    size = PART_BYTES
    cuts = [0]
    while True:
        marker = _MARKER.search(text, cuts[-1] + size)
        if marker is None or len(text) - marker.end() < PART_BYTES // 2:
            break  # a last part this small goes with the one before
        cuts.append(marker.start() + 1)
    if len(cuts) < 2:
        return None
    cuts.append(len(text))
    found = []
    line = 0
    for start, end in pairwise(cuts):
        found.append(Part(path, start, end, line, status.st_size, status.st_mtime_ns))
        line += text.count(b"\n", start, end)
    return found


def _cuttable(text: bytes) -> bool:
    """Whether lines count as libyaml counts them and no document depends on the text around it."""
    if text.startswith(_UTF16_BOMS) or _BOM in text:
        return False
    if text.startswith(b"%") or b"\n%" in text or b"# Source:" in text:
        return False
    if text.count(b"\r") != text.count(b"\r\n"):
        return False
    # ASCII is UTF-8 without other line breaks; the rest is checked.
    return text.isascii() or (_utf8(text) and not any(other in text for other in _OTHER_BREAKS))


def _utf8(text: bytes) -> bool:
    """Whether ``text`` is UTF-8, checked a megabyte at a time (decoded whole, it would take up to four
    times its size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(text)
    try:
        for start in range(0, len(text), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def parse_part(part: Part) -> Iterator[Document] | None:
    """The documents of one part (numbered from 0), or ``None`` when the file is no longer what was cut."""
    try:
        with open(part.path, "rb") as stream:
            status = os.fstat(stream.fileno())
            if (status.st_size, status.st_mtime_ns) != (part.size, part.mtime_ns):
                return None
            stream.seek(part.start)
            data = stream.read(part.end - part.start)
    except OSError:
        return None
    if len(data) != part.end - part.start:
        return None
    return iter_documents(b"\n" * part.line + data, part.path)


Parsed = tuple[Iterator[Document] | None, InputError | None]
"""The documents of a file (an iterator that raises the parse error that ends them), or ``None`` and the
error of a file that cannot be read."""


def joined(count: int, parsed: Iterator[Parsed], whole: Callable[[], Parsed]) -> Iterator[Document]:
    """The documents of a file from the next ``count`` results of ``parsed`` (its parts, in order),
    numbered as one parse numbers them; from the first part that cannot be read or ends in an error,
    the rest come from ``whole()``, the file parsed in one piece, less the documents already given.

    Every one of the ``count`` results is taken from ``parsed``, whatever happens, so that the results
    after them belong to the next file.
    """
    left = count
    given = 0
    complete = True
    try:
        while left and complete:
            documents, _ = next(parsed)
            left -= 1
            if documents is None:
                complete = False
                break
            try:
                for document in documents:
                    yield document if document.index == given else _numbered(document, given)
                    given += 1
            except InputError:
                complete = False
    finally:
        for _ in range(left):
            next(parsed)  # the pool drops what it holds of a part when asked for the next
    if not complete:
        documents, error = whole()
        if documents is None:
            raise error or InputError("cannot read")
        for skipped, document in enumerate(documents):
            if skipped >= given:
                yield document


def _numbered(document: Document, index: int) -> Document:
    """``document`` as the ``index``-th of its file (``dataclasses.replace`` costs four times this)."""
    return Document(
        document.data, index, document.line, document.column, document.positions, document.source_comment
    )
