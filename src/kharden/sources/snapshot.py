"""Cluster snapshots: ``kharden snapshot`` writes one, ``kharden scan --snapshot FILE`` reads it back.

A snapshot is a ``v1`` ``List`` of everything ``--cluster`` reads (Secrets as metadata only),
one object per line, plus a ``kharden`` key saying which cluster it came from and what could
not be read. ``--snapshot`` also reads what ``kubectl get ... -o json`` prints (a ``List``,
a typed list such as ``PodList`` whose items lack apiVersion/kind, or one object), and YAML.

Large snapshots are never one Python tree. When each item of the List starts on a line of
its own (kharden's layout, one object per line; kubectl's, indented), the file is streamed
in blocks and cut into items by their lines, once: each item is decoded as it comes, and of
each Pod whose controller is present only its runtime record is kept (see :mod:`._trim`); a
Pod whose controller turns out absent is read again, whole, at the end. Memory then holds
the objects kept and one block, not the file; each object knows its line. Other layouts are
decoded whole, then item by item.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import msgspec

from .. import __version__
from .._display import without_userinfo
from .._files import TooLargeError, read_fd
from ..errors import InputError, UsageError
from ..model import ClusterInfo, Origin
from . import _trim
from .cluster import ClusterOptions, ClusterReader, Resource
from .documents import Collected
from .files import DEFAULT_MAX_FILE_BYTES as DEFAULT_MAX_BYTES

__all__ = ["SNAPSHOT_KEY", "read_snapshot", "write_snapshot"]

SNAPSHOT_KEY = "kharden"
"""The top-level key of a kharden snapshot that describes the read."""

# Kinds every cluster has objects of: a foreign List without any was not asked for them.
ALWAYS_PRESENT = {
    "Namespace": "namespaces",
    "Node": "nodes",
    "ServiceAccount": "serviceaccounts",
    "Service": "services",
    "Pod": "pods",
    "ClusterRole": "clusterroles.rbac.authorization.k8s.io",
    "ClusterRoleBinding": "clusterrolebindings.rbac.authorization.k8s.io",
}


class _Meta(msgspec.Struct):
    name: Any = None
    namespace: Any = None
    ownerReferences: Any = None  # noqa: N815 - the JSON name


class _Head(msgspec.Struct):
    kind: Any = None
    metadata: _Meta | None = None


class _Envelope(msgspec.Struct):
    api_version: Any = msgspec.field(name="apiVersion", default=None)
    kind: Any = None
    items: list[msgspec.Raw] | None = None
    kharden: Any = None


_BYTE = re.compile(r"byte (\d+)")
_BYTE_SUFFIX = re.compile(r" \(byte \d+\)$")
_JSON_OBJECT = re.compile(rb"\s*\{")


def read_snapshot(path: str, collected: Collected, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Read a snapshot into ``collected``; an unreadable file is an :class:`InputError`.

    A regular file in kharden's or kubectl's layout streams, whatever its size (each item at most
    ``max_bytes``); any other is read whole, at most ``max_bytes``: a pipe (``<(kubectl get ...)``),
    a FIFO (given up on when nothing is written to it), a device.
    """
    try:
        data = _whole_unless_streamable(path, max_bytes)
        if data is None and _read_streamed(path, collected, max_bytes):
            return
        if data is None:
            data = _read_whole(path, max_bytes)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from e
    except TooLargeError as e:
        raise InputError(
            f"too large: {e.size / 1048576:.1f} MiB, the limit is {max_bytes / 1048576:.0f} MiB for a"
            " snapshot that is not a regular file or not in kubectl's layout (raise it with --max-file-size)",
            file=path,
        ) from e
    collected.stats.files += 1
    collected.evidence |= {"C", "M"}
    if not _JSON_OBJECT.match(data):
        before = len(collected.objects)
        collected.add_stream(data, path)  # YAML (`kubectl get -o yaml`)
        collected.stats.files -= 1  # add_stream counted the file too
        collected.cluster = _foreign_info(collected.objects[before:])
        return
    try:
        envelope = msgspec.json.decode(data, type=_Envelope)
    except msgspec.ValidationError:
        envelope = None  # not a list: one object, or not Kubernetes at all
    except msgspec.DecodeError as e:
        raise InputError(f"not valid JSON ({_plain(e)})", file=path, line=_line(data, e)) from e
    origin = Origin(path)
    before = len(collected.objects)
    if envelope is None or envelope.items is None:
        single = msgspec.json.decode(data)
        if not isinstance(single, dict) or "kind" not in single:
            raise InputError("not a Kubernetes object or List", file=path)
        collected.add_raw(_trim.Keeper()(single), origin)
    else:
        item_kind, version = _item_kind(envelope)
        keep = _trim.Keeper(_controllers(envelope.items, item_kind))
        decoder = msgspec.json.Decoder()
        for raw in envelope.items:
            _add_item(collected, decoder.decode(raw), item_kind, version, keep, origin)
    header = envelope.kharden if envelope is not None else None
    _cluster_info(collected, path, header, before)


