"""The vocabulary every layer shares: objects, where they came from, findings, the report.

Past ``sources/`` and ``inventory.py`` nothing handles raw YAML positions or guesses
namespaces: an :class:`Obj` knows its reference and can point at any of its fields.

Records made once per finding (:class:`Hit`, :class:`Location`, :class:`Finding`) are
named tuples: as immutable as frozen dataclasses, a third of their construction cost,
which shows on scans with tens of thousands of findings.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, ClassVar, NamedTuple, TypeVar

from . import _pointer
from ._yaml import Positions, unpack
from .errors import UsageError

__all__ = [
    "RENDER_ROOT_FILES",
    "STDIN_FILE",
    "BaselineStats",
    "ClusterInfo",
    "EditSite",
    "EditTracer",
    "ErrorRecord",
    "Finding",
    "HashKept",
    "Hit",
    "ImageScan",
    "Location",
    "NotEvaluated",
    "Obj",
    "ObjRef",
    "Origin",
    "Rendered",
    "Report",
    "RuleRun",
    "ScanStats",
    "Scorecard",
    "SectionScore",
    "Severity",
    "Suppression",
    "Unevaluated",
    "Vulnerability",
    "slot_init",
]


class Severity(enum.IntEnum):
    """Ordered: ``Severity.HIGH > Severity.MEDIUM``."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise UsageError(f"unknown severity {text!r} (expected one of: {names})") from None


_Class = TypeVar("_Class", bound=type)


