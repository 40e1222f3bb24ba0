"""Fast YAML loading with the line and column of every key and list item.

PyYAML's C parser (libyaml) composes one document at a time into nodes; this module
turns nodes into plain dicts, lists and scalars itself, because PyYAML's Python
constructor is the slow half of ``yaml.load`` and throws the marks away. Scalars are
typed like Kubernetes' YAML decoder (YAML 1.1 implicit types, keys made strings as
``sigs.k8s.io/yaml`` does when it converts YAML to JSON). Positions are kept in a side
table keyed by the identity of each dict and list, so the data stays plain.

Where ``kharden._yamlc`` is built (a C extension, optional), documents are read by it
instead, straight from libyaml's events, with no node objects: the same data and positions,
typed by this module's functions. It leaves to this module the first document that holds
anything but plain mappings, sequences and scalars (an anchor, a merge key, a repeated or
tagged key, a tag that does not read, an error), and this module reads the rest of the text.

Safety: libyaml refuses nesting deeper than 1000 levels; aliases are expanded by
reference (never copied) and a document whose aliases would expand past
``MAX_ALIAS_EXPANSION`` nodes or ``MAX_ALIAS_BYTES`` of scalar text (one long string
aliased thousands of times is as much a bomb as nested lists: every consumer of the data,
messages and reports, copies it), or that refers to itself, is an input error.
"""

from __future__ import annotations

import gc
import re
import sys
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from . import _pointer
from ._fork import cpus
from .errors import InputError

__all__ = ["MAX_ALIAS_BYTES", "MAX_ALIAS_EXPANSION", "Document", "Positions", "iter_documents", "new_shared"]

try:
    from yaml._yaml import CParser
except ImportError as e:  # pragma: no cover - every PyYAML wheel ships libyaml
    raise ImportError("kharden needs PyYAML built with libyaml (its C parser)") from e

try:
    from ._yamlc import Reader as _Reader
    from ._yamlc import Shared as _Shared

    _c_reader: type[_Reader] | None = _Reader
    _c_shared: type[_Shared] | None = _Shared
except ImportError:  # pragma: no cover - installed where it could not be compiled: the Python way
    _c_reader = None
    _c_shared = None

MAX_ALIAS_EXPANSION = 100_000
"""Most nodes that aliases of one document may stand for (billion-laughs guard)."""
MAX_ALIAS_BYTES = 16 * 1024 * 1024
"""Most characters of scalars (keys and values) that aliases of one document may stand for."""
_COUNTED_SCALAR = 64  # shorter scalars cannot amplify more than the '*a' that aliases them

_IMPLICIT = "!kharden/implicit"
_STR = "tag:yaml.org,2002:str"
_MERGE = "<<"
_LINE_SHIFT = 32
_COLUMN_MASK = (1 << _LINE_SHIFT) - 1
# An anchor is '&' then a name, after a space, a flow indicator or a line start; shell '&&' and
# URLs' 'a=1&b=2' are not anchors. No anchor, no alias: such text needs no alias bookkeeping.
# The literal first: a pattern that starts with a lookbehind is tried at every byte (40x slower).
_ANCHOR = re.compile(rb"&(?<![\w&]&)[^\s\[\]{},&]")
_SOURCE_COMMENT = re.compile(rb"^# Source: *(\S[^\r\n]*?) *\r?$", re.MULTILINE)

# Positions pack (line, column), both 0-based, into one int to keep the table small.
_Packed = int


_AHEAD_MIN_BYTES = 16 * 1024
"""Shorter texts are parsed without a thread ahead: they take a few tenths of a millisecond, about what
starting the thread costs."""
_ahead_allowed: bool | None = None
"""Whether the C reader may parse ahead in a thread (:func:`parse_ahead`); ``None``: not yet decided."""


def parse_ahead(allowed: bool) -> None:
    """Let the C reader parse each large text's events in a thread of its own, beside the one that builds
    the documents, or not. Allowed by default where this process may run on two CPUs or more; processes
    that already keep every CPU busy (``--jobs`` workers) turn it off."""
    global _ahead_allowed  # noqa: PLW0603 - one switch per process
    _ahead_allowed = allowed


