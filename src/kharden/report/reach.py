"""``kharden reach`` output: answers (allowed or denied, and the policies that decide) and the matrix."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import compress
from typing import Any

import msgspec

from .. import __version__
from .._display import printable
from ..analysis._netmatrix import ALL, SOME, Matrix, Row
from ..analysis.netpol import EGRESS, Answer, Endpoint, External, Grant, Policy, Side, bit_flags

__all__ = ["answers_json", "answers_text", "matrix_json", "matrix_text"]


def _where(policy: Policy, path: str = "") -> str:
    return str(policy.locate(path))


def _grant_text(grant: Grant, side: Side) -> str:
    if grant.rule is None:
        return f"no NetworkPolicy selects these pods for {side.direction.lower()}"
    rule = grant.rule
    peer = "every " + ("destination" if side.direction == EGRESS else "source")
    if grant.peer is not None:
        peer = str(grant.peer)
    text = f"{rule} ({_where(rule.policy, rule.path)}): {peer}, on {grant.ports}"
    if grant.assumed:
        text += " (assuming labels of a namespace the scan does not hold)"
    return text


def _side_lines(side: Side, subject: str, answer: Answer) -> list[str]:
    head = f"  {side.direction.lower()} of {subject}: "
    if side.note:
        return [head + side.note]
    grants = list(side.grants)
    if answer.asked is not None:
        grants = [
            g for g in grants if answer.port is not None and g.ports.contains(answer.protocol, answer.port)
        ]
    if grants:
        if grants[0].rule is None:
            return [head + "allowed: " + _grant_text(grants[0], side)]
        return [head + "allowed by", *(f"    {_grant_text(g, side)}" for g in grants)]
    policies = ", ".join(f"{p} ({_where(p)})" for p in side.policies)
    return [head + f"denied: isolated by {policies}; no rule allows {_asked(answer)}"]


def _asked(answer: Answer) -> str:
    return "any port" if answer.port is None else f"{answer.port}/{answer.protocol}"


def _port_text(answer: Answer) -> str:
    """``:80/TCP``, ``:http (8080/TCP)``, or ``""`` when no port was asked."""
    if answer.asked is None:
        return ""
    if isinstance(answer.asked, int) or answer.port is None:
        return f":{answer.asked}/{answer.protocol}"
    return f":{answer.asked} ({answer.port}/{answer.protocol})"


def answers_text(source: str, destination: str, answers: Sequence[Answer]) -> str:
    lines = []
    for answer in answers:
        connection = answer.connection
        src, dst = str(connection.source), str(connection.destination)
        head = f"{src} -> {dst}{_port_text(answer)}: "
        if answer.asked is None:
            lines.append(head + (f"allowed on {answer.ports}" if answer.allowed else "denied on every port"))
        elif answer.port is None:
            lines.append(
                head + f"denied: the destination has no {answer.protocol} port named {answer.asked!r}"
            )
            continue
        else:
            lines.append(head + ("allowed" if answer.allowed else "denied"))
        lines += _side_lines(connection.egress, src, answer)
        lines += _side_lines(connection.ingress, dst, answer)
    allowed = sum(a.allowed for a in answers)
    lines.append("")
    lines.append(f"{source} -> {destination}: {allowed} of {len(answers)} allowed")
    return "\n".join(printable(line) for line in lines) + "\n"


def _side_dict(side: Side, answer: Answer) -> dict[str, Any]:
    grants = side.grants
    if answer.asked is not None:
        grants = tuple(
            g for g in grants if answer.port is not None and g.ports.contains(answer.protocol, answer.port)
        )
    return {
        "direction": side.direction.lower(),
        "isolated": side.isolated,
        "note": side.note or None,
        "policies": [_policy_dict(p) for p in side.policies],
        "allowed_by": [
            {
                "policy": None if g.rule is None else _policy_dict(g.rule.policy, g.rule.path),
                "rule": None if g.rule is None else g.rule.index,
                "peer": None if g.peer is None else {"path": g.peer.path, "text": str(g.peer)},
                "ports": g.ports.as_list(),
                "assumed": g.assumed,
            }
            for g in grants
        ],
    }


def _policy_dict(policy: Policy, path: str = "") -> dict[str, Any]:
    location = policy.locate(path)
    return {
        "namespace": policy.namespace,
        "name": policy.name,
        "file": location.file,
        "line": location.line,
        "path": path,
    }


def _endpoint_dict(endpoint: Endpoint) -> dict[str, Any]:
    if isinstance(endpoint, External):
        return {"address": endpoint.name, "ranges": str(endpoint.addresses)}
    if endpoint.outside:
        return {"namespace": None, "outside_scan": True}
    return {
        "namespace": endpoint.namespace,
        "workloads": [
            {"kind": p.obj.ref.kind, "name": p.obj.ref.name, "file": p.obj.origin.file} for p in endpoint.pods
        ],
        "labels": dict(endpoint.labels),
        "hostNetwork": endpoint.host_network,
    }


def answers_json(source: str, destination: str, answers: Sequence[Answer], errors: Sequence[Any]) -> str:
    data = {
        "version": 1,
        "tool": {"name": "kharden", "version": __version__},
        "from": source,
        "to": destination,
        "allowed": any(a.allowed for a in answers),
        "answers": [
            {
                "source": _endpoint_dict(a.connection.source),
                "destination": _endpoint_dict(a.connection.destination),
                "port": a.asked,
                "protocol": a.protocol,
                "allowed": a.allowed,
                "ports": a.ports.as_list(),
                "egress": _side_dict(a.connection.egress, a),
                "ingress": _side_dict(a.connection.ingress, a),
            }
            for a in answers
        ],
        "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in errors],
    }
    return json.dumps(data, indent=2) + "\n"


_MARK = {ALL: "#", SOME: "+", None: "."}


def matrix_text(m: Matrix) -> str:
    """Rows are sources, columns destinations; columns are numbered, the legend names them."""
    columns = [*m.namespaces, *(e.name for e in m.externals)]
    keys = [str(i + 1) for i in range(len(m.namespaces))]
    keys[-1] = "*"  # namespaces not in the scan
    keys += [chr(ord("A") + i) if i < 26 else f"X{i}" for i in range(len(m.externals))]
    width = max(len(k) for k in keys)
    label = max(len(n) for n in m.namespaces)
    lines = [
        "NetworkPolicy reachability, from rows to columns: "
        "# every pod on every port, + some pods or ports, . nothing",
        "",
        " " * (label + 2) + " ".join(k.rjust(width) for k in keys),
    ]
    for key, source in zip(keys, m.namespaces, strict=False):
        row = " ".join(_MARK[m.level(source, column)].rjust(width) for column in columns)
        lines.append(f"{source.ljust(label)}  {row}   {key}")
    lines += ["", "columns:"]
    for key, name in zip(keys, columns, strict=True):
        shown = (
            "pods of namespaces not in the scan (whatever selectors might match them)"
            if name == "*"
            else name
        )
        lines.append(f"  {key.rjust(width)}  {shown}")
    for external in m.externals:
        lines.append(f"  {'':>{width}}  {external.name}: {external.description or external.addresses}")
    if m.unlabelled:
        lines += [
            "",
            "namespaces without a Namespace object in the scan (only kubernetes.io/metadata.name is known;"
            " selectors on other labels are assumed to match them): " + ", ".join(m.unlabelled),
        ]
    if m.empty:
        lines += ["", "namespaces without pods in the scan: " + ", ".join(m.empty)]
    return "\n".join(printable(line) for line in lines) + "\n"


def matrix_json(m: Matrix, errors: Sequence[Any]) -> list[bytes]:
    """The matrix as JSON, UTF-8 encoded, in pieces to write one after the other: a large matrix is hundreds
    of megabytes, which one ``bytes`` would copy whole (and a ``str`` twice more), while the rows that
    several sources share are one piece each."""
    head = {
        "version": 1,
        "tool": {"name": "kharden", "version": __version__},
        "namespaces": list(m.namespaces),
        "columns": [*m.namespaces, *(e.name for e in m.externals)],
        "addresses": {e.name: e.description or str(e.addresses) for e in m.externals},
    }
    tail = {
        "unlabelled_namespaces": list(m.unlabelled),
        "namespaces_without_pods": list(m.empty),
        "legend": {
            ALL: "every pod of the row reaches every pod (address) of the column on every port",
            SOME: "some pods or some ports",
            "*": "pods of namespaces not in the scan",
        },
        "errors": [{"file": e.file, "line": e.line, "message": e.message} for e in errors],
    }
    parts = _matrix_parts(head, m.rows, tail)
    if parts is None:
        parts = [json.dumps({**head, "matrix": m.cells, **tail}, separators=(",", ":")).encode("ascii")]
    parts.append(b"\n")
    return parts


def _matrix_parts(head: dict[str, Any], rows: dict[str, Row], tail: dict[str, Any]) -> list[bytes] | None:
    """``json.dumps({**head, "matrix": cells, **tail}, separators=(",", ":"))`` as bytes, in parts: each row
    that sources share encoded once, from its bit sets, with no mapping of its cells made. ``None`` when
    some text needs ``json``'s escapes, which msgspec writes otherwise (non-ASCII, DEL), or an external
    column has a namespace's name (its cell would replace that one): then ``json`` makes the whole."""
    encode = msgspec.json.encode
    parts = [encode(head)[:-1], b',"matrix":{']
    cells: dict[int, bytes] = {}
    writers: dict[int, _Cells | None] = {}  # by the names, which rows share
    for source, row in rows.items():
        encoded = cells.get(id(row))
        if encoded is None:
            writer = writers.get(id(row.names), _NOT_YET)
            if writer is _NOT_YET:
                writer = writers[id(row.names)] = _Cells.of(row.names)
            if writer is None or any(name in writer.names for name, _ in row.external):
                return None
            found = writer.cells(row.some & ~row.fully, row.fully)
            external = [encode(name) + b":" + encode(level) for name, level in row.external]
            if not all(map(_plain, external)):
                return None
            encoded = cells[id(row)] = b"{" + b",".join([found, *external] if found else external) + b"}"
        key = encode(source)
        if not _plain(key):
            return None
        parts += [key, b":", encoded, b","]
    if rows:
        parts[-1] = b"},"
    else:
        parts[-1] += b"},"
    parts.append(encode(tail)[1:])
    return parts if _plain(parts[0]) and _plain(parts[-1]) else None


