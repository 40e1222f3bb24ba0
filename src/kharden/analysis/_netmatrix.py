"""The namespace-to-namespace reachability matrix, computed from rules rather than pod pairs.

Pod pairs grow with the square of the classes (12 million for 3,500 classes); rules do not.
A connection from class s to class d exists on some port when one of these holds:

(a) neither is isolated: s is not isolated for egress, d not for ingress;
(b) s is not isolated for egress and an ingress rule of a policy selecting d matches s;
(c) an egress rule of a policy selecting s matches d, and d is not isolated for ingress;
(d) an egress rule e of a policy selecting s matches d and an ingress rule i of a policy
    selecting d matches s, on a common port.

Each case is a rectangle: a set of sources times a set of destinations (bit sets of classes),
with the ports of the rules resolved per group of destinations that share named ports. A cell
(A, B) of the matrix is ``some`` when a rectangle meets A's sources and B's destinations.

It is ``all`` when every pod of A reaches every pod of B on every port: for each source the
destinations it reaches on every port whatever their ingress (no egress isolation, or an
egress rule without ``ports``) must include all of B, and for each destination the sources it
admits on every port must include all of A.

External columns (the Internet, the metadata API, addresses the user names) depend on egress
only: addresses outside the cluster have no NetworkPolicy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress

from ._netparse import EGRESS, INGRESS, Rule
from ._netsets import ALL_PORTS, AddressSet
from .netpol import External, Network, PodClass, bit_flags, bit_indexes

__all__ = ["ALL", "SOME", "Matrix", "Row", "matrix"]

ALL, SOME = "all", "some"


@dataclass(frozen=True, slots=True, eq=False)
class Row:
    """The cells of a source namespace, which the namespaces that reach alike share: ``some`` and ``fully``
    are bit sets over ``names`` (the namespace columns), ``external`` the external columns' cells."""

    names: Sequence[str]
    some: int
    fully: int
    """Columns reached on every port by every pod (a subset of ``some``)."""
    external: tuple[tuple[str, str], ...]

    def cells(self) -> dict[str, str]:
        """``destination -> "all" | "some"``, in the order of the columns."""
        row = _row(self.names, self.some, self.fully)
        row.update(self.external)
        return row


@dataclass(frozen=True, eq=False)
class Matrix:
    """``cells[source][destination]`` is ``"all"`` or ``"some"`` (absent: nothing).

    Sources and destinations are namespace names, ``"*"`` (namespaces not in the scan) and, as
    destinations, the names of the external columns.
    """

    namespaces: tuple[str, ...]
    """Rows, and the first columns: namespaces with pods, then ``"*"``."""
    externals: tuple[External, ...]
    rows: dict[str, Row]
    """The row of each source that reaches something; sources that reach alike share one."""
    unlabelled: tuple[str, ...]
    """Namespaces without their Namespace object: selectors on their labels were assumed to match."""
    empty: tuple[str, ...]
    """Namespaces of the scan without pods (policies or a Namespace object only)."""

    @cached_property
    def cells(self) -> dict[str, dict[str, str]]:
        """The rows as mappings, made on first use (a JSON report writes the rows without them: the matrix of
        a large cluster is millions of cells); sources that share a row share its mapping (read only)."""
        made: dict[int, dict[str, str]] = {}
        cells = {}
        for source, row in self.rows.items():
            found = made.get(id(row))
            if found is None:
                found = made[id(row)] = row.cells()
            cells[source] = found
        return cells

    def level(self, source: str, destination: str) -> str | None:
        return self.cells.get(source, {}).get(destination)


def matrix(network: Network, externals: Sequence[External] = ()) -> Matrix:
    return _Computation(network).run(tuple(externals))


def _row(names: Sequence[str], some: int, fully: int) -> dict[str, str]:
    """The cells of one row: ``some`` for the namespaces (bits) in ``some``, ``all`` for those also in
    ``fully``, in the order of ``names``. A dense row of 10,000 namespaces is built in C (no loop per cell:
    a matrix holds millions of cells); updating a key keeps its place."""
    row = dict.fromkeys(compress(names, bit_flags(some)), SOME)
    if fully:
        row.update(dict.fromkeys(compress(names, bit_flags(fully)), ALL))
    return row


