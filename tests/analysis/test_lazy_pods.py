"""Lazily built effective pods are the effective pods, and only templates that cannot fail are built lazily."""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest

from kharden.analysis.podspec import (
    _TEMPLATE,
    EffectivePod,
    _Env,
    _LazyPod,
    _light_pod,
    _pod_fields,
    _StringValues,
    _Volume,
    effective_pod,
    named_ports,
)
from kharden.errors import InputError
from kharden.model import Obj, ObjRef, Origin

_FIELDS = tuple(EffectivePod.__dataclass_fields__)


def _obj(raw: dict[str, Any], kind: str = "Deployment") -> Obj:
    return Obj(raw, ObjRef(kind, "ns", "web", "apps/v1" if kind != "Pod" else "v1"), Origin("web.yaml"))


def _full(schema: Any, rng: random.Random) -> Any:
    """A value of every key ``schema`` names, each of the type it asks (plus a key that is never read)."""
    if type(schema) is dict:
        value = {key: _full(inner, rng) for key, inner in schema.items()}
        value["unread"] = rng.choice([None, 3, "x", [1], {"a": 1}])
        return value
    if type(schema) is list:
        return [_full(schema[0], rng) for _ in range(rng.randint(1, 2))]
    if schema is _StringValues:
        return {"role": "db"}
    if schema is dict:
        return {"a": "b", "c": 1}
    if schema is _Volume:
        return {"name": rng.choice(["v", None]), rng.choice(["emptyDir", "hostPath"]): {"path": "/"}}
    if schema is _Env:
        return {"name": rng.choice(["A", None]), "value": rng.choice([None, "x", "$(A)", 3, [1]])}
    return {bool: rng.choice([True, False]), int: rng.randint(0, 3), str: rng.choice(["", "x", "TCP"])}[
        schema
    ]


_WRONG: list[Any] = [None, True, False, 0, 7, 1.5, "", "x", [], ["x"], [None], [1], {}, {"a": 1}, {1: "a"}]


