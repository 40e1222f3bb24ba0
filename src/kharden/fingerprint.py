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

__all__ = ["fingerprint", "stable_path"]


def stable_path(raw: Mapping[str, Any], pointer: str) -> str:
    """``/spec/containers/0/image`` becomes ``/spec/containers/[app]/image``."""
    node: Any = raw
    parts = []
    for token in _pointer.split(pointer):
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f"[{name}]" if isinstance(name, str) and name else token)
        else:
            node = node.get(token) if isinstance(node, dict) else None
            parts.append(_pointer.escape(token))
    return "/" + "/".join(parts) if parts else ""


def fingerprint(rule: str, ref: ObjRef, container: str | None, raw: Mapping[str, Any], pointer: str) -> str:
    key = "\0".join(
        (rule, ref.group, ref.kind, ref.namespace or "", ref.name, container or "", stable_path(raw, pointer))
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
