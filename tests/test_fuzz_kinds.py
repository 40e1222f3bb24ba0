"""Every field of every kind kharden reads, replaced by each wrong type: an input error or nothing, never a crash.

Exhaustive, not random: one sample object of each kind the sources and rules read (the rule cases,
the examples, the test cluster, the node trees, and ``tests/data/fuzz/kinds.yaml`` for the kinds
those lack), every field of it (list items of the same shape once), and for each field every JSON
type it does not have (null, boolean, integer, a 70-bit integer, float, string, list, mapping).

A round puts one mutation into each sample at once (the samples refer to each other: a binding to
its role, a pod to its controller) and runs every rule. The rounds go through four doors:

- objects added as a cluster source adds them, with their node origins (every rule, every field);
- a YAML stream, as files are read;
- a snapshot file, as ``--snapshot`` reads it (streamed, Pods trimmed to runtime records);
- the API server stand-in of ``tests/cluster/fakeapi.py``, answering in process (the reader's lists
  and Pod trimming), and for a few rounds over HTTPS on 127.0.0.1.

The API server's own documents (aggregated and legacy discovery, list envelopes) are fuzzed the same
way. A crash is reported with the one mutation that causes it.
"""

from __future__ import annotations

import copy
import functools
import json
import pickle
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, TESTS
from kharden import _pointer
from kharden.errors import ClusterError
from kharden.model import Obj, Origin, Report
from kharden.rules import select
from kharden.scan import evaluate
from kharden.sources import cluster as cluster_source
from kharden.sources import kubeconfig
from kharden.sources.cluster import ACCEPT_JSON, ClusterOptions, _RefusedError, read_cluster
from kharden.sources.documents import Collected
from kharden.sources.node import read_node
from kharden.sources.snapshot import read_snapshot

sys.path.insert(0, str(TESTS / "cluster"))
from fakeapi import ApiResource, Behaviour, FakeApi, FakeApiServer, certs, write_kubeconfig
from fixture import cluster, kyverno_policy, psp

__all__ = ["certs"]  # the fixture, imported for pytest

# One value of each JSON type (the integer past 64 bits, which some decoders refuse).
WRONG: list[Any] = [None, True, 2**70, 1.5, "x", ["x", 1], {"a": {"b": []}}]
ROUNDS = 30
"""Samples with more mutations than this are cloned (a name of their own each) to share them out."""
NODE_TREES = ("kubeadm-insecure", "kubeadm-secure", "k3s", "rke2")
_INDEX = re.compile(r"/\d+(?=/|$)")
Mutation = tuple[str, Any]


