"""The vocabulary of attack paths: vertices, edges with their evidence, paths, choke points.

An edge stands for one step an attacker can take, and carries every fact that step needs
(``evidence``): a container that runs privileged, a binding that grants ``create pods``, a
namespace no NetworkPolicy isolates. All of them must hold for the step to exist, so fixing any
one of them (its ``fix``) breaks the step. Facts that kharden reports as findings carry the
rule ID, the object and the JSON pointer of that finding; facts that are how Kubernetes works
(a node runs its pods, a new pod may name any ServiceAccount of its namespace) have no fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import attrgetter

from ..model import HashKept, Location, Obj, ObjRef, slot_init

__all__ = [
    "GOALS",
    "GOAL_LABELS",
    "UNCOUNTED",
    "Choke",
    "ChokePoint",
    "Edge",
    "Entry",
    "Evidence",
    "FindingKey",
    "FixKey",
    "Hop",
    "Path",
    "Vertex",
    "counting_only",
    "locating",
]

_COUNTING: ContextVar[bool] = ContextVar("kharden_paths_counting", default=False)


@contextmanager
def counting_only() -> Iterator[None]:
    """Facts made meanwhile serve only to count the attack paths through each finding (``kharden scan``).

    A count reads a fact's findings (``Evidence.counted``) and nothing else: facts are not located (the
    walk through the object's positions was the dearest part of a fact), and the facts that are no
    finding are all one. Whether steps that differ only in such facts are one step or several changes
    no count: a count goes by pairs of vertices and the findings of their steps.
    """
    token = _COUNTING.set(True)
    try:
        yield
    finally:
        _COUNTING.reset(token)


def locating() -> bool:
    """Whether facts made now say where they are written (not while :func:`counting_only`)."""
    return not _COUNTING.get()


GOALS = ("cluster-admin", "node", "cloud", "etcd", "secrets")
"""What an attacker is after, in the order kharden reports them."""
GOAL_LABELS = {
    "cluster-admin": "cluster-admin",
    "node": "a node",
    "cloud": "cloud credentials",
    "etcd": "etcd",
    "secrets": "every Secret",
}

FixKey = tuple[ObjRef | None, str | None, str]
"""What one fix changes: the object, the JSON pointer of the field (``None``: the object as a whole)
and, where one field stands for several changes, which one (a namespace's ingress or egress policy).

Facts with one key share one fix, whatever rules report them: a namespace without a default-deny
egress policy is both ``netpol.egress-open`` and ``exposure.metadata-api``, and one policy fixes
both; a binding that grants a ServiceAccount ``create pods`` and ``pods/exec`` loses both when the
subject goes.
"""


FindingKey = tuple[str, ObjRef, str | None]
"""A finding a fact is: its rule, its object and the JSON pointer it points at (``None``: anywhere)."""


@slot_init  # a large scan's attack-path count makes a quarter of a million
@dataclass(frozen=True, slots=True)
class Evidence(HashKept):
    """One fact a step needs: what it is, where it is written, and what breaks it.

    ``rule`` names the kharden rule that reports it as a finding on ``object`` at ``path``; a
    ``path`` of ``None`` matches that rule's finding wherever on the object it points. ``fix`` is
    ``None`` when nothing short of changing how Kubernetes works breaks it.
    """

    text: str
    rule: str | None = None
    object: ObjRef | None = None
    path: str | None = None
    location: Location | None = None
    fix: str | None = None
    aspect: str = ""
    """Tells apart facts of one object and field that different changes fix (``Ingress``, ``Egress``)."""
    findings: tuple[FindingKey, ...] = ()
    """The findings this fact is, when they are not ``rule``'s on ``object`` at ``path``: a finding whose
    object is not where its fix is written (a workload's network finding, fixed by its namespace's
    missing policy or by a policy rule; a namespace's Pod Security finding decided by the PodSecurity
    configuration)."""

    # A step is known by its facts, so each is hashed every time a step resting on it is added: its location
    # and findings are deep, and a large graph adds a hundred thousand steps.
    _hashed = attrgetter("text", "rule", "object", "path", "location", "fix", "aspect", "findings")
    __hash__ = HashKept.__hash__

    @property
    def key(self) -> FixKey:
        return (self.object, self.path, self.aspect)

    @property
    def counted(self) -> tuple[FindingKey, ...]:
        """Each finding this fact is, as ``(rule, object, JSON pointer)`` (a pointer of ``None``: the rule's
        finding anywhere on the object)."""
        if self.findings:
            return self.findings
        if self.rule is None or self.object is None:
            return ()
        return ((self.rule, self.object, self.path),)

    @property
    def cuttable(self) -> bool:
        return self.fix is not None

    @classmethod
    def at(
        cls,
        obj: Obj,
        path: str | None,
        text: str,
        *,
        rule: str | None = None,
        fix: str | None = None,
        aspect: str = "",
        findings: tuple[FindingKey, ...] = (),
    ) -> Evidence:
        """A fact written in ``obj`` at ``path`` (the object itself when ``None``)."""
        if _COUNTING.get():
            if rule is None and not findings:
                return UNCOUNTED
            return cls(text, rule, obj.ref, path, None, fix, aspect, findings)
        return cls(text, rule, obj.ref, path, obj.locate(path or ""), fix, aspect, findings)


UNCOUNTED = Evidence("a fact that is no finding")
"""What :meth:`Evidence.at` makes of every fact that is no finding while :func:`counting_only` (a caller
that makes many such facts may take it without wording them)."""


@slot_init
@dataclass(frozen=True, slots=True)
class Vertex:
    """What an attacker can hold: a workload, a ServiceAccount's token, a node, a goal.

    ``kind`` is one of ``workload``, ``serviceaccount``, ``node``, ``newpod``, ``kubelet``,
    ``admission`` or ``goal``; ``goal`` names the goal a vertex is (every node is the goal
    ``node``).
    """

    id: str
    kind: str
    label: str
    object: ObjRef | None = None
    goal: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    """One step from ``source`` to ``target``, and everything it needs."""

    source: str
    target: str
    kind: str
    """What sort of step: ``escape``, ``token``, ``rbac``, ``network``, ``runs-on``, ..."""
    summary: str
    evidence: tuple[Evidence, ...] = ()

    @property
    def fixes(self) -> tuple[FixKey, ...]:
        """The keys of the facts whose fix breaks this step (empty: nothing kharden can name)."""
        return tuple(dict.fromkeys(e.key for e in self.evidence if e.cuttable))


@dataclass(frozen=True, slots=True)
class Entry:
    """Where an attacker starts: a workload and why it is reachable (an Ingress, a NodePort...)."""

    vertex: str
    reasons: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class Hop:
    """Consecutive vertices of a path and every edge that joins them (any one of them will do)."""

    source: str
    target: str
    edges: tuple[Edge, ...]


@dataclass(frozen=True, slots=True)
class Path:
    """The shortest path from one entry point to one goal."""

    entry: str
    goal: str
    hops: tuple[Hop, ...]

    @property
    def vertices(self) -> tuple[str, ...]:
        return (self.entry, *(hop.target for hop in self.hops))

    def __len__(self) -> int:
        return len(self.hops)


@dataclass(frozen=True, slots=True)
class ChokePoint:
    """One fix of the choke points: the facts it changes, and what it cuts."""

    key: FixKey
    facts: tuple[Evidence, ...]
    """The facts with this key, one per rule that reports one (their fixes are one change)."""
    steps: int
    """Steps of the graph (edges) this fix breaks."""
    paths_cut: int
    """Paths found that this fix alone breaks."""
    holds: int
    """Paths found that the other choke points leave open without this one: why it is in the set."""

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.rule for f in self.facts if f.rule))

    @property
    def fixes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.fix for f in self.facts if f.fix))


@dataclass(frozen=True, slots=True)
class Choke:
    """The choke points: a small set of fixes that together cut every path that can be cut."""

    points: tuple[ChokePoint, ...]
    method: str
    """``minimum cut`` or ``greedy``: how the set was chosen."""
    paths: int
    """Paths found."""
    cut: int
    """Of those, the paths the fixes cut together."""
    uncuttable: tuple[Path, ...] = field(default_factory=tuple)
    """Paths no fix that kharden can name breaks (every step is how Kubernetes works)."""
