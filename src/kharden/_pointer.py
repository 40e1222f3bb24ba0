"""JSON pointers (RFC 6901) into plain dict/list Kubernetes objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

__all__ = ["Positions", "Walker", "escape", "join", "split", "trace", "trace_packed", "walk_packed"]

_c_trace_packed: Callable[..., tuple[int | None, str] | None] | None
try:
    from ._yamlc import trace_packed as _c_trace_packed
except ImportError:  # pragma: no cover - built wherever libyaml's headers are (setup.py)
    _c_trace_packed = None

SLOTS_SHIFT = 32
"""In a block header of :func:`trace_packed`'s layout, the bits above this hold the number of slots."""
_SIZE_MASK = (1 << SLOTS_SHIFT) - 1


class Positions(Protocol):
    """Where the keys or items of a container were written, by the container's ``id``."""

    def get(self, key: int, /) -> Sequence[int] | None: ...


class Walker:
    """Positions that walk a pointer themselves (``_yaml.Positions``: one array per document)."""

    __slots__ = ()

    def trace(self, root: Any, pointer: str) -> tuple[int | None, str]:
        """What :func:`trace` gives for ``root`` and ``pointer``."""
        raise NotImplementedError


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
            if not _is_index(token) or int(token) >= len(node):
                return
            index = int(token)
            yield node, index
            node = node[index]
        else:
            return


def _is_index(token: str) -> bool:
    """A list index as a pointer writes it: ASCII digits (``str.isdigit`` takes superscript two, which
    ``int`` does not, and the Arabic-Indic digits, which it reads)."""
    return token.isascii() and token.isdigit()


def trace(root: Any, pointer: str, positions: Positions | Walker | None) -> tuple[int | None, str]:
    """One walk of ``pointer`` through ``root`` for what a finding needs of it.

    Returns the position (from ``positions``: per dict, one entry per key in the dict's order;
    per list, one per item; keyed by the container's ``id``) of the deepest field present, and
    the pointer with every list index replaced by the item's ``name`` where it has one
    (``/spec/containers/[app]/image``), which names the field however the list is ordered.
    """
    if isinstance(positions, Walker):
        return positions.trace(root, pointer)
    found: int | None = None
    node = root
    escaped = "~" not in pointer
    tokens = split(pointer)
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
        elif present and node.__class__ is list and _is_index(token) and int(token) < len(node):
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


def trace_packed(root: Any, pointer: str, packed: Sequence[int], offset: int) -> tuple[int | None, str]:
    """:func:`walk_packed`, by the C reader's walk where it is built (every finding walks its pointer: 1.8 s
    of a scan of 100,000 documents in Python), which leaves what it does not do to :func:`walk_packed`."""
    if _c_trace_packed is not None:
        traced = _c_trace_packed(root, pointer, packed, offset, _item_name)
        if traced is not None:
            return traced
    return walk_packed(root, pointer, packed, offset)


def walk_packed(root: Any, pointer: str, packed: Sequence[int], offset: int) -> tuple[int | None, str]:
    """:func:`trace` with the positions of ``root`` and everything in it laid out in ``packed`` from
    ``offset`` on, in preorder: per container a header (the size of its block, which holds its
    descendants' blocks, and above :data:`SLOTS_SHIFT` the number of its own positions), its positions
    (per dict one per key in the dict's order, per list one per item), then its children's blocks.

    The same walk as :func:`trace`, in one frame: a child's block is found by skipping the blocks of
    the containers before it, with no lookup by ``id`` and no list built per step.
    """
    found: int | None = None
    node = root
    escaped = "~" not in pointer
    tokens = split(pointer)
    stable: list[str] = []
    present = True
    last = len(tokens) - 1
    for step, token in enumerate(tokens):
        if present and node.__class__ is dict and token in node:
            child = node[token]
            if offset >= 0:
                slots = packed[offset] >> SLOTS_SHIFT
                block = offset + 1 + slots  # the first child's block
                if step == last:  # the child's block is not needed: the position is all
                    index = list(node).index(token)
                else:
                    index = 0
                    for key, value in node.items():
                        if key == token:
                            break
                        if value.__class__ is dict or value.__class__ is list:
                            block += packed[block] & _SIZE_MASK
                        index += 1
                if index < slots:
                    found = packed[offset + 1 + index]
                    offset = block
                else:
                    offset = -1  # a key added after the document was read: nothing below it was
            node = child
            stable.append(token if escaped else escape(token))
        elif present and node.__class__ is list and _is_index(token) and int(token) < len(node):
            index = int(token)
            if offset >= 0:
                slots = packed[offset] >> SLOTS_SHIFT
                if index < slots:
                    found = packed[offset + 1 + index]
                    if step != last:  # a List's items are located one by one: no walk over the earlier
                        block = offset + 1 + slots
                        for value in node[:index]:
                            if value.__class__ is dict or value.__class__ is list:
                                block += packed[block] & _SIZE_MASK
                        offset = block
                else:
                    offset = -1
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
