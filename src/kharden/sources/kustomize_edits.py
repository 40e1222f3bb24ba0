"""Where to edit a field of an object ``kustomize build`` rendered: the base, a patch, or a
kustomization line.

kustomize records, on request, where each object came from (``config.kubernetes.io/origin``:
the resource file, or the kustomization and generator that made it) and which kustomization
files configured the transformers that ran over it, in the order they ran
(``alpha.config.kubernetes.io/transformations``: every patch entry, ``namespace``,
``namePrefix``, ``images``, ... of the object's base, components and overlays). It does not
record which fields a transformer changed: that is found here by reading those files again.

For one field of one rendered object, the candidates are, in the order kustomize applied them,
the object's document in its resource file (or its generator entry) and every patch that
selects the object (strategic merge, JSON 6902, from a file or written inline). A field with a
scalar value was last written by the last candidate that holds it with the rendered value; a
mapping or list belongs to the candidate that created it. When no candidate holds the field,
or the last one holds another value, a transformer wrote it (``namePrefix`` a name,
``namespace`` a namespace, ``commonLabels``/``labels`` a label, ``images`` an image,
``replicas`` a count) and the place to edit is that kustomization line. When nothing explains
the rendered value, the place is not known with certainty and the tracer says so (``None``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _pointer
from .._yaml import Document
from ..model import EditSite
from . import _fields
from ._fields import Step, YamlText

__all__ = ["KustomizeTracing"]

_PATCH_KINDS = ("PatchStrategicMergeTransformer", "PatchTransformer", "PatchJson6902Transformer")
_GENERATORS = {"ConfigMapGenerator": "configMapGenerator", "SecretGenerator": "secretGenerator"}
_CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
_LABEL_MAPS = frozenset({"labels", "selector", "matchLabels"})


@dataclass(frozen=True, slots=True)
class _Match:
    depth: int
    site: EditSite
    value: Any
    replaces: bool
    known_value: bool = True
    identifier: bool = False
    """A name a patch selects its object or a list item by: written only if nothing before holds it."""


class _Layer:
    """A document that wrote part of the object: its resource document or a strategic merge patch."""

    def __init__(self, text: YamlText, document: Document, root: Any, root_pointer: str, kind: str) -> None:
        self.text, self.document, self.root, self.root_pointer, self.kind = (
            text,
            document,
            root,
            root_pointer,
            kind,
        )

    def match(self, rendered: Any, tokens: list[str]) -> _Match | None:
        if self.kind == "patch" and tokens in _OBJECT_IDENTITY:
            return None  # what a patch selects its object by, never what it writes
        step = _fields.follow(self.text, self.document, rendered, self.root, tokens)
        identifier = self.kind == "patch" and _names_item(rendered, tokens)
        return _Match(step.depth, self._site(step), step.value, self.kind == "resource", True, identifier)

    def _site(self, step: Step) -> EditSite:
        position = step.position if step.depth else self.text.start(self.document)
        line, column = position if position is not None else (None, None)
        return EditSite(
            self.text.file,
            line,
            column,
            self.kind,
            self.document.index,
            self.root_pointer + step.pointer,
            self.text.inline,
        )


_OBJECT_IDENTITY = (["apiVersion"], ["kind"], ["metadata", "name"], ["metadata", "namespace"])


def _names_item(rendered: Any, tokens: list[str]) -> bool:
    """Whether ``tokens`` is the merge key of a list item (a container's ``name``)."""
    if len(tokens) >= 2 and tokens[-2].isdigit() and tokens[-1] in _fields.MERGE_KEYS:
        parent = _fields.value_at(rendered, tokens[:-2])
        return isinstance(parent, list)
    return False


class _JsonOperation:
    """One operation of a JSON 6902 patch: ``add``/``replace`` write their value at their path."""

    def __init__(self, text: YamlText, document: Document, index: int, operation: Mapping[str, Any]) -> None:
        self.text, self.document, self.index, self.operation = text, document, index, operation
        path = operation.get("path")
        self.path = _pointer.split(path) if isinstance(path, str) else None

    def match(self, rendered: Any, tokens: list[str]) -> _Match | None:
        op, path = self.operation.get("op"), self.path
        if op not in ("add", "replace", "copy", "move") or path is None or len(path) > len(tokens):
            return None
        node = rendered
        for token, written in zip(tokens, path, strict=False):
            # "-" appended an item: the last one, if nothing was appended since.
            wanted = str(len(node) - 1) if written == "-" and isinstance(node, list) else written
            if token != wanted:
                return None
            node = node[int(token)] if isinstance(node, list) else node[token]
        if op in ("copy", "move"):
            position = self.text.position(self.document, self.operation, "from")
            return _Match(len(tokens), self._site(position, ""), None, replaces=True, known_value=False)
        if "value" not in self.operation:
            return None
        step = _fields.follow(self.text, self.document, node, self.operation["value"], tokens[len(path) :])
        position = step.position if step.depth else self.text.position(self.document, self.operation, "value")
        return _Match(len(path) + step.depth, self._site(position, step.pointer), step.value, replaces=True)

    def _site(self, position: tuple[int, int] | None, pointer: str) -> EditSite:
        line, column = position if position is not None else (None, None)
        where = f"/{self.index}/{'value' if self.operation.get('op') in ('add', 'replace') else 'from'}"
        return EditSite(
            self.text.file,
            line,
            column,
            "json-patch",
            self.document.index,
            where + pointer,
            self.text.inline,
        )


class _Generated:
    """An object a ``configMapGenerator``/``secretGenerator`` entry made: every field is the entry's."""

    def __init__(self, kustomization: _Kustomization, key: str, index: int) -> None:
        self.kustomization, self.key, self.index = kustomization, key, index

    def match(self, rendered: Any, tokens: list[str]) -> _Match | None:
        entry = self.kustomization.data[self.key][self.index]
        base = f"/{self.key}/{self.index}"
        pointer = base
        if tokens == ["metadata", "name"] and "name" in entry:
            pointer = base + "/name"
        elif len(tokens) >= 2 and tokens[0] in ("data", "binaryData", "stringData"):
            pointer = _generator_source(entry, tokens[1], base) or base
        return _Match(len(tokens), self.kustomization.site(pointer), None, replaces=True, known_value=False)


def _generator_source(entry: Mapping[str, Any], key: str, base: str) -> str | None:
    """The ``literals``/``files`` item that made the data key ``key`` (``KEY=...``, or a file
    whose name is the key), else the one ``envs`` file."""
    for list_key in ("literals", "files"):
        items = entry.get(list_key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, str):
                continue
            name, sep, _ = item.partition("=")
            named = name.strip() if sep else os.path.basename(item) if list_key == "files" else None
            if named == key:
                return f"{base}/{list_key}/{index}"
    envs = entry.get("envs")
    if isinstance(envs, list) and len(envs) == 1:
        return f"{base}/envs/0"
    return None


class _Kustomization:
    """One kustomization (or component) file, read with positions."""

    def __init__(self, path: str, text: YamlText, lines: list[str]) -> None:
        self.path = path
        self.directory = os.path.dirname(path)
        self.text = text
        self.lines = lines
        self.document = text.documents[0]
        data = self.document.data
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}

    def site(self, pointer: str) -> EditSite:
        node: Any = self.document.data
        position = self.text.start(self.document)
        for token in _pointer.split(pointer):
            if isinstance(node, dict) and token in node:
                position = self.text.position(self.document, node, token) or position
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                position = self.text.position(self.document, node, int(token)) or position
                node = node[int(token)]
            else:
                break
        line, column = position if position is not None else (None, None)
        return EditSite(self.text.file, line, column, "kustomization", 0, pointer)

    def strings(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    def entries(self, key: str) -> list[Any]:
        value = self.data.get(key)
        return value if isinstance(value, list) else []

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, dict) else {}

    def key_line(self, pointer: str) -> int:
        line = self.site(pointer).line
        return line if line is not None else 1