def _leaves(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` (keys and list items, at every depth)."""
    found = [at] if at else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _leaves(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _leaves(item, (*at, index))
    return found


def _put(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    value = copy.deepcopy(value)
    node = value
    for step in at[:-1]:
        node = node[step]
    node[at[-1]] = new
    return value


def _same_as_built_whole(obj: Obj, path: str) -> None:
    """``effective_pod`` gives the error, or every field, that building the whole pod at once gives."""
    try:
        whole = EffectivePod(**_pod_fields(obj, path))
    except (InputError, TypeError, AttributeError) as e:  # the latter two: keys that are not strings
        assert _light_pod(obj, path) is None
        with pytest.raises(type(e), match=f"^{re.escape(str(e))}$"):
            effective_pod(obj, path)
        return
    pod = effective_pod(obj, path)
    assert named_ports(pod) == named_ports(whole)
    assert pod == whole
    assert whole == pod
    assert effective_pod(obj, path) == pod
    for name in _FIELDS:
        assert getattr(pod, name) == getattr(whole, name), name


@pytest.mark.parametrize("seed", range(6))
def test_a_lazy_pod_is_the_pod_built_whole_or_gives_its_error_at_once(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
    template = _full(_TEMPLATE, rng)
    raw = {"spec": {"template": template}}
    assert isinstance(effective_pod(_obj(raw), "/spec/template"), _LazyPod)
    _same_as_built_whole(_obj(raw), "/spec/template")
    places = _leaves(template)
    for at in places:
        for wrong in rng.sample(_WRONG, 5):
            changed = _put(template, at, wrong)
            _same_as_built_whole(_obj({"spec": {"template": changed}}), "/spec/template")
            _same_as_built_whole(_obj(changed, "Pod"), "")


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"spec": None},
        {"spec": {"template": None}},
        {"spec": {"template": []}},
        {"spec": {"template": {"metadata": "x"}}},
        {"spec": {"template": {"spec": {"containers": [None]}}}},
        {"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": True}]}]}}}},
        {"spec": {"template": {"spec": {"nodeSelector": {1: "a"}}}}},
        {"spec": {"template": {"spec": {"volumes": [{"name": "v", 1: {}}]}}}},
    ],
)
def test_templates_missing_or_odd_read_as_built_whole(raw: dict[str, Any]) -> None:
    _same_as_built_whole(_obj(raw), "/spec/template")


def test_named_ports_without_building_the_containers() -> None:
    spec = {
        "containers": [
            {
                "name": "a",
                "ports": [{"name": "http", "containerPort": 80}, {"name": "", "containerPort": 81}],
            },
            {
                "name": "b",
                "ports": [{"name": "http", "containerPort": 8080}, {"name": "dns", "protocol": "UDP"}],
            },
        ],
        "initContainers": [{"name": "s", "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]}],
    }
    pod = effective_pod(_obj({"spec": {"template": {"spec": spec}}}), "/spec/template")
    assert isinstance(pod, _LazyPod)
    assert named_ports(pod) == {("http", "TCP"): 80, ("dns", "UDP"): 53}
    with pytest.raises(AttributeError):
        object.__getattribute__(pod, "containers")
    assert [c.name for c in pod.containers] == ["a", "b", "s"]  # built on first use


class _Reads(dict):  # type: ignore[type-arg]
    """A mapping that notes each key read of it (with where it sits in the template)."""

    def __init__(self, value: dict[str, Any], at: tuple[str, ...], reads: set[tuple[tuple[str, ...], str]]):
        super().__init__(value)
        self.at, self.reads = at, reads

    def get(self, key: Any, default: Any = None) -> Any:
        self.reads.add((self.at, key))
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.reads.add((self.at, key))
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        self.reads.add((self.at, key))
        return super().__contains__(key)


def _noted(value: Any, at: tuple[str, ...], reads: set[tuple[tuple[str, ...], str]]) -> Any:
    if isinstance(value, dict):
        return _Reads({k: _noted(v, (*at, k), reads) for k, v in value.items()}, at, reads)
    if isinstance(value, list):
        return [_noted(item, (*at, "[]"), reads) for item in value]
    return value


def test_every_field_the_pod_builder_reads_has_its_type_checked() -> None:
    """If ``_pod_fields`` reads a key the check does not know, a template with a wrong type there would be
    built lazily and fail later: every key read must be in ``_TEMPLATE``."""
    reads: set[tuple[tuple[str, ...], str]] = set()
    rng = random.Random(1)  # noqa: S311 - a seeded, repeatable test input
    template = _noted(_full(_TEMPLATE, rng), (), reads)
    _pod_fields(_obj({"spec": {"template": template}}), "/spec/template")
    assert len(reads) > 60
    for at, key in reads:
        schema: Any = _TEMPLATE
        for step in at:
            schema = schema[0] if step == "[]" else schema[step]
        if schema is dict or schema is _StringValues:
            continue  # read whole (labels, annotations, seLinuxOptions, nodeSelector)
        if schema is _Env and key in ("name", "value"):
            continue  # a variable's value is read whatever its type
        if at == ("spec", "volumes", "[]"):
            continue  # a volume's source: its one other key, whatever it is, and not typed (else {})
        assert key in schema, (at, key)


@pytest.mark.parametrize(("rule_ids", "lazy"), [(["netpol.ingress-open"], True), (["pod.privileged"], False)])
def test_a_scan_builds_its_pods_whole_when_pod_rules_will_read_them(
    rule_ids: list[str], lazy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lazily built pods spare a network scan the fields it never reads; pod rules read them all, so a scan
    that runs any builds them whole (checking the types first would only cost time)."""
    from kharden.analysis import context as context_module  # noqa: PLC0415
    from kharden.rules import select  # noqa: PLC0415
    from kharden.scan import evaluate  # noqa: PLC0415
    from kharden.sources.documents import Collected  # noqa: PLC0415

    built: list[EffectivePod] = []
    original = context_module.ScanContext.pods.func  # type: ignore[attr-defined]

    def pods(self: context_module.ScanContext) -> list[EffectivePod]:
        built.extend(original(self))
        return list(built)

    monkeypatch.setattr(context_module.ScanContext, "pods", property(pods))
    collected = Collected()
    collected.add_stream(
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\n"
        b"spec:\n  template:\n    metadata: {labels: {app: web}}\n"
        b"    spec:\n      containers: [{name: web, image: 'web:1', ports: [{name: http, containerPort: 80}]}]\n",
        "web.yaml",
    )
    evaluate(collected, select(rule_ids))
    assert built
    assert all((type(pod) is _LazyPod) is lazy for pod in built)
