"""The C reader parsing ahead (``_yamlc.c``, ``_yaml.parse_ahead``): a thread of its own makes libyaml's
events in chunks while this one builds the documents. What it gives is what the reader gives without it
(``test_yamlc.py`` runs every case both ways); these tests pin what only the thread has: texts long enough
to go round its ring many times, a reader dropped mid-text, a forked child, and when a thread is used."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from kharden import _yaml
from kharden._yaml import Document, iter_documents
from kharden.errors import InputError
from kharden.sources import files
from kharden.sources.documents import Collected

pytestmark = pytest.mark.skipif(
    _yaml._c_reader is None or not os.path.isdir("/proc/self/task"),
    reason="needs the C reader and Linux's /proc (threads are counted there)",
)


def _threads() -> int:
    """Threads parsing ahead (the C reader names them)."""
    count = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                count += comm.read().strip() == "kharden-yaml"
        except OSError:  # ended meanwhile
            continue
    return count


def _settled(expected: int) -> int:
    """The thread count once the threads of dropped readers have freed what they parsed and ended."""
    for _ in range(200):
        if _threads() <= expected:
            break
        time.sleep(0.01)
    return _threads()


@pytest.fixture
def ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "_ahead_allowed", True)


def _manifests(count: int) -> bytes:
    """``count`` Deployments, each different: about 400 events apiece."""
    documents = []
    for i in range(count):
        documents.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels: {{app: a{i}, tier: web}}\n"
            f"spec:\n  replicas: {i % 5}\n  template:\n    spec:\n      containers:\n"
            + "".join(
                f"      - name: c{j}\n        image: 'registry.example/app:{i}.{j}'\n"
                f"        ports: [{{containerPort: {8000 + j}}}]\n"
                f'        env:\n        - {{name: A, value: "{i * j}"}}\n        - {{name: B, value: yes}}\n'
                for j in range(8)
            )
        )
    return "---\n".join(documents).encode()


def _summary(document: Document) -> tuple[Any, int, int, bytes | None]:
    packed = document.positions._packed
    return document.data, document.line, document.column, None if packed is None else packed.tobytes()


def _read_all(text: bytes) -> list[tuple[Any, int, int, bytes | None]]:
    return [_summary(document) for document in iter_documents(text, "t.yaml")]


def _as_asked_documents(text: bytes) -> Generator[Document, None, None]:
    saved = _yaml._ahead_allowed
    _yaml.parse_ahead(False)
    try:
        yield from iter_documents(text, "t.yaml")
    finally:
        _yaml._ahead_allowed = saved


def _as_asked(text: bytes) -> list[tuple[Any, int, int, bytes | None]]:
    return [_summary(document) for document in _as_asked_documents(text)]


def test_a_long_text_read_ahead_gives_what_it_gives_as_asked(ahead: None) -> None:
    text = _manifests(600)  # some 240,000 events: the ring of chunks goes round about sixty times
    assert len(text) > _yaml._AHEAD_MIN_BYTES
    before = _settled(0)  # the threads of readers other tests dropped have ended
    documents = iter_documents(text, "t.yaml")
    first = next(documents)
    assert _threads() == before + 1  # the thread that parses ahead
    assert [_summary(first), *map(_summary, documents)] == _as_asked(text)
    assert _settled(before) == before


def test_an_error_late_in_a_long_text_ends_it_as_it_does_as_asked(ahead: None) -> None:
    text = _manifests(300) + b"---\nkind: [Pod\n"
    as_asked = _until_error(_as_asked_documents(text))
    read = _until_error(iter_documents(text, "t.yaml"))
    assert read == as_asked
    assert len(read) == 301
    last_line = text.count(b"\n") + 1
    assert read[-1] == (
        "error",
        f"t.yaml:{last_line}: invalid YAML: did not find expected ',' or ']' (column 1)",
    )


def _until_error(documents: Iterator[Document]) -> list[Any]:
    out: list[Any] = []
    try:
        out.extend(document.data for document in documents)
    except InputError as e:
        out.append(("error", str(e)))
    return out


def test_a_document_the_c_reader_leaves_mid_text_is_read_the_python_way(ahead: None) -> None:
    text = _manifests(200) + b"---\nanchored: &a {x: 1}\nagain: *a\n---\n" + _manifests(100)
    read = _read_all(text)
    assert read == _as_asked(text)
    assert read[200][0] == {"anchored": {"x": 1}, "again": {"x": 1}}
    assert len(read) == 301


def test_a_reader_dropped_mid_text_lets_its_thread_end(ahead: None) -> None:
    text = _manifests(2000)
    before = _settled(0)  # the threads of readers other tests dropped have ended
    for _ in range(20):
        documents = iter_documents(text, "t.yaml")
        assert next(documents).data["metadata"]["name"] == "app-0"
        del documents  # the reader dropped while its thread fills its ring, far from the end of the text
    assert _settled(before) == before


def test_a_child_forked_mid_text_reads_the_rest_the_python_way(ahead: None) -> None:
    text = _manifests(400)
    expected = [d[0] for d in _as_asked(text)]
    documents = iter_documents(text, "t.yaml")
    first = next(documents).data
    pid = os.fork()
    if pid == 0:  # the thread is not here: the reader leaves the text to the Python way
        try:
            ok = [first, *(d.data for d in documents)] == expected
        except BaseException:  # noqa: BLE001 - whatever happens, only the exit status speaks
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    assert [first, *(d.data for d in documents)] == expected


def test_no_thread_for_short_texts_or_where_turned_off(ahead: None) -> None:
    before = _settled(0)  # the threads of readers other tests dropped have ended
    short = b"a: 1\n---\nb: 2\n---\nc: 3\n"
    assert len(short) < _yaml._AHEAD_MIN_BYTES
    documents = iter_documents(short, "t.yaml")
    next(documents)
    assert _threads() == before
    del documents
    _yaml.parse_ahead(False)
    documents = iter_documents(_manifests(100), "t.yaml")
    next(documents)
    assert _threads() == before
    del documents


def test_each_file_is_started_while_the_one_before_is_handed_out() -> None:
    started: list[int] = []

    def parsed() -> Iterator[Any]:
        for number in range(4):
            started.append(number)
            yield number

    handed: list[Any] = []
    for number in files._one_ahead(parsed()):
        handed.append((number, list(started)))
    assert handed == [(0, [0, 1]), (1, [0, 1, 2]), (2, [0, 1, 2, 3]), (3, [0, 1, 2, 3])]
    assert list(files._one_ahead(iter([]))) == []


def test_files_parsed_one_ahead_give_their_documents_in_order(ahead: None, tmp_path: Any) -> None:
    texts = [_manifests(40 + i) for i in range(5)]
    for i, text in enumerate(texts):
        (tmp_path / f"{i}.yaml").write_bytes(text)
    (tmp_path / "5.yaml").write_bytes(b"kind: [broken\n")
    collected = Collected()
    files.read_paths([str(tmp_path)], collected, files.FileOptions())
    names = [obj.ref.name for obj in collected.objects]
    assert names == [f"app-{j}" for i in range(5) for j in range(40 + i)]
    assert [(e.file, e.line) for e in collected.errors] == [
        (str(tmp_path / "5.yaml"), 2)
    ]  # at the end of the text
