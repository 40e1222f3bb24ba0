"""Where to edit a field of an object Helm rendered: the template line, or the values line.

A template is Go text, not YAML, but its lines are YAML lines with actions in them: the
indentation and the keys tell at which path of the rendered object each key line writes
(``spec.template.spec.containers[].securityContext.privileged``), once the lines that only hold
actions (``{{- if }}``, ``{{- with }}``, ``{{- end }}``) are set aside. ``include`` of a named
template is expanded with the helper's lines at the indentation its ``nindent`` gives, and
``toYaml`` of a values key (``toYaml .Values.securityContext``, or ``toYaml .`` inside ``with``)
writes that key's tree: its fields are found in the values files, the last one to set them
winning as Helm merges them (the chart's ``values.yaml``, then each ``--values`` file).

The place is given only when it is certain: exactly one key line at the field's path (list
items told apart by a literal ``name:``, literal values by the rendered value), or one
``toYaml`` whose values key holds the rendered value. A simple ``key: {{ .Values.x }}`` line
points at ``x`` in the values file that set it. Otherwise the tracer says it does not know
(``None``) and the report shows the template without a line, and the rendered line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _pointer
from .._yaml import iter_documents
from ..errors import InputError
from ..model import EditSite, EditTracer
from . import _fields
from ._fields import YamlText

__all__ = ["HelmTracing"]

_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.DOTALL)
_KEYWORD = re.compile(r"\s*(/\*|[a-z]+)")
_CONTROL = frozenset({"if", "else", "with", "range", "define", "block", "end"})
_OPENS = frozenset({"if", "with", "range", "define", "block"})
_COLON = re.compile(r":(?:[ \t]|$)")
_DOUBLE_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_INDENT = re.compile(r"\|\s*n?indent\s+(\d+)")
_VALUES_REF = re.compile(r"^(\$?)\.(Values(?:\.[A-Za-z0-9_]+)*|[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*|)$")
_SIMPLE_FILTERS = frozenset(
    {"quote", "squote", "toString", "int", "int64", "float64", "toYaml", "lower", "upper"}
)
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
_INCLUDE = re.compile(r"""^(?:include|template)\s+"([^"]+)"\s*(\S*)""")
_ASSIGNMENT = re.compile(r"\s*\$\w*\s*:?=")
_WRITES_TREE = frozenset({"include", "template", "toYaml"})
_MAX_INCLUDE_DEPTH = 8
_MAX_LINE = 4096

_RANGE_ITEM = "\0item"
_Dot = tuple[str, ...] | None
"""What ``.`` is: a values path (``("Values", "image")``; inside ``range .Values.x``, an item
of it: ``("Values", "x", _RANGE_ITEM)``), ``()`` for the chart's root context, or ``None``
when unknown (a ``dict`` argument, a variable)."""


@dataclass
class _Item:
    """A list item of a template, with the literal ``name:`` it writes (to tell items apart)."""

    name: str | None = None


@dataclass(frozen=True)
class _Line:
    """A key line, or an action that writes a tree (``toYaml``, ``include``), at a path."""

    tokens: tuple[str, ...]
    file: str
    line: int
    column: int
    value: str
    items: tuple[_Item, ...]
    writes_tree: bool = False
    values_path: tuple[str, ...] | None = None


@dataclass
class _Frame:
    indent: int
    token: str
    item: _Item | None = None


@dataclass
class _Index:
    lines: list[_Line] = field(default_factory=list)


_Numbered = list[tuple[int, str]]
"""Lines of a template with their 1-based numbers."""


