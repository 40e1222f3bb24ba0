"""Turn YAML/JSON documents into Kubernetes objects, and collect what every source read.

A document is an object when it is a mapping with string ``apiVersion`` and ``kind``.
``kind: List`` (and every ``*List`` kind) contributes its ``items``. Documents that are
not objects (no apiVersion/kind, a bare list or scalar) are counted, never errors. A built-in
kind under an apiVersion that never served it (``v1`` Deployment) is an input error of its
document, and the object is still judged (``served.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _pointer
from .._yaml import Document, iter_documents
from ..errors import InputError
from ..model import ClusterInfo, EditTracer, ErrorRecord, ImageScan, Obj, ObjRef, Origin, ScanStats
from .scope import is_cluster_scoped
from .served import never_served

if TYPE_CHECKING:
    from .._yamlc import Shared

__all__ = ["Collected", "ObjectSource", "object_ref"]

ObjectSource = Callable[[dict[str, Any], str | None], tuple[str | None, EditTracer | None]]
"""Given a rendered object and the template its document names, the template it came from and
the tracer of its fields (a renderer's metadata may be removed from the object here)."""


def object_ref(raw: Mapping[str, Any], *, file: str | None = None, line: int | None = None) -> ObjRef:
    """The reference of a raw object; ``namespace`` is ``"default"`` when a namespaced kind omits it."""
    api_version, kind = raw["apiVersion"], raw["kind"]
    metadata = raw.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise InputError(f"{kind}: metadata must be a mapping", file=file, line=line)
    name = metadata.get("name")
    if name is None:
        generate = metadata.get("generateName")
        name = generate if isinstance(generate, str) else ""
    if not isinstance(name, str):
        raise InputError(f"{kind}: metadata.name must be a string", file=file, line=line)
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InputError(f"{kind} {name!r}: metadata.namespace must be a string", file=file, line=line)
    group = api_version.rpartition("/")[0]
    scoped = is_cluster_scoped(group, kind)
    if scoped is None:
        # An unknown kind: trust a written namespace; "Cluster*" kinds are cluster-scoped by convention.
        scoped = namespace is None and kind.startswith("Cluster")
    if scoped:
        namespace = None
    elif not namespace:
        namespace = "default"
    return ObjRef(kind=kind, namespace=namespace, name=name, api_version=api_version)


@dataclass
class Collected:
    """Objects, input errors and counts gathered from every source of one scan."""

    objects: list[Obj] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    evidence: set[str] = field(default_factory=set)
    """Kinds of evidence present: ``M`` manifests, ``C`` cluster, ``N`` node files."""
    image_scans: list[ImageScan] = field(default_factory=list)
    """Image scan reports (Trivy, Grype) given to the scan."""
    cluster: ClusterInfo | None = None
    """The cluster read by ``--cluster`` or ``--snapshot``, if any."""
    shared: Shared | None = field(default=None, compare=False, repr=False)
    """Where objects read from files are given one container per repeated structure (``_yaml.new_shared``),
    or ``None``: each object its own. A container two levels or more below an object's root may then be
    another object's too."""

    def add_raw(self, data: dict[str, Any], origin: Origin) -> None:
        """Add one object already parsed (a cluster's or a snapshot's); a bad reference is an error."""
        api_version, kind = data.get("apiVersion"), data.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            self.stats.skipped_documents += 1
            return
        try:
            ref = object_ref(data, file=origin.file, line=origin.line)
        except InputError as e:
            self.error(e)
            return
        self.add_object(Obj(raw=data, ref=ref, origin=origin))

    def error(self, error: InputError) -> None:
        self.errors.append(ErrorRecord(error.file, error.line, error.message))

    def add_stream(
        self,
        text: bytes,
        file: str,
        *,
        renderer: str | None = None,
        template: str | None = None,
        template_path: Callable[[str], str] | None = None,
        object_source: ObjectSource | None = None,
        node: str | None = None,
    ) -> None:
        """Parse a YAML/JSON stream and add its objects; a parse error is recorded, not raised.

        Objects of the documents before a broken one are kept. ``template_path`` maps a
        Helm ``# Source:`` comment to the template file it names; ``object_source``
        finds (and may remove) what an object itself says about its source file. ``node``
        is the node root a node file was read under: its objects are node evidence (``N``).
        """
        self.add_documents(
            iter_documents(text, file),
            file,
            renderer=renderer,
            template=template,
            template_path=template_path,
            object_source=object_source,
            node=node,
        )

    def add_documents(
        self,
        documents: Iterable[Document],
        file: str,
        *,
        renderer: str | None = None,
        template: str | None = None,
        template_path: Callable[[str], str] | None = None,
        object_source: ObjectSource | None = None,
        node: str | None = None,
    ) -> None:
        """Add the objects of one file's documents (parsed here, or by a worker process); an
        :class:`InputError` the documents raise is recorded after the objects before it."""
        self.stats.files += 1
        self.evidence.add("M" if node is None else "N")
        try:
            for document in documents:
                source = document.source_comment
                if source is not None and template_path is not None:
                    source = template_path(source)
                origin_template = template if template is not None else source
                self._add_value(
                    document.data, "", document, file, origin_template, renderer, object_source, node
                )
        except InputError as e:
            self.error(e)

    def _add_value(
        self,
        data: Any,
        pointer: str,
        document: Document,
        file: str,
        template: str | None,
        renderer: str | None,
        object_source: ObjectSource | None,
        node: str | None = None,
    ) -> None:
        if data is None and not pointer:
            return  # an empty document (a trailing '---', a file of comments)
        line, column = document.line, document.column
        if pointer:
            found = document.positions.locate(document.data, pointer)
            if found is not None:
                line, column = found
        if not isinstance(data, dict) or "apiVersion" not in data or "kind" not in data:
            self.stats.skipped_documents += 1
            return
        api_version, kind = data["apiVersion"], data["kind"]
        if not isinstance(api_version, str) or not isinstance(kind, str):
            self.error(InputError("apiVersion and kind must be strings", file=file, line=line))
            return
        items = data.get("items")
        if kind.endswith("List") and isinstance(items, list):
            for index, item in enumerate(items):
                if kind != "List" and isinstance(item, dict) and "kind" not in item:
                    # The API server leaves apiVersion/kind off the items of a typed list
                    # (DeploymentList): the list says what they are.
                    item.setdefault("apiVersion", api_version)
                    item["kind"] = kind.removesuffix("List")
                item_pointer = _pointer.join(pointer, "items", index)
                self._add_value(item, item_pointer, document, file, template, renderer, object_source, node)
            return
        try:
            ref = object_ref(data, file=file, line=line)
        except InputError as e:
            self.error(e)
            return
        unserved = never_served(api_version, kind)
        if unserved is not None:
            # The API server would refuse the document; what it says is still judged.
            self.error(InputError(f"{ref}: {unserved}", file=file, line=line))
        tracer = None
        if object_source is not None:
            named, tracer = object_source(data, template)
            template = named or template
        origin = Origin(file, line, column, document.positions, template, renderer, node, tracer)
        if self.shared is not None and pointer.count("/") <= 2 and document.positions.laid_out():
            # Written to no more (a typed List's item got its kind above), and located by walking its
            # structure: located by the identity of its containers (a List in a List), twins would not be
            # told apart.
            self.shared.share(data)
        self.add_object(Obj(raw=data, ref=ref, origin=origin))

    def add_object(self, obj: Obj, *, counted: bool = True) -> None:
        """Add one object a source built itself (node sources build a few synthetic ones); one not
        ``counted`` is kharden's own note, left out of the objects the scan reports it read."""
        self.objects.append(obj)
        if counted:
            self.stats.objects += 1
            self.stats.kinds[obj.ref.kind] += 1
