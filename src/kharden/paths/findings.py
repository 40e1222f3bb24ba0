"""How many attack paths each finding of a scan lies on: what ``kharden scan`` reports beside each finding.

A finding lies on a step when the step rests on it: same rule, same object, and the same field (a
fact that names no field matches the rule's finding anywhere on the object). A fact whose finding is
not where its fix is written names that finding itself (``Evidence.findings``): a workload's network
finding, whose fix is its namespace's missing policy or the policy rule that lets it through. It lies
on the attack path from an entry point to a goal when it lies on a step of one of the *shortest* paths
between them (all of them, not the one ``kharden paths`` happens to print when several are as short).
The count is over the pairs (entry point, goal) with ``kharden paths``' defaults: exposed workloads,
every goal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from functools import partial
from typing import IO

from .._fork import Child, can_fork
from ..analysis.context import ScanContext
from ..model import Finding, ObjRef
from .build import build_graph
from .entries import add_entries
from .graph import AttackGraph
from .model import GOALS, FindingKey, counting_only

__all__ = ["Counting", "Index", "Sums", "count_ahead", "count_early", "on_paths", "pairs_through"]

Index = dict[tuple[str, ObjRef], dict[str | None, dict[str, int]]]
"""(rule, object) -> field -> goal -> the entry points (a bit set) one of whose shortest paths to the
goal rests on the fact."""
GoalIndex = dict[tuple[str, ObjRef], dict[str | None, int]]
"""The same for one goal: (rule, object) -> field -> the entry points (a bit set)."""


def pairs_through(graph: AttackGraph, goals: Iterable[str]) -> Index:
    """For each fact that names a rule: the (entry point, goal) pairs one of whose shortest paths rests on
    it (what :func:`on_paths` counts, goal by goal)."""
    index: Index = {}
    for goal, through in _through_each(graph, goals):
        for key, fields in through.items():
            known = index.setdefault(key, {})
            for path, entries in fields.items():
                known.setdefault(path, {})[goal] = entries
    return index


def _through_each(graph: AttackGraph, goals: Iterable[str]) -> Iterator[tuple[str, GoalIndex]]:
    """For each goal that the graph holds: (rule, object) -> field -> the entry points (a bit set) one of
    whose shortest paths to it rests on the fact. One goal at a time: a large scan's bit sets of every
    goal at once were half the count's memory.

    Per goal, the steps that shortest paths take (one step closer to the goal) form an acyclic graph;
    walking its vertices farthest from the goal first (a topological order of it) carries to each vertex
    the entry points that reach it on a shortest path, as a bit set, so that no entry point is walked on
    its own, and only vertices that some entry point reaches are walked at all.
    """
    bit = {entry: 1 << index for index, entry in enumerate(graph.entries)}
    onward = graph.onward()
    free = graph.free
    nowhere: dict[str, tuple[FindingKey, ...]] = {}
    for goal in goals:
        targets = graph.goal_vertices(goal)
        if not targets:
            continue
        distance = graph.steps_to(targets)
        reached = {entry: entries for entry, entries in bit.items() if distance.get(entry, 0) > 0}
        # ``id`` of a tuple of findings -> it, and the entry points whose shortest paths take a step resting
        # on it: pairs share their tuples (see ``AttackGraph.add_counted``), so each finding is written into
        # the index once per tuple rather than once per step.
        through: dict[int, tuple[tuple[FindingKey, ...], int]] = {}
        by_distance: dict[int, list[str]] = {}
        for vertex in reached:
            by_distance.setdefault(distance[vertex], []).append(vertex)
        for steps in range(max(by_distance, default=0), 0, -1):
            layer = by_distance.get(steps, [])
            if free:
                # A free vertex's steps count nothing: its targets are in its own layer, walked after it
                # (they join the layer as it is walked); it steps to no free vertex.
                layer.sort(key=free.__contains__, reverse=True)
            for vertex in layer:
                entries = reached[vertex]
                onto = steps if vertex in free else steps - 1
                for target, found in onward.get(vertex, nowhere).items():
                    if distance.get(target) != onto:
                        continue
                    if target not in reached:
                        reached[target] = 0
                        by_distance.setdefault(onto, []).append(target)
                    reached[target] |= entries
                    if found:
                        known = through.get(id(found))
                        through[id(found)] = (found, entries if known is None else known[1] | entries)
        index: GoalIndex = {}
        for found, entries in through.values():
            for rule, obj, path in found:
                fields = index.setdefault((rule, obj), {})
                fields[path] = fields.get(path, 0) | entries
        yield goal, index


def on_paths(context: ScanContext, findings: Iterable[Finding], sums: Sums | None = None) -> dict[str, int]:
    """Fingerprint -> number of (entry point, goal) whose shortest paths rest on the finding (0 left out).

    A finding counts, per goal, the entry points of its field's facts and of the facts that name no
    field (its rule's finding anywhere on the object). Goal by goal, that is kept as two sums per
    (rule, object): the entry points of the facts anywhere, and per field what its facts add to those
    (``sums``: those of :func:`count_early`, else worked out now).
    """
    return _counts(_sums(context) if sums is None else sums, findings)


def count_early(context: ScanContext) -> Sums | None:
    """The sums :func:`on_paths` reads, worked out before the rules run where no child counts: the graph,
    dropped once summed, leaves its memory to the findings rather than adding to them (manifests-100k:
    1.43 -> 1.28 GB). ``None`` where building the engines reported an input error: the count is then made
    after the rules, as ever, so that errors come in the same order (``ScanContext.unless_errors``)."""
    return context.unless_errors(_sums)


Sums = dict[tuple[str, ObjRef], tuple[int, dict[str | None, int]]]
"""(rule, object) -> the entry points counted for its facts anywhere, and what each field's facts add."""


def _sums(context: ScanContext) -> Sums:
    with counting_only():
        graph = build_graph(context)
        add_entries(context, graph)
    sums: Sums = {}
    for _, through in _through_each(graph, GOALS):
        for key, fields in through.items():
            anywhere = fields.get(None, 0)
            counted = anywhere.bit_count()
            total, more = sums.get(key, (0, {}))
            for path, entries in fields.items():
                if path is not None:
                    added = (entries | anywhere).bit_count() - counted
                    if added:
                        more[path] = more.get(path, 0) + added
            sums[key] = (total + counted, more)
    return sums


def _counts(sums: Sums, findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        on = sums.get((finding.rule, finding.object))
        if on is None:
            continue
        total, more = on
        found = total + more.get(finding.location.path, 0)
        if found:
            counts[finding.fingerprint] = found
    return counts


class Counting:
    """:func:`on_paths` worked out by a forked child (``_fork.py``) while this process runs the rules.

    The count reads only the inventory and the engines it builds (never the findings: they only pick
    their sums at the end). The child sends the sums, and the names of the engines it built, in order;
    :meth:`counts` builds here those that the rules did not, where the count would have built them, so
    that their input errors are reported alike. A child that failed leaves the count to this process.
    """

    def __init__(self, context: ScanContext) -> None:
        self._child = Child(partial(_send_sums, context))

    def counts(self, context: ScanContext, findings: Iterable[Finding]) -> dict[str, int]:
        """What :func:`on_paths` gives for ``context`` and ``findings``."""
        import pickle  # noqa: PLC0415

        sent = None
        try:
            stream = self._child.output()
            if stream is not None:
                with stream:
                    sent = pickle.load(stream)  # noqa: S301 - our own child's bytes
        except Exception:  # noqa: BLE001 - whatever is wrong with it, the count is made here
            sent = None
        finally:
            self._child.close()
        if sent is None:
            return on_paths(context, findings)
        sums, built = sent
        for engine in built:
            getattr(context, engine)
        return _counts(sums, findings)


def count_ahead(context: ScanContext) -> Counting | None:
    """The count started in a child now, where one may fork and this process holds at most
    :data:`_AHEAD_MAX_BYTES` (the child's pages are this process's until either writes them)."""
    if not can_fork() or _resident_bytes() > _AHEAD_MAX_BYTES:
        return None
    return Counting(context)


_AHEAD_MAX_BYTES = 128 * 1024 * 1024
"""Past this (manifests-10k holds 95 MiB here), the child's copies of the pages both write cost more than
it gains, and they would double a large scan's memory."""


def _send_sums(context: ScanContext, out: IO[bytes]) -> None:
    import pickle  # noqa: PLC0415

    before = set(context.built())
    sums = _sums(context)
    built = [name for name in context.built() if name not in before]
    pickle.dump((sums, built), out, pickle.HIGHEST_PROTOCOL)


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
