"""A large file parsed in parts by worker processes gives what one parse of it gives, byte for byte:
documents, their numbers, every line and column, and the errors with their lines."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kharden import ScanOptions
from kharden._yaml import Document, iter_documents
from kharden.errors import InputError
from kharden.scan import collect
from kharden.sources import _split, files
from kharden.sources._workers import Parsed
from kharden.sources.documents import Collected

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: &labels {{app: {name}}}
  annotations:
    note: |
      a block scalar whose lines look like markers
       ---
      --- not at column 0 either
    folded: >-
      text
spec:
  containers:
    - name: app
      image: nginx:1.25
      securityContext:
        privileged: true
      env:
        - {{name: A, value: "1"}}
  nodeSelector: *labels
"""

SPECIAL = [
    "--- |\n  a top-level block scalar\n   ---\n",  # a document that is a string
    "---\n# only a comment: an empty document\n",
    '--- {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "json-style"}}\n',
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ended}\n...\n",  # an end marker
    "---\t\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tabbed\nstringData: {k: v}\n",
    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  k: a plain scalar\n    on two lines\n",
    '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: unicode}\ndata: {k: "é ☃ 🐍", l: ünï}\n',
]


def _stream(count: int, *, broken: str = "", newline: str = "\n") -> str:
    """``count`` pods with the special documents among them, and ``broken`` at the middle."""
    documents = []
    for index in range(count):
        documents.append("---\n" + POD.format(name=f"p{index}"))
        documents.append(SPECIAL[index % len(SPECIAL)])
        if index == count // 2 and broken:
            documents.append(broken)
    return "".join(documents).replace("\n", newline)


def _pointers(data: Any, pointer: str = "") -> Iterator[str]:
    yield pointer
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _pointers(value, f"{pointer}/{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _pointers(value, f"{pointer}/{index}")


def _described(documents: Iterator[Document]) -> tuple[list[object], str | None]:
    """Every document with its number and the position of every field, then the error that ends them."""
    found: list[object] = []
    try:
        for document in documents:
            places = [document.positions.locate(document.data, p) for p in _pointers(document.data)]
            found.append((document.index, document.line, document.column, document.data, places))
    except InputError as e:
        return found, str(e)
    return found, None


def _in_parts(path: Path) -> tuple[list[object], str | None]:
    """The documents of ``path`` parsed part by part in this process, put back together."""
    cut = _split.parts(str(path), path.read_bytes())
    assert cut is not None
    assert len(cut) > 3
    parsed = iter([files._parse_file(part, 1 << 30) for part in cut])

    def whole() -> Parsed:
        return files._parse_file(str(path), 1 << 30)

    return _described(_split.joined(len(cut), parsed, whole))


@pytest.fixture(autouse=True)
def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_split, "PART_BYTES", 512)


BROKEN = {
    "unclosed flow": "---\nkind: [unclosed\n",
    "quoted scalar over a marker": '---\nkind: "open\n---\nstill: quoted"\n',
    "flow over a marker": "---\nitems: [a,\n---\n b]\n",
    "undefined alias": "---\nkind: *nowhere\n",
    "tab indentation": "---\nkind: Pod\nmetadata:\n\tname: x\n",
}


@pytest.mark.parametrize("broken", ["", *BROKEN.values()], ids=["clean", *BROKEN])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_parts_put_back_together_are_the_whole_parse(tmp_path: Path, broken: str, newline: str) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(_stream(30, broken=broken, newline=newline).encode())
    expected = _described(iter_documents(path.read_bytes(), str(path)))
    assert len(expected[0]) >= 30
    assert (expected[1] is not None) == bool(broken)
    assert _in_parts(path) == expected


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff" + _stream(30),  # a byte order mark
        _stream(15) + "\ufeff---\n" + _stream(15),
        _stream(30, newline="\r"),  # old Mac line breaks
        _stream(15) + "---\nk: a\u2028b\n" + _stream(15),  # a line separator libyaml counts
        _stream(15) + "...\n%YAML 1.1\n" + _stream(15),  # a directive
        "# Source: chart/templates/pods.yaml\n" + _stream(30),  # Helm's comments
        _stream(5),  # too small to be worth it
    ],
    ids=["bom", "bom-inside", "cr", "ls", "directive", "helm-source", "small"],
)
def test_files_whose_lines_or_documents_depend_on_the_rest_are_not_cut(text: str) -> None:
    assert _split.parts("unused", text.encode()) is None


