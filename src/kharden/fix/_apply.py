"""Plan, show and write the fixes of some inputs (see the package docstring)."""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._yaml import iter_documents
from ..config import Config
from ..errors import InputError, UsageError
from ..model import ErrorRecord, Finding, Obj, ObjRef
from ..rules import Rule, select
from ..scan import acyclic_work, evaluate
from ..sources import helm as helm_source
from ..sources import kustomize as kustomize_source
from ..sources.documents import Collected
from ..sources.files import DEFAULT_MAX_FILE_BYTES, inputs, read_file
from ..sources.imagescan import read_image_report
from ._digests import read_digests
from ._plan import Change, ObjectPlan, Skipped, plan_object
from ._text import SpliceError, Splicer, changes, same

__all__ = ["FileFix", "FixOptions", "FixResult", "plan_fixes", "unified_diff", "write_fixes"]


@dataclass(frozen=True)
class FixOptions:
    rules: tuple[str, ...] = ()
    skip_rules: tuple[str, ...] = ()
    unsafe: bool = False
    """Also make the changes that may break the application."""
    config: Config | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    helm_values: tuple[str, ...] = ()
    helm_set: tuple[str, ...] = ()
    values_out: str | None = None
    """Where to write the Helm values that fix a chart's findings (``--values-out``)."""
    digests: tuple[str, ...] = ()
    """``--digests FILE``: image reference to digest, for pinning images."""
    image_reports: tuple[str, ...] = ()
    """Trivy or Grype reports: their repository digests pin the images they name."""


@dataclass
class FileFix:
    """One file's text before and after, the original bytes (to detect a change on disk), and notes
    per original line (why a change may break the application)."""

    path: str
    before: str
    after: str
    original: bytes | None
    notes: dict[int, list[str]] = field(default_factory=dict)
    created: bool = False


@dataclass
class FixResult:
    files: list[FileFix] = field(default_factory=list)
    skipped: list[tuple[ObjRef, Skipped]] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    """What kharden could not change itself, and where the user should (a Helm template)."""
    fixed: int = 0
    """Findings the changes fix."""
    changes: list[tuple[str, ObjRef, Change]] = field(default_factory=list)
    """Each change made: the file (or kustomization, or chart) it is written to, the object."""

    @property
    def changed(self) -> bool:
        return any(f.before != f.after for f in self.files)


@dataclass
class _Source:
    """Where an object was read: a document of a plain file, a kustomization or a chart."""

    kind: str  # "file" | "kustomize" | "helm"
    path: str
    document: int = 0
    pointer: str = ""


def plan_fixes(paths: Sequence[str], options: FixOptions | None = None) -> FixResult:
    """The changes that fix the selected rules' findings in ``paths``; nothing is written.

    Raises :class:`UsageError` for a rule glob that matches nothing or for ``-`` (stdin cannot be
    edited); input problems are recorded in ``FixResult.errors`` and those inputs are left alone.
    """
    options = options or FixOptions()
    config = options.config or Config()
    rules = select(list(options.rules or config.include), [*config.exclude, *options.skip_rules])
    fixable = [r for r in rules if r.remedies]
    if not fixable:
        raise UsageError("none of the selected rules has an automatic fix (see 'kharden rules', column FIX)")
    result = FixResult()
    with acyclic_work():
        read = _read_inputs(paths, options, "kharden fix")
        collected = read.collected
        for report_file in options.image_reports:
            read_image_report(report_file, collected, options.max_file_bytes)
        digests = read_digests(options.digests, collected.image_scans)
        policy = config.policy(rules)
        report = evaluate(collected, rules, policy)
        result.errors = list(report.errors)
        by_object = _findings_by_object(collected.objects, report.findings, fixable)
        plans = []
        for obj in collected.objects:
            found = by_object.get(id(obj))
            if found:
                plan = plan_object(obj, found, fixable, policy, unsafe=options.unsafe, digests=digests)
                result.skipped += [(obj.ref, s) for s in plan.skipped]
                if plan.changed:
                    plans.append(plan)
        _place(plans, read, result, "kharden fix")
        from . import helm  # noqa: PLC0415 - it imports this module's types

        helm.values(sources_of(plans, read.sources, "helm"), fixable, options, result)
    return result


