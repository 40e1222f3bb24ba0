"""Worker processes that parse files, in bounded memory, giving what one process gives in the same order.

Each worker parses one file at a time and sends its documents back as it goes, pickled in chunks of
about :data:`~.limits.WORKER_CHUNK_BYTES`: a worker holds one file's bytes (at most ``--max-file-size``),
the document it is building and one chunk, whatever the number and size of the files. Each is given the
path of its next file before it finishes the one it is on (:data:`_QUEUED`), so that it never waits for
the main process, busy adding documents, to read its end message. The main process
adds the documents of one file after the other; what workers send for files further on waits, still
pickled, up to :data:`~.limits.WORKER_AHEAD_BYTES` (then those workers wait too). So a scan holds, beyond
the objects its inventory keeps, a bounded amount per worker.

A worker that dies (killed, out of memory) leaves the rest to this process: the file it was on is parsed
again here, less the documents already added, and so is every file after it.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from .._yaml import Document, parse_ahead
from ..errors import InputError
from ._split import Parsed, Part
from .limits import WORKER_AHEAD_BYTES, WORKER_CHUNK_BYTES

__all__ = ["Parse", "Parsed", "Task", "parse_files"]

Task = str | Part
"""A file to parse, by its path, or a part of one (``_split.py``)."""
Parse = Callable[[Task, int], Parsed]

# Messages from a worker, each one ``bytes``: a tag, then pickles.
_DOCUMENTS = b"D"  # pickled documents, one after the other
_END = b"E"  # the file is done: the pickled InputError that ended it, or None
_UNREADABLE = b"U"  # the file could not be read: the pickled InputError

_QUEUED = 2
"""Files given to a worker at a time: the one it parses and the next (only its path: it reads the file
when it gets to it)."""


def parse_files(
    files: list[Task], max_bytes: int, jobs: int, parse: Parse, start_method: str
) -> Iterator[Parsed]:
    """``parse(file, max_bytes)`` of each file, in order, done by ``jobs`` worker processes (by this one when
    ``jobs`` is 1). Each file's documents must be used up, or left, before the next file is asked for."""
    if jobs <= 1 or len(files) < 2:
        for path in files:
            yield parse(path, max_bytes)
        return
    pool = _Pool(files, max_bytes, jobs, parse, start_method)
    try:
        yield from pool.results()
    finally:
        pool.close()


def _path(task: Task) -> str:
    return task.path if isinstance(task, Part) else task