class _Computation:
    def __init__(self, network: Network) -> None:
        self.net = network
        n = len(network.ns_masks)
        self.masks = [*network.ns_masks, network.outside_bit]  # the outside class is namespace n
        self.ns_count = n + 1
        self.reaching: dict[int, int] = {}
        """Destination namespaces reached, by the bit set of the source namespaces that reach them:
        many rectangles share their sources' namespaces, so each row is OR-ed once per distinct set
        (20,520 times on cluster-100k) rather than once per rectangle and source (2.3 million)."""
        self.not_isolated = {d: network.all_bits & ~network.isolated_bits[d] for d in (INGRESS, EGRESS)}
        self._ns_bits: dict[int, int] = {}
        self._ns_list: dict[int, tuple[int, ...]] = {}
        self.groups: dict[int, int] = {}  # ports_key -> classes with that named-port map
        self._levels: dict[tuple[int, ...], tuple[str | None, ...]] = {}  # by egress policies (ids)
        self._fully_by: dict[tuple[str | int, ...], int] = {}  # by direction and policies (ids)
        self.named: dict[int, PodClass] = {}
        for cls in network.classes:
            self.groups[cls.ports_key] = self.groups.get(cls.ports_key, 0) | 1 << cls.index
            self.named.setdefault(cls.ports_key, cls)

    # -- bit sets of classes to namespaces -----------------------------------------------------------

    def nsbit_indexes(self, classes: int) -> int:
        """The namespaces (as a bit set) holding some of ``classes``."""
        found = self._ns_bits.get(classes)
        if found is None:
            found, rest, class_ns = 0, classes, self.net.class_ns
            while rest:
                ns = class_ns[(rest & -rest).bit_length() - 1]
                found |= 1 << ns
                rest &= ~self.masks[ns]
            self._ns_bits[classes] = found
        return found

    def ns_list(self, classes: int) -> tuple[int, ...]:
        found = self._ns_list.get(classes)
        if found is None:
            found = tuple(bit_indexes(self.nsbit_indexes(classes)))
            self._ns_list[classes] = found
        return found

    def add(self, sources: int, destinations: int) -> None:
        if sources and destinations:
            key = self.nsbit_indexes(sources)
            self.reaching[key] = self.reaching.get(key, 0) | self.nsbit_indexes(destinations)

    def rows(self) -> list[int]:
        """Per source namespace, the destination namespaces it reaches (``some``)."""
        some = [0] * self.ns_count
        for sources, reached in self.reaching.items():
            for ns in bit_indexes(sources):
                some[ns] |= reached
        return some

    def with_ports(self, sources: int, destinations: int, rules: Sequence[Rule]) -> None:
        """Add the destinations towards which every rule of ``rules`` allows a common port."""
        if not sources or not destinations:
            return
        if all(r.fixed_ports is not None for r in rules):
            ports = ALL_PORTS
            for r in rules:
                ports &= r.ports_for({})
            if ports:
                self.add(sources, destinations)
            return
        for key, members in self.groups.items():
            part = destinations & members
            if not part:
                continue
            named = self.named[key].named_ports
            ports = rules[0].ports_for(named, key)
            for r in rules[1:]:
                ports = ports & r.ports_for(named, key)
            if ports:
                self.add(sources, part)

    # -- the computation -----------------------------------------------------------------------------

    def run(self, externals: tuple[External, ...]) -> Matrix:
        net = self.net
        free_out, free_in = self.not_isolated[EGRESS], self.not_isolated[INGRESS]
        self.add(free_out, free_in)  # (a)
        ingress_rules = list(net.rules(INGRESS))
        egress_rules = list(net.rules(EGRESS))
        for rule in ingress_rules:  # (b)
            self.with_ports(rule.classes & free_out, rule.policy.selected, (rule,))
        for rule in egress_rules:  # (c)
            self.with_ports(rule.policy.selected, rule.classes & free_in, (rule,))
        # (d): pair each ingress rule with the egress rules that reach its namespace.
        by_target: dict[int, list[Rule]] = {}
        for rule in egress_rules:
            for ns in self.ns_list(rule.classes & net.isolated_bits[INGRESS]):
                by_target.setdefault(ns, []).append(rule)
        for i_rule in ingress_rules:
            selected = i_rule.policy.selected
            for e_rule in by_target.get(net.class_ns[(selected & -selected).bit_length() - 1], ()):
                destinations = e_rule.classes & selected
                sources = e_rule.policy.selected & i_rule.classes
                if destinations and sources:
                    self.with_ports(sources, destinations, (e_rule, i_rule))
        full = self.full()
        some = self.rows()
        names = [*(ns.name for ns in net.namespaces.values()), "*"]
        populated = [i for i in range(self.ns_count) if self.masks[i]]
        # Namespaces under the same policies reach the same namespaces and addresses: they share one row
        # (2,557 distinct rows of 10,001 on cluster-100k), whose cells are written (JSON) or made once.
        rows: dict[tuple[int, int, tuple[tuple[str, str], ...]], Row] = {}
        of_source: dict[str, Row] = {}
        for a in populated:
            external = tuple(self.external_row(a, externals).items())
            key = (some[a], some[a] & full[a], external)
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(names, *key)
            if row.some or row.external:
                of_source[names[a]] = row
        return Matrix(
            namespaces=tuple(names[i] for i in populated),
            externals=externals,
            rows=of_source,
            unlabelled=tuple(
                ns.name for ns in net.namespaces.values() if not ns.known and self.masks[ns.index]
            ),
            empty=tuple(ns.name for ns in net.namespaces.values() if not self.masks[ns.index]),
        )

    def full(self) -> list[int]:
        """Per source namespace, the destination namespaces it reaches fully (every pod, every port)."""
        net = self.net
        everything = net.all_bits
        reach_out = [everything] * self.ns_count  # AND over sources of what each reaches fully
        admit_in = [everything] * self.ns_count  # AND over destinations of what each admits fully
        for cls in net.classes:
            ns = net.class_ns[cls.index]
            reach_out[ns] &= self._fully(cls, EGRESS)
            admit_in[ns] &= self._fully(cls, INGRESS)
        populated = [i for i in range(self.ns_count) if self.masks[i]]
        open_in = 0  # destination namespaces that admit everything fully
        admitted: list[int] = [0] * self.ns_count  # source ns -> destination ns admitting it fully
        for b in populated:
            if admit_in[b] == everything:
                open_in |= 1 << b
                continue
            for a in self.ns_list(admit_in[b]):
                if self.masks[a] & ~admit_in[b] == 0:
                    admitted[a] |= 1 << b
        every_namespace = 0
        for b in populated:
            every_namespace |= 1 << b
        full = [0] * self.ns_count
        for a in populated:
            reach = reach_out[a]
            targets = every_namespace
            if reach != everything:
                targets = 0
                for b in self.ns_list(reach):
                    if self.masks[b] & ~reach == 0:
                        targets |= 1 << b
            full[a] = targets & (open_in | admitted[a])
        return full

    def _fully(self, cls: PodClass, direction: str) -> int:
        """The classes ``cls`` exchanges traffic with on every port, as far as its own policies go."""
        if cls.outside or cls.host_network or not self.net.isolated(cls, direction):
            return self.net.all_bits
        policies = cls.policies(direction)
        key: tuple[str | int, ...] = (direction, *map(id, policies))  # (shared by classes under them)
        found = self._fully_by.get(key)
        if found is None:
            found = 0
            for policy in policies:
                for rule in policy.rules(direction):
                    if rule.fixed_ports is not None and rule.fixed_ports.is_all:
                        found |= rule.classes
            self._fully_by[key] = found
        return found

    def external_row(self, ns: int, externals: tuple[External, ...]) -> dict[str, str]:
        """The external columns of one source namespace."""
        if not externals:
            return {}
        levels: dict[str, list[str | None]] = {e.name: [] for e in externals}
        mask = self.masks[ns]
        low = (mask & -mask).bit_length() - 1  # (its classes' bits sit thousands up: read them from there)
        for index in bit_indexes(mask >> low) if mask else ():
            known = self._external_levels(self.net.classes[low + index], externals)
            for external, level in zip(externals, known, strict=True):
                levels[external.name].append(level)
        row = {}
        for name, found in levels.items():
            if all(level == ALL for level in found):
                row[name] = ALL
            elif any(found):
                row[name] = SOME
        return row

    def _external_levels(self, cls: PodClass, externals: tuple[External, ...]) -> tuple[str | None, ...]:
        """:meth:`external_level` of each external; the same for the classes under the same egress policies
        (tens of policies each, asked for every class of a large cluster), so worked out once for them."""
        if cls.outside or cls.host_network or not self.net.isolated(cls, EGRESS):
            return (ALL,) * len(externals)
        key = tuple(map(id, cls.egress_policies))
        found = self._levels.get(key)
        if found is None:
            found = self._levels[key] = tuple(self.external_level(cls, e.addresses) for e in externals)
        return found

    def external_level(self, cls: PodClass, target: AddressSet) -> str | None:
        if cls.outside or cls.host_network or not self.net.isolated(cls, EGRESS):
            return ALL
        level = None
        for policy in cls.egress_policies:
            for rule in policy.egress:
                ports = rule.ports_for({}, 0)
                if not ports or not rule.addresses.intersects(target):
                    continue
                if ports.is_all and rule.addresses.covers(target):
                    return ALL
                level = SOME
        return level