class HelmTracing:
    """The tracers of one chart render: templates, helpers and values read once, when asked."""

    def __init__(self, directory: str, values: Sequence[str], set_values: Sequence[str]) -> None:
        self.directory = directory
        self.set_paths = [_set_path(expression) for expression in set_values]
        self._values_files = [os.path.join(directory, "values.yaml"), *values]
        self._values: list[YamlText] | None = None
        self._defines: dict[str, tuple[str, _Numbered] | None] | None = None
        self._indexes: dict[str, _Index | None] = {}

    def tracer(self, template: str | None) -> EditTracer | None:
        if template is None:
            return None

        def trace(raw: Mapping[str, Any], pointer: str) -> EditSite | None:
            try:
                return self.site(template, raw, pointer)
            except Exception:  # noqa: BLE001 - tracing is best effort: a surprise means "not known"
                return None

        return trace

    # ---- reading ----

    def values(self) -> list[YamlText]:
        if self._values is None:
            loaded = [_fields.load(path, path) for path in self._values_files]
            self._values = [text for text in loaded if text is not None]
        return self._values

    def defines(self) -> dict[str, tuple[str, _Numbered] | None]:
        """Named templates of the chart and its unpacked subcharts: name -> (file, numbered lines);
        ``None`` for a name defined twice."""
        if self._defines is None:
            self._defines = {}
            for root, dirs, files in os.walk(self.directory):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                if os.path.basename(root) != "templates":
                    continue
                for name in sorted(files):
                    if name.endswith((".tpl", ".yaml", ".yml", ".txt")):
                        _collect_defines(os.path.join(root, name), self._defines)
        return self._defines

    def index(self, template: str) -> _Index | None:
        if template not in self._indexes:
            lines = _read_lines(template)
            found = None
            if lines is not None:
                found = _Index()
                numbered = list(enumerate(lines, 1))
                _Scanner(self, template, found, 0).scan(numbered)
            self._indexes[template] = found
        return self._indexes[template]

    # ---- tracing ----

    def site(self, template: str, raw: Mapping[str, Any], pointer: str) -> EditSite | None:
        """Where to edit the field at ``pointer`` of an object rendered from ``template``."""
        index = self.index(template)
        if index is None:
            return None
        tokens = _fields.tokens_present(raw, pointer)
        shape, names = _shape(raw, tokens)
        value = _fields.value_at(raw, tokens)
        scalar = not isinstance(value, (dict, list))
        follow_values = os.path.relpath(template, self.directory).split(os.sep)[0] != "charts"
        exact = [
            line
            for line in index.lines
            if line.tokens == shape
            and not line.writes_tree
            and _same_items(line.items, names)
            and (not scalar or _literal_fits(line.value, value))
        ]
        if len(exact) > 1:
            # Names are unique in the lists Kubernetes merges by name (containers, volumes, env):
            # the item whose literal name is the field's beats items whose name an action writes.
            named = [line for line in exact if line.items and all(i.name is not None for i in line.items)]
            exact = named if len(named) == 1 else exact
        if len(exact) > 1:
            return None
        if exact:
            line = exact[0]
            path = line.values_path
            if path is None and not scalar:
                # key: then {{ toYaml .Values.x | nindent }} below it, and nothing else (a helper's
                # labels beside values' podLabels): the key is values' x.
                below = [t for t in index.lines if t.tokens[: len(shape)] == shape and t is not line]
                only = len(below) == 1 and below[0].writes_tree and below[0].tokens == shape
                path = below[0].values_path if only else None
            if path is not None and follow_values:
                found = self._values_site(path, [], value, scalar, names)
                if found is not None:
                    return found
            return _template_site(line)
        # A tree that toYaml, a helper or a flow collection writes at a parent of the field.
        trees = [
            line
            for line in index.lines
            if line.writes_tree
            and len(line.tokens) < len(shape)
            and shape[: len(line.tokens)] == line.tokens
            and _same_items(line.items, names)
        ]
        if len(trees) != 1:
            return None
        line = trees[0]
        if line.values_path is not None and follow_values:
            found = self._values_site(line.values_path, tokens[len(line.tokens) :], value, scalar, names)
            if found is not None:
                return found
        return _template_site(line)

    def _values_site(
        self, path: tuple[str, ...], rest: list[str], value: Any, scalar: bool, names: tuple[str | None, ...]
    ) -> EditSite | None:
        """The values file line that sets ``path`` + ``rest`` to the rendered ``value``. The item
        of a ``range`` is the one whose ``name`` is the name of a list item on the field's way."""
        full = [*path[1:], *rest]  # without the leading "Values"
        if any(_overlaps(set_path, full) for set_path in self.set_paths):
            return None  # a --set expression may have written it: no file holds it
        for text in reversed(self.values()):
            if not text.documents:
                continue
            document = text.documents[0]
            node: Any = document.data
            position = None
            pointer: list[str | int] = []
            for token in full:
                if token == _RANGE_ITEM and isinstance(node, list):
                    which = [
                        i
                        for i, item in enumerate(node)
                        if isinstance(item, dict) and item.get("name") in names
                    ]
                    if len(which) != 1:
                        return None
                    token = str(which[0])  # noqa: PLW2901 - the range item, found
                if isinstance(node, dict) and token in node:
                    position = text.position(document, node, token)
                    node = node[token]
                elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    position = text.position(document, node, int(token))
                    node = node[int(token)]
                else:
                    node = _MISSING
                    break
                pointer.append(token)
            if node is _MISSING or position is None:
                continue
            if scalar and not _renders_as(node, value):
                return None  # the values say otherwise: the template changed the value
            line, column = position
            return EditSite(text.file, line, column, "values", 0, _pointer.join("", *pointer))
        return None


