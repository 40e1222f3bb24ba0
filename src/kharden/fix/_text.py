"""Edit YAML and JSON text in place: splice the changes at the positions the parser reports.

The object before and after its fix are compared structurally (keys removed, keys added, scalars
replaced, items appended or removed); each difference becomes one replacement of a span of the
original text, found by composing the document again with libyaml, which keeps the start and end
of every node. Everything outside those spans (comments, key order, quoting, indentation,
document separators, Helm's ``# Source:`` lines) is left byte for byte. New keys follow the
file's own layout: the indentation of their siblings, block sequences indented as the
document's are, flow style inside flow collections, JSON in JSON.

``bench/fix_textkeep.py`` measures this against ruamel.yaml's round trip on the real corpus.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .. import _pointer

__all__ = ["SpliceError", "Splicer"]


class SpliceError(Exception):
    """The change cannot be written in place (an alias, a node kharden does not know how to edit)."""


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    text: str
    line: int
    """0-based line of the original text the replacement starts on (for the diff's notes)."""


_PLAIN = re.compile(r"^[A-Za-z0-9_/.][A-Za-z0-9_./:@+-]*$")


def _scalar(value: Any, json_mode: bool, style: str | None = None) -> str:
    """A scalar as YAML (plain when it reads back as the same string) or JSON; ``style`` is the quoting
    of the value it replaces, kept for a string."""
    if json_mode or value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    text = str(value)
    if style == "'" and "\n" not in text:
        return "'" + text.replace("'", "''") + "'"
    if style != '"' and _PLAIN.match(text) and not text.endswith(":") and yaml.safe_load(text) == text:
        return text
    return json.dumps(text)


def _key(key: str, json_mode: bool) -> str:
    return json.dumps(key) if json_mode else _scalar(key, False)


def _flow(value: Any, json_mode: bool) -> str:
    """One-line flow YAML (or compact JSON)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k, json_mode)}: {_flow(v, json_mode)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v, json_mode) for v in value) + "]"
    return _scalar(value, json_mode)


class Splicer:
    """The text of one file, its composed documents, and the layout new keys should follow."""

    def __init__(self, text: str, *, json_mode: bool) -> None:
        self.text = text
        self.json_mode = json_mode
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        try:
            self.documents: list[Node] = list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError as e:  # pragma: no cover - the file parsed once already
            raise SpliceError("the file no longer parses") from e
        self.spans: list[_Span] = []
        self.crlf = "\r\n" in text
        self.step, self.sequence_offset = self._layout()

    # ------------------------------------------------------------------------------------- layout

    def _layout(self) -> tuple[int, int]:
        """The file's indentation step of nested mappings, and how far block sequence items are
        indented under their key (kubectl writes 0, most hand-written files 2)."""
        steps: list[int] = []
        offsets: list[int] = []
        stack = list(self.documents)
        while stack and len(steps) + len(offsets) < 200:
            node = stack.pop()
            if isinstance(node, MappingNode) and not node.flow_style:
                for key, value in node.value:
                    if isinstance(value, MappingNode) and not value.flow_style and value.value:
                        steps.append(value.value[0][0].start_mark.column - key.start_mark.column)
                    elif isinstance(value, SequenceNode) and not value.flow_style and value.value:
                        offsets.append(value.start_mark.column - key.start_mark.column)
                    stack.append(value)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        step = max(set(steps), key=steps.count) if steps else 2
        offset = max(set(offsets), key=offsets.count) if offsets else 2
        return (step if step > 0 else 2), max(offset, 0)

    # ------------------------------------------------------------------------------------- positions

    def _offset(self, mark: Any) -> int:
        return int(self.starts[mark.line] + mark.column)

    def _line_end(self, offset: int) -> int:
        """The offset of the line break ending the line of ``offset`` (or the end of the text)."""
        end = self.text.find("\n", offset)
        if end < 0:
            return len(self.text)
        return end - 1 if end > 0 and self.text[end - 1] == "\r" else end

    def _content_end(self, node: Node) -> int:
        """Where a node's own text ends (block collections end at the next token, after comments)."""
        if isinstance(node, ScalarNode):
            end = self._offset(node.end_mark)
            if node.style in {"|", ">"}:
                while end > 0 and self.text[end - 1] in "\r\n":
                    end -= 1
            return end
        if getattr(node, "flow_style", False) or not node.value:
            return self._offset(node.end_mark)
        last = node.value[-1]
        return self._content_end(last[1] if isinstance(node, MappingNode) else last)

    def _alone_on_line(self, offset: int) -> bool:
        line_start = self.text.rfind("\n", 0, offset) + 1
        return not self.text[line_start:offset].strip()

    # ------------------------------------------------------------------------------------- navigation

    def _find(self, document: int, pointer: str) -> Node:
        node = self.documents[document]
        for token in _pointer.split(pointer):
            node = self._child(node, token)
        return node

    def _child(self, node: Node, token: str) -> Node:
        if isinstance(node, MappingNode):
            for key, value in reversed(node.value):  # a repeated key: the last one counts
                if isinstance(key, ScalarNode) and key.value == token:
                    found: Node = value
                    return found
        elif isinstance(node, SequenceNode) and token.isdigit() and int(token) < len(node.value):
            item: Node = node.value[int(token)]
            return item
        raise SpliceError(f"no node at {token!r} (an alias or a merge key?)")

    def _entry(self, node: MappingNode, key: str) -> int:
        for index in range(len(node.value) - 1, -1, -1):
            k = node.value[index][0]
            if isinstance(k, ScalarNode) and k.value == key:
                return index
        raise SpliceError(f"no key {key!r}")

    # ------------------------------------------------------------------------------------- edits

    def replace(self, document: int, pointer: str, value: Any) -> None:
        node = self._find(document, pointer)
        start, end = self._offset(node.start_mark), self._content_end(node)
        text = _flow(value, self.json_mode)
        if isinstance(node, ScalarNode) and not isinstance(value, dict | list) and start != end:
            text = _scalar(value, self.json_mode, node.style)
        parent_pointer, _, key = pointer.rpartition("/")
        parent = self._find(document, parent_pointer) if pointer else None
        if (
            isinstance(parent, MappingNode)
            and not parent.flow_style
            and (
                (not isinstance(node, ScalarNode) and not getattr(node, "flow_style", False)) or start == end
            )
        ):
            # A block value (or none, 'key:'): the flow value goes right after the key, on its line.
            key_node = parent.value[self._entry(parent, _pointer.split("/" + key)[0])][0]
            start, text = self._offset(key_node.end_mark), ": " + text
        self._add(start, end, text, node.start_mark.line)

    def remove_key(self, document: int, pointer: str) -> None:
        parent_pointer, key = pointer.rsplit("/", 1)
        key = _pointer.split("/" + key)[0]
        parent = self._find(document, parent_pointer)
        if not isinstance(parent, MappingNode):
            raise SpliceError("not a mapping")
        index = self._entry(parent, key)
        key_node, value_node = parent.value[index]
        start = self._offset(key_node.start_mark)
        if parent.flow_style:
            if index + 1 < len(parent.value):
                end = self._offset(parent.value[index + 1][0].start_mark)
            elif index > 0:
                start = self._content_end(parent.value[index - 1][1])
                end = self._content_end(value_node)
            else:
                start, end = self._offset(parent.start_mark) + 1, self._offset(parent.end_mark) - 1
            self._add(start, end, "", key_node.start_mark.line)
            return
        end = self._content_end(value_node)
        if self._alone_on_line(start):
            self._remove_lines(start, end, key_node.start_mark.line)
        elif index + 1 < len(parent.value):
            self._add(
                start, self._offset(parent.value[index + 1][0].start_mark), "", key_node.start_mark.line
            )
        else:
            # The only key of a '- key: value' item: the item becomes an empty mapping.
            self._add(start, end, "{}", key_node.start_mark.line)

    def add_key(self, document: int, pointer: str, key: str, value: Any) -> None:
        node = self._find(document, pointer)
        if not isinstance(node, MappingNode):
            raise SpliceError("not a mapping")
        line = node.start_mark.line
        if node.flow_style or not node.value:
            if not node.value:
                self._add(
                    self._offset(node.start_mark),
                    self._content_end(node),
                    _flow({key: value}, self.json_mode),
                    line,
                )
                return
            last_end = self._content_end(node.value[-1][1])
            first = node.value[0][0].start_mark
            last = node.value[-1][0].start_mark
            entry = f"{_flow({key: value}, self.json_mode)[1:-1]}"
            if last.line != node.start_mark.line or first.line != node.start_mark.line:
                self._add(last_end, last_end, ",\n" + " " * last.column + entry, last.line)
            else:
                self._add(last_end, last_end, ", " + entry, last.line)
            return
        indent = node.value[0][0].start_mark.column
        at = self._line_end(self._content_end(node.value[-1][1]))
        lines = self._block(key, value, indent)
        self._add(at, at, "\n" + "\n".join(lines), self._line_of(at))

    def append(self, document: int, pointer: str, values: list[Any]) -> None:
        node = self._find(document, pointer)
        if not isinstance(node, SequenceNode):
            raise SpliceError("not a sequence")
        line = node.start_mark.line
        if node.flow_style or not node.value:
            items = ", ".join(_flow(v, self.json_mode) for v in values)
            if not node.value:
                self._add(self._offset(node.start_mark), self._content_end(node), f"[{items}]", line)
                return
            last = node.value[-1]
            end = self._content_end(last)
            if last.start_mark.line != node.start_mark.line:
                self._add(end, end, ",\n" + " " * last.start_mark.column + items, last.start_mark.line)
            else:
                self._add(end, end, ", " + items, last.start_mark.line)
            return
        dash = node.start_mark.column
        at = self._line_end(self._content_end(node.value[-1]))
        lines: list[str] = []
        for value in values:
            lines += self._item(value, dash)
        self._add(at, at, "\n" + "\n".join(lines), self._line_of(at))

    def remove_items(self, document: int, pointer: str, indices: list[int]) -> None:
        node = self._find(document, pointer)
        if not isinstance(node, SequenceNode):
            raise SpliceError("not a sequence")
        for index in indices:
            item = node.value[index]
            start, end = self._offset(item.start_mark), self._content_end(item)
            if node.flow_style:
                if index + 1 < len(node.value):
                    end = self._offset(node.value[index + 1].start_mark)
                elif index > 0:
                    start = self._content_end(node.value[index - 1])
                self._add(start, end, "", item.start_mark.line)
                continue
            dash = self.text.rfind("-", 0, start)
            if dash < 0 or not self._alone_on_line(dash):
                raise SpliceError("a block sequence item not on its own lines")
            self._remove_lines(dash, end, item.start_mark.line)

    # ------------------------------------------------------------------------------------- rendering

    def _block(self, key: str, value: Any, indent: int) -> list[str]:
        pad = " " * indent
        name = json.dumps(key) if self.json_mode else _scalar(key, False)
        if isinstance(value, dict) and value:
            lines = [f"{pad}{name}:"]
            for k, v in value.items():
                lines += self._block(k, v, indent + self.step)
            return lines
        if isinstance(value, list) and value:
            lines = [f"{pad}{name}:"]
            for item in value:
                lines += self._item(item, indent + self.sequence_offset)
            return lines
        return [f"{pad}{name}: {_flow(value, self.json_mode)}"]

    def _item(self, value: Any, dash: int) -> list[str]:
        if isinstance(value, dict) and value:
            lines: list[str] = []
            for k, v in value.items():
                lines += self._block(k, v, dash + 2)
            first = lines[0]
            return [" " * dash + "- " + first[dash + 2 :], *lines[1:]]
        return [" " * dash + "- " + _flow(value, self.json_mode)]

    def _remove_lines(self, start: int, end: int, line: int) -> None:
        """Remove the whole lines from ``start`` to ``end`` with the line break before them (so that
        what is inserted at the end of the line above stays put)."""
        line_start = self.text.rfind("\n", 0, start) + 1
        line_end = self._line_end(end)
        # Comment lines inside what is removed stay: they are the author's notes, not the setting.
        notes = [
            text.rstrip("\r")
            for text in self.text[line_start:line_end].split("\n")
            if text.lstrip().startswith("#")
        ]
        if line_start > 0:
            self._add(line_start - 1, line_end, "".join("\n" + n for n in notes), line)
        else:
            self._add(0, min(line_end + 1, len(self.text)), "".join(n + "\n" for n in notes), line)

    def _line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset)

    def _add(self, start: int, end: int, text: str, line: int) -> None:
        if self.crlf:
            text = text.replace("\n", "\r\n")
        self.spans.append(_Span(start, end, text, line))

    # ------------------------------------------------------------------------------------- result

    def result(self) -> tuple[str, list[int]]:
        """The edited text, and the original lines each span started on."""
        spans = sorted(self.spans, key=lambda s: (s.start, s.end))
        for before, after in itertools.pairwise(spans):
            if after.start < before.end:
                raise SpliceError("two changes overlap")
        out = self.text
        for span in reversed(spans):
            out = out[: span.start] + span.text + out[span.end :]
        return out, [s.line for s in spans]


