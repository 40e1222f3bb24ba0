"""Stable finding fingerprints: rule + object + field, never lines.

List indices in the field's pointer are replaced by the item's ``name`` where it has one
(containers, volumes, env vars, ports), so reordering containers or moving lines keeps a
finding's fingerprint, and baselines and SARIF dashboards keep tracking it.

Distinct problems never share a fingerprint:

- a rule that finds several problems on one field gives each hit a ``key``
  (:class:`~kharden.model.Hit`), which stands for the field;
- an object that has no name (a kubeconfig, an audit Policy read from a node) is told apart by
  its file, relative to its node root; when a scan reads several node roots, the objects read
  from them are told apart by their root too (see :func:`object_instances`);
- findings that still share a fingerprint are about copies of one object (the same Deployment in
  two files): the first keeps its fingerprint, each further one adds the file it is in
  (see :func:`tell_apart`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from hashlib import sha256
from typing import Any

from . import _pointer
from .model import Finding, Obj, ObjRef

__all__ = ["fingerprint", "fingerprint_of", "object_instances", "stable_path", "tell_apart"]


def stable_path(raw: Mapping[str, Any], pointer: str) -> str:
    """``/spec/containers/0/image`` becomes ``/spec/containers/[app]/image``."""
    return _pointer.trace(raw, pointer, None)[1]


def fingerprint(rule: str, ref: ObjRef, container: str | None, raw: Mapping[str, Any], pointer: str) -> str:
    return fingerprint_of(rule, ref, container, stable_path(raw, pointer))


def fingerprint_of(rule: str, ref: ObjRef, container: str | None, stable: str, instance: str = "") -> str:
    """The fingerprint from a pointer already made stable (see :meth:`kharden.model.Obj.trace`), or from
    a hit's key; ``instance`` tells apart objects of one reference (:func:`object_instances`)."""
    # "\0".join of rule, group, kind, namespace, name, container, stable (and instance), as one f-string
    key = (
        f"{rule}\0{ref.api_version.rpartition('/')[0]}\0{ref.kind}\0{ref.namespace or ''}\0{ref.name}\0"
        f"{container or ''}\0{stable}"
    )
    if instance:
        key = f"{key}\0{instance}"
    return sha256(key.encode("utf-8")).hexdigest()[:32]


def object_instances(objects: Iterable[Obj]) -> dict[Obj, str]:
    """What tells an object apart from the others of its reference, for the objects that need it.

    A nameless object is named by its file, relative to its node root (``etc/kubernetes/admin.conf``).
    When the objects come from several node roots, each node object adds its root. Objects missing from
    the answer need nothing: their fingerprints are rule, reference and field.
    """
    objects = list(objects)
    roots = {obj.origin.node for obj in objects if obj.origin.node is not None}
    instances: dict[Obj, str] = {}
    for obj in objects:
        origin = obj.origin
        own = _file_name(obj) if not obj.ref.name else ""
        if origin.node is not None and len(roots) > 1:
            own = f"{os.path.normpath(origin.node)}:{own}"
        if own:
            instances[obj] = own
    return instances


def tell_apart(findings: Sequence[Finding]) -> dict[int, str]:
    """New fingerprints for the findings (by index) that share one with an earlier finding.

    They are about copies of one object (the same Deployment in two files, or twice in one file):
    the first, in report order, keeps its fingerprint; each further one adds its file (and template),
    and its rank among the copies in that same file.
    """
    seen: set[str] = set()
    copies: dict[tuple[str, str], int] = {}
    changed: dict[int, str] = {}
    for index, finding in enumerate(findings):
        if finding.fingerprint not in seen:
            seen.add(finding.fingerprint)
            continue
        location = finding.location
        source = (location.file or "") + (f" ({location.template})" if location.template else "")
        rank = copies.get((finding.fingerprint, source), 0) + 1
        copies[(finding.fingerprint, source)] = rank
        suffix = f"@{source}" + (f"#{rank}" if rank > 1 else "")
        changed[index] = hashlib.sha256(f"{finding.fingerprint}\0{suffix}".encode()).hexdigest()[:32]
    return changed


def _file_name(obj: Obj) -> str:
    """The file of an object, relative to the node root it was read under."""
    origin = obj.origin
    if origin.node is not None and origin.file is not None:
        return os.path.relpath(origin.file, origin.node).replace(os.sep, "/")
    return origin.template or origin.file or ""
