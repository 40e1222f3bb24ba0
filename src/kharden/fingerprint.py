"""Stable finding fingerprints: rule + object + field, never lines.

List indices in the field's pointer are replaced by the item's ``name`` where it has one
(containers, volumes, env vars, ports), so reordering containers or moving lines keeps a
finding's fingerprint, and baselines and SARIF dashboards keep tracking it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from . import _pointer
from .model import ObjRef

__all__ = ["fingerprint", "fingerprint_of", "stable_path"]


def stable_path(raw: Mapping[str, Any], pointer: str) -> str:
    """``/spec/containers/0/image`` becomes ``/spec/containers/[app]/image``."""
    return _pointer.trace(raw, pointer, None)[1]


def fingerprint(rule: str, ref: ObjRef, container: str | None, raw: Mapping[str, Any], pointer: str) -> str:
    return fingerprint_of(rule, ref, container, stable_path(raw, pointer))


def fingerprint_of(rule: str, ref: ObjRef, container: str | None, stable: str) -> str:
    """The fingerprint from a pointer already made stable (see :meth:`kharden.model.Obj.trace`)."""
    key = "\0".join((rule, ref.group, ref.kind, ref.namespace or "", ref.name, container or "", stable))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
