"""Fixes of a kustomization: a JSON 6902 patch per object in the kustomization, never an edit of a base.

The objects a kustomization renders come from its resources, bases and components, which other
overlays may share. So the fix of each object is written as a patch file in the kustomization
directory that was given (``kharden-fix/<kind>-<name>.yaml``) and added to its
``kustomization.yaml`` under ``patches:`` with a target; ``kubectl kustomize`` of the directory
then renders the fixed objects. Patches of a kustomization apply before its ``namePrefix`` and
``nameSuffix``, so the target names the object without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _pointer
from .._files import MAX_YAML_BYTES, first_document, read_limited
from ..errors import InputError
from ..model import ErrorRecord
from ..sources.files import find_kustomization
from ._text import SpliceError, Splicer, changes

if TYPE_CHECKING:
    from ._apply import FixResult
    from ._plan import ObjectPlan

__all__ = ["json_patch", "patch"]

PATCH_DIRECTORY = "kharden-fix"


def json_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations that turn ``before`` into ``after`` (removals of list items last to first)."""
    ops: list[dict[str, Any]] = []
    for op, pointer, value in changes(dict(before), dict(after)):
        if op == "replace":
            ops.append({"op": "replace", "path": pointer, "value": value})
        elif op == "remove":
            ops.append({"op": "remove", "path": pointer})
        elif op == "add":
            ops.append({"op": "add", "path": pointer, "value": value})
        elif op == "append":
            ops += [{"op": "add", "path": pointer + "/-", "value": item} for item in value]
        else:
            ops += [
                {"op": "remove", "path": _pointer.join(pointer, index)}
                for index in sorted(value, reverse=True)
            ]
    return ops


def patch(plans_by_dir: dict[str, list[ObjectPlan]], result: FixResult, by: str = "kharden fix") -> None:
    """A JSON 6902 patch per object in the kustomization it was rendered from, listed in its ``patches:``
    (a patch written before is extended); ``by`` names the command in the patch's first line."""
    from ._apply import FileFix  # noqa: PLC0415 - a cycle otherwise

    for directory, plans in plans_by_dir.items():
        kustomization = find_kustomization(directory)
        if kustomization is None:  # pragma: no cover - it was rendered as one
            continue
        read = _read_kustomization(kustomization, result)
        if read is None:
            continue
        raw_text, text, loaded = read
        prefix, suffix = str(loaded.get("namePrefix") or ""), str(loaded.get("nameSuffix") or "")
        entries: list[dict[str, Any]] = []
        for plan in plans:
            ref = plan.obj.ref
            name = ref.name
            if prefix and name.startswith(prefix):
                name = name[len(prefix) :]
            if suffix and name.endswith(suffix):
                name = name[: -len(suffix)]
            file = f"{PATCH_DIRECTORY}/{ref.kind.lower()}-{name}.yaml"
            ops = json_patch(plan.obj.raw, plan.fixed)
            header = (
                f"# Written by {by}: {', '.join(sorted({c.rule for c in plan.changes}))}"
                f" on {ref.kind} {name}.\n"
            )
            target: dict[str, Any] = {"kind": ref.kind, "name": name}
            if ref.group:
                target["group"] = ref.group
            target["version"] = ref.api_version.rpartition("/")[2]
            existing = os.path.join(directory, file)
            result.fixed += len(plan.changes)
            lines = "".join(f"- {json.dumps(op)}\n" for op in ops)
            if any(isinstance(p, dict) and p.get("path") == file for p in loaded.get("patches") or ()):
                # Fixed before: the rendered object already went through that patch; more operations
                # at its end apply to what it made.
                previous = _read_text(existing, result)
                if previous is None:
                    continue
                old_bytes, old = previous
                result.files.append(
                    FileFix(existing, old, old + ("" if old.endswith("\n") else "\n") + lines, old_bytes)
                )
                continue
            result.files.append(FileFix(existing, "", header + lines, None, created=True))
            entries.append({"path": file, "target": target})
        if not entries:
            continue
        try:
            after = _add_patches(text, loaded, entries)
        except SpliceError as e:
            result.errors.append(ErrorRecord(kustomization, None, f"cannot add the patches ({e})"))
            continue
        result.files.append(FileFix(kustomization, text, after, raw_text))


def _read_kustomization(path: str, result: FixResult) -> tuple[bytes, str, dict[str, Any]] | None:
    """The kustomization's bytes, text and data (through the guarded loader: it is input too)."""
    read = _read_text(path, result)
    if read is None:
        return None
    try:
        loaded = first_document(read[0], path)
    except InputError as e:
        result.errors.append(ErrorRecord(e.file, e.line, e.message))
        return None
    if not isinstance(loaded, dict):
        result.errors.append(ErrorRecord(path, None, "the kustomization is not a mapping"))
        return None
    return read[0], read[1], loaded


def _read_text(path: str, result: FixResult) -> tuple[bytes, str] | None:
    """A file's bytes and text; why not, in ``result.errors``."""
    try:
        data = read_limited(path, MAX_YAML_BYTES, "the file")
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        result.errors.append(ErrorRecord(path, None, "not UTF-8 text"))
    except InputError as e:
        result.errors.append(ErrorRecord(e.file, e.line, e.message))
    return None


def _add_patches(text: str, loaded: Mapping[str, Any], entries: list[dict[str, Any]]) -> str:
    splicer = Splicer(text, json_mode=False)
    if isinstance(loaded.get("patches"), list) and loaded["patches"]:
        splicer.append(0, "/patches", entries)
    elif "patches" in loaded:
        splicer.replace(0, "/patches", entries)
    else:
        splicer.add_key(0, "", "patches", entries)
    after, _ = splicer.result()
    try:
        edited = first_document(after.encode("utf-8"), "<edited kustomization>")
    except InputError as e:
        raise SpliceError(e.message) from None
    patches = edited.get("patches") if isinstance(edited, dict) else None
    if not isinstance(patches, list) or patches[-len(entries) :] != entries:
        raise SpliceError("the edited kustomization would not list the patches")
    return after