def plan_edits(
    paths: Sequence[str],
    edit: Callable[[Obj], ObjectPlan | None],
    by: str,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> FixResult:
    """Changes another command decides, object by object (``edit`` returns the object's plan, or
    ``None`` to leave it), placed as ``kharden fix`` places its own: spliced into plain files, a JSON
    6902 patch per object in a kustomization. ``by`` names the command in the patches it writes.
    Objects a chart renders are left, each named in ``advice``. Nothing is written
    (:func:`write_fixes` does)."""
    result = FixResult()
    with acyclic_work():
        read = _read_inputs(paths, FixOptions(max_file_bytes=max_file_bytes), by)
        result.errors = [ErrorRecord(e.file, e.line, e.message) for e in read.collected.errors]
        plans = []
        for obj in read.collected.objects:
            plan = edit(obj)
            if plan is None or not plan.changed:
                continue
            source = read.sources.get(id(obj))
            if source is not None and source.kind == "helm":
                result.advice.append(
                    f"{obj.ref} is rendered by the chart {source.path}: {by} cannot edit its templates;"
                    f" {'; '.join(c.message for c in plan.changes)}"
                )
                continue
            plans.append(plan)
        _place(plans, read, result, by)
    return result


@dataclass
class _Read:
    collected: Collected
    sources: dict[int, _Source]
    texts: dict[str, tuple[bytes, str]]


def _read_inputs(paths: Sequence[str], options: FixOptions, by: str) -> _Read:
    """Every object of ``paths`` and where it was read (a document of a file, a kustomization, a
    chart), with the text of each file; input errors are recorded in the collection."""
    read = _Read(Collected(), {}, {})
    for kind, item in inputs(list(paths)):
        if kind == "stdin":
            raise UsageError(f"{by} edits files: give paths, not '-'")
        try:
            if kind == "error":
                raise item
            if kind == "file":
                _read_file(item, options, read.collected, read.sources, read.texts)
            else:
                before = len(read.collected.objects)
                if kind == "kustomize":
                    kustomize_source.read(item, read.collected)
                else:
                    helm_source.read(
                        item, read.collected, values=options.helm_values, set_values=options.helm_set
                    )
                for obj in read.collected.objects[before:]:
                    read.sources[id(obj)] = _Source(kind, item)
        except InputError as e:
            read.collected.error(e)
    return read


def _place(plans: list[ObjectPlan], read: _Read, result: FixResult, by: str) -> None:
    """Plain files edited in place, kustomizations patched."""
    _edit_files(plans, read.sources, read.texts, result)
    from . import kustomize  # noqa: PLC0415 - it imports this module's types

    kustomize.patch(sources_of(plans, read.sources, "kustomize"), result, by)


def sources_of(
    plans: list[ObjectPlan], sources: dict[int, _Source], kind: str
) -> dict[str, list[ObjectPlan]]:
    """The plans of objects rendered from each kustomization (or chart) directory."""
    grouped: dict[str, list[ObjectPlan]] = defaultdict(list)
    for plan in plans:
        source = sources.get(id(plan.obj))
        if source is not None and source.kind == kind:
            grouped[source.path].append(plan)
    return grouped


def _read_file(
    path: str,
    options: FixOptions,
    collected: Collected,
    sources: dict[int, _Source],
    texts: dict[str, tuple[bytes, str]],
) -> None:
    data = read_file(path, options.max_file_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    documents = list(iter_documents(data, path))  # an InputError leaves the file alone
    if text is not None:
        texts[path] = (data, text)
    for document in documents:
        before = len(collected.objects)
        collected.add_documents([document], path)
        for obj in collected.objects[before:]:
            sources[id(obj)] = _Source("file", path, document.index, _pointer_in(document.data, obj.raw))


def _pointer_in(data: Any, raw: Any) -> str:
    """Where ``raw`` is in its document: the document itself, or an item of a List (recursively)."""
    if data is raw:
        return ""
    items = data.get("items") if isinstance(data, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else ()):
        inner = _pointer_in(item, raw)
        if inner != "-":
            return f"/items/{index}{inner}"
    return "-"


def _findings_by_object(
    objects: list[Obj], findings: list[Finding], rules: list[Rule]
) -> dict[int, list[Finding]]:
    """Active findings of fixable rules, per object (by file and reference, as findings name them)."""
    wanted = {r.id for r in rules}
    index: dict[tuple[str | None, ObjRef], list[Obj]] = defaultdict(list)
    for obj in objects:
        index[(obj.origin.file, obj.ref)].append(obj)
    out: dict[int, list[Finding]] = defaultdict(list)
    for finding in findings:
        if finding.rule not in wanted or finding.suppressed is not None:
            continue
        location = finding.location
        # A rendered object's finding names the file a person edits; the object is the render's.
        file = location.rendered.file if location.rendered is not None else location.file
        owners = index.get((file, finding.object))
        if owners and len(owners) == 1:  # two objects of one name in one file: left alone
            out[id(owners[0])].append(finding)
    return out


def _edit_files(
    plans: list[ObjectPlan],
    sources: dict[int, _Source],
    texts: dict[str, tuple[bytes, str]],
    result: FixResult,
) -> None:
    by_file: dict[str, list[tuple[ObjectPlan, _Source]]] = defaultdict(list)
    for plan in plans:
        source = sources.get(id(plan.obj))
        if source is not None and source.kind == "file" and source.pointer != "-":
            by_file[source.path].append((plan, source))
    for path, members in by_file.items():
        if path not in texts:
            result.errors.append(ErrorRecord(path, None, "not UTF-8 text: not edited"))
            continue
        original, text = texts[path]
        try:
            after, placed = _splice(path, text, members)
        except SpliceError as e:
            result.errors.append(ErrorRecord(path, None, f"cannot edit in place ({e}): not changed"))
            continue
        notes: dict[int, list[str]] = defaultdict(list)
        for plan, source in members:
            result.fixed += len(plan.changes)
            result.changes += [(path, plan.obj.ref, change) for change in plan.changes]
            for change in plan.changes:
                if change.unsafe is None:
                    continue
                note = f"{change.rule}: {change.unsafe}"
                for edit in change.edits:
                    where = source.pointer + edit.path
                    for pointer, line in placed:
                        if (where.startswith(pointer) or pointer.startswith(where)) and note not in notes[
                            line
                        ]:
                            notes[line].append(note)
        result.files.append(FileFix(path, text, after, original, dict(notes)))


def _splice(
    path: str, text: str, members: list[tuple[ObjectPlan, _Source]]
) -> tuple[str, list[tuple[str, int]]]:
    """The edited text, and the pointer of each change with the original line (1-based) it is at."""
    body = text.removeprefix("\ufeff")
    splicer = Splicer(body, json_mode=path.endswith(".json"))
    placed: list[tuple[str, int]] = []
    for plan, source in members:
        for op, pointer, value in changes(dict(plan.obj.raw), plan.fixed):
            where = source.pointer + pointer
            count = len(splicer.spans)
            if op == "replace":
                splicer.replace(source.document, where, value)
            elif op == "remove":
                splicer.remove_key(source.document, where)
            elif op == "add":
                parent, _, key = where.rpartition("/")
                splicer.add_key(source.document, parent, _unescape(key), value)
            elif op == "append":
                splicer.append(source.document, where, value)
            else:
                splicer.remove_items(source.document, where, value)
            placed += [(where, span.line + 1) for span in splicer.spans[count:]]
    after, _ = splicer.result()
    _verify(path, after, members)
    return text[: len(text) - len(body)] + after, placed


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _verify(path: str, after: str, members: list[tuple[ObjectPlan, _Source]]) -> None:
    """The edited text must load as exactly the fixed objects: nothing less, nothing more."""
    try:
        documents = list(iter_documents(after.encode("utf-8"), path))
    except InputError as e:
        raise SpliceError(f"the edited text does not parse: {e.message}") from e
    for plan, source in members:
        if source.document >= len(documents):
            raise SpliceError("a document went missing")
        node: Any = documents[source.document].data
        for token in source.pointer.strip("/").split("/") if source.pointer else ():
            node = node[int(token)] if isinstance(node, list) else node[token]
        if not same(node, plan.fixed):
            raise SpliceError("the edited text would not read as the fixed object")


# ------------------------------------------------------------------------------------------- output

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")


def unified_diff(fix: FileFix) -> str:
    """The change of one file as a unified diff; a hunk whose change may break the application
    says why after its ``@@`` header."""
    old = fix.before.splitlines(keepends=True)
    new = fix.after.splitlines(keepends=True)
    # git's a/ and b/ prefixes for relative paths (patch -p1 applies them); absolute paths as they are.
    before, after = (fix.path, fix.path) if os.path.isabs(fix.path) else (f"a/{fix.path}", f"b/{fix.path}")
    lines = list(
        difflib.unified_diff([] if fix.created else old, new, "/dev/null" if fix.created else before, after)
    )
    hunks = [(i, _HUNK.match(line)) for i, line in enumerate(lines)]
    ranges = [(i, int(m.group(1)), int(m.group(2) or 1)) for i, m in hunks if m]
    for line_number, notes in sorted(fix.notes.items()):
        if not ranges:
            break
        # The hunk that holds the line, else the nearest one.
        best = min(ranges, key=lambda r: 0 if r[1] <= line_number < r[1] + r[2] else abs(r[1] - line_number))
        index = best[0]
        header = lines[index].rstrip("\n")
        extra = "; ".join(n for n in notes if n not in header)
        if extra:
            lines[index] = (
                f"{header} may break: {extra}\n" if "may break:" not in header else f"{header}; {extra}\n"
            )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def write_fixes(result: FixResult) -> list[ErrorRecord]:
    """Write every changed file atomically (a temporary file renamed over it), keeping its mode;
    a file whose bytes changed since they were read is not overwritten."""
    errors = []
    for fix in result.files:
        if fix.before == fix.after:
            continue
        try:
            _write_one(fix)
        except OSError as e:
            errors.append(ErrorRecord(fix.path, None, f"cannot write: {e.strerror}"))
        except InputError as e:
            errors.append(ErrorRecord(e.file, e.line, e.message))
    return errors


def _write_one(fix: FileFix) -> None:
    path = Path(fix.path)
    if fix.created:
        if path.exists():
            raise InputError("exists already: not overwritten", file=fix.path)
        mode = 0o644
    else:
        current = path.read_bytes()
        if current != fix.original:
            raise InputError("changed on disk since kharden read it: not overwritten", file=fix.path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".kharden")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(fix.after.encode("utf-8"))
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