def test_not_utf8_and_utf16_are_not_cut(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(_stream(30).encode() + "k: é\n".encode("latin-1"))
    assert _split.parts(str(path), path.read_bytes()) is None
    path.write_bytes(_stream(30).encode("utf-16"))
    assert _split.parts(str(path), path.read_bytes()) is None


def test_a_changed_file_is_parsed_again_whole(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(_stream(30).encode())
    cut = _split.parts(str(path), path.read_bytes())
    assert cut is not None
    path.write_bytes(_stream(31).encode())  # another size: the parts no longer fit
    assert _split.parse_part(cut[1]) is None
    parsed = iter([files._parse_file(part, 1 << 30) for part in cut])
    whole = iter_documents(path.read_bytes(), str(path))
    joined = _described(_split.joined(len(cut), parsed, lambda: (whole, None)))
    assert joined == _described(iter_documents(path.read_bytes(), str(path)))


def _report(paths: list[str], jobs: int) -> tuple[Any, ...]:
    collected: Collected = collect(paths, ScanOptions(jobs=jobs))
    objects = [
        (
            o.ref,
            o.origin.file,
            o.origin.line,
            o.origin.column,
            o.raw,
            [o.origin.positions.locate(o.raw, p) for p in _pointers(o.raw) if o.origin.positions],
        )
        for o in collected.objects
    ]
    return objects, [str(e) for e in collected.errors], collected.stats


def _names(report: tuple[Any, ...]) -> list[str]:
    return [ref.name for ref, *_ in report[0]]


@pytest.mark.parametrize("broken", ["", BROKEN["quoted scalar over a marker"]], ids=["clean", "broken"])
def test_workers_parse_one_large_file_in_parts(tmp_path: Path, broken: str) -> None:
    big = tmp_path / "a-cluster.yaml"
    big.write_bytes(_stream(60, broken=broken).encode())
    (tmp_path / "b-after.yaml").write_text(POD.format(name="after"))
    assert files._jobs(2, [str(big)]) == 2  # one file, in parts
    assert files._tasks(str(big), 1 << 30, 2) == _split.parts(str(big), big.read_bytes())
    serial = _report([str(tmp_path)], jobs=1)
    assert _report([str(tmp_path)], jobs=2) == serial
    assert _names(serial)[-1] == "after"  # the file after the large one is read whole and in order
    assert bool(serial[1]) == bool(broken)


def test_a_fifo_is_never_read_to_be_cut(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert files._tasks(str(fifo), 1 << 30, 2) == [str(fifo)]  # returns at once: nothing read


def test_utf8_beyond_ascii_is_cut() -> None:
    text = _stream(30).encode()
    assert not text.isascii()
    assert _split.parts("unused", text) is None  # not a file: its size cannot be checked
    assert _split._cuttable(text)


@pytest.mark.parametrize(
    ("text", "documents"),
    [
        ("--- |\n  a\n---\nb\n", ["a\n", "b"]),  # a block scalar's content is indented at least once
        ("--- |1\n a\n---\nb\n", ["a\n", "b"]),
        ("--- |+\n  a\n\n---\nb\n", ["a\n\n", "b"]),
        ("k: >\n  a\n---\nb\n", [{"k": "a\n"}, "b"]),
        ("k: a\n  b\n---\nc\n", [{"k": "a b"}, "c"]),  # a plain scalar ends at the marker
        ("a\n---\tb\n", ["a", "b"]),
        ('k: "a\n---\nb"\n', None),  # inside a quoted scalar or a flow collection: an error
        ("k: 'a\n---\nb'\n", None),
        ("k: [a,\n---\n b]\n", None),
        ("k: {a: 1,\n---\n b: 2}\n", None),
        ("--- |\na\n---\nb\n", None),
    ],
)
def test_libyaml_reads_a_marker_at_column_0_as_a_document_start_or_an_error(
    text: str, documents: list[object] | None
) -> None:
    """What cutting files at markers relies on (``_split.py``): checked here, should libyaml change."""
    if documents is None:
        with pytest.raises(InputError):
            list(iter_documents(text.encode(), "f.yaml"))
    else:
        assert [d.data for d in iter_documents(text.encode(), "f.yaml")] == documents