_MISSING = object()


def _template_site(line: _Line) -> EditSite:
    return EditSite(line.file, line.line, line.column, "template")


def _read_lines(path: str) -> list[str] | None:
    try:
        if os.path.getsize(path) > _fields.MAX_BYTES:
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().split("\n")
    except OSError:
        return None


def _collect_defines(path: str, into: dict[str, tuple[str, _Numbered] | None]) -> None:
    """The bodies of the ``define`` blocks of a template file, line by line."""
    lines = _read_lines(path)
    if lines is None:
        return
    file = path
    depth = 0
    name: str | None = None
    body: _Numbered = []
    for number, text in enumerate(lines, 1):
        opened_here = False
        for action in _ACTION.finditer(text):
            keyword = _keyword(action.group(1))
            if keyword == "define" and depth == 0:
                found = re.search(r'"([^"]+)"', action.group(1))
                name, body, opened_here = (found.group(1) if found else None), [], True
                depth = 1
            elif keyword in _OPENS:
                depth += 1
            elif keyword == "end":
                depth -= 1
                if depth == 0 and name is not None:
                    head = text[: action.start()]
                    if head.strip() and not opened_here:
                        body.append((number, head))
                    # Helm keeps one of two same-named templates by load order: not a certain one.
                    into[name] = None if name in into else (file, body)
                    name = None
                    opened_here = True  # this line is done
        if name is not None and not opened_here:
            body.append((number, text))


def _keyword(action: str) -> str | None:
    found = _KEYWORD.match(action)
    return found.group(1) if found is not None else None


