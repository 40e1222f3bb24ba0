"""Files parsed by worker processes (`--jobs`) give what one process gives, in the same order."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kharden import ScanOptions, _yaml, scan
from kharden._yaml import Document, iter_documents
from kharden.errors import ConfigError, InputError
from kharden.model import Report
from kharden.sources import _workers, files


def _round_trip(value: object) -> Any:
    """What a worker process sends back: our own bytes, never untrusted input."""
    return pickle.loads(pickle.dumps(value))  # noqa: S301


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: &labels {{app: {name}}}
spec:
  containers:
    - name: app
      image: nginx:1.25
      securityContext:
        privileged: true
    - name: side
      image: busybox
      env:
        - {{name: A, value: "1"}}
"""


def _tree(root: Path) -> None:
    """Files with objects, broken YAML, a binary file and an empty one, in nested directories."""
    for index in range(12):
        folder = root / f"d{index % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"pods-{index:02}.yaml").write_text(
            "---\n".join(POD.format(name=f"p{index}-{n}") for n in range(3))
        )
    (root / "d1" / "broken.yaml").write_text(POD.format(name="before") + "---\nkind: [unclosed\n")
    (root / "d2" / "binary.yaml").write_bytes(b"apiVersion: v1\x00\x01")
    (root / "d0" / "empty.yml").write_text("# nothing\n")


def _summary(report: Report) -> tuple[object, ...]:
    return (
        [
            (f.rule, f.object.name, f.location.file, f.location.line, f.location.column)
            for f in report.findings
        ],
        [str(e) for e in report.errors],
        report.stats,
    )


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_workers_give_the_same_report_in_the_same_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    monkeypatch.setattr(files, "_START_METHOD", start)
    _tree(tmp_path)
    serial = scan([str(tmp_path)], ScanOptions(jobs=1))
    parallel = scan([str(tmp_path)], ScanOptions(jobs=3))
    assert _summary(parallel) == _summary(serial)
    assert len(serial.findings) > 36  # every pod is privileged, plus other rules
    assert [str(e).split(": ", 1)[1] for e in serial.errors] == [
        "invalid YAML: did not find expected ',' or ']' (column 1)",
        "binary file, not YAML or JSON (NUL byte)",
    ]
    names = {f.object.name for f in parallel.findings}
    assert "before" in names  # the objects before a broken document are kept


def test_default_uses_workers_only_for_large_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]
    for path in small:
        Path(path).write_text(POD.format(name="x"))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(files, "_PARALLEL_MIN_BYTES", 2 * 1024 * 1024)  # as without the C reader
    assert files._jobs(None, small) == 1
    assert files._jobs(None, small[:1]) == 1
    assert files._jobs(2, small) == 2
    monkeypatch.setattr(files, "_PARALLEL_MIN_BYTES", 10)
    assert files._jobs(None, small) == 2  # one per CPU, but never more than the files
    many = small * 5
    assert files._jobs(None, many) == 4
    monkeypatch.setattr(files, "_PARALLEL_MIN_BYTES", None)  # with it: workers only when asked
    assert files._jobs(None, many) == 1
    assert files._jobs(3, many) == 3


def test_workers_parse_by_default_only_without_the_c_reader() -> None:
    assert (files._PARALLEL_MIN_BYTES is None) == _yaml.reads_in_c()


def test_jobs_never_more_than_the_files_nor_twice_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert files._jobs(5000, ["a.yaml", "b.yaml"]) == 2
    assert files._jobs(5000, [f"{n}.yaml" for n in range(300)]) == 4
    assert files._jobs(3, [f"{n}.yaml" for n in range(300)]) == 3


def test_jobs_5000_on_two_files_starts_two_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text(POD.format(name=name))
    started: list[int] = []
    real = _workers._Pool.__post_init__

    def counting(pool: _workers._Pool) -> None:
        real(pool)
        started.append(len(pool.workers))

    monkeypatch.setattr(_workers._Pool, "__post_init__", counting)
    report = scan([str(tmp_path)], ScanOptions(jobs=5000, rules=("pod.privileged",)))
    assert started == [2]
    assert sorted(f.object.name for f in report.findings) == ["a", "b"]


