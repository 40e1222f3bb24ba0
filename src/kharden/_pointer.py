"""JSON pointers (RFC 6901) into plain dict/list Kubernetes objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["escape", "join", "split"]


def escape(token: str | int) -> str:
    """One reference token: ``~`` becomes ``~0`` and ``/`` becomes ``~1``."""
    text = str(token)
    if "~" in text or "/" in text:
        return text.replace("~", "~0").replace("/", "~1")
    return text


def join(base: str, *tokens: str | int) -> str:
    """``join("/spec", "containers", 0)`` is ``"/spec/containers/0"``."""
    return base + "".join("/" + escape(t) for t in tokens)


def split(pointer: str) -> list[str]:
    """The unescaped reference tokens of ``pointer`` (``""`` is the whole document)."""
    if not pointer:
        return []
    tokens = pointer[1:].split("/")
    if "~" not in pointer:
        return tokens
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def walk(root: Any, pointer: str) -> Iterator[tuple[Any, str | int]]:
    """Yield ``(container, key)`` for each step of ``pointer`` that exists in ``root``.

    Stops at the first token that does not exist, so the last pair yielded is the
    deepest existing field: what a finding about an unset field falls back to.
    """
    node = root
    for token in split(pointer):
        if isinstance(node, dict):
            if token not in node:
                return
            yield node, token
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                return
            index = int(token)
            yield node, index
            node = node[index]
        else:
            return