@dataclass
class _Identity:
    """What patches select an object by, at any stage of the build."""

    kind: str
    group: str
    version: str
    names: set[str] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)
    labels: Mapping[str, Any] = field(default_factory=dict)
    annotations: Mapping[str, Any] = field(default_factory=dict)


class KustomizeTracing:
    """The tracers of one ``kustomize build``: kustomization, resource and patch files are read
    once, when the first finding asks, and shared by all the objects of the build."""

    def __init__(self, wrapper: str) -> None:
        self.wrapper = wrapper
        self._texts: dict[str, YamlText | None] = {}
        self._kustomizations: dict[str, _Kustomization | None] = {}
        self._objects: dict[int, dict[tuple[str, str], list[_Candidate]]] = {}

    def path(self, relative: str) -> str:
        """A path kustomize wrote in an annotation (relative to the wrapper) made absolute."""
        return os.path.normpath(os.path.join(self.wrapper, relative))

    def tracer(self, origin: Mapping[str, Any] | None, transformations: list[Any]) -> _ObjectTracer | None:
        if origin is None or "repo" in origin:
            return None  # a remote base: its files are not here to point at
        chain: list[tuple[str, str]] = []
        for entry in transformations:
            if not isinstance(entry, Mapping) or "repo" in entry:
                continue
            configured_in, by = entry.get("configuredIn"), entry.get("configuredBy")
            kind = by.get("kind") if isinstance(by, Mapping) else None
            if isinstance(configured_in, str) and isinstance(kind, str):
                chain.append((self.path(configured_in), kind))
        return _ObjectTracer(self, origin, chain)

    def text(self, path: str) -> YamlText | None:
        if path not in self._texts:
            self._texts[path] = _fields.load(path)
        return self._texts[path]

    def objects(self, text: YamlText) -> dict[tuple[str, str], list[_Candidate]]:
        """The objects of a resource file, indexed once for all the objects that came from it."""
        key = id(text)
        if key not in self._objects:
            self._objects[key] = _objects(text)
        return self._objects[key]

    def kustomization(self, path: str) -> _Kustomization | None:
        if path not in self._kustomizations:
            found = None
            text = self.text(path)
            if text is not None and text.documents:
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        lines = handle.read().split("\n")
                except OSError:
                    lines = []
                found = _Kustomization(path, text, lines)
            self._kustomizations[path] = found
        return self._kustomizations[path]