def test_workers_send_documents_back_in_chunks_as_they_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker holds one chunk of documents, not a file's: a large file arrives in many messages, and the
    main process adds the first documents before the worker has parsed the last."""
    big = tmp_path / "big.yaml"
    big.write_text("---\n".join(POD.format(name=f"p{n}") for n in range(400)))
    (tmp_path / "small.yaml").write_text(POD.format(name="small"))
    monkeypatch.setattr(_workers, "WORKER_CHUNK_BYTES", 4096)
    messages: list[int] = []
    real = _workers._unpickled

    def counting(message: bytes) -> Iterator[Document]:
        messages.append(len(message))
        return real(message)

    monkeypatch.setattr(_workers, "_unpickled", counting)
    parallel = scan([str(tmp_path)], ScanOptions(jobs=2))
    assert len(messages) >= 20  # 401 documents of about 300 pickled bytes each, in chunks of 4 KiB
    assert max(messages) < 4096 + 2048  # a chunk is full at 4 KiB: one document over at most
    assert _summary(parallel) == _summary(scan([str(tmp_path)], ScanOptions(jobs=1)))


_PARENT = os.getpid()
_PARSE_FILE = files._parse_file


def _dies_in_a_worker(path: str, max_bytes: int) -> object:
    """Module level, so that the pool can send it to its workers by name."""
    if os.getpid() != _PARENT and path.endswith("pods-05.yaml"):
        os._exit(9)  # what the out-of-memory killer does
    return _PARSE_FILE(path, max_bytes)


def test_a_dead_worker_leaves_the_rest_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    expected = _summary(scan([str(tmp_path)], ScanOptions(jobs=1)))
    monkeypatch.setattr(files, "_parse_file", _dies_in_a_worker)
    assert _summary(scan([str(tmp_path)], ScanOptions(jobs=2))) == expected


def test_an_unlistable_directory_does_not_end_the_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pod.yaml").write_text(POD.format(name=name))
    real = os.scandir

    def refuses_b(path: str) -> object:
        if str(path).endswith(os.sep + "b"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", refuses_b)
    report = scan([str(tmp_path)], ScanOptions(rules=("pod.privileged",)))
    assert sorted(f.object.name for f in report.findings) == ["a", "c"]
    assert [str(e) for e in report.errors] == [f"{tmp_path / 'b'}: cannot list directory: Permission denied"]


def test_a_document_survives_pickling_with_its_positions() -> None:
    (document,) = iter_documents(POD.format(name="web").encode(), "f.yaml")
    copy = _round_trip(document)
    assert copy.data == document.data
    assert (copy.index, copy.line, copy.column) == (document.index, document.line, document.column)
    for pointer in (
        "/metadata/labels/app",
        "/spec/containers/1/env/0/value",
        "/spec/containers/0/image",
        "/x",
    ):
        assert copy.positions.locate(copy.data, pointer) == document.positions.locate(document.data, pointer)
    assert copy.positions.locate(copy.data, "/spec/containers/1/env/0/value") == (15, 21)


def test_anchored_containers_stay_shared_after_pickling() -> None:
    text = b"a: &x {k: [1, 2]}\nb: *x\nc:\n  - *x\n"
    (document,) = iter_documents(text, "f.yaml")
    copy = _round_trip(document)
    assert copy.data["a"] is copy.data["b"] is copy.data["c"][0]
    assert copy.positions.locate(copy.data, "/b/k/1") == (1, 15)


@pytest.mark.parametrize(
    "error", [InputError("bad", file="f.yaml", line=3), ConfigError("worse", file="c.yaml")]
)
def test_input_errors_keep_file_and_line_across_processes(error: InputError) -> None:
    copy = _round_trip(error)
    assert type(copy) is type(error)
    assert (copy.message, copy.file, copy.line, str(copy)) == (
        error.message,
        error.file,
        error.line,
        str(error),
    )


def test_jobs_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kharden.cli import main  # noqa: PLC0415

    (tmp_path / "pod.yaml").write_text(POD.format(name="x"))
    assert main(["scan", "--jobs", "0", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "kharden: error: --jobs must be at least 1"
    assert main(["scan", "--jobs", "2", "-f", "json", str(tmp_path)]) == 1


def _dies_half_way_through(path: str, max_bytes: int) -> object:
    """Module level, like _dies_in_a_worker: a worker killed after it has sent part of a file."""
    documents, error = _PARSE_FILE(path, max_bytes)
    if os.getpid() == _PARENT or documents is None or not path.endswith("big.yaml"):
        return documents, error

    def then_dies() -> Iterator[Document]:
        for index, document in enumerate(documents):
            if index == 300:
                os._exit(9)
            yield document

    return then_dies(), error


def test_a_worker_dying_half_way_through_a_file_loses_and_repeats_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.yaml").write_text(POD.format(name="first"))
    (tmp_path / "big.yaml").write_text("---\n".join(POD.format(name=f"p{n}") for n in range(400)))
    (tmp_path / "c.yaml").write_text(POD.format(name="last"))
    expected = _summary(scan([str(tmp_path)], ScanOptions(jobs=1)))
    monkeypatch.setattr(_workers, "WORKER_CHUNK_BYTES", 4096)
    monkeypatch.setattr(files, "_parse_file", _dies_half_way_through)
    parallel = scan([str(tmp_path)], ScanOptions(jobs=2))
    assert _summary(parallel) == expected
    assert sum(1 for f in parallel.findings if f.rule == "pod.privileged") == 402


_REAL_SERVE = _workers._serve
_NOTES: list[Path] = []


def _serve_noting_the_next_path(connection: Any, max_bytes: int, parse: _workers.Parse) -> None:
    """A worker's loop that notes, for each file it starts, whether the path of its next file is waiting
    in its pipe already (module level: the workers are forked with it)."""

    def noting(path: _workers.Task, max_bytes: int) -> _workers.Parsed:
        time.sleep(0.2)  # the main process gives out the next files meanwhile
        with open(_NOTES[0] / str(os.getpid()), "a") as notes:
            notes.write(f"{int(connection.poll())}\n")
        return parse(path, max_bytes)

    _REAL_SERVE(connection, max_bytes, noting)


def test_a_worker_has_its_next_file_before_it_finishes_the_one_it_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else each file would cost the worker a round trip to a main process that is busy adding documents."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    for index in range(6):
        (manifests / f"pod-{index}.yaml").write_text(POD.format(name=f"p{index}"))
    notes = tmp_path / "notes"
    notes.mkdir()
    monkeypatch.setattr(_workers, "_serve", _serve_noting_the_next_path)
    monkeypatch.setattr(files, "_START_METHOD", "fork")
    _NOTES[:] = [notes]
    expected = _summary(scan([str(manifests)], ScanOptions(jobs=1)))
    assert _summary(scan([str(manifests)], ScanOptions(jobs=2))) == expected
    waiting = [line for each in notes.iterdir() for line in each.read_text().split()]
    assert len(waiting) == 6
    assert waiting.count("1") >= 2  # the first file of each worker at least; the last ones have no next
