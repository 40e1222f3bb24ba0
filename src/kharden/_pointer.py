"""JSON pointers (RFC 6901) into plain dict/list Kubernetes objects."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

__all__ = ["Positions", "escape", "join", "split", "trace"]


class Positions(Protocol):
    """Where the keys or items of a container were written, by the container's ``id``."""

    def get(self, key: int, /) -> Sequence[int] | None: ...


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


def trace(root: Any, pointer: str, positions: Positions | None) -> tuple[int | None, str]:
    """One walk of ``pointer`` through ``root`` for what a finding needs of it.

    Returns the position (from ``positions``: per dict, one entry per key in the dict's order;
    per list, one per item; keyed by the container's ``id``) of the deepest field present, and
    the pointer with every list index replaced by the item's ``name`` where it has one
    (``/spec/containers/[app]/image``), which names the field however the list is ordered.
    """
    found: int | None = None
    node = root
    escaped = "~" not in pointer
    tokens = (pointer[1:].split("/") if escaped else split(pointer)) if pointer else []
    stable: list[str] = []
    present = True
    for token in tokens:
        if present and node.__class__ is dict and token in node:
            if positions is not None:
                entry = positions.get(id(node))
                if entry is not None:
                    index = list(node).index(token)
                    if index < len(entry):
                        found = entry[index]
            node = node[token]
            stable.append(token if escaped else escape(token))
        elif present and node.__class__ is list and token.isdigit() and int(token) < len(node):
            index = int(token)
            if positions is not None:
                entry = positions.get(id(node))
                if entry is not None and index < len(entry):
                    found = entry[index]
            items = node
            node = node[index]
            name = node.get("name") if node.__class__ is dict else None
            stable.append(_item_name(items, index, name) if name.__class__ is str and name else token)
        else:
            present = False
            stable.append(token if escaped else escape(token))
    return found, "/" + "/".join(stable) if stable else ""


def _item_name(items: list[Any], index: int, name: str) -> str:
    """``[name]`` for a list item, told apart from the items of the same name beside it: by kind and
    namespace (RBAC subjects: ``[ServiceAccount:shop/default]``), else by its rank among them."""
    same = [i for i, item in enumerate(items) if item.__class__ is dict and item.get("name") == name]
    if len(same) == 1:
        return f"[{name}]"
    item = items[index]
    qualified = _qualified(item, name)
    twins = [i for i in same if _qualified(items[i], name) == qualified]
    return f"[{qualified}]" if len(twins) == 1 else f"[{qualified}#{twins.index(index) + 1}]"


def _qualified(item: dict[str, Any], name: str) -> str:
    return f"{item.get('kind') or ''}:{item.get('namespace') or ''}/{name}"