def _cluster_info(collected: Collected, path: str, header: Any, before: int) -> None:
    """What the snapshot says about its cluster; the lists its read failed to get are input errors again."""
    if isinstance(header, dict):
        collected.cluster = _info(header)
        for reason in collected.cluster.failed:
            collected.error(InputError(f"when the snapshot was taken: {reason}", file=path))
    else:
        collected.cluster = _foreign_info(collected.objects[before:])


def _whole_unless_streamable(path: str, max_bytes: int) -> bytes | None:
    """``None`` for a regular file (it can be read twice and from its end); the bytes of anything else."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return read_fd(fd, max_bytes, waits=not path.startswith(("/dev/fd/", "/proc/self/fd/", "/dev/stdin")))
    finally:
        os.close(fd)


def _read_whole(path: str, max_bytes: int) -> bytes:
    with Path(path).open("rb") as handle:
        return read_fd(handle.fileno(), max_bytes)


_BLOCK = 128 << 10
"""Bytes read at a time. Each block is copied once onto the unfinished item before it (``buffer += block``);
larger blocks go to fresh pages each time once the heap is large: reading a 1.1 GB snapshot beside 3 million
objects took 0.47 s of CPU in blocks of 128 KiB, 0.8 s in blocks of 512 KiB or 1 MiB, 1.1 s in 8 MiB."""
_ITEMS = re.compile(rb'^\s*\{.*?"items"\s*:\s*\[[ \t]*(\r?\n)([ \t]*)\{', re.DOTALL)


def _read_streamed(path: str, collected: Collected, max_bytes: int) -> bool:
    """Stream a List whose items each start on a line of their own; ``False`` for any other layout.

    The items of such a List are separated by ``},`` at the end of a line and ``{`` at the
    item indentation on the next; nothing inside an item starts a line there (JSON strings
    hold no raw newline, and nested values are indented deeper). An item that does not decode
    means the guess was wrong: the file is then read whole, and its error located there.

    One pass: which Pods become runtime records depends on the controllers the whole List holds
    (kharden's snapshots list Pods before them), so a Pod that has a controller is decoded as a
    runtime record at once and, should its controller not be in the List after all, read again
    from the file at the end and kept whole (bare and mirror Pods, rare).
    """
    with Path(path).open("rb") as handle:
        head = handle.read(1 << 16)
    found = _ITEMS.match(head)
    if found is None:
        return False
    indent = found[2]
    closing = re.compile(
        rb"\}[ \t]*\r?\n" + (rb"[ \t]{0,%d}" % (len(indent) - 1) if indent else b"") + rb"\]"
    )
    first = found.end() - 1
    prefix = head[:first].rstrip()  # '{"apiVersion": "v1", "items": ['
    try:
        trailer = _trailer(path, closing, first)
        skeleton = msgspec.json.decode(prefix + b"]" + trailer, type=_Envelope)
        item_kind, version = _item_kind(skeleton)
        keep = _trim.Keeper()
        slots = _slots(_stream(path, indent, closing, first, max_bytes), item_kind, version, keep, path)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False  # not the layout it looked like: decode it whole
    collected.stats.files += 1
    collected.evidence |= {"C", "M"}
    before = len(collected.objects)
    decoder = msgspec.json.Decoder()
    with Path(path).open("rb") as handle:
        for slot in slots:
            if isinstance(slot, _Later):
                if slot.record is not None and slot.owner in keep.controllers:
                    collected.add_raw(slot.record, slot.origin)
                    continue
                handle.seek(slot.offset)
                item = decoder.decode(handle.read(slot.size))
                _add_item(collected, item, item_kind, version, keep, slot.origin)
            else:
                collected.add_raw(*slot)
    del slots
    _cluster_info(collected, path, skeleton.kharden, before)
    return True


class _Later(NamedTuple):
    """A Pod whose controller was not read yet: its runtime record (``None``: not decoded as one) and
    where the item is in the file, to read it whole if its controller is not in the List."""

    record: dict[str, Any] | None
    owner: _trim.Key | None
    origin: Origin
    offset: int
    size: int


def _slots(
    items: Iterator[tuple[int, int, bytes]],
    item_kind: str | None,
    version: str,
    keep: _trim.Keeper,
    path: str,
) -> list[tuple[dict[str, Any], Origin] | _Later]:
    """What to add of each item, in order (``(object, origin)``, or a Pod decided at the end); a
    :class:`msgspec.DecodeError` or :class:`msgspec.ValidationError` for an item that is not an object."""
    decoder = msgspec.json.Decoder()
    decode_pod = _trim.decode_runtime_pod
    controllers = keep.controllers
    runtime_first = item_kind is None or item_kind == "Pod"
    slots: list[tuple[dict[str, Any], Origin] | _Later] = []
    for line, offset, raw in items:
        origin = Origin(path, line)
        # A Pod whose controller is in the snapshot becomes a runtime record: decode only what it keeps.
        decoded = decode_pod(raw, keep) if runtime_first else None
        if decoded is not None:
            record, owner = decoded
            if owner is not None:
                if owner in controllers:
                    slots.append((record, origin))
                else:
                    slots.append(_Later(record, owner, origin, offset, len(raw)))
                continue
        item = decoder.decode(raw)
        if not isinstance(item, dict) or not isinstance(item.get("metadata"), dict | None):
            raise msgspec.ValidationError("an item that is not an object with metadata")
        _typed(item, item_kind, version)
        if item.get("kind") == "Pod":
            owner = _trim.controller_key(item)
            if owner is not None and owner not in controllers:
                slots.append(_Later(None, owner, origin, offset, len(raw)))  # decided once all are known
                continue
        slots.append((keep(item), origin))
    return slots


def _stream(
    path: str, indent: bytes, closing: re.Pattern[bytes], first: int, max_bytes: int
) -> Iterator[tuple[int, int, bytes]]:
    """``(line, offset in the file, bytes)`` of each item, read in blocks of :data:`_BLOCK` bytes; an
    item (or what is not one) larger than ``max_bytes`` is an input error.

    An item longer than a block is read on in blocks as long as what is held of it, so that it is copied
    and searched a bounded number of times per byte however long it is."""
    separator = re.compile(rb"\}[ \t]*,[ \t]*\r?\n" + re.escape(indent) + rb"\{")
    with Path(path).open("rb") as handle:
        buffer = handle.read(first)
        line = buffer.count(b"\n") + 1
        base = len(buffer)  # the offset in the file of the buffer's first byte
        buffer = b""
        while True:
            room = max_bytes + _BLOCK + 1 - len(buffer)  # one byte more is too large, said below
            block = handle.read(min(max(_BLOCK, len(buffer)), room))
            buffer += block
            start = 0
            found = _separators(separator, buffer) if indent else _separators_at_column_0(buffer)
            for item_end, next_start, lines in found:
                yield line, base + start, buffer[start : item_end + 1]
                line += lines
                start = next_start
            buffer = buffer[start:]
            base += start
            if len(buffer) > max_bytes + _BLOCK:
                raise InputError(
                    f"an item larger than {max_bytes / 1048576:.0f} MiB (raise it with --max-file-size)",
                    file=path,
                    line=line,
                )
            if not block:
                break
    end = closing.search(buffer)
    if end is None:
        raise msgspec.DecodeError("the items do not end")
    yield line, base, buffer[: end.start() + 1]


def _separators(separator: re.Pattern[bytes], buffer: bytes) -> Iterator[tuple[int, int, int]]:
    """``(end of an item, start of the next, line breaks from the start of the one to the other)``."""
    start = 0
    for match in separator.finditer(buffer):
        next_start = match.end() - 1
        yield match.start(), next_start, buffer.count(b"\n", start, next_start)
        start = next_start


def _separators_at_column_0(buffer: bytes) -> Iterator[tuple[int, int, int]]:
    """:func:`_separators` when the items start at column 0, without the pattern's search: that tries every
    ``}`` of every item (nested objects are many), where ``memchr`` finds each line break and the few
    bytes before one that starts an item are checked (``}``, ``,`` and blanks, as in the pattern)."""
    lines = 0
    newline = buffer.find(b"\n")
    while newline >= 0:
        lines += 1
        if buffer.startswith(b"{", newline + 1):
            # Nearly every item ends its line with "}," (kharden's layout): the walk back is for the others.
            end = newline - 2 if newline >= 2 and buffer.startswith(b"},", newline - 2) else -1
            if end < 0:
                end = _separator_end(buffer, newline)
            if end >= 0:
                yield end, newline + 1, lines
                lines = 0
        newline = buffer.find(b"\n", newline + 1)


def _separator_end(buffer: bytes, newline: int) -> int:
    """Where the ``}`` of ``}[ \\t]*,[ \\t]*\\r?`` ending just before ``newline`` is; -1 if it does not."""
    index = newline - 1
    if index >= 0 and buffer[index] == 0x0D:  # \r
        index -= 1
    for expected in (0x2C, 0x7D):  # ',' then '}', each after blanks
        while index >= 0 and buffer[index] in _BLANKS:
            index -= 1
        if index < 0 or buffer[index] != expected:
            return -1
        index -= 1 if expected == 0x2C else 0
    return index


_BLANKS = frozenset(b" \t")


def _trailer(path: str, closing: re.Pattern[bytes], first: int) -> bytes:
    """What follows the items (``, "kind": "List", "metadata": {...}}``): read from the end of the file."""
    with Path(path).open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(first, size - (1 << 20)))
        tail = handle.read()
    ends = list(closing.finditer(tail))
    if not ends:
        raise msgspec.DecodeError("the items do not end")
    return tail[ends[-1].end() :]


def _item_kind(envelope: _Envelope) -> tuple[str | None, str]:
    """A typed list's item kind (``PodList``: ``Pod``; ``None`` for a ``List``) and apiVersion."""
    list_kind = envelope.kind if isinstance(envelope.kind, str) else "List"
    version = envelope.api_version if isinstance(envelope.api_version, str) else "v1"
    item_kind = list_kind.removesuffix("List") if list_kind.endswith("List") else None
    return item_kind or None, version