class _ObjectTracer:
    """The place to edit each field of one rendered object."""

    def __init__(self, tracing: KustomizeTracing, origin: Mapping[str, Any], chain: list[tuple[str, str]]):
        self.tracing = tracing
        self.origin = origin
        self.chain = chain
        self.layers: list[_Layer | _JsonOperation | _Generated] | None = None

    def __call__(self, raw: Mapping[str, Any], pointer: str) -> EditSite | None:
        try:
            return self._site(raw, pointer)
        except Exception:  # noqa: BLE001 - tracing is best effort: a surprise means "not known"
            return None

    def _site(self, raw: Mapping[str, Any], pointer: str) -> EditSite | None:
        if self.layers is None:
            self.layers = self._layers(raw)
        tokens = _fields.tokens_present(raw, pointer)
        value = _fields.value_at(raw, tokens)
        scalar = not isinstance(value, (dict, list))
        # A name that refers to another object may have gained the prefix of that object's overlay.
        reference = bool(tokens) and tokens[-1].lower().endswith("name") and tokens != ["metadata", "name"]
        chosen: _Match | None = None
        last: _Match | None = None
        for layer in self.layers:
            found = layer.match(raw, tokens)
            if found is None or found.depth < len(tokens):
                continue
            if found.identifier and chosen is not None:
                continue  # the patch names the item the base wrote
            last = found
            if scalar:
                if not found.known_value or _fields.same_value(found.value, value, reference=reference):
                    chosen = found
                else:
                    chosen = None  # overwritten here with another value: a later writer must explain it
            elif chosen is None or found.replaces:
                chosen = found
        if chosen is not None:
            return chosen.site
        prior = last.value if last is not None and last.known_value else None
        return self._transformer(raw, tokens, value, prior)

    # ---- what wrote the object ----

    def _kustomizations(self, kinds: tuple[str, ...] | None = None) -> Iterator[tuple[_Kustomization, str]]:
        """The (kustomization, transformer kind) pairs of the chain, each once, in the order they ran."""
        seen: set[tuple[str, str]] = set()
        for path, kind in self.chain:
            if (path, kind) in seen or (kinds is not None and kind not in kinds):
                continue
            seen.add((path, kind))
            found = self.tracing.kustomization(path)
            if found is not None:
                yield found, kind

    def _layers(self, raw: Mapping[str, Any]) -> list[_Layer | _JsonOperation | _Generated]:
        identity = self._identity(raw)
        layers: list[_Layer | _JsonOperation | _Generated] = []
        base = self._base(raw, identity)
        if base is None:
            return []
        layers.append(base)
        for kustomization, kind in self._kustomizations(_PATCH_KINDS):
            layers.extend(_patches(kustomization, kind, identity, self.tracing))
        return layers

    def _identity(self, raw: Mapping[str, Any]) -> _Identity:
        api_version = raw.get("apiVersion")
        group, _, version = api_version.rpartition("/") if isinstance(api_version, str) else ("", "", "")
        metadata = raw.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        name, namespace = metadata.get("name"), metadata.get("namespace")
        identity = _Identity(
            kind=str(raw.get("kind")),
            group=group,
            version=version,
            labels=_string_map(metadata.get("labels")),
            annotations=_string_map(metadata.get("annotations")),
        )
        if isinstance(name, str):
            identity.names.add(name)
            # Peel the prefixes and suffixes of the chain off, outermost first: every stage's name.
            for kustomization, _ in reversed(list(self._kustomizations(("PrefixTransformer",)))):
                prefix = kustomization.strings("namePrefix")
                if prefix and name.startswith(prefix):
                    name = name[len(prefix) :]
                    identity.names.add(name)
            for kustomization, _ in reversed(list(self._kustomizations(("SuffixTransformer",)))):
                suffix = kustomization.strings("nameSuffix")
                if suffix and name.endswith(suffix):
                    name = name[: -len(suffix)]
                    identity.names.add(name)
        identity.namespaces.add(namespace if isinstance(namespace, str) else "default")
        identity.namespaces.add("default")
        return identity

    def _base(self, raw: Mapping[str, Any], identity: _Identity) -> _Layer | _Generated | None:
        origin = self.origin
        configured_in, by = origin.get("configuredIn"), origin.get("configuredBy")
        if isinstance(configured_in, str):
            kind = by.get("kind") if isinstance(by, Mapping) else None
            key = _GENERATORS.get(kind) if isinstance(kind, str) else None
            kustomization = self.tracing.kustomization(self.tracing.path(configured_in))
            if key is None or kustomization is None:
                return None
            return _generator(kustomization, key, identity)
        path = origin.get("path")
        if not isinstance(path, str):
            return None
        text = self.tracing.text(self.tracing.path(path))
        if text is None:
            return None
        found = _find_object(self.tracing.objects(text), identity)
        if found is None:
            return None
        document, root, root_pointer = found
        return _Layer(text, document, root, root_pointer, "resource")

    def _transformer(
        self, raw: Mapping[str, Any], tokens: list[str], value: Any, prior: Any
    ) -> EditSite | None:
        """The kustomization line whose transformer explains the rendered ``value`` at ``tokens``."""
        if not tokens or isinstance(value, list):
            return None
        last = tokens[-1]
        parent = tokens[-2] if len(tokens) >= 2 else ""
        for kustomization, kind in reversed(list(self._kustomizations())):
            pointer: str | None = None
            if kind == "PrefixTransformer" and tokens == ["metadata", "name"]:
                prefix = kustomization.strings("namePrefix")
                pointer = "/namePrefix" if prefix and str(value).startswith(prefix) else None
            elif kind == "SuffixTransformer" and tokens == ["metadata", "name"]:
                suffix = kustomization.strings("nameSuffix")
                pointer = "/nameSuffix" if suffix and str(value).endswith(suffix) else None
            elif kind == "NamespaceTransformer" and last == "namespace":
                pointer = "/namespace" if kustomization.strings("namespace") == value else None
            elif kind == "LabelTransformer" and isinstance(value, dict) and last in _LABEL_MAPS:
                pointer = _labels(kustomization)
            elif isinstance(value, dict):
                continue
            elif kind == "LabelTransformer" and parent in _LABEL_MAPS:
                pointer = _label(kustomization, last, value)
            elif kind == "AnnotationsTransformer" and parent == "annotations":
                found = kustomization.mapping("commonAnnotations")
                pointer = _pointer.join("/commonAnnotations", last) if found.get(last) == value else None
            elif kind == "ImageTagTransformer" and last == "image" and _CONTAINER_LISTS & set(tokens):
                pointer = _image(kustomization, value, prior)
            elif kind == "ReplicaCountTransformer" and tokens == ["spec", "replicas"]:
                pointer = _replicas(kustomization, raw, value)
            if pointer is not None:
                return kustomization.site(pointer)
        return None