def _type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return type(value).__name__
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def _pointers(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            pointer = _pointer.join(prefix, key)
            yield pointer
            yield from _pointers(value, pointer)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            pointer = _pointer.join(prefix, index)
            yield pointer
            yield from _pointers(value, pointer)


def _get(obj: Any, pointer: str) -> Any:
    node = obj
    for token in _pointer.split(pointer):
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _set(obj: Any, pointer: str, value: Any) -> None:
    *parents, last = _pointer.split(pointer)
    node = obj
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _mutations(raw: dict[str, Any], node_object: bool) -> list[Mutation]:
    """Each field (one per shape: list items alike once) with each value of another type."""
    shapes: dict[str, str] = {}
    for pointer in _pointers(raw):
        shapes.setdefault(_INDEX.sub("/0", pointer), pointer)
    found = []
    for pointer in shapes.values():
        if node_object and not pointer.startswith(("/config/", "/args/")):
            continue  # kharden builds its node objects itself: only the file contents they hold are input
        original = _type(_get(raw, pointer))
        found += [(pointer, value) for value in WRONG if _type(value) != original]
    return found


class Sample:
    """One object of one kind, where it came from, and its mutations."""

    def __init__(self, obj: Obj, raw: dict[str, Any], mutations: list[Mutation]) -> None:
        self.raw = raw
        self.origin = obj.origin
        self.api_version = obj.ref.api_version
        self.kind = obj.ref.kind
        self.mutations = mutations

    @classmethod
    def of(cls, obj: Obj) -> list[Sample]:
        """The sample of ``obj``, cloned when it has more than :data:`ROUNDS` mutations; a clone has a
        name of its own (the object keeps its name: what refers to it still finds it)."""
        raw = dict(obj.raw)
        mutations = _mutations(raw, obj.ref.group == "node.kharden.io")
        found = []
        for index in range(0, max(len(mutations), 1), ROUNDS):
            clone = pickle.loads(pickle.dumps(raw))  # noqa: S301 - our own objects, copied
            if index and isinstance(clone.get("metadata"), dict):
                clone["metadata"]["name"] = f"{clone['metadata'].get('name')}-clone{index // ROUNDS}"
            found.append(cls(obj, clone, mutations[index : index + ROUNDS]))
        return found

    def __repr__(self) -> str:
        return f"{self.kind} {self.raw.get('metadata', {}).get('name')}"


def _key(obj: Obj) -> tuple[str, ...]:
    """Kinds, and within a kind what the analyses read differently (named ConfigMaps, components)."""
    name = obj.ref.name
    if obj.ref.kind == "ConfigMap":
        special = name
    elif name.startswith(("istiod", "kube-", "etcd")):
        special = obj.labels.get("component") or obj.labels.get("k8s-app") or name.split("-")[0]
    else:
        special = ""
    return (obj.ref.api_version, obj.ref.kind, special, "node" if obj.origin.node else "")


@functools.cache
def samples() -> tuple[Sample, ...]:
    collected = Collected()
    for path in [
        *sorted((TESTS / "rules").rglob("*.yaml")),
        *sorted(EXAMPLES.rglob("*.yaml")),
        TESTS / "data" / "fuzz" / "kinds.yaml",
    ]:
        collected.add_stream(path.read_bytes(), str(path))
    for raw in [*cluster(), kyverno_policy(), psp()]:
        collected.add_raw(raw, Origin("cluster fuzz"))
    for tree in NODE_TREES:
        read_node(str(TESTS / "data" / "nodes" / tree), collected)
    best: dict[tuple[str, ...], Obj] = {}
    for obj in collected.objects:
        if obj.ref.kind == "NodeFiles":
            continue  # written by kharden, not read
        key = _key(obj)
        if key not in best or len(list(_pointers(obj.raw))) > len(list(_pointers(best[key].raw))):
            best[key] = obj
    return tuple(sample for _, obj in sorted(best.items()) for sample in Sample.of(obj))


# Kinds that name another object (a binding its role or policy, a Pod its owner, a constraint its
# template): mutated in rounds of their own, so that what they name is intact when they are mutated,
# and the objects they name are mutated while they are intact.
REFERRING = frozenset(
    {
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicyBinding",
        "RoleBinding",
        "ClusterRoleBinding",
        "Pod",
        "ReplicaSet",
        "Job",
        "Ingress",
        "AuthorizationPolicy",
        "NetworkPolicy",
    }
)

Round = list[tuple[Sample, dict[str, Any], Mutation | None]]


def _refers(sample: Sample) -> bool:
    return sample.kind in REFERRING or sample.api_version.startswith("constraints.gatekeeper.sh/")


def rounds(kept: Callable[[Mutation], bool] = lambda _: True) -> Iterator[Round]:
    """Rounds of ``(sample, its data in this round, its mutation)``: round i applies each sample's i-th,
    the samples that do not refer to others first, then those that do."""
    blob = pickle.dumps([sample.raw for sample in samples()])
    for referring in (False, True):
        chosen = [
            [m for m in sample.mutations if kept(m)] if _refers(sample) == referring else []
            for sample in samples()
        ]
        for index in range(max(len(m) for m in chosen)):
            data = pickle.loads(blob)  # noqa: S301 - our own objects, copied
            found: Round = []
            for sample, raw, mutations in zip(samples(), data, chosen, strict=True):
                mutation = mutations[index] if index < len(mutations) else None
                if mutation is not None:
                    _set(raw, mutation[0], copy.deepcopy(mutation[1]))
                found.append((sample, raw, mutation))
            yield found


def _check(report: Report) -> None:
    for error in report.errors:
        assert "\n" not in error.message, error
        assert error.file, error


def _culprit(round_: Round, run: Callable[[list[Any]], None]) -> str:
    """The one mutation of a crashing round that crashes on its own."""
    for sample, _, mutation in round_:
        if mutation is None:
            continue
        alone = [(s, pickle.loads(pickle.dumps(s.raw)), None) for s, _, _ in round_]  # noqa: S301
        index = next(i for i, (s, _, _) in enumerate(alone) if s is sample)
        _set(alone[index][1], mutation[0], copy.deepcopy(mutation[1]))
        try:
            run(alone)
        except Exception as e:  # noqa: BLE001 - the point is to find which one
            return f"{sample!r} {mutation[0]} = {mutation[1]!r}: {type(e).__name__}: {e}"
    return "no single mutation crashes on its own: a combination does"


def _rounds_never_crash(
    run: Callable[[list[Any]], None], kept: Callable[[Mutation], bool] = lambda _: True
) -> int:
    count = 0
    for round_ in rounds(kept):
        try:
            run(round_)
        except Exception:  # noqa: BLE001 - reported with the mutation that does it
            pytest.fail(_culprit(round_, run))
        count += 1
    return count


RULES = select()


def _objects(round_: list[Any]) -> None:
    collected = Collected(evidence={"M", "C", "N"})
    for sample, raw, _ in round_:
        collected.add_raw(raw, sample.origin)
    _check(evaluate(collected, RULES))


def _source_level(mutation: Mutation) -> bool:
    """Fields the sources themselves read: the object's own, its metadata, what a Pod's runtime record
    keeps (containers' names, images and ports, the status); the rules read the rest as they do in
    :func:`test_every_field_of_every_kind_as_objects`."""
    pointer = mutation[0]
    depth = pointer.count("/")
    return depth <= 2 or (
        depth <= 4 and pointer.startswith(("/metadata/", "/spec/containers/0/", "/status/"))
    )


def _document_level(mutation: Mutation) -> bool:
    """Fields the file source reads itself (apiVersion, kind, metadata, a List's items)."""
    pointer = mutation[0]
    return pointer.count("/") <= 2 or pointer.startswith("/metadata/")


def test_every_field_of_every_kind_as_objects() -> None:
    assert len({(s.api_version, s.kind) for s in samples()}) >= 55
    assert sum(len(s.mutations) for s in samples()) > 5_000
    assert _rounds_never_crash(_objects) == 2 * ROUNDS


def test_every_field_of_every_kind_through_files() -> None:
    """The mutated objects as a YAML stream (the intact ones, their context, as objects: parsing them
    again every round would only cost time)."""

    def run(round_: list[Any]) -> None:
        text = "\n---\n".join(json.dumps(raw) for _, raw, mutation in round_ if mutation is not None)
        collected = Collected()
        collected.add_stream(text.encode(), "fuzz.yaml")
        for sample, raw, mutation in round_:
            if mutation is None:
                collected.add_raw(raw, sample.origin)
        _check(evaluate(collected, RULES))

    _rounds_never_crash(run, _document_level)


def test_every_field_of_every_kind_through_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"

    def run(round_: list[Any]) -> None:
        items = ",\n".join(json.dumps(raw) for _, raw, _ in round_)
        path.write_text('{"apiVersion": "v1", "kind": "List", "items": [\n' + items + '\n], "kharden": {}}\n')
        collected = Collected()
        read_snapshot(str(path), collected)
        _check(evaluate(collected, RULES))

    _rounds_never_crash(run, _source_level)


# -- the API server stand-in ------------------------------------------------------------------------


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + ("es" if lower.endswith("s") else "s")


_EXTENSION_PLURALS = {(group, name) for group, names in cluster_source.EXTENSIONS.items() for name in names}


@functools.cache
def _stand_in() -> tuple[FakeApi, dict[tuple[str, str], ApiResource]]:
    """A stand-in serving every kind of the samples (custom resources under the names kharden lists)."""
    from fakeapi import RESOURCES  # noqa: PLC0415

    known = {(r.group, r.kind): r for r in RESOURCES}
    extra: dict[tuple[str, str], ApiResource] = {}
    for sample in samples():
        group, _, version = sample.api_version.rpartition("/")
        if (group, sample.kind) in known or (group, sample.kind) in extra or group == "node.kharden.io":
            continue
        plural = _plural(sample.kind)
        if group not in cluster_source.EXTENSIONS and group not in {"policy", "admissionregistration.k8s.io"}:
            continue  # not read from a cluster (audit policies, kubelet configuration...)
        builtin = group in {"policy", "admissionregistration.k8s.io", "networking.k8s.io"}
        namespaced = sample.raw.get("metadata", {}).get("namespace") is not None
        extra[(group, sample.kind)] = ApiResource(
            group, version, plural, sample.kind, namespaced, builtin=builtin
        )
    return FakeApi([], Behaviour(extra=tuple(extra.values()))), {**known, **extra}


class _InProcessApi:
    """What the reader's HTTP client would get from the stand-in, without the sockets (JSON on the way)."""

    def __init__(self, server: FakeApi) -> None:
        self.server = server
        self.target = kubeconfig.Target("fuzz", "https://fuzz.invalid", None)  # type: ignore[arg-type]

    def get(self, path: str, params: dict[str, str] | None = None, accept: str = ACCEPT_JSON) -> Any:
        replaced = self.server.behaviour.replace.get(path)
        if replaced is not None:
            code, body = 200, replaced
        else:
            code, body, _ = self.server.answer(path, {k: [v] for k, v in (params or {}).items()}, accept)
        if code != 200:
            raise _RefusedError(code, f"{code}")
        return json.loads(json.dumps(body))

    def close(self) -> None:
        pass


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    server, _ = _stand_in()
    monkeypatch.setattr(cluster_source, "_Api", lambda target, options: _InProcessApi(server))
    monkeypatch.setattr(kubeconfig, "resolve", lambda *args, **kwargs: _InProcessApi(server).target)
    yield server
    server.behaviour.replace.clear()


def _serve(server: FakeApi, resources: dict[tuple[str, str], ApiResource], round_: list[Any]) -> None:
    server.objects = {r: [] for r in server.resources}
    for sample, raw, _ in round_:
        group = sample.api_version.rpartition("/")[0]
        resource = resources.get((group, sample.kind))
        if resource is not None and resource in server.objects:
            server.objects[resource].append(raw)
    server.sort()


def _read_and_evaluate(*, rules: bool = True) -> Collected:
    collected = Collected()
    read_cluster(ClusterOptions(), collected)
    if rules:
        _check(evaluate(collected, RULES))
    return collected


def test_every_field_of_every_kind_through_the_api_server(in_process: FakeApi) -> None:
    _, resources = _stand_in()

    def run(round_: list[Any]) -> None:
        _serve(in_process, resources, round_)
        _read_and_evaluate()

    _rounds_never_crash(run, _source_level)


def test_a_few_rounds_over_https(tmp_path: Path, certs: Any) -> None:
    """The same rounds over the wire (TLS, JSON, pages of 500) for the first few mutations."""
    stand_in, resources = _stand_in()
    with FakeApiServer([], certs, Behaviour(extra=stand_in.behaviour.extra)) as server:
        kubeconfig_path = write_kubeconfig(tmp_path / "config", server.url, certs)
        for index, round_ in enumerate(rounds(_source_level)):
            if index == 3:
                break
            _serve(server, resources, round_)
            collected = Collected()
            read_cluster(ClusterOptions(kubeconfig=str(kubeconfig_path)), collected)
            _check(evaluate(collected, RULES))


# -- the API server's own documents ------------------------------------------------------------------


def _documents(server: FakeApi) -> dict[str, tuple[Any, str]]:
    """The discovery documents and one list envelope the reader reads, by path (and the Accept to get them)."""
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    return {
        "/apis": (server.answer("/apis", {}, aggregated)[1], "aggregated"),
        "/api": (server.answer("/api", {}, aggregated)[1], "aggregated"),
        "/apis/": (server.answer("/apis", {}, "application/json")[1], "legacy"),
        "/api/": (server.answer("/api", {}, "application/json")[1], "legacy"),
        "/apis/apps/v1": (server.answer("/apis/apps/v1", {}, "application/json")[1], "legacy"),
        "/api/v1/pods": (server.answer("/api/v1/pods", {"limit": ["500"]}, "application/json")[1], "any"),
        "/version": (server.answer("/version", {}, "")[1], "any"),
    }


def test_every_field_of_the_api_servers_documents(in_process: FakeApi) -> None:
    """Discovery documents, a list's envelope and its first item's own fields (their insides are the
    objects' fields, fuzzed above), ``/version``."""
    in_process.objects = {r: [] for r in in_process.resources}
    for obj in cluster():
        group = obj["apiVersion"].rpartition("/")[0]
        in_process.objects[in_process.by_kind[(group, obj["kind"])]].append(obj)
    in_process.sort()
    documents = _documents(in_process)
    reads = 0
    errors: list[str] = []
    for key, (document, mode) in documents.items():
        path = key.rstrip("/")
        in_process.behaviour.aggregated = mode != "legacy"
        for mutation in _mutations(document, node_object=False):
            if path == "/api/v1/pods" and mutation[0].count("/") > 3:
                continue
            body = copy.deepcopy(document)
            _set(body, *mutation)
            in_process.behaviour.replace[path] = body
            try:
                _read_and_evaluate(rules=path == "/api/v1/pods")  # discovery changes no object
            except ClusterError as e:
                errors.append(str(e))  # a discovery that does not describe resources: one line
            except Exception as e:  # noqa: BLE001 - reported with the mutation that does it
                pytest.fail(f"{path} {mutation[0]} = {mutation[1]!r}: {type(e).__name__}: {e}")
            reads += 1
        in_process.behaviour.replace.clear()
    in_process.behaviour.aggregated = True
    assert reads > 200
    assert [e for e in errors if "\n" in e] == []