class _Scanner:
    """Indexes the key lines of a template, or of a helper's body included at a path."""

    def __init__(
        self,
        tracing: HelmTracing,
        file: str,
        into: _Index,
        depth: int,
        prefix: tuple[str, ...] = (),
        prefix_items: tuple[_Item, ...] = (),
        root: _Dot = (),
    ) -> None:
        self.tracing, self.file, self.into, self.depth = tracing, file, into, depth
        self.prefix, self.prefix_items, self.root = prefix, prefix_items, root
        self.stack: list[_Frame] = []
        self.blocks: list[_Dot | str] = []  # per open block: the dot it sets (with, range), or "keep"

    def scan(self, numbered: _Numbered) -> None:
        block_indent: int | None = None
        for number, text in numbered:
            if block_indent is not None:
                if not text.strip() or len(text) - len(text.lstrip()) > block_indent:
                    continue  # inside a block scalar (|, >): text, not keys
                block_indent = None
            content = self._controls(text)
            rest = content.strip()
            if not rest or rest.startswith("#"):
                continue
            column = len(content) - len(content.lstrip())
            alone = _ACTION.fullmatch(rest)
            if alone is not None:
                # An action alone on its line: toYaml of values or a helper's lines write a tree
                # there; what else it prints is not known, and changes nothing of the nesting.
                if not _writes_tree(alone.group(1)):
                    continue
                written = _INDENT.search(alone.group(1))
                at = int(written.group(1)) if written is not None else column
                _pop(self.stack, at, item=False)
                tokens, items = self._path()
                self.tree(number, at + 1, alone.group(1), tokens, items, self._dot())
                continue
            column, rest = self._items(number, column, rest)
            found = _key_match(rest)
            if found is not None and self._key(number, column, found):
                block_indent = column

    def _dot(self) -> _Dot:
        for entry in reversed(self.blocks):
            if entry != "keep":
                return None if isinstance(entry, str) else entry
        return self.root

    def _path(self, *more: str) -> tuple[tuple[str, ...], tuple[_Item, ...]]:
        tokens = self.prefix + tuple(f.token for f in self.stack) + more
        return tokens, self.prefix_items + tuple(f.item for f in self.stack if f.item is not None)

    def _controls(self, text: str) -> str:
        """Open and close the blocks of the line's control actions; the line without them."""
        content = text
        for action in _ACTION.finditer(text):
            keyword = _keyword(action.group(1))
            if keyword not in _CONTROL and keyword != "/*" and not _ASSIGNMENT.match(action.group(1)):
                continue
            content = content.replace(action.group(0), "", 1)
            if keyword in ("with", "range"):
                expression = action.group(1).strip()[len(keyword) :].strip()
                dot = _resolve(expression, self._dot())
                if keyword == "range" and dot is not None:
                    dot = (*dot, _RANGE_ITEM)  # ``.`` is one item of the list
                self.blocks.append(dot)
            elif keyword in _OPENS:
                self.blocks.append("keep")
            elif keyword == "end" and self.blocks:
                self.blocks.pop()
        return content

    def _items(self, number: int, column: int, rest: str) -> tuple[int, str]:
        """The list items a line opens (``- ``, possibly nested); the column and text after them."""
        while rest.startswith("-") and (len(rest) == 1 or rest[1] in " \t"):
            _pop(self.stack, column, item=True)
            self.stack.append(_Frame(column, "[]", _Item()))
            after = rest[1:]
            column += 1 + len(after) - len(after.lstrip())
            rest = after.strip()
            tokens, items = self._path()
            if rest and not _key_match(rest):  # a scalar item: - NET_ADMIN
                self.into.lines.append(_Line(tokens, self.file, number, column + 1, rest, items))
                return column, ""
            # The item itself, at its first key (as kharden locates the items of any manifest).
            self.into.lines.append(_Line(tokens, self.file, number, column + 1, "", items))
        return column, rest

    def _key(self, number: int, column: int, found: tuple[str, str]) -> bool:
        """Index a key line; whether a block scalar (its text) follows."""
        key, value = _key_text(found[0]), found[1]
        if "{{" not in value and not value.startswith(("'", '"')):
            value = re.sub(r"\s+#.*$", "", value)
        _pop(self.stack, column, item=False)
        tokens, items = self._path(key)
        dot = self._dot()
        top = self.stack[-1] if self.stack else None
        if top is not None and top.item is not None and key == "name" and value and "{{" not in value:
            top.item.name = str(_scalar(value))
        action = _ACTION.fullmatch(value) if value.startswith("{{") else None
        if action is not None and (
            _INDENT.search(action.group(1)) or _first_word(action.group(1)) == "toYaml"
        ):
            # key: {{ toYaml .Values.x | nindent 8 }}: the key, and the tree below it.
            tree = self.tree(number, column + 1, action.group(1), tokens, items, dot)
            self.into.lines.append(_Line(tokens, self.file, number, column + 1, "", items, False, tree))
            self.stack.append(_Frame(column, key))
            return False
        reference = _reference(value, dot) if action is not None else None
        self.into.lines.append(_Line(tokens, self.file, number, column + 1, value, items, False, reference))
        if value.startswith(("{", "[")) and not value.startswith("{{"):
            # A flow collection: its fields are all on this line.
            self.into.lines.append(_Line(tokens, self.file, number, column + 1, value, items, True))
        elif not value:
            self.stack.append(_Frame(column, key))
        return bool(_BLOCK_SCALAR.match(value))

    def tree(
        self,
        number: int,
        column: int,
        action: str,
        tokens: tuple[str, ...],
        items: tuple[_Item, ...],
        dot: _Dot,
    ) -> tuple[str, ...] | None:
        """Index what an action writes below ``tokens``: a values tree, or a helper's key lines.
        Returns the values path of a tree of values."""
        pipeline = [part.strip() for part in action.strip().split("|")]
        include = _INCLUDE.match(pipeline[0])
        if include is not None:
            define = self.tracing.defines().get(include.group(1))
            if define is not None and self.depth < _MAX_INCLUDE_DEPTH:
                argument = include.group(2)
                inner: _Dot = dot if argument == "." else () if argument == "$" else None
                helper_file, body = define
                helper = _Scanner(self.tracing, helper_file, self.into, self.depth + 1, tokens, items, inner)
                helper.scan(body)
            return None
        words = pipeline[0].split()
        if len(words) == 2 and words[0] == "toYaml":
            source = words[1]
        elif len(words) == 1 and any(_first_word(p) == "toYaml" for p in pipeline[1:]):
            source = words[0]
        else:
            return None
        values_path = _resolve(source, dot)
        self.into.lines.append(_Line(tokens, self.file, number, column, action, items, True, values_path))
        return values_path