def slot_init(cls: _Class) -> _Class:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that sets each field through its slot.

    A frozen dataclass's own ``__init__`` sets each field with ``object.__setattr__`` (the class refuses
    plain assignment), twice the cost of the slot's setter, and a snapshot of 200,000 pods makes as many
    Origins, ObjRefs, Objs and RunningPods. Same parameters, defaults and instances, still frozen. For
    classes whose fields are all ``init`` fields without default factories, and without ``__post_init__``.
    """
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING for f in fields
    ):
        raise TypeError(f"{cls.__name__}: slot_init makes plain __init__ methods only")
    namespace: dict[str, Any] = {f"_set_{f.name}": cls.__dict__[f.name].__set__ for f in fields}
    namespace.update(
        {f"_default_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING}
    )
    parameters = ", ".join(
        f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}" for f in fields
    )
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields)
    # Generated, as dataclasses generates the __init__ it replaces: a loop over the fields would cost more.
    exec(f"def __init__(self, {parameters}):\n{body}", namespace)  # noqa: S102 - our own text
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls


class HashKept:
    """For a frozen dataclass: the hash of its fields, worked out once and kept in a slot (neither a field
    nor pickled). Its class names its fields in ``_hashed`` (an ``attrgetter``: the tuple made in C) and says
    ``__hash__ = HashKept.__hash__``, since the dataclass would write its own, which hashes the fields every
    time (a large scan hashes a million ObjRefs and Evidence)."""

    __slots__ = ("_hash",)
    _hash: int
    _hashed: ClassVar[attrgetter[tuple[Any, ...]]]

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            found = hash(type(self)._hashed(self))
            object.__setattr__(self, "_hash", found)  # frozen: written once, as the dataclass itself does
            return found


@slot_init
@dataclass(frozen=True, slots=True, order=True)
class ObjRef(HashKept):
    """Which object: ``namespace`` is ``None`` for cluster-scoped kinds."""

    kind: str
    namespace: str | None
    name: str
    api_version: str = ""

    # Every stage keys dicts by the objects findings and facts are on.
    _hashed = attrgetter("kind", "namespace", "name", "api_version")
    __hash__ = HashKept.__hash__

    @property
    def group(self) -> str:
        """The API group (``""`` for the core group): ``apps`` for ``apps/v1``."""
        return self.api_version.rpartition("/")[0]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


STDIN_FILE = "<stdin>"
"""The file of the objects read from stdin, unless ``--stdin-name`` names it."""
RENDER_ROOT_FILES = {
    "helm": ("Chart.yaml",),
    "kustomize": ("kustomization.yaml", "kustomization.yml", "Kustomization"),
}
"""By renderer, the files that make a directory a chart or a kustomization (the first present counts)."""


class EditSite(NamedTuple):
    """Where a person (or ``kharden fix``) edits a field of a rendered object.

    For kustomize: the resource file the object came from, the patch that set the field, or
    the kustomization whose transformer or generator wrote it; for Helm: the template line that
    writes the field, or the values file line its value comes from.

    ``kind`` says which: ``resource``, ``patch`` (a strategic-merge patch), ``json-patch`` (a
    JSON 6902 patch), ``kustomization`` (a generator or transformer entry), ``template``, or
    ``values``. ``document`` is the 0-based index of the YAML document in ``file`` and
    ``pointer`` the JSON pointer of the field in it (for ``json-patch``, into the list of
    operations: ``/0/value``; ``None`` for a template, which is text). A patch written inline
    in a kustomization is a YAML text inside it: ``inline`` is the pointer of that string in
    the kustomization (``/patches/2/patch``) and ``pointer`` the field's pointer in the text.
    """

    file: str
    line: int | None
    column: int | None
    kind: str
    document: int = 0
    pointer: str | None = None
    inline: str | None = None


EditTracer = Callable[[Mapping[str, Any], str], "EditSite | None"]
"""Maps a field of a rendered object (its JSON pointer, possibly past the fields that exist) to
the place to edit, or ``None`` when that place cannot be told with certainty."""


class Rendered(NamedTuple):
    """Where a field is in the output of ``kustomize build`` or ``helm template``.

    ``file`` is the directory that was rendered (the kustomization or the chart). For a chart
    rendered without the helm binary, the line counts in the output of the object's template
    (``Location.template``)."""

    file: str | None
    line: int | None
    column: int | None


@slot_init
@dataclass(frozen=True, slots=True)
class Origin:
    """Where an object was read from.

    ``file``/``line``/``column`` locate the object (1-based). ``template`` is the file
    the object was rendered from (Helm's ``# Source:`` comment, or the kustomize
    resource file); ``renderer`` is ``"helm"`` or ``"kustomize"`` when kharden rendered
    it itself, in which case line and column are those of the rendered output and
    ``tracer`` (when known) finds the place to edit for each field.
    """

    file: str | None
    line: int | None = None
    column: int | None = None
    positions: Positions | None = None
    template: str | None = None
    renderer: str | None = None
    node: str | None = None
    """The node root directory the file was read under (``--node-root``); ``None`` for manifests."""
    tracer: EditTracer | None = None


class Location(NamedTuple):
    """The file, line and column of a field, and its JSON pointer within its object.

    For an object kharden rendered (``renderer`` set), file, line and column are where a
    person edits the field (``edit`` says what that place is); ``rendered`` is where the
    field is in the rendered output. When the place to edit cannot be told with certainty,
    ``edit`` is ``None``, the file is the template (or resource file) with no line, and
    only ``rendered`` has one.
    """

    file: str | None
    line: int | None
    column: int | None
    path: str
    template: str | None = None
    renderer: str | None = None
    rendered: Rendered | None = None
    edit: EditSite | None = None

    def __str__(self) -> str:
        where = self.file or "<unknown>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


@slot_init
@dataclass(frozen=True, slots=True, eq=False)
class Obj:
    """One Kubernetes object as read, with its reference and origin."""

    raw: Mapping[str, Any]
    ref: ObjRef
    origin: Origin

    @property
    def metadata(self) -> Mapping[str, Any]:
        meta = self.raw.get("metadata")
        return meta if isinstance(meta, Mapping) else {}

    @property
    def labels(self) -> Mapping[str, str]:
        return _string_map(self.metadata.get("labels"))

    @property
    def annotations(self) -> Mapping[str, str]:
        return _string_map(self.metadata.get("annotations"))

    def locate(self, path: str) -> Location:
        """The location of the field at ``path``, or of its nearest parent that exists."""
        return self.trace(path)[0]

    def trace(self, path: str) -> tuple[Location, str]:
        """The location of ``path`` and its stable form (list items by name), in one walk."""
        origin = self.origin
        positions = origin.positions.lookup() if origin.positions is not None else None
        packed, stable = _pointer.trace(self.raw, path, positions)
        found = unpack(packed)
        line, column = found if found is not None else (origin.line, origin.column)
        if origin.renderer is None:
            return Location(origin.file, line, column, path, origin.template), stable
        rendered = Rendered(origin.file, line, column)
        site = origin.tracer(self.raw, path) if origin.tracer is not None else None
        if site is not None:
            return (
                Location(
                    site.file, site.line, site.column, path, origin.template, origin.renderer, rendered, site
                ),
                stable,
            )
        if origin.template is not None:
            return Location(
                origin.template, None, None, path, origin.template, origin.renderer, rendered
            ), stable
        return Location(origin.file, line, column, path, None, origin.renderer, rendered), stable

    def edit_site(self, path: str) -> EditSite | None:
        """Where to edit the field at ``path`` of a rendered object (``None``: not rendered, or not
        known with certainty). ``kharden fix`` edits this place."""
        return self.trace(path)[0].edit


def _string_map(value: Any) -> Mapping[str, str]:
    """Labels and annotations with non-string values dropped (the API server would refuse them)."""
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, str)}


class Hit(NamedTuple):
    """What a rule found: the field (JSON pointer into ``obj``) and a message naming the value.

    ``obj`` is needed only from whole-inventory rules; per-object rules hit their own object.
    ``severity`` overrides the rule's default when the rule grades by value.

    ``key`` is the problem's identity within its object when the field does not tell it: a rule
    that can find several problems on one field (two admission plugins of one flag, two clauses of
    one audit policy, the workloads one NetworkPolicy rule opens) gives each its key, which then
    stands for the field in the fingerprint. A key names what the problem is about
    (``kube-scheduler --profiling``, ``AlwaysAdmit``, an audit clause), never a line, so that it
    survives line moves and reformatting.

    ``at`` is the object whose field ``path`` names, when the problem of ``obj`` is fixed in another
    object: a workload whose pods a NetworkPolicy rule lets through is the finding's object (its
    identity, suppressions and counts), and the rule is where it points. A hit with ``at`` needs a key.
    """

    path: str
    message: str
    container: str | None = None
    severity: Severity | None = None
    obj: Obj | None = None
    key: str | None = None
    at: Obj | None = None


@dataclass(frozen=True, slots=True)
class Unevaluated:
    """What a whole-inventory rule could not decide for one object (a file its flags point to is
    missing, a value only the node knows): the runner reports it as not evaluated, never as a pass."""

    reason: str


@dataclass(frozen=True, slots=True)
class Suppression:
    kind: str  # "annotation" | "config" | "baseline"
    reason: str


class Finding(NamedTuple):
    rule: str
    severity: Severity
    section: str
    title: str
    object: ObjRef
    container: str | None
    location: Location
    message: str
    remediation: str
    fingerprint: str
    suppressed: Suppression | None = None


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An input that could not be read; the scan went on without it."""

    file: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where = f"{self.file}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class NotEvaluated:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """The cluster a scan read, live (``--cluster``) or from a snapshot.

    ``unread`` maps a kind the scan could not read to why (``"forbidden to list secrets"``);
    rules that need that kind are reported as not evaluated. ``namespaces`` is empty when
    every namespace was read. No credential is ever kept here.
    """

    context: str | None = None
    server: str | None = None
    """The API server URL the kubeconfig (or the pod's environment) names."""
    version: str | None = None
    """The server's ``gitVersion`` (``v1.31.2``), when it said."""
    namespaces: tuple[str, ...] = ()
    unread: Mapping[str, str] = field(default_factory=dict)
    api_groups: tuple[str, ...] = ()
    """Every API group the server serves (``""`` is the core group), from discovery."""
    failed: tuple[str, ...] = ()
    """Lists the server failed to give (errors, persistent 429/503, lists that never end): the scan's
    input errors. Their kinds are in ``unread`` too."""


@dataclass(slots=True)
class ScanStats:
    """What the scan read: files, objects by kind, documents that were not objects."""

    files: int = 0
    objects: int = 0
    skipped_documents: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Vulnerability:
    """One known vulnerability of an image, as an image scanner reported it."""

    id: str
    """``CVE-2024-2961``, or the scanner's own ID (``GHSA-...``) when it has no CVE."""
    severity: Severity
    package: str = ""
    installed: str = ""
    fixed: str = ""
    """The version that fixes it, ``""`` when no fix is known."""


@dataclass(frozen=True, slots=True)
class ImageScan:
    """What an image scanner (Trivy, Grype) found in one image.

    ``names`` are the references the report knows the image by, as written there
    (``nginx:1.25.4``, ``nginx@sha256:...``); ``digests`` its manifest digests.
    """

    file: str
    scanner: str
    names: tuple[str, ...]
    digests: tuple[str, ...]
    vulnerabilities: tuple[Vulnerability, ...]


@dataclass(frozen=True, slots=True)
class RuleRun:
    """A rule that ran: its effective default severity and how many checks it made.

    ``examined`` counts what a per-object rule looked at (workloads for pod rules,
    objects of its kinds for object rules); a whole-inventory rule makes one check.
    """

    rule: str
    section: str
    severity: Severity
    examined: int
    fix: tuple[bool, bool] = (False, False)
    """What ``kharden fix`` can do for the rule: ``(automatic, only with --unsafe)``."""


@dataclass(frozen=True, slots=True)
class SectionScore:
    """``score`` is 0 to 100, ``None`` when no rule of the section examined anything."""

    section: str
    score: int | None
    rules: int
    """Rules of the section that examined something."""
    failing: int
    """Of those, rules with an unsuppressed finding."""
    capped_by: Severity | None = None
    """The severity whose findings capped the score (critical: at most 49, high: at most 79)."""


@dataclass(frozen=True, slots=True)
class Scorecard:
    overall: int | None
    sections: tuple[SectionScore, ...]


@dataclass(frozen=True, slots=True)
class BaselineStats:
    """How a baseline file was used: its entries, and how many of them this scan still found."""

    file: str
    entries: int
    matched: int

    @property
    def fixed(self) -> int:
        """Entries no finding matched: fixed since the baseline was written (or no longer scanned)."""
        return self.entries - self.matched


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    errors: list[ErrorRecord]
    not_evaluated: list[NotEvaluated]
    stats: ScanStats
    rules_run: int = 0
    rules: list[RuleRun] = field(default_factory=list)
    """The rules that ran, in registry order."""
    scores: Scorecard | None = None
    baseline: BaselineStats | None = None
    generated_at: datetime | None = None
    """When the scan ran (UTC); ``scan()`` sets it, honouring ``SOURCE_DATE_EPOCH``."""
    attack_paths: dict[str, int] | None = None
    """Fingerprint -> attack paths the finding lies on (``kharden paths``); ``None`` when not computed."""
    assumptions: list[str] = field(default_factory=list)
    """Verdicts that rest on an assumed Kubernetes version (``Kubernetes 1.33 for ...``)."""

    @property
    def active(self) -> list[Finding]:
        """Findings that are not suppressed."""
        return [f for f in self.findings if f.suppressed is None]

    def counts(self) -> dict[str, int]:
        """Unsuppressed findings per severity, every severity present, highest first."""
        counts = Counter(f.severity for f in self.findings if f.suppressed is None)
        return {s.label: counts[s] for s in sorted(Severity, reverse=True)}

    def suppressed_counts(self) -> dict[str, int]:
        """Suppressed findings by kind of suppression (annotation, config, baseline), most first."""
        counts = Counter(f.suppressed.kind for f in self.findings if f.suppressed is not None)
        return dict(counts.most_common())

    def counts_by_section(self) -> dict[str, dict[str, int]]:
        counted = Counter((f.section, f.severity) for f in self.findings if f.suppressed is None)
        sections: dict[str, Counter[Severity]] = {}
        for (section, severity), count in counted.items():  # (not a Counter made per finding)
            sections.setdefault(section, Counter())[severity] = count
        return {
            name: {s.label: c[s] for s in sorted(Severity, reverse=True)}
            for name, c in sorted(sections.items())
        }

    def exit_code(self, fail_on: Severity) -> int:
        """2 when some input could not be read, 1 when a finding is at or above ``fail_on``."""
        if self.errors:
            return 2
        return 1 if any(f.severity >= fail_on and f.suppressed is None for f in self.findings) else 0