def _add_item(
    collected: Collected,
    item: Any,
    item_kind: str | None,
    version: str,
    keep: _trim.Keeper,
    origin: Origin,
) -> None:
    if not isinstance(item, dict):
        collected.stats.skipped_documents += 1
        return
    _typed(item, item_kind, version)
    collected.add_raw(keep(item), origin)


def _typed(item: dict[str, Any], item_kind: str | None, version: str) -> None:
    if item_kind is not None and "kind" not in item:
        # The API server leaves apiVersion/kind off the items of a typed list: the list says what they are.
        item["kind"] = item_kind
        item.setdefault("apiVersion", version)


def _add_controller(found: set[_trim.Key], head: _Head, item_kind: str | None) -> None:
    kind = head.kind if head.kind is not None else item_kind
    meta = head.metadata
    if (
        isinstance(kind, str)
        and kind in _trim.CONTROLLER_KINDS
        and meta is not None
        and isinstance(meta.name, str)
        and isinstance(meta.namespace, str | None)
    ):
        found.add((kind, meta.namespace or "", meta.name))


def _controllers(items: list[msgspec.Raw], item_kind: str | None) -> set[_trim.Key]:
    """Pass one: ``(kind, namespace, name)`` of every pod-creating controller in the list."""
    found: set[_trim.Key] = set()
    decoder = msgspec.json.Decoder(_Head)
    for raw in items:
        try:
            _add_controller(found, decoder.decode(raw), item_kind)
        except msgspec.ValidationError:
            continue  # not an object, or metadata not a mapping: pass two deals with it
    return found


