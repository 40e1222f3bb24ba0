"""Objects read from files share their repeated parts (``_yamlc.Shared``, ``ScanOptions.share``): a scan
reports what it reports when each object has its own, line for line."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from conftest import require_shared
from kharden import _yaml
from kharden.report import render_pieces

_scan = importlib.import_module("kharden.scan")

needs_c = pytest.mark.skipif(_yaml._c_shared is None, reason="kharden._yamlc was not compiled")

POD = """apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: shop}}
spec:
  containers:
  - name: app
    image: nginx
    securityContext: {{privileged: true, capabilities: {{add: [SYS_ADMIN]}}}}
  - name: twin
    image: nginx
    securityContext: {{privileged: true, capabilities: {{add: [SYS_ADMIN]}}}}
"""


def _containers(objects: list[Any]) -> tuple[int, int]:
    """Containers held in all, and how many distinct objects they are."""
    seen: set[int] = set()
    count = 0
    stack = [obj.raw for obj in objects]
    while stack:
        node = stack.pop()
        if isinstance(node, dict | list):
            count += 1
            seen.add(id(node))
            stack.extend(node.values() if isinstance(node, dict) else node)
    return count, len(seen)


def _report(paths: list[str], share: bool) -> str:
    report = _scan.scan(paths, _scan.ScanOptions(share=share))
    return "".join(render_pieces("json", report))


@needs_c
def test_the_real_corpus_is_reported_alike_shared_or_not() -> None:
    corpus = [str(require_shared() / "corpus" / "real")]
    assert _report(corpus, True) == _report(corpus, False)
    shared = _scan.collect(corpus, _scan.ScanOptions())
    alone = _scan.collect(corpus, _scan.ScanOptions(share=False))
    assert [o.raw for o in shared.objects] == [o.raw for o in alone.objects]
    held, distinct = _containers(shared.objects)
    assert held == _containers(alone.objects)[0] == _containers(alone.objects)[1]
    assert distinct < held * 0.6  # the corpus repeats itself: most containers are another's
    assert shared.shared is None  # the table is dropped once the files are read


@needs_c
def test_shared_twins_are_located_each_where_it_is_written(tmp_path: Path) -> None:
    """Two pods alike but for their names, alone, in a List, in a typed List and in a List in a List: each
    finding is where its own field is written."""
    pods = [POD.format(name=f"p{i}") for i in range(2)]
    (tmp_path / "a.yaml").write_text("---\n".join(pods))
    items = "".join("- " + pod.replace("\n", "\n  ").rstrip() + "\n" for pod in pods)
    (tmp_path / "b.yaml").write_text(f"apiVersion: v1\nkind: List\nitems:\n{items}")
    typed = items.replace("  kind: Pod\n", "").replace("- apiVersion: v1\n  ", "- ")
    (tmp_path / "c.yaml").write_text(f"apiVersion: v1\nkind: PodList\nitems:\n{typed}")
    nested = "".join(
        "- " + line + "\n" if i == 0 else "  " + line + "\n"
        for i, line in enumerate(f"apiVersion: v1\nkind: List\nitems:\n{items}".splitlines())
    )
    (tmp_path / "d.yaml").write_text(f"apiVersion: v1\nkind: List\nitems:\n{nested}{nested}")
    shared = _scan.scan([str(tmp_path)], _scan.ScanOptions(share=True))
    alone = _scan.scan([str(tmp_path)], _scan.ScanOptions(share=False))
    assert not shared.errors
    assert shared.findings == alone.findings
    lines = {(f.location.file, f.location.line) for f in shared.findings if f.rule == "pod.privileged"}
    assert len(lines) == 2 * (2 + 2 + 2 + 4)  # two containers of each of the ten pods, each its own line