def _parses_ahead(text: bytes) -> bool:
    global _ahead_allowed  # noqa: PLW0603 - decided once per process
    if len(text) < _AHEAD_MIN_BYTES:
        return False
    if _ahead_allowed is None:
        _ahead_allowed = cpus() >= 2
    return _ahead_allowed


def reads_in_c() -> bool:
    """Whether documents are read by the C reader, ``kharden._yamlc`` (else the Python way, slower)."""
    return _c_reader is not None


def new_shared() -> _Shared | None:
    """A table that gives the objects of one scan one container per repeated structure (``_yamlc.Shared``:
    half the memory of a large repository's objects, two thirds of the real corpus's), where the C reader
    is built; else ``None``."""
    return _c_shared() if _c_shared is not None else None


class _Parser(CParser):
    """libyaml's composer with tag resolution deferred to ``_plain``.

    The composer calls these hooks once per node; making them trivial saves a third
    of the parse time. A plain scalar keeps the marker tag ``_IMPLICIT``; quoted and
    block scalars are strings; explicit tags (``!!int 5``) are kept as written.
    """

    # The composer calls these two for every node; bound C methods that do nothing
    # cost a tenth of a Python method call.
    descend_resolver: Any = {}.get
    ascend_resolver: Any = {}.clear

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _IMPLICIT if implicit[0] else _STR
        return _IMPLICIT