def _info(header: dict[str, Any]) -> ClusterInfo:
    def text(key: str) -> str | None:
        value = header.get(key)
        return value if isinstance(value, str) else None

    def texts(key: str) -> tuple[str, ...]:
        value = header.get(key)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    unread = header.get("unread")
    server = text("server")
    return ClusterInfo(
        context=text("context"),
        server=without_userinfo(server) if server is not None else None,  # an older kharden kept it
        version=text("serverVersion"),
        namespaces=texts("namespaces"),
        unread={k: v for k, v in unread.items() if isinstance(v, str)} if isinstance(unread, dict) else {},
        api_groups=texts("apiGroups"),
        failed=texts("failed"),
    )


def _foreign_info(objects: list[Any]) -> ClusterInfo:
    """What a List that kharden did not write says about the cluster: kinds it was not asked for."""
    kinds = {obj.ref.kind for obj in objects}
    unread = {
        kind: f"not in the snapshot (it holds no {resource}; add them to the kubectl get command)"
        for kind, resource in ALWAYS_PRESENT.items()
        if kind not in kinds
    }
    return ClusterInfo(unread=unread)


def _plain(error: msgspec.DecodeError) -> str:
    """msgspec's message without its byte offset (the line says where)."""
    return _BYTE_SUFFIX.sub("", str(error))