def _key_match(text: str) -> tuple[str, str] | None:
    """``(key, value)`` of a ``key: value`` line (the key as written, quoted or not), in one
    pass: no pattern here backtracks on a long line."""
    if not text or (text[0] in "#[]{}" and not text.startswith("{{")) or len(text) > _MAX_LINE:
        return None
    start = 0
    if text[0] == '"':
        quoted = _DOUBLE_QUOTED.match(text)
        start = quoted.end() if quoted is not None else -1
    elif text[0] == "'":
        start = text.find("'", 1) + 1
    elif text.startswith("{{"):
        start = text.find("}}") + 2
    if start <= 0 and text[0] in "\"'{":
        return None
    colon = _COLON.search(text, start)
    if colon is None:
        return None
    key = text[: colon.start()].rstrip()
    if not key or (text[0] not in "\"'" and (" #" in key or "\t#" in key)):
        return None
    return key, text[colon.end() :].strip()


def _pop(stack: list[_Frame], column: int, *, item: bool) -> None:
    """Leave the frames a line at ``column`` is not inside of. A list item may sit at its parent
    key's own column (``containers:`` then ``- name: x`` below it, not indented)."""
    while stack:
        top = stack[-1]
        if top.indent > column or (top.indent == column and (not item or top.item is not None)):
            stack.pop()
        else:
            break


def _writes_tree(action: str) -> bool:
    """``include``/``template`` of a helper, or ``toYaml`` anywhere in the pipeline."""
    parts = action.strip().split("|")
    return _first_word(parts[0]) in _WRITES_TREE or any(_first_word(p) == "toYaml" for p in parts[1:])


def _first_word(action: str) -> str:
    words = action.strip().split()
    return words[0] if words else ""


def _resolve(expression: str, dot: _Dot) -> tuple[str, ...] | None:
    """The values path an expression names (``.Values.a.b``, ``$.Values.a``, ``.b`` inside
    ``with .Values.a``); ``None`` when it is anything else."""
    found = _VALUES_REF.match(expression.strip())
    if found is None:
        return None
    rooted, path = found.group(1), found.group(2)
    tokens = tuple(t for t in path.split(".") if t)
    if rooted or dot == ():
        return tokens if tokens[:1] == ("Values",) else None
    if dot is None:
        return None
    full = dot + tokens
    return full if full[:1] == ("Values",) else None


def _reference(value: str, dot: _Dot) -> tuple[str, ...] | None:
    """The values path of ``{{ .Values.x }}`` with only formatting filters (quote, toString)."""
    found = _ACTION.fullmatch(value.strip())
    if found is None:
        return None
    parts = [part.strip() for part in found.group(1).strip().split("|")]
    if any(part not in _SIMPLE_FILTERS for part in parts[1:]):
        return None
    return _resolve(parts[0], dot)


def _key_text(key: str) -> str:
    if key.startswith(("'", '"')):
        return str(_scalar(key))
    if "{{" in key:
        return "\0template"  # a key written by an action: matches no field
    return key


def _scalar(text: str) -> Any:
    try:
        documents = list(iter_documents(text.encode("utf-8"), "<template>"))
    except InputError:
        return text
    return documents[0].data if documents else None


def _literal_fits(value: str, rendered: Any) -> bool:
    """A key line whose value is written literally fits only the rendered value it writes."""
    if not value or "{{" in value:
        return True
    return _fields.same_value(_scalar(value), rendered)


def _renders_as(written: Any, rendered: Any) -> bool:
    """Whether a values scalar is the rendered one, as Go's text/template prints it."""
    return _fields.same_value(written, rendered) or _go_text(written) == _go_text(rendered)


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _shape(raw: Mapping[str, Any], tokens: list[str]) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """The path as template lines write it (list items as ``[]``) and the names of its items."""
    shape: list[str] = []
    names: list[str | None] = []
    node: Any = raw
    for token in tokens:
        if isinstance(node, list):
            node = node[int(token)]
            shape.append("[]")
            name = node.get("name") if isinstance(node, dict) else None
            names.append(name if isinstance(name, str) else None)
        else:
            node = node[token]
            shape.append(token)
    return tuple(shape), tuple(names)


def _same_items(items: tuple[_Item, ...], names: tuple[str | None, ...]) -> bool:
    """A template line fits the field when the list items on its way have the field's names
    (an item whose name is written by an action fits any)."""
    return all(item.name is None or item.name == name for item, name in zip(items, names, strict=False))


def _set_path(expression: str) -> list[str]:
    key = expression.split("=", 1)[0]
    return [re.sub(r"\[\d+\]$", "", part) for part in re.split(r"(?<!\\)\.", key) if part]


def _overlaps(set_path: list[str], path: list[str]) -> bool:
    common = min(len(set_path), len(path))
    return set_path[:common] == path[:common]
