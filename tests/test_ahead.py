"""The children the ``kharden`` command forks (``_fork.py``): one parses a share of the files while the
command imports the rest (``sources/_ahead.py``), one counts the attack paths while the rules run
(``paths/findings.py``). The command's reports are those of one process, input errors included, and
whatever goes wrong with a child, the parent does its work itself."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pytest

from conftest import EXAMPLES, require_shared
from kharden import ScanOptions, _fork, _yaml, scan
from kharden._fork import Child
from kharden.analysis.context import ScanContext
from kharden.errors import InputError
from kharden.inventory import Inventory
from kharden.paths.findings import Counting, on_paths
from kharden.scan import collect
from kharden.sources import _ahead, files
from kharden.sources.documents import Collected

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

# The command, forking as its entry point lets it (``forks``) or not, saying on stderr whether read_paths
# took the files a child parsed and whether a child counted the attack paths.
_DRIVER = """
import os, sys
from kharden import _fork, cli
from kharden.paths import findings
from kharden.sources import _ahead
taken, counted = [], []
take, count_ahead = _ahead.take, findings.count_ahead
def spy_take(*args):
    found = take(*args)
    taken.append(found is not None)
    return found
def spy_count(*args):
    found = count_ahead(*args)
    counted.append(found is not None)
    return found
