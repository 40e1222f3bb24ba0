"""``kharden fix --write`` on a copy of the real corpus: idempotent, re-scans clean for what it fixed,
adds no finding, keeps every comment, and every changed object still validates and parses."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import require_shared
from fix.helpers import documents, fix, kubectl_parses, objects, schema_errors
from kharden.fix import write_fixes
from kharden.scan import ScanOptions, scan


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "real"
    shutil.copytree(require_shared() / "corpus" / "real", root)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def _scan(root: Path) -> tuple[Counter[tuple[str, str | None, str]], list[str]]:
    """Findings per rule, file and object, and the input errors (the corpus has a few objects of an
    apiVersion that never served their kind: the fix must leave those as they are)."""
    report = scan([str(root)], ScanOptions())
    return Counter((f.rule, f.location.file, str(f.object)) for f in report.findings), sorted(
        map(str, report.errors)
    )


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_corpus_round_trip(tmp_path: Path, unsafe: bool) -> None:
    root = _copy(tmp_path)
    originals = {
        path: path.read_text(encoding="utf-8")
        for path in root.rglob("*")
        if path.suffix in {".yaml", ".yml", ".json"}
    }
    before, errors = _scan(root)

    result = fix(([str(root)]), unsafe=unsafe)
    assert sorted(map(str, result.errors)) == errors
    assert write_fixes(result) == []
    changed = sorted(Path(f.path) for f in result.files if f.before != f.after)
    assert len(changed) > 100  # most workloads of the corpus lack some safe setting

    # Idempotent: a second run finds nothing more to change.
    again = fix([str(root)], unsafe=unsafe)
    assert [f.path for f in again.files if f.before != f.after] == []

    # Re-scan: every fixed finding is gone, and nothing fires that did not fire before.
    report = scan([str(root)], ScanOptions())
    assert sorted(map(str, report.errors)) == errors
    now = {(f.rule, f.location.file, str(f.object), f.message) for f in report.findings}
    left = [
        (file, str(ref), c.rule, c.message)
        for file, ref, c in result.changes
        if (c.rule, file, str(ref), c.message) in now
    ]
    assert left == []
    after = Counter((f.rule, f.location.file, str(f.object)) for f in report.findings)
    assert [key for key, count in after.items() if count > before[key]] == []

    for path in changed:
        text = path.read_text(encoding="utf-8")
        # Every comment line of the original is still there, as often as it was.
        comments = Counter(line for line in originals[path].splitlines() if line.lstrip().startswith("#"))
        kept = Counter(line for line in text.splitlines() if line.lstrip().startswith("#"))
        assert comments - kept == Counter(), path
        # Every changed object validates against its kind's OpenAPI schema when the original did.
        old = [o for d in yaml_documents(originals[path]) for o in objects(d)]
        new = [o for d in documents(path) for o in objects(d)]
        assert len(old) == len(new)
        for was, obj in zip(old, new, strict=True):
            if was != obj and schema_errors(was) == []:
                assert schema_errors(obj) == [], (path, obj.get("kind"), obj.get("metadata", {}).get("name"))
    # kubectl's parser reads every changed file (in batches of distinct objects).
    if shutil.which("kubectl"):
        assert kubectl_parses_all(changed, originals) == []


def yaml_documents(text: str) -> list[object]:
    import yaml  # noqa: PLC0415

    return [d for d in yaml.safe_load_all(text) if d is not None]


def kubectl_parses_all(files: list[Path], originals: dict[Path, str]) -> list[tuple[Path, str]]:
    """Files kubectl cannot read now although it read the original."""
    batches: list[tuple[list[Path], set[tuple[str, str, str]]]] = []
    for path in files:
        ids = {
            (
                str(o.get("kind")),
                str((o.get("metadata") or {}).get("namespace")),
                str((o.get("metadata") or {}).get("name")),
            )
            for d in documents(path)
            for o in objects(d)
        }
        for batch, seen in batches:
            if not ids & seen and len(batch) < 80:
                batch.append(path)
                seen.update(ids)
                break
        else:
            batches.append(([path], set(ids)))
    failed = []
    for batch, _ in batches:
        if kubectl_parses(batch) is None:
            continue
        for path in batch:
            error = kubectl_parses([path])
            if error is not None:
                original = path.with_name(path.name + ".orig")
                original.write_text(originals[path], encoding="utf-8")
                if kubectl_parses([original]) is None:
                    failed.append((path, error))
                original.unlink()
    return failed