# ------------------------------------------------------------------------------------------- diff


def changes(before: Any, after: Any, pointer: str = "") -> list[tuple[str, str, Any]]:
    """The structural differences of two objects as ``(op, pointer, value)``:
    ``replace``, ``remove``, ``add`` (pointer of the new key), ``append`` (values),
    ``remove-items`` (indices)."""
    if type(before) is dict and type(after) is dict and (before or not after):
        out: list[tuple[str, str, Any]] = []
        for key in before:
            if key not in after:
                out.append(("remove", _pointer.join(pointer, key), None))
        for key, value in after.items():
            if key not in before:
                out.append(("add", _pointer.join(pointer, key), value))
            elif not same(before[key], value):
                out += changes(before[key], value, _pointer.join(pointer, key))
        return out
    if type(before) is list and type(after) is list:
        if len(before) == len(after):
            out = []
            for index, (a, b) in enumerate(zip(before, after, strict=True)):
                if not same(a, b):
                    out += changes(a, b, _pointer.join(pointer, index))
            return out
        # Some items removed, then some appended: the usual shape of a fix of a list.
        for kept in range(len(after), -1, -1):
            removed = _removed(before, after[:kept])
            if removed is not None:
                ops: list[tuple[str, str, Any]] = [("remove-items", pointer, removed)] if removed else []
                return ops + ([("append", pointer, after[kept:])] if kept < len(after) else [])
    return [("replace", pointer, after)]


def _removed(before: list[Any], after: list[Any]) -> list[int] | None:
    """Indices of ``before`` whose removal leaves ``after``, if that is what happened."""
    removed, j = [], 0
    for i, item in enumerate(before):
        if j < len(after) and same(item, after[j]):
            j += 1
        else:
            removed.append(i)
    return removed if j == len(after) else None


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values (``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