def _string_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_Candidate = tuple[Document, Any, str, str | None]
"""A document's object: its document, the object, its pointer in the document, its name."""


def _objects(text: YamlText) -> dict[tuple[str, str], list[_Candidate]]:
    """The objects of a resource file by kind and group (the items of a List too)."""
    found: dict[tuple[str, str], list[_Candidate]] = {}
    for document in text.documents:
        data = document.data
        if not isinstance(data, dict):
            continue
        items = data.get("items")
        if str(data.get("kind", "")).endswith("List") and isinstance(items, list):
            entries = [(item, f"/items/{i}") for i, item in enumerate(items)]
        else:
            entries = [(data, "")]
        for item, pointer in entries:
            if isinstance(item, dict):
                group = str(item.get("apiVersion", "")).rpartition("/")[0]
                found.setdefault((str(item.get("kind")), group), []).append(
                    (document, item, pointer, _name(item))
                )
    return found


def _find_object(
    objects: dict[tuple[str, str], list[_Candidate]], identity: _Identity
) -> tuple[Document, Any, str] | None:
    """The object's document in its resource file: same kind and group, and one of its names
    (the only one of its kind when no name matches)."""
    same_kind = objects.get((identity.kind, identity.group), [])
    named = [c for c in same_kind if c[3] in identity.names]
    chosen = named[0] if named else same_kind[0] if len(same_kind) == 1 else None
    return (chosen[0], chosen[1], chosen[2]) if chosen is not None else None