class _Cells:
    """Writes the namespace cells of rows: ``"name":"some"`` or ``"name":"all"`` for each column of a bit
    set, in column order, comma separated. Columns go by blocks of 64, each block's text kept by its bits:
    the rows of a cluster differ from one another in few blocks (6,931 distinct of 389,888 written on
    cluster-100k), so most of a row is blocks already written, looked up in C, rather than 10,000 columns
    picked one by one."""

    _WIDTH = 64
    _MASK = (1 << _WIDTH) - 1

    def __init__(self, names: Sequence[str], fragments: list[bytes]) -> None:
        self.names = frozenset(names)
        self.fragments = fragments
        """Per column, its ``some`` cell then its ``all`` cell."""
        self.width = len(names)
        self.blocks: list[dict[tuple[int, int], bytes]] = [
            {(0, 0): b""} for _ in range(0, self.width, self._WIDTH)
        ]
        self.found = self.written = 0
        self.direct = False
        """Whether rows are written column by column: blocks rarely repeat (rows that look random)."""

    @classmethod
    def of(cls, names: Sequence[str]) -> _Cells | None:
        """The writer of these columns; ``None`` when a name needs ``json``'s escapes."""
        fragments = []
        for name in names:
            key = msgspec.json.encode(name)
            if not _plain(key):
                return None
            fragments += [key + b':"' + SOME.encode() + b'"', key + b':"' + ALL.encode() + b'"']
        return cls(names, fragments)

    def cells(self, some: int, fully: int) -> bytes:
        """The cells of the columns in ``some`` (``"some"``) and ``fully`` (``"all"``), disjoint bit sets."""
        if self.direct:
            return b",".join(compress(self.fragments, _interleaved(some, fully, self.width)))
        size = 8 * len(self.blocks)  # each block's bits as one 64-bit number (in the machine's byte order)
        keys = list(
            zip(
                memoryview(some.to_bytes(size, "little")).cast("Q"),
                memoryview(fully.to_bytes(size, "little")).cast("Q"),
                strict=True,
            )
        )
        pieces = list(map(dict.get, self.blocks, keys))
        missing = pieces.count(None)
        if missing:
            for index, piece in enumerate(pieces):
                if piece is None:
                    pieces[index] = self.blocks[index][keys[index]] = self._block(index, some, fully)
            # A block written costs about three times its columns picked out of a whole row: once most blocks
            # are new, the rows are written whole (a few thousand blocks into the matrix, so that a first
            # row, all new, does not decide it).
            self.written += missing
            self.direct = self.written > 2000 and self.written > 3 * self.found
        self.found += len(pieces) - missing
        return b",".join(filter(None, pieces))

    def _block(self, index: int, some: int, fully: int) -> bytes:
        low = index * self._WIDTH
        high = min(low + self._WIDTH, self.width)
        flags = _interleaved(some >> low & self._MASK, fully >> low & self._MASK, high - low)
        return b",".join(compress(self.fragments[2 * low : 2 * high], flags))


_NOT_YET = _Cells((), [])


def _interleaved(some: int, fully: int, width: int) -> bytearray:
    """Selectors of :func:`_cell_fragments`: per column, 1 at its ``some`` place if the column is in
    ``some``, 1 at its ``all`` place if in ``fully`` (disjoint bit sets); each written in C (bytes slices)."""
    flags = bytearray(2 * width)
    if some:
        some_flags = bit_flags(some)
        flags[0 : 2 * len(some_flags) : 2] = some_flags
    if fully:
        full_flags = bit_flags(fully)
        flags[1 : 2 * len(full_flags) : 2] = full_flags
    return flags


def _plain(encoded: bytes) -> bool:
    """Whether msgspec's JSON is ``json``'s (compact, ASCII): nothing either would escape differently."""
    return encoded.isascii() and b"\\" not in encoded and b"\x7f" not in encoded