class _WorkerDiedError(Exception):
    """A worker ended without finishing its file."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    connection: Connection
    files: deque[int] = field(default_factory=deque)
    """The indexes of the files it was given and has not finished, the one it parses first; empty when
    idle."""


@dataclass(eq=False)
class _Pool:
    files: list[Task]
    max_bytes: int
    jobs: int
    parse: Parse
    start_method: str
    workers: list[_Worker] = field(default_factory=list)
    assigned: int = 0
    """Files before this index have been given to a worker."""
    ahead: dict[int, deque[bytes]] = field(default_factory=dict)
    """Messages received for files after the one being added, by file index."""
    ahead_bytes: int = 0
    broken: bool = False

    def __post_init__(self) -> None:
        context: Any = multiprocessing.get_context(self.start_method)  # typeshed's BaseContext has no Process
        for _ in range(self.jobs):
            mine, theirs = context.Pipe()
            process = context.Process(target=_work, args=(theirs, self.max_bytes, self.parse), daemon=True)
            process.start()
            theirs.close()
            self.workers.append(_Worker(process, mine))

    def results(self) -> Iterator[Parsed]:
        for index, path in enumerate(self.files):
            if not self.broken:
                try:
                    self._assign(index)
                    first = self._message(index)
                except _WorkerDiedError:
                    self._break()
            if self.broken:
                yield self.parse(path, self.max_bytes)
                continue
            if first[:1] == _UNREADABLE:
                self._finished(index)
                yield None, pickle.loads(first[1:])  # noqa: S301 - our own worker's bytes
                continue
            documents = self._documents(index, first)
            try:
                yield documents, None
            finally:
                documents.close()

    def _documents(self, index: int, message: bytes) -> Generator[Document, None, None]:
        """The documents of file ``index`` as its worker sends them; the rest are read (and dropped) when
        the caller stops early."""
        given = 0
        try:
            while message[:1] == _DOCUMENTS:
                for document in _unpickled(message):
                    given += 1
                    yield document
                message = self._message(index)
        except _WorkerDiedError:
            self._break()
            documents, error = self.parse(self.files[index], self.max_bytes)
            if documents is None:
                raise error or InputError("cannot read", file=_path(self.files[index])) from None
            for skipped, document in enumerate(documents):
                if skipped >= given:
                    yield document
            return
        except GeneratorExit:
            self._drain(index, message)
            raise
        self._finished(index)
        error = pickle.loads(message[1:])  # noqa: S301 - our own worker's bytes
        if error is not None:
            raise error

    def _drain(self, index: int, message: bytes) -> None:
        try:
            while message[:1] == _DOCUMENTS:
                message = self._message(index)
            self._finished(index)
        except _WorkerDiedError:
            self._break()

    def _assign(self, index: int) -> None:
        """Give files to workers, in order, up to file ``index`` at least: first to idle ones, then a next
        file to each."""
        for queued in range(_QUEUED):
            for worker in self.workers:
                if self.assigned >= len(self.files):
                    return
                if len(worker.files) == queued and (
                    self.assigned <= index or self.ahead_bytes < WORKER_AHEAD_BYTES
                ):
                    try:
                        worker.connection.send(self.files[self.assigned])
                    except OSError as e:
                        raise _WorkerDiedError from e
                    worker.files.append(self.assigned)
                    self.assigned += 1

    def _finished(self, index: int) -> None:
        """File ``index`` is done (its end message read): give out the files after it."""
        try:
            self._assign(index + 1)
        except _WorkerDiedError:
            self._break()  # the files after this one are parsed here

    def _message(self, index: int) -> bytes:
        """The next message about file ``index``, reading what the other workers send meanwhile."""
        queued = self.ahead.get(index)
        if queued:
            message = queued.popleft()
            self.ahead_bytes -= len(message)
            return message
        while True:
            busy = [w for w in self.workers if w.files]
            listening = [
                w.connection for w in busy if w.files[0] == index or self.ahead_bytes < WORKER_AHEAD_BYTES
            ]
            assert listening  # the file's worker is busy until its end message is read
            found = None
            for ready in wait(listening):
                worker = next(w for w in busy if w.connection is ready)
                try:
                    message = worker.connection.recv_bytes()
                except (EOFError, OSError) as e:
                    raise _WorkerDiedError from e
                file = worker.files[0]  # only busy workers are listened to
                if message[:1] != _DOCUMENTS:
                    worker.files.popleft()  # the end of its file: on to the next one, if given
                if file == index:
                    found = message
                else:
                    self.ahead.setdefault(file, deque()).append(message)
                    self.ahead_bytes += len(message)
            self._assign(index)
            if found is not None:
                return found

    def _break(self) -> None:
        """Stop every worker: this process parses the rest."""
        self.broken = True
        self.close()

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.is_alive():
                worker.process.terminate()
        for worker in self.workers:
            worker.process.join()
            worker.connection.close()
        self.workers = []
        self.ahead.clear()


class _Chunk:
    """Documents pickled one after the other with one memo, so that the strings they share (the YAML
    builder's cache of keys and common values) stay shared once unpickled."""

    def __init__(self) -> None:
        self.stream = io.BytesIO()
        self.stream.write(_DOCUMENTS)
        self.pickler = pickle.Pickler(self.stream, pickle.HIGHEST_PROTOCOL)
        self.size = 0

    def add(self, document: Document) -> int:
        self.pickler.dump(document)
        self.size = self.stream.tell() - 1
        return self.size

    def bytes(self) -> bytes:
        return self.stream.getvalue()


def _unpickled(message: bytes) -> Iterator[Document]:
    stream = io.BytesIO(message)
    stream.seek(1)
    unpickler = pickle.Unpickler(stream)  # noqa: S301 - our own worker's bytes; one memo for the chunk
    while stream.tell() < len(message):
        yield unpickler.load()


def _work(connection: Connection, max_bytes: int, parse: Parse) -> None:
    """A worker: parse the files it is given, one at a time, sending the documents in chunks."""
    parse_ahead(False)  # the workers already keep the CPUs busy
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl-C is the main process's to handle: it ends the workers
    try:
        _serve(connection, max_bytes, parse)
    except Exception:  # noqa: BLE001 - the main process parses the file again and reports what fails
        os._exit(1)  # quietly: no traceback on the user's terminal


def _serve(connection: Connection, max_bytes: int, parse: Parse) -> None:
    while True:
        try:
            path = connection.recv()
        except EOFError:
            return
        documents, error = parse(path, max_bytes)
        if documents is None:
            connection.send_bytes(_UNREADABLE + pickle.dumps(error))
            continue
        chunk = _Chunk()
        try:
            for document in documents:
                if chunk.add(document) >= WORKER_CHUNK_BYTES:
                    connection.send_bytes(chunk.bytes())
                    chunk = _Chunk()
        except InputError as e:
            error = e
        if chunk.size:
            connection.send_bytes(chunk.bytes())
        connection.send_bytes(_END + pickle.dumps(error))