def _name(data: Any) -> str | None:
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def _generator(kustomization: _Kustomization, key: str, identity: _Identity) -> _Generated | None:
    """The generator entry that made the object: the longest entry name its name starts with."""
    best: tuple[int, int] | None = None
    for index, entry in enumerate(kustomization.entries(key)):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        if any(n == name or n.startswith(name + "-") for n in identity.names) and (
            best is None or len(name) > best[0]
        ):
            best = (len(name), index)
    return _Generated(kustomization, key, best[1]) if best is not None else None


def _patches(
    kustomization: _Kustomization, kind: str, identity: _Identity, tracing: KustomizeTracing
) -> Iterator[_Layer | _JsonOperation]:
    """The layers of the patches of ``kustomization`` of transformer ``kind`` that select the object."""
    key = {
        "PatchStrategicMergeTransformer": "patchesStrategicMerge",
        "PatchTransformer": "patches",
        "PatchJson6902Transformer": "patchesJson6902",
    }[kind]
    for index, entry in enumerate(kustomization.entries(key)):
        target: Mapping[str, Any] | None = None
        if isinstance(entry, str):
            text = _patch_text(kustomization, entry, f"/{key}/{index}", tracing, path=None)
        elif isinstance(entry, dict):
            target = entry.get("target") if isinstance(entry.get("target"), dict) else None
            path, inline = entry.get("path"), entry.get("patch")
            if isinstance(path, str):
                text = _patch_text(kustomization, None, None, tracing, path=path)
            elif isinstance(inline, str):
                text = _patch_text(kustomization, inline, f"/{key}/{index}/patch", tracing, path=None)
            else:
                continue
        else:
            continue
        if text is None or (target is not None and not _selects(target, identity)):
            continue
        for document in text.documents:
            data = document.data
            if isinstance(data, list):
                if target is None:
                    continue  # kustomize refuses a JSON patch without a target
                for i, operation in enumerate(data):
                    if isinstance(operation, dict):
                        yield _JsonOperation(text, document, i, operation)
            elif isinstance(data, dict) and (target is not None or _is_patch_of(data, identity)):
                yield _Layer(text, document, data, "", "patch")


def _patch_text(
    kustomization: _Kustomization,
    inline: str | None,
    inline_pointer: str | None,
    tracing: KustomizeTracing,
    *,
    path: str | None,
) -> YamlText | None:
    if (
        inline is not None
        and "\n" not in inline.strip()
        and path is None
        and not inline.lstrip().startswith("[")
    ):
        path = inline  # a patchesStrategicMerge entry naming a file
        inline = None
    if path is not None:
        return tracing.text(os.path.normpath(os.path.join(kustomization.directory, path)))
    if inline is None or inline_pointer is None:
        return None
    return _fields.load_inline(
        kustomization.text.file,
        kustomization.lines,
        inline,
        kustomization.key_line(inline_pointer),
        inline_pointer,
    )


def _is_patch_of(data: Mapping[str, Any], identity: _Identity) -> bool:
    """A strategic merge patch without a target applies to the object its own kind and name name."""
    if data.get("kind") != identity.kind:
        return False
    api_version = data.get("apiVersion")
    if isinstance(api_version, str) and api_version.rpartition("/")[0] != identity.group:
        return False
    metadata = data.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    return metadata.get("name") in identity.names and (
        not isinstance(namespace, str) or namespace in identity.namespaces
    )