_ahead.take = spy_take
findings.count_ahead = spy_count
_fork.enabled = sys.argv.pop(1) == "forks"
code = cli.main(sys.argv[1:])
sys.stdout.flush()
sys.stderr.write(f"TAKEN {taken} COUNTED {counted}\\n")
sys.stderr.flush()
os._exit(code)
"""

needs_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2,
    reason="the child parses ahead only on Linux with two CPUs or more",
)


def _command(*argv: str, forks: bool = True, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-c", _DRIVER, "forks" if forks else "no", "scan", *argv],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def _alike(*argv: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """The command with its children and without: the same exit code, output and errors; what it gave."""
    code, out, err = _command(*argv, stdin=stdin)
    alone = _command(*argv, forks=False, stdin=stdin)
    assert b"True" not in alone[2].rsplit(b"TAKEN", 1)[1]  # no child, whatever was asked
    assert (code, out) == alone[:2]
    assert err.rsplit(b"TAKEN", 1)[0] == alone[2].rsplit(b"TAKEN", 1)[0]
    return code, out, err


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
def test_the_command_reports_alike_with_its_children(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    share = _ahead.child_files(files.files_of([str(tree)]))
    assert str(tree / "zz-broken.yaml") in share
    assert str(tree / "a-large.yaml") not in share  # the parent parses some files too
    code, _, err = _alike(str(tree), "-f", "json", "--max-file-size", "2")
    assert err.endswith(b"TAKEN [True] COUNTED [True]\n")
    assert code == 2  # the input errors are reported, each once
    for name in (b"m010-broken.yaml", b"zz-broken.yaml", b"m040-binary.yaml", b"a-large.yaml"):
        assert err.count(name) == 1
    # --jobs 1: no child parses; the text report counts no attack paths
    assert _alike(str(tree), "--jobs", "1", "-f", "json")[2].endswith(b"TAKEN [False] COUNTED [True]\n")
    assert _alike(str(tree), "--max-file-size", "2")[2].endswith(b"TAKEN [True] COUNTED []\n")


@needs_two_cpus
def test_the_real_corpus_reports_alike_with_its_children() -> None:
    corpus = str(require_shared() / "corpus" / "real")
    assert _alike(corpus, "-f", "json")[2].endswith(b"TAKEN [True] COUNTED [True]\n")


@needs_two_cpus
def test_stdin_is_read_by_the_parent_in_its_place(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    _, out, err = _alike("-", str(tree), "-f", "json", stdin=(tree / "m000.yaml").read_bytes())
    assert err.endswith(b"TAKEN [True] COUNTED [True]\n")
    assert b"<stdin>" in out


@needs_two_cpus
def test_errors_of_an_engine_only_the_count_builds_are_reported_alike(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: shop}\n"
        "spec:\n  podSelector: {}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n---\n"
        + POD.format(name="web", pad="")
    )
    # Only the count builds the network engine here (no network rule runs): its input error must be told.
    code, _, err = _alike(str(tmp_path), "--rule", "pod.privileged", "-f", "json")
    assert err.endswith(b"TAKEN [False] COUNTED [True]\n")  # under 1 MiB: no child parses
    assert code == 2
    assert b"'10.0.0.0/33' is not a CIDR" in err


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


def _child(wrote: bytes, fails: bool) -> Child:
    """A child that wrote ``wrote``, then failed or ended well."""

    def work(out: IO[bytes]) -> None:
        out.write(wrote)
        if fails:
            raise RuntimeError

    return Child(work)


def test_files_the_child_did_not_give_are_parsed_by_the_parent(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    share = [str(tree / name) for name in ("m001.yaml", "zz-broken.yaml", "m040-binary.yaml")]
    expected = _parsed(files.parse_file(path, 1 << 20) for path in share)
    assert expected[1][1] is not None  # documents, then an error
    assert expected[2][0] is None  # no documents: not YAML
    first = pickle.dumps(share) + pickle.dumps(([], None))
    for wrote, fails in [
        (b"", True),
        (b"not a pickle", False),
        (pickle.dumps([*share, "another.yaml"]), False),  # walked other files
        (first, False),  # ended after the first file: its (here empty) documents, then the rest from here
    ]:
        got = _parsed(_ahead._results(_ahead._Started(((), 1 << 20), _child(wrote, fails)), share))
        if wrote is first:
            assert got == [([], None), *expected[1:]]
        else:
            assert got == expected, wrote[:20]


def test_a_count_whose_child_failed_is_made_by_the_parent() -> None:
    insecure = str(EXAMPLES / "insecure")
    report = scan([insecure], ScanOptions(attack_paths=True))
    context = ScanContext(
        Inventory(collect([insecure], ScanOptions()).objects), frozenset("M"), whole_pods=True
    )
    expected = on_paths(context, report.findings)
    assert expected
    for wrote, fails in [(b"", True), (b"not a pickle", False)]:
        counting = Counting.__new__(Counting)
        counting._child = _child(wrote, fails)
        assert counting.counts(context, report.findings) == expected


def test_the_command_forks_only_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading  # noqa: PLC0415

    monkeypatch.setattr(_fork, "enabled", False)
    assert not _fork.can_fork()  # a program that imports kharden
    monkeypatch.setattr(_fork, "enabled", True)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert not _fork.can_fork()  # one CPU
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert _fork.can_fork() == (sys.platform.startswith("linux") and threading.active_count() == 1)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not _fork.can_fork()  # a thread beside this one
    finally:
        stop.set()
        thread.join()


def test_no_thread_parses_ahead_beside_the_childs_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parent and child each keep a CPU busy: a thread parsing ahead in either only takes a CPU from the other.
    tree = _tree(tmp_path)
    monkeypatch.setattr(_ahead, "can_fork", lambda: True)  # (other tests may have left threads running)
    monkeypatch.setattr(_yaml, "_ahead_allowed", True)
    _ahead.discard()
    alone = Collected()
    files.read_paths([str(tree)], alone, files.FileOptions(max_file_bytes=2 << 20))
    assert _yaml._ahead_allowed is True
    _ahead.start([str(tree)], 2 << 20)
    assert _ahead._started
    beside = Collected()
    files.read_paths([str(tree)], beside, files.FileOptions(max_file_bytes=2 << 20))
    assert _yaml._ahead_allowed is False
    assert [o.ref for o in beside.objects] == [o.ref for o in alone.objects]
    assert [str(e) for e in beside.errors] == [str(e) for e in alone.errors]