_resolver = Resolver()
_constructor = SafeConstructor()
_plain_cache: dict[str, Any] = {}
_PLAIN_CACHE_MAX = 200_000
_AS_STRING_TAGS = frozenset({_STR, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"})


def _typed(tag: str, value: str) -> Any:
    """A scalar of a standard tag as Kubernetes sees it; timestamps stay strings (JSON has none)."""
    if tag in _AS_STRING_TAGS:
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    build = _constructor.yaml_constructors.get(tag)
    if build is None:  # a local tag such as !Ref: the value is the string as written
        return value
    return build(_constructor, ScalarNode(tag, value))


def _plain(value: str) -> Any:
    """Type a plain scalar by YAML 1.1 implicit rules (``yes`` is true, ``0x1f`` is 31, ...)."""
    tag: str = _resolver.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    typed = _typed(tag, value)
    if len(_plain_cache) < _PLAIN_CACHE_MAX:
        _plain_cache[value] = typed
    return typed


def _key_text(key: Any) -> str:
    """Keys become strings, as sigs.k8s.io/yaml writes them when it converts YAML to JSON."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


class Positions(_pointer.Walker):
    """Where each key and list item of one document was written.

    Per dict, the packed positions of its keys in the dict's order; per list, one per item. They are
    kept in one ``array`` for the whole document (a few bytes per field, where an array per container
    cost four kilobytes per document): the containers in preorder, each as a header (the size of its
    block, its own and its descendants' entries, headers included; and above :data:`_SLOTS_SHIFT`, the
    number of its own positions) followed by its own positions, so that a walk down a pointer skips a
    sibling's whole subtree in one step. The count is kept because a dict may gain keys after it was
    read (the items of a ``DeploymentList`` get their ``kind``), and those have no position. A document
    whose anchors and aliases share a container keeps the table by container (``id``) it was built with.
    """

    __slots__ = ("_inner", "_packed", "_root", "_table")

    def __init__(
        self, table: dict[int, array[int]] | None = None, root: Any = None, packed: array[int] | None = None
    ) -> None:
        self._table = table
        self._root = root
        self._packed = packed
        self._inner: dict[int, int] | None = None

    @classmethod
    def compact(cls, root: Any, table: dict[int, array[int]]) -> Positions:
        """The positions of ``table`` (per container of ``root``, by ``id``) in one array, when each container
        appears once in ``root`` with one position per key or item; else kept as the table."""
        packed: array[int] = array("Q")
        visited = [0]
        try:
            _pack(root, table, packed, visited)
        except _NotPackable:
            return cls(table)
        if visited[0] != len(table):
            return cls(table)  # a container shared (aliases): it has one table entry for several places
        return cls(root=root, packed=packed)

    @classmethod
    def of_list(cls, items: list[Any], marks: list[tuple[int, int]]) -> Positions:
        """Positions of a list built by hand (words of a text file): 1-based ``(line, column)`` each."""
        packed = array("Q", [((line - 1) << _LINE_SHIFT) | (column - 1) for line, column in marks])
        return cls({id(items): packed})

    def locate(self, root: Any, pointer: str) -> tuple[int, int] | None:
        """1-based (line, column) of the deepest field of ``pointer`` present in ``root``."""
        return unpack(_pointer.trace(root, pointer, self.lookup())[0])

    def laid_out(self) -> bool:
        """Whether these positions are walked down the structure of the document (one array), not looked up
        by the identity of its containers (a document with anchors)."""
        return self._table is None

    def lookup(self) -> Mapping[int, Sequence[int]] | Positions:
        """What ``_pointer.trace`` reads positions from: the table, or these positions, which walk the
        pointer down their own array."""
        return self._table if self._table is not None else self

    def trace(self, root: Any, pointer: str) -> tuple[int | None, str]:
        """``_pointer.trace`` of ``pointer`` from ``root``: the document's root or an object in it."""
        packed = cast("array[int]", self._packed)
        if root is self._root:
            return _pointer.trace_packed(root, pointer, packed, 0)
        # An item of a List: where its block starts, found once per document for the containers one or
        # two levels down (a List's items); anything deeper from the whole layout.
        if self._inner is None:
            self._inner = _inner_blocks(self._root, packed)
        offset = self._inner.get(id(root))
        if offset is not None:
            return _pointer.trace_packed(root, pointer, packed, offset)
        return _pointer.trace(root, pointer, self.table)

    @property
    def table(self) -> Mapping[int, Sequence[int]]:
        """Per container (by ``id``), the positions of its keys or items."""
        if self._table is not None:
            return self._table
        view = memoryview(cast("array[int]", self._packed))
        laid_out = {}
        offset = 0
        for container in _preorder(self._root):
            slots = view[offset] >> _SLOTS_SHIFT
            laid_out[id(container)] = view[offset + 1 : offset + 1 + slots]
            offset += 1 + slots
        return laid_out

    def _packed_bytes(self) -> bytes | None:
        return self._packed.tobytes() if self._packed is not None else None


_SLOTS_SHIFT = _pointer.SLOTS_SHIFT  # the layout _pointer.trace_packed walks
_SIZE_MASK = (1 << _SLOTS_SHIFT) - 1


def _inner_blocks(root: Any, packed: array[int]) -> dict[int, int]:
    """Where the blocks of the containers one and two levels below ``root`` start, by ``id``."""
    found: dict[int, int] = {}
    offset = 1 + (packed[0] >> _SLOTS_SHIFT)
    for child in _children(root):
        found[id(child)] = offset
        inner = offset + 1 + (packed[offset] >> _SLOTS_SHIFT)
        for grandchild in _children(child):
            found[id(grandchild)] = inner
            inner += packed[inner] & _SIZE_MASK
        offset += packed[offset] & _SIZE_MASK
    return found


class _NotPackable(Exception):  # noqa: N818 - a signal, caught in Positions.compact
    """A container without one position per key or item."""


def _pack(node: Any, table: dict[int, array[int]], packed: array[int], visited: list[int]) -> int:
    """Append the block of ``node`` (its header, its positions, its children's blocks) to ``packed``."""
    entry = table.get(id(node))
    if entry is None or len(entry) != len(node):
        raise _NotPackable
    visited[0] += 1
    header = len(packed)
    packed.append(0)
    packed.extend(entry)
    size = 1 + len(entry)
    for child in node.values() if node.__class__ is dict else node:
        if child.__class__ is dict or child.__class__ is list:
            size += _pack(child, table, packed, visited)
    packed[header] = size | (len(entry) << _SLOTS_SHIFT)
    return size


def _children(node: Any) -> list[Any]:
    """The dicts and lists directly in ``node``, in order."""
    values = node.values() if node.__class__ is dict else node if node.__class__ is list else ()
    return [v for v in values if v.__class__ is dict or v.__class__ is list]


def _preorder(root: Any) -> Iterator[Any]:
    """Every dict and list in ``root``, each before its children, children in order (no recursion:
    YAML nests 1,000 deep)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.__class__ is dict or node.__class__ is list:
            yield node
            stack += reversed(_children(node))


def unpack(packed: int | None) -> tuple[int, int] | None:
    """1-based (line, column) of a packed position."""
    if packed is None:
        return None
    return (packed >> _LINE_SHIFT) + 1, (packed & _COLUMN_MASK) + 1


def _key_index(mapping: dict[str, Any], key: str) -> int:
    """The position of ``key`` in the mapping's (insertion) order; the caller checked membership."""
    return list(mapping).index(key)


@dataclass(frozen=True, slots=True)
class Document:
    """One YAML document: its data, where it starts (1-based) and where its fields are."""

    data: Any
    index: int
    line: int
    column: int
    positions: Positions
    source_comment: str | None = None
    """The ``# Source: chart/templates/x.yaml`` comment Helm writes before the document."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Positions by container are keyed by the id() of each dict and list, which means nothing in
        # another process: send the containers in a list, which one pickle keeps the same objects as
        # those in ``data``, and their positions as one block of bytes (an array apiece pickles 4x
        # slower). Positions kept in one array need only the array.
        packed = self.positions._packed_bytes()
        if packed is not None:
            return _document, (
                self.data,
                self.index,
                self.line,
                self.column,
                None,
                packed,
                None,
                self.source_comment,
            )
        table = self.positions.table
        containers = [c for c in _containers(self.data) if id(c) in table]
        positions = [table[id(c)] for c in containers]
        packed = b"".join([bytes(p) for p in positions])
        sizes = array("L", [len(p) for p in positions]).tobytes()
        return _document, (
            self.data,
            self.index,
            self.line,
            self.column,
            containers,
            packed,
            sizes,
            self.source_comment,
        )


def _document(
    data: Any,
    index: int,
    line: int,
    column: int,
    containers: list[Any] | None,
    packed: bytes,
    sizes: bytes | None,
    source: str | None,
) -> Document:
    flat: array[int] = array("Q")
    flat.frombytes(packed)
    if containers is None or sizes is None:
        return Document(data, index, line, column, Positions(root=data, packed=flat), source)
    counts: array[int] = array("L")
    counts.frombytes(sizes)
    table: dict[int, array[int]] = {}
    start = 0
    for container, count in zip(containers, counts, strict=True):
        table[id(container)] = flat[start : start + count]
        start += count
    return Document(data, index, line, column, Positions(table), source)


def _containers(data: Any) -> Iterator[Any]:
    """Every dict and list in ``data`` (depth first, without recursion: YAML nests 1,000 deep)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if node.__class__ is dict:
            yield node
            stack.extend(v for v in node.values() if v.__class__ is dict or v.__class__ is list)
        elif node.__class__ is list:
            yield node
            stack.extend(v for v in node if v.__class__ is dict or v.__class__ is list)


class _Builder:
    """Turns one composed document into plain data plus its position table."""

    __slots__ = (
        "build",
        "built",
        "built_bytes",
        "expanded",
        "expanded_bytes",
        "file",
        "memo",
        "scalars",
        "table",
        "tracking",
    )

    def __init__(self, file: str, track_aliases: bool) -> None:
        self.file = file
        self.table: dict[int, array[int]] = {}
        self.memo: dict[int, tuple[Any, int, int] | None] = {}
        self.built = 0  # nodes built so far (collections and the scalars in them)
        self.expanded = 0  # nodes that alias uses stand for
        self.built_bytes = 0  # characters of the scalars built so far (with aliases tracked)
        self.expanded_bytes = 0  # characters of the scalars that alias uses stand for
        self.scalars: set[int] = set()  # the long scalar nodes met so far: met again is an alias
        # Only documents that may hold anchors pay for alias bookkeeping.
        self.tracking = track_aliases
        self.build: Callable[[Node], Any] = self._build_shared if track_aliases else self._build

    def _build_shared(self, node: Node) -> Any:
        if node.__class__ is ScalarNode:
            self._count_scalar(node)
            return self._build(node)
        key = id(node)
        if key in self.memo:
            seen = self.memo[key]
            if seen is None:
                raise self._error(node, "an alias refers to the node that contains it")
            value, size, characters = seen
            self.expanded += size
            self._expand(node, characters)
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise self._error(
                    node,
                    "aliases of the anchor on this line expand the document past"
                    f" {MAX_ALIAS_EXPANSION:,} nodes (a YAML alias bomb?)",
                )
            return value
        self.memo[key] = None
        built, expanded = self.built, self.expanded
        built_bytes, expanded_bytes = self.built_bytes, self.expanded_bytes
        value = self._build(node)
        # What a copy of this node would hold: what it built plus what its aliases stand for.
        self.memo[key] = (
            value,
            self.built - built + self.expanded - expanded,
            self.built_bytes - built_bytes + self.expanded_bytes - expanded_bytes,
        )
        return value

    def _count_scalar(self, node: ScalarNode) -> None:
        """Count a scalar's characters: once when first met, as an expansion when an alias meets it again."""
        size = len(node.value)
        if size < _COUNTED_SCALAR:
            self.built_bytes += size
            return
        key = id(node)
        if key in self.scalars:
            self._expand(node, size)
        else:
            self.scalars.add(key)
            self.built_bytes += size

    def _expand(self, node: Node, characters: int) -> None:
        self.expanded_bytes += characters
        if self.expanded_bytes > MAX_ALIAS_BYTES:
            raise self._error(
                node,
                "aliases of the anchor on this line expand the document past"
                f" {MAX_ALIAS_BYTES // 1048576} MiB of text (a YAML alias bomb?)",
            )

    def _build(self, node: Node) -> Any:
        cls = node.__class__
        if cls is ScalarNode:
            return self._scalar(cast("ScalarNode", node))
        table = self.table
        self.built += 1 + len(node.value)
        if cls is MappingNode:
            result: dict[str, Any] = {}
            positions: list[_Packed] = []
            merges: list[Node] = []
            cache = _plain_cache
            tracking = self.tracking
            for key_node, value_node in node.value:
                if key_node.__class__ is ScalarNode:
                    if tracking:
                        self._count_scalar(key_node)
                    key = key_node.value
                    if key_node.tag is _IMPLICIT and key_node.style == "":
                        if key == _MERGE:
                            merges.append(value_node)
                            continue
                        key = cache[key] if key in cache else _plain(key)
                        if key.__class__ is not str:
                            key = _key_text(key)
                    elif key_node.tag is not _IMPLICIT and key_node.tag is not _STR:
                        key = _key_text(_typed(key_node.tag, key))
                else:
                    raise self._error(key_node, "a mapping key must be a scalar")
                if value_node.__class__ is ScalarNode and not tracking:
                    value = value_node.value
                    if value_node.tag is _IMPLICIT and value_node.style == "":
                        value = cache[value] if value in cache else _plain(value)
                    elif value_node.tag is not _IMPLICIT and value_node.tag is not _STR:
                        value = self._scalar(value_node)
                else:
                    value = self.build(value_node)
                mark = key_node.start_mark
                packed = (mark.line << _LINE_SHIFT) | mark.column
                if key in result:
                    # A repeated key: the last value wins (as in Kubernetes' decoder), at its place.
                    positions[_key_index(result, key)] = packed
                else:
                    positions.append(packed)
                result[key] = value
            if merges:
                self._merge(node, result, positions, merges)
            table[id(result)] = array("Q", positions)
            return result
        if cls is SequenceNode:
            items = node.value
            values = [self.build(item) for item in items]
            marks = [item.start_mark for item in items]
            table[id(values)] = array("Q", [(m.line << _LINE_SHIFT) | m.column for m in marks])
            return values
        raise self._error(node, "unsupported YAML node")  # pragma: no cover

    def _scalar(self, node: ScalarNode) -> Any:
        value = node.value
        if node.tag is _IMPLICIT:
            if node.style == "":
                return _plain_cache[value] if value in _plain_cache else _plain(value)
            return value
        if node.tag is _STR:
            return value
        try:
            return _typed(node.tag, value)
        except (ConstructorError, ValueError) as e:
            raise self._error(node, f"cannot read the value as {node.tag}") from e

    def _merge(
        self, node: Node, result: dict[str, Any], positions: list[_Packed], merges: list[Node]
    ) -> None:
        """Merge keys (``<<: *base``): the mapping's own keys win, then earlier merges win."""
        sources: list[Node] = []
        for merge in merges:
            sources.extend(merge.value if merge.__class__ is SequenceNode else [merge])
        for source in sources:
            if source.__class__ is not MappingNode:
                raise self._error(source, "a merge key (<<) must refer to a mapping")
            merged = self.build(source)
            merged_positions = self.table.get(id(merged))
            for index, (key, value) in enumerate(merged.items()):
                if key not in result:
                    result[key] = value
                    positions.append(merged_positions[index] if merged_positions is not None else 0)

    def _error(self, node: Node, message: str) -> InputError:
        return InputError(message, file=self.file, line=node.start_mark.line + 1)


class _Unusual(Exception):  # noqa: N818 - a signal, caught in _next_document
    """What the direct build leaves to :class:`_Builder`: merge keys, repeated keys, keys that are not
    scalars or carry a tag, tags that do not read (the builder words the errors)."""


def _direct(node: Node) -> tuple[Any, array[int]]:
    """The data of a document without anchors, and its positions laid out as :class:`Positions` packs them
    (each container's block: its header, its keys' or items' positions, its children's blocks), written while
    the data is built: no table by container, no second walk. Raises :class:`_Unusual` for what only
    :class:`_Builder` handles, so that every document gets the same data and errors either way."""
    packed: list[int] = []
    data = _direct_node(node, packed, _plain_cache)
    return data, array("Q", packed)


def _direct_node(node: Node, packed: list[int], cache: dict[str, Any]) -> Any:
    return (_direct_mapping if node.__class__ is MappingNode else _direct_sequence)(node, packed, cache)


# The two below are written out for speed, locals only: the method call and the attribute lookups of
# ``self`` per container in _Builder were a third of its time. Each reserves its block (header and
# slots) before its children append theirs.


def _direct_mapping(node: Node, packed: list[int], cache: dict[str, Any]) -> dict[str, Any]:
    header = slot = len(packed)
    pairs = node.value
    count = len(pairs)
    packed += _RESERVED[count] if count < _RESERVED_MAX else [0] * (count + 1)
    result: dict[str, Any] = {}
    for key_node, value_node in pairs:
        if key_node.__class__ is not ScalarNode:
            raise _Unusual
        key = key_node.value
        tag = key_node.tag
        if tag is _IMPLICIT:
            if key_node.style == "":
                if key == _MERGE:
                    raise _Unusual
                key = cache[key] if key in cache else _plain(key)
                if key.__class__ is not str:
                    key = _key_text(key)
        elif tag is not _STR:
            raise _Unusual
        cls = value_node.__class__
        if cls is ScalarNode:
            value = value_node.value
            tag = value_node.tag
            if tag is _IMPLICIT:
                if value_node.style == "":
                    value = cache[value] if value in cache else _plain(value)
            elif tag is not _STR:
                value = _direct_typed(tag, value)
        elif cls is MappingNode:
            value = _direct_mapping(value_node, packed, cache)
        else:
            value = _direct_sequence(value_node, packed, cache)
        result[key] = value
        mark = key_node.start_mark
        slot += 1
        packed[slot] = (mark.line << _LINE_SHIFT) | mark.column
    if len(result) != count:
        raise _Unusual  # a repeated key: its place is the last one's, which the builder keeps
    packed[header] = (len(packed) - header) | (count << _SLOTS_SHIFT)
    return result


def _direct_sequence(node: Node, packed: list[int], cache: dict[str, Any]) -> list[Any]:
    header = slot = len(packed)
    items = node.value
    count = len(items)
    packed += _RESERVED[count] if count < _RESERVED_MAX else [0] * (count + 1)
    result: list[Any] = []
    append = result.append
    for item in items:
        cls = item.__class__
        if cls is ScalarNode:
            value = item.value
            tag = item.tag
            if tag is _IMPLICIT:
                if item.style == "":
                    value = cache[value] if value in cache else _plain(value)
            elif tag is not _STR:
                value = _direct_typed(tag, value)
        elif cls is MappingNode:
            value = _direct_mapping(item, packed, cache)
        else:
            value = _direct_sequence(item, packed, cache)
        append(value)
        mark = item.start_mark
        slot += 1
        packed[slot] = (mark.line << _LINE_SHIFT) | mark.column
    packed[header] = (len(packed) - header) | (count << _SLOTS_SHIFT)
    return result


# A container's header and slots, reserved in one step (each a list of zeros, shared: ``+=`` copies it).
_RESERVED_MAX = 64
_RESERVED = [[0] * (count + 1) for count in range(_RESERVED_MAX)]


def _direct_typed(tag: str, value: str) -> Any:
    try:
        return _typed(tag, value)
    except (ConstructorError, ValueError) as e:
        raise _Unusual from e


def _source_comments(text: bytes) -> list[tuple[int, str]]:
    """``(0-based line, template path)`` of each Helm ``# Source:`` comment."""
    found: list[tuple[int, str]] = []
    line = 0
    last = 0
    # The literal is looked for, then the pattern matched where it starts a line: a search for the
    # pattern, which starts with '^', tried every line of the text (a third of the time).
    start = text.find(_SOURCE)
    while start >= 0:
        match = _SOURCE_COMMENT.match(text, start) if start == 0 or text[start - 1] == _NEWLINE else None
        if match is not None:
            line += text.count(b"\n", last, start)
            last = start
            found.append((line, match.group(1).decode("utf-8", "replace")))
        start = text.find(_SOURCE, start + len(_SOURCE))
    return found


_SOURCE = b"# Source:"
_NEWLINE = ord("\n")


def _yaml_error(error: yaml.YAMLError, file: str, text: bytes) -> InputError:
    """One line naming file, line and the parser's complaint, never the offending text."""
    if isinstance(error, yaml.reader.ReaderError):
        line = text.count(b"\n", 0, error.position) + 1
        return InputError(f"not valid UTF-8 or UTF-16 text (byte {error.position})", file=file, line=line)
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        if "maximum nesting depth" in problem:
            problem = "nesting deeper than 1000 levels"
        if mark is not None:
            return InputError(
                f"invalid YAML: {problem} (column {mark.column + 1})", file=file, line=mark.line + 1
            )
        return InputError(f"invalid YAML: {problem}", file=file)
    return InputError(f"invalid YAML: {error}", file=file)  # pragma: no cover


def iter_documents(text: bytes, file: str) -> Iterator[Document]:
    """The documents of a YAML (or JSON) stream, one at a time.

    Raises :class:`InputError` with file and line at the first document that does not
    parse; documents before it have already been yielded.
    """
    yield from _documents(text, file, _new_reader(text))


def documents_started(text: bytes, file: str) -> Iterator[Document]:
    """:func:`iter_documents`, its parsing started now where the C reader parses ahead (a thread of its own
    parses ``text`` while this one builds the documents of the text before)."""
    return _documents(text, file, _new_reader(text))


def _new_reader(text: bytes) -> _Reader | None:
    if _c_reader is None or text.__class__ is not bytes:
        return None
    ahead = _parses_ahead(text)
    return _c_reader(text, _plain_cache, _plain, _direct_typed, _key_text, _Unusual, ahead=ahead)


def _documents(text: bytes, file: str, reader: _Reader | None) -> Iterator[Document]:
    # Recursion depth follows YAML nesting, which libyaml caps at 1000 levels.
    if sys.getrecursionlimit() < 5000:
        sys.setrecursionlimit(5000)
    sources = _Sources(_source_comments(text) if _SOURCE in text else [])
    index = 0
    if reader is not None:
        # The C reader builds what _direct builds, from libyaml's events. It leaves the first document
        # with an anchor or anything else _direct leaves (see _yamlc.c): that document and the rest are
        # read the Python way, from the start. (A document without anchors is built alike either way,
        # so the C reader need not trust ``track_aliases``, which text such as '&&' also sets.)
        while True:
            collecting = gc.isenabled()
            gc.disable()  # as in _next_document
            try:
                read = reader.next()
            except _Unusual:
                break
            finally:
                if collecting:
                    gc.enable()
            if read is None:
                return
            data, packed, line, column, end_line = read
            if packed is None:
                positions = Positions({})  # a scalar document, as the builder leaves it
            else:
                positions = Positions(root=data, packed=array("Q"))
                cast("array[int]", positions._packed).frombytes(packed)
            yield Document(data, index, line + 1, column + 1, positions, sources.above(line, end_line))
            index += 1
        del reader
    track_aliases = b"&" in text and _ANCHOR.search(text) is not None
    parser = _Parser(text)
    try:
        for _ in range(index):  # those the C reader gave
            if _next_node(parser, file, text) is None:  # pragma: no cover - the C reader read them
                return
        while True:
            built = _next_document(parser, file, text, track_aliases)
            if built is None:
                break
            node, data, positions = built
            start = node.start_mark
            yield Document(
                data=data,
                index=index,
                line=start.line + 1,
                column=start.column + 1,
                positions=positions,
                source_comment=sources.above(start.line, node.end_mark.line),
            )
            index += 1
    finally:
        parser.dispose()


class _Sources:
    """Which Helm ``# Source:`` comment belongs to each document, asked in document order."""

    __slots__ = ("_comments", "_next", "_previous_end")

    def __init__(self, comments: list[tuple[int, str]]) -> None:
        self._comments = comments
        self._next = 0
        self._previous_end = -1

    def above(self, start: int, end: int) -> str | None:
        """The last comment above the document from 0-based line ``start`` to ``end``, below the
        previous document."""
        # Comments are in line order: skip those before this document, keep the last one above it.
        comments = self._comments
        source = None
        while self._next < len(comments) and comments[self._next][0] <= start:
            line, path = comments[self._next]
            if line >= self._previous_end:
                source = path
            self._next += 1
        self._previous_end = end
        return source


def _next_node(parser: _Parser, file: str, text: bytes) -> Node | None:
    """The next document's node, composed but not built."""
    try:
        return parser.get_node() if parser.check_node() else None
    except yaml.YAMLError as e:
        raise _yaml_error(e, file, text) from e


def _next_document(
    parser: _Parser, file: str, text: bytes, track_aliases: bool
) -> tuple[Node, Any, Positions] | None:
    # The trees built here hold no reference cycles; the collector would only rescan
    # them again and again while they grow (a sixth of the load time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        if not parser.check_node():
            return None
        node: Node | None = parser.get_node()
        if node is None:  # pragma: no cover - check_node() said there is one
            return None
        if not track_aliases and node.__class__ is not ScalarNode:
            try:
                data, packed = _direct(node)
            except _Unusual:
                pass
            else:
                return node, data, Positions(root=data, packed=packed)
        builder = _Builder(file, track_aliases)
        data = builder.build(node)
        positions = Positions.compact(data, builder.table)
        # The builder's bound method refers to the builder: without this, that cycle would keep it,
        # and the table of arrays the compact positions replace, until a collection.
        del builder.build
        return node, data, positions
    except yaml.YAMLError as e:
        raise _yaml_error(e, file, text) from e
    finally:
        if collecting:
            gc.enable()