def _selects(target: Mapping[str, Any], identity: _Identity) -> bool:
    """kustomize's patch target selector: group, version, kind, name and namespace (regular
    expressions), label and annotation selectors."""
    for key, actual in (("group", identity.group), ("version", identity.version), ("kind", identity.kind)):
        wanted = target.get(key)
        if isinstance(wanted, str) and wanted and wanted != actual:
            return False
    for key, names in (("name", identity.names), ("namespace", identity.namespaces)):
        wanted = target.get(key)
        if isinstance(wanted, str) and wanted and not any(_full_match(wanted, n) for n in names):
            return False
    for key, values in (("labelSelector", identity.labels), ("annotationSelector", identity.annotations)):
        wanted = target.get(key)
        if isinstance(wanted, str) and wanted and not _selector_matches(wanted, values):
            return False
    return True


def _full_match(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:
        return pattern == text


_REQUIREMENT = re.compile(r"\s*([^\s!=,()]+)\s*(==|!=|=|\s+in\s+|\s+notin\s+)?\s*(\([^)]*\)|[^\s,]*)\s*")


def _selector_matches(selector: str, values: Mapping[str, Any]) -> bool:
    """Equality- and set-based label selector requirements (``a=b,c!=d,e in (f,g),!h``)."""
    for requirement in _split_requirements(selector):
        negated = requirement.startswith("!")
        if negated:
            if requirement[1:].strip() in values:
                return False
            continue
        found = _REQUIREMENT.fullmatch(requirement)
        if found is None:
            return True  # not understood: let the value comparison decide
        key, operator, operand = found.group(1), (found.group(2) or "").strip(), found.group(3)
        actual = values.get(key)
        if not operator:
            if key not in values:
                return False
        elif operator in ("=", "=="):
            if actual != operand:
                return False
        elif operator == "!=":
            if actual == operand:
                return False
        else:
            options = {o.strip() for o in operand.strip("()").split(",")}
            if (operator == "in") != (actual in options):
                return False
    return True


def _split_requirements(selector: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in selector:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _label(kustomization: _Kustomization, key: str, value: Any) -> str | None:
    if kustomization.mapping("commonLabels").get(key) == value:
        return _pointer.join("/commonLabels", key)
    for index, entry in enumerate(kustomization.entries("labels")):
        pairs = entry.get("pairs") if isinstance(entry, dict) else None
        if isinstance(pairs, dict) and pairs.get(key) == value:
            return _pointer.join("/labels", index, "pairs", key)
    return None


def _labels(kustomization: _Kustomization) -> str | None:
    """A label map a label transformer created: its entry in the kustomization."""
    if kustomization.mapping("commonLabels"):
        return "/commonLabels"
    return "/labels/0" if kustomization.entries("labels") else None


def _image_parts(image: str) -> tuple[str, str, str]:
    """``(name, tag, digest)`` of an image reference (a port in the registry host is no tag)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def _image(kustomization: _Kustomization, value: Any, prior: Any) -> str | None:
    if not isinstance(value, str):
        return None
    name, tag, digest = _image_parts(value)
    before = _image_parts(prior) if isinstance(prior, str) else None
    for index, entry in enumerate(kustomization.entries("images")):
        if not isinstance(entry, dict):
            continue
        wanted, new_name = entry.get("name"), entry.get("newName")
        if before is not None and before[0] != wanted:
            continue
        if before is None and name not in (wanted, new_name):
            continue
        base = f"/images/{index}"
        changed = [
            ("newTag", before is None or before[1] != tag),
            ("digest", before is None or before[2] != digest),
            ("newName", before is None or before[0] != name),
        ]
        for key, differs in changed:
            if key in entry and differs:
                return f"{base}/{key}"
        return f"{base}/name" if "name" in entry else base
    return None


def _replicas(kustomization: _Kustomization, raw: Mapping[str, Any], value: Any) -> str | None:
    metadata = raw.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    for index, entry in enumerate(kustomization.entries("replicas")):
        if (
            isinstance(entry, dict)
            and entry.get("count") == value
            and isinstance(name, str)
            and isinstance(entry.get("name"), str)
            and entry["name"] in name
        ):
            return f"/replicas/{index}/count"
    return None