def _line(data: bytes, error: msgspec.DecodeError) -> int | None:
    match = _BYTE.search(str(error))
    return data.count(b"\n", 0, int(match[1])) + 1 if match else None


def write_snapshot(
    options: ClusterOptions,
    output: str | None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ClusterInfo:
    """Read the cluster of ``options`` and write it as a snapshot to ``output`` (stdout when ``None``).

    The file is written whole or not at all: to a temporary file beside it, renamed at the end.
    """
    if output is not None and os.path.isdir(output):
        # Said before the cluster is read, not after minutes of reading it.
        raise UsageError(f"cannot write the snapshot to {output}: it is a directory (give a file name)")
    reader = ClusterReader(options)
    if output is None:
        stdout = sys.stdout
        if stdout is None:
            raise UsageError("cannot write the snapshot: stdout is closed (give --output FILE)")
        try:
            return _write(reader, stdout.buffer, now)
        except OSError as e:
            if isinstance(e, BrokenPipeError):
                raise
            raise UsageError(f"cannot write the snapshot to stdout: {e.strerror}") from e
    directory = os.path.dirname(os.path.abspath(output))
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
            "wb", dir=directory, prefix=".kharden-snapshot-", suffix=".tmp", delete=False
        )
    except OSError as e:
        raise UsageError(f"cannot write {output}: {e.strerror}") from e
    try:
        with handle:
            info = _write(reader, handle, now)
        os.replace(handle.name, output)
    except OSError as e:
        Path(handle.name).unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {e.strerror}") from e
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return info


def _write(reader: ClusterReader, out: IO[bytes], now: Callable[[], datetime]) -> ClusterInfo:
    encode = msgspec.json.Encoder().encode
    taken = now().strftime("%Y-%m-%dT%H:%M:%SZ")
    resources: list[str] = []
    first = True
    out.write(b'{"apiVersion": "v1", "kind": "List", "items": [')

    def write(resource: Resource, items: list[dict[str, Any]]) -> None:
        nonlocal first
        if resource.label not in resources:
            resources.append(resource.label)
        for item in items:
            out.write(b"\n" if first else b",\n")
            out.write(encode(item))
            first = False

    info = reader.read(write)
    header = {
        "version": 1,
        "tool": f"kharden {__version__}",
        "taken": taken,
        "context": info.context,
        "server": info.server,
        "serverVersion": info.version,
        "namespaces": list(info.namespaces),
        "resources": resources,
        "unread": dict(info.unread),
        "apiGroups": list(info.api_groups),
        "failed": list(info.failed),
    }
    out.write(b"\n], " + b'"metadata": {"resourceVersion": ""}, "' + SNAPSHOT_KEY.encode() + b'": ')
    out.write(encode(header) + b"}\n")
    out.flush()
    return info
