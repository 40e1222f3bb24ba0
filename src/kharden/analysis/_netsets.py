"""Sets of ports and of IP addresses, as NetworkPolicy rules describe them.

Both are unions of closed integer intervals, kept sorted and merged, so that union,
intersection and difference are linear and two equal sets are equal values (usable as
dictionary keys and in caches).

- :class:`PortSet`: per protocol (TCP, UDP, SCTP), ranges of ports 1-65535.
- :class:`AddressSet`: IPv4 and IPv6 ranges; an ipBlock is its ``cidr`` minus its ``except`` list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ALL_ADDRESSES",
    "ALL_PORTS",
    "METADATA_API",
    "NO_ADDRESSES",
    "NO_PORTS",
    "PROTOCOLS",
    "PUBLIC_ADDRESSES",
    "AddressSet",
    "PortSet",
]

PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_PORT = 65535
_V4_TOP = (1 << 32) - 1
_V6_TOP = (1 << 128) - 1

Ranges = tuple[tuple[int, int], ...]


def _merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a: Ranges, b: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    j = 0
    for lo, hi in a:
        start = lo
        while j < len(b) and b[j][1] < start:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > start:
                out.append((start, b[k][0] - 1))
            start = max(start, b[k][1] + 1)
            k += 1
        if start <= hi:
            out.append((start, hi))
    return tuple(out)


def _covers(a: Ranges, b: Ranges) -> bool:
    return not _subtract(b, a)


@dataclass(frozen=True, slots=True)
class PortSet:
    """Ports per protocol: ``tcp``, ``udp`` and ``sctp`` hold merged ranges of 1-65535."""

    tcp: Ranges = ()
    udp: Ranges = ()
    sctp: Ranges = ()

    @staticmethod
    def of(protocol: str, lo: int = 1, hi: int = MAX_PORT) -> PortSet:
        """Ports ``lo``-``hi`` of ``protocol`` (every port when no range is given)."""
        ranges = ((lo, hi),) if lo <= hi else ()
        return PortSet(**{protocol.lower(): ranges})

    def _ranges(self) -> tuple[Ranges, Ranges, Ranges]:
        return (self.tcp, self.udp, self.sctp)

    def __bool__(self) -> bool:
        return bool(self.tcp or self.udp or self.sctp)

    def __or__(self, other: PortSet) -> PortSet:
        if not other or self is other:
            return self
        if not self:
            return other
        return PortSet(*(_merge(a + b) for a, b in zip(self._ranges(), other._ranges(), strict=True)))

    def __and__(self, other: PortSet) -> PortSet:
        if self is other or other is ALL_PORTS:
            return self
        if self is ALL_PORTS:
            return other
        return PortSet(*(_intersect(a, b) for a, b in zip(self._ranges(), other._ranges(), strict=True)))

    @property
    def is_all(self) -> bool:
        return self == ALL_PORTS

    def contains(self, protocol: str, port: int) -> bool:
        ranges = getattr(self, protocol.lower(), ())
        return any(lo <= port <= hi for lo, hi in ranges)

    def __str__(self) -> str:
        if not self:
            return "no port"
        if self.is_all:
            return "every port"
        parts = []
        for protocol, ranges in zip(PROTOCOLS, self._ranges(), strict=True):
            if ranges == ((1, MAX_PORT),):
                parts.append(f"every {protocol} port")
                continue
            for lo, hi in ranges:
                parts.append(f"{lo}/{protocol}" if lo == hi else f"{lo}-{hi}/{protocol}")
        return ", ".join(parts)

    def as_list(self) -> list[dict[str, object]]:
        """``[{"protocol": "TCP", "port": 80, "endPort": 90}, ...]`` for JSON output."""
        out: list[dict[str, object]] = []
        for protocol, ranges in zip(PROTOCOLS, self._ranges(), strict=True):
            for lo, hi in ranges:
                entry: dict[str, object] = {"protocol": protocol, "port": lo}
                if hi != lo:
                    entry["endPort"] = hi
                out.append(entry)
        return out


ALL_PORTS = PortSet(((1, MAX_PORT),), ((1, MAX_PORT),), ((1, MAX_PORT),))
NO_PORTS = PortSet()


@dataclass(frozen=True, slots=True)
class AddressSet:
    """IPv4 and IPv6 addresses as merged integer ranges."""

    v4: Ranges = ()
    v6: Ranges = ()

    @staticmethod
    def parse(cidr: str) -> AddressSet:
        """A CIDR (``10.0.0.0/8``, ``2001:db8::/32``) or a single address.

        Host bits are ignored, as the API server's ``net.ParseCIDR`` does. Raises
        :class:`ValueError` for text that is neither.
        """
        network = ipaddress.ip_network(cidr.strip(), strict=False)
        lo, hi = int(network.network_address), int(network.broadcast_address)
        if network.version == 4:
            return AddressSet(v4=((lo, hi),))
        return AddressSet(v6=((lo, hi),))

    @staticmethod
    def union(sets: Iterable[AddressSet]) -> AddressSet:
        v4: list[tuple[int, int]] = []
        v6: list[tuple[int, int]] = []
        for s in sets:
            v4 += s.v4
            v6 += s.v6
        return AddressSet(_merge(v4), _merge(v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def __or__(self, other: AddressSet) -> AddressSet:
        return AddressSet(_merge(self.v4 + other.v4), _merge(self.v6 + other.v6))

    def __and__(self, other: AddressSet) -> AddressSet:
        return AddressSet(_intersect(self.v4, other.v4), _intersect(self.v6, other.v6))

    def __sub__(self, other: AddressSet) -> AddressSet:
        return AddressSet(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6))

    def covers(self, other: AddressSet) -> bool:
        return _covers(self.v4, other.v4) and _covers(self.v6, other.v6)

    def intersects(self, other: AddressSet) -> bool:
        return bool(_intersect(self.v4, other.v4) or _intersect(self.v6, other.v6))

    def __str__(self) -> str:
        if not self:
            return "no address"
        parts = [_range_text(lo, hi, 4) for lo, hi in self.v4] + [
            _range_text(lo, hi, 6) for lo, hi in self.v6
        ]
        return ", ".join(parts)


def _range_text(lo: int, hi: int, version: int) -> str:
    """A range as one or two CIDRs (an address alone for a /32 or /128) when it is, else ``first-last``."""
    if version == 4:
        first, last = ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi)
        parts = [_cidr_text(n) for n in ipaddress.summarize_address_range(first, last)]
    else:
        first6, last6 = ipaddress.IPv6Address(lo), ipaddress.IPv6Address(hi)
        parts = [_cidr_text(n) for n in ipaddress.summarize_address_range(first6, last6)]
    if len(parts) <= 2:
        return ", ".join(parts)
    return (
        f"{parts[0].split('/')[0]}-{ipaddress.ip_address(hi) if version == 4 else ipaddress.IPv6Address(hi)}"
    )


def _cidr_text(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return str(network) if network.num_addresses > 1 else str(network.network_address)


ALL_ADDRESSES = AddressSet(((0, _V4_TOP),), ((0, _V6_TOP),))
NO_ADDRESSES = AddressSet()

# Special-purpose ranges (RFC 6890 and its updates): what is left is the public Internet.
_NOT_PUBLIC = AddressSet.union(
    AddressSet.parse(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",  # multicast, reserved, broadcast
    )
)
# IPv6: the global unicast space minus documentation; ULA (fc00::/7), link-local and the rest lie outside it.
PUBLIC_ADDRESSES = (AddressSet(v4=((0, _V4_TOP),)) - _NOT_PUBLIC) | (
    AddressSet.parse("2000::/3") - AddressSet.parse("2001:db8::/32")
)

# The instance metadata service of AWS, GCP, Azure, OpenStack and others; AWS's IPv6 endpoint.
METADATA_API = AddressSet.parse("169.254.169.254/32") | AddressSet.parse("fd00:ec2::254/128")
