"""The child that parses a share of the files while the ``kharden`` command imports the rest
(``sources/_ahead.py``): the command's reports are those of one process (``--jobs 1``), errors included, and
whatever goes wrong with the child, the parent parses its files itself."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from conftest import require_shared
from kharden.errors import InputError
from kharden.sources import _ahead, files

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
    note: "{pad}"
spec:
  containers:
  - name: app
    image: nginx
    securityContext:
      privileged: true
"""

# The command as its entry point runs it (cli.run sets _COMMAND), saying on stderr whether read_paths took
# the files the child parsed.
_DRIVER = """
import os, sys
from kharden import cli
from kharden.sources import _ahead
taken = []
take = _ahead.take
def spy(*args):
    found = take(*args)
    taken.append(found is not None)
    return found
_ahead.take = spy
cli._COMMAND = True
code = cli.main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write(f"TAKEN {taken}\\n")
sys.stderr.flush()
os._exit(code)
"""

needs_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="the child parses ahead only on Linux with two CPUs or more",
)


def _command(*argv: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, "scan", *argv],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def _tree(root: Path) -> Path:
    """About 4.5 MB of manifests: findings, documents that break mid-file, a binary file, an empty one, and a
    file over --max-file-size 2 first in the walk (the parent's), the rest mostly the child's."""
    pad = "x" * 2000
    (root / "a-first.yaml").write_text(POD.format(name="first", pad=""))
    (root / "a-large.yaml").write_text(POD.format(name="large", pad="y" * 2_500_000))
    for index in range(60):
        documents = [POD.format(name=f"p{index}-{n}", pad=pad) for n in range(15)]
        (root / f"m{index:03}.yaml").write_text("---\n".join(documents))
    (root / "m010-broken.yaml").write_text(POD.format(name="before", pad="") + "---\nkind: [\n")
    (root / "m040-binary.yaml").write_bytes(b"\x00\x01binary")
    (root / "zz-broken.yaml").write_text(POD.format(name="last-before", pad="") + "---\nkind: [\n")
    (root / "zz-empty.yaml").write_text("")
    return root


@needs_two_cpus
def test_the_command_reports_alike_with_the_child_parsing_ahead(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    share = _ahead.child_files(files.files_of([str(tree)]))
    assert str(tree / "zz-broken.yaml") in share
    assert str(tree / "a-large.yaml") not in share  # the parent parses some files too
    code, out, err = _command(str(tree), "-f", "json", "--max-file-size", "2")
    one = _command(str(tree), "-f", "json", "--max-file-size", "2", "--jobs", "1")
    assert err.endswith(b"TAKEN [True]\n")
    assert one[2].endswith(b"TAKEN [False]\n")
    assert (code, out) == one[:2]
    assert code == 2  # the input errors are reported, each once
    assert err.replace(b"TAKEN [True]", b"") == one[2].replace(b"TAKEN [False]", b"")
    for name in (b"m010-broken.yaml", b"zz-broken.yaml", b"m040-binary.yaml", b"a-large.yaml"):
        assert err.count(name) == 1


@needs_two_cpus
def test_the_real_corpus_reports_alike_with_the_child_parsing_ahead() -> None:
    corpus = str(require_shared() / "corpus" / "real")
    code, out, err = _command(corpus, "-f", "json")
    assert err.endswith(b"TAKEN [True]\n")
    assert (code, out) == _command(corpus, "-f", "json", "--jobs", "1")[:2]


@needs_two_cpus
def test_stdin_is_read_by_the_parent_in_its_place(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    stdin = (tree / "m000.yaml").read_bytes()
    code, out, err = _command("-", str(tree), "-f", "json", stdin=stdin)
    assert err.endswith(b"TAKEN [True]\n")
    assert (code, out) == _command("-", str(tree), "-f", "json", "--jobs", "1", stdin=stdin)[:2]
    assert b"<stdin>" in out


def test_the_childs_share_is_the_last_files_about_sixty_percent_of_the_bytes(tmp_path: Path) -> None:
    paths = []
    for index, size in enumerate([400_000, 100_000, 300_000, 700_000, 200_000, 300_000]):
        path = tmp_path / f"f{index}.yaml"
        path.write_bytes(b"#" * size)
        paths.append(str(path))
    assert _ahead.child_files(paths) == paths[3:]  # 1.2 of 2 MB: the cut closest to 60%
    assert _ahead.child_files(paths[:2]) == []  # under 1 MiB: not worth a fork
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (33 * 1024 * 1024))
    assert _ahead.child_files([*paths, str(big)]) == []  # the pickles would wait in memory
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert _ahead.child_files([*paths, str(fifo)]) == []  # a pipe is read once, by the parent
    missing = str(tmp_path / "gone.yaml")
    assert _ahead.child_files([*paths, missing])[-1] == missing  # its parse says it is gone


def _parsed(results: Iterable[Any]) -> list[Any]:
    """Each file's documents' data and the error that ended them."""
    out = []
    for documents, error in results:
        data: list[Any] | None = None
        ended = error
        if documents is not None:
            data = []
            try:
                data.extend(d.data for d in documents)
            except InputError as e:
                ended = e
        out.append((data, str(ended) if ended else None))
    return out


def _child(wrote: bytes, code: int) -> _ahead._Started:
    """A child that wrote ``wrote`` and ended with ``code``, as :func:`_ahead.start` leaves one."""
    fd = os.memfd_create("test")
    os.write(fd, wrote)
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return _ahead._Started(((), 1 << 20), pid, fd)


def test_files_the_child_did_not_give_are_parsed_by_the_parent(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    share = [str(tree / name) for name in ("m001.yaml", "zz-broken.yaml", "m040-binary.yaml")]
    expected = _parsed(files.parse_file(path, 1 << 20) for path in share)
    assert expected[1][1] is not None  # documents, then an error
    assert expected[2][0] is None  # no documents: not YAML
    first = pickle.dumps(share) + pickle.dumps(([], None))
    for wrote, code in [
        (b"", 3),  # failed
        (b"not a pickle", 0),
        (pickle.dumps([*share, "another.yaml"]), 0),  # walked other files
        (first, 0),  # ended after the first file: its (here empty) documents, then the rest from here
    ]:
        got = _parsed(_ahead._results(_child(wrote, code), share))
        if wrote is first:
            assert got == [([], None), *expected[1:]]
        else:
            assert got == expected, wrote[:20]
