"""Following a field of a rendered object into a file it came from (a resource, a patch, values).

A rendered object and the YAML a person wrote are walked side by side: keys by name, list
items by their merge key (``name``, ``mountPath``, ``containerPort``, ...) as a strategic
merge matches them, else by position. What the walk returns is how deep the written YAML
holds the field, the line and column of the deepest key it holds, and that key's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _pointer
from .._files import TooLargeError, read_bounded
from .._yaml import Document, iter_documents, unpack
from ..errors import InputError

__all__ = ["Step", "YamlText", "display", "follow", "same_value", "tokens_present"]

MAX_BYTES = 4 * 1024 * 1024
"""Files read to trace fields (patches, values, templates) larger than this are not traced."""

# The keys strategic merge patches match list items by (patchMergeKey in the Kubernetes API
# types), in the order they are tried; an item without any of them is matched by its index.
MERGE_KEYS = ("name", "mountPath", "devicePath", "containerPort", "port", "ip", "topologyKey")


def display(absolute: str) -> str:
    """Relative to the working directory when the file is below it, else absolute."""
    cwd = os.getcwd()
    if absolute.startswith(cwd + os.sep):
        return os.path.relpath(absolute, cwd)
    return absolute


@dataclass(frozen=True, slots=True)
class YamlText:
    """The YAML documents of a file, or of a YAML text written inside one (an inline patch).

    ``line_offset``/``column_offset`` place an inline text's positions in its file; they are
    ``None`` when the text could not be placed line for line (then every field is at ``line``).
    ``inline`` is the JSON pointer of the string that holds an inline text in its file.
    """

    file: str
    documents: list[Document]
    line_offset: int | None = 0
    column_offset: int = 0
    line: int | None = None
    inline: str | None = None

    def position(self, document: Document, container: Any, index: int | str) -> tuple[int, int] | None:
        """1-based (line, column) of a key of a dict or an item of a list of ``document``."""
        if self.line_offset is None:
            return (self.line, 1) if self.line is not None else None
        entry = document.positions.table.get(id(container))
        if entry is None:
            return None
        slot = index if isinstance(index, int) else list(container).index(index)
        if slot >= len(entry):
            return None
        found = unpack(entry[slot])
        if found is None:
            return None
        return found[0] + self.line_offset, found[1] + self.column_offset

    def start(self, document: Document) -> tuple[int, int] | None:
        if self.line_offset is None:
            return (self.line, 1) if self.line is not None else None
        return document.line + self.line_offset, document.column + self.column_offset


def load(path: str, shown: str | None = None) -> YamlText | None:
    """The documents of the YAML (or JSON) file at ``path``, named ``shown`` in findings (by
    default relative to the working directory); ``None`` if it cannot be read."""
    try:
        text = read_bounded(path, MAX_BYTES)
        return YamlText(shown or display(path), list(iter_documents(text, path)))
    except (OSError, InputError, TooLargeError):
        return None


def load_inline(
    file: str, file_lines: Sequence[str], text: str, after_line: int, inline: str
) -> YamlText | None:
    """The documents of ``text``, a YAML text written in ``file`` as a block scalar below line
    ``after_line`` (1-based, the line of its key). Its lines are placed in the file when every
    one of them is found there in order, one below the other; else all are at ``after_line``."""
    try:
        documents = list(iter_documents(text.encode("utf-8"), file))
    except InputError:
        return None
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return YamlText(file, documents, None, 0, after_line, inline)
    for start in range(after_line, min(after_line + 3, len(file_lines))):
        # ``start`` is the 0-based index of the file line that holds the text's first line.
        offset = start - first
        if offset < 0 or offset + len(lines) > len(file_lines) + 1:
            continue
        if all(
            not line.strip()
            or (offset + i < len(file_lines) and file_lines[offset + i].strip() == line.strip())
            for i, line in enumerate(lines)
        ):
            written = file_lines[start]
            indent = len(written) - len(written.lstrip()) - (len(lines[first]) - len(lines[first].lstrip()))
            return YamlText(file, documents, offset, indent, None, inline)
    return YamlText(file, documents, None, 0, after_line, inline)


@dataclass(frozen=True, slots=True)
class Step:
    """How deep a written YAML holds a field: tokens matched, position of the deepest, its value."""

    depth: int
    position: tuple[int, int] | None
    pointer: str
    value: Any


def follow(text: YamlText, document: Document, rendered: Any, written: Any, tokens: Sequence[str]) -> Step:
    """Walk ``tokens`` through ``rendered`` and ``written`` (the same object, as written) together."""
    depth = 0
    position: tuple[int, int] | None = None
    pointer = ""
    for token in tokens:
        if isinstance(rendered, Mapping) and isinstance(written, Mapping):
            if token not in rendered or token not in written:
                break
            position = text.position(document, written, token) or position
            rendered, written = rendered[token], written[token]
            pointer = _pointer.join(pointer, token)
        elif isinstance(rendered, list) and isinstance(written, list):
            if not token.isdigit() or int(token) >= len(rendered):
                break
            item = rendered[int(token)]
            index = _item(item, int(token), written)
            if index is None:
                break
            position = text.position(document, written, index) or position
            rendered, written = item, written[index]
            pointer = _pointer.join(pointer, index)
        else:
            break
        depth += 1
    return Step(depth, position, pointer, written)


def _item(item: Any, index: int, written: list[Any]) -> int | None:
    """The index in ``written`` of the list item that became ``item`` (at ``index`` once rendered)."""
    if isinstance(item, Mapping):
        for key in MERGE_KEYS:
            if key in item:
                value = item[key]
                for i, candidate in enumerate(written):
                    if isinstance(candidate, Mapping) and candidate.get(key) == value:
                        return i
                return None
        return index if index < len(written) and isinstance(written[index], Mapping) else None
    if index < len(written) and same_value(written[index], item):
        return index
    for i, candidate in enumerate(written):  # a merged list of scalars (finalizers, ...)
        if same_value(candidate, item):
            return i
    return None


def same_value(written: Any, rendered: Any, *, reference: bool = False) -> bool:
    """Whether a scalar as written is the rendered one. A ``reference`` to another object by name
    (``serviceAccountName``, ``configMapRef.name``) may have gained a prefix, a suffix or a hash."""
    if written.__class__ is not rendered.__class__:
        return False
    if written == rendered:
        return True
    return reference and isinstance(written, str) and bool(written) and written in rendered


def tokens_present(root: Any, pointer: str) -> list[str]:
    """The tokens of the deepest field of ``pointer`` that exists in ``root``."""
    tokens: list[str] = []
    for _, key in _pointer.walk(root, pointer):
        tokens.append(str(key))
    return tokens


def value_at(root: Any, tokens: Sequence[str]) -> Any:
    node = root
    for token in tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node
