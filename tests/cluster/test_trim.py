"""What a cluster source keeps: equal pod specs of workload templates shared, never changed."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import msgspec
import pytest
from fixture import cluster

from kharden.sources._trim import (
    _POD_SPEC_FIELDS,
    _STATUS_FIELDS,
    LAST_APPLIED,
    Keeper,
    controller_key,
    decode_runtime_pod,
    runtime_pod,
    trim,
)


def _spec(obj: dict[str, Any]) -> Any:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def test_equal_template_specs_are_shared_and_unchanged() -> None:
    objects = cluster()
    workloads = [
        o for o in objects if o["kind"] in {"Deployment", "ReplicaSet", "StatefulSet", "CronJob", "Job"}
    ]
    # A rolled-back revision: a copy of each workload, decoded apart; its spec equals the original's.
    copies = [copy.deepcopy(o) for o in workloads]
    changed = copy.deepcopy(workloads[0])
    _spec(changed)["containers"][0]["image"] += "-next"
    before = json.dumps([trim(copy.deepcopy(o)) for o in [*workloads, *copies, changed]], sort_keys=True)
    keep = Keeper()
    kept = [keep(o) for o in [*workloads, *copies, changed]]
    assert json.dumps(kept, sort_keys=True) == before
    for original, again in zip(kept[: len(workloads)], kept[len(workloads) : -1], strict=True):
        assert _spec(again) is _spec(original)
    assert _spec(kept[-1]) is not _spec(kept[0])
    # The Deployment's ReplicaSet repeats its spec: one copy for both.
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in kept}
    assert _spec(by_name[("ReplicaSet", "web-5d8f7b9c4")]) is _spec(by_name[("Deployment", "web")])


def test_a_large_value_is_shared_only_when_equal() -> None:
    """Large values are known by the hash of their JSON: one that collides is kept apart."""
    keep = Keeper()
    large = {"containers": [{"name": f"c{i}", "image": "registry.example/app:1"} for i in range(20)]}
    assert keep.share(copy.deepcopy(large)) == large
    again = copy.deepcopy(large)
    assert keep.share(again) is not again  # the first one's
    other = copy.deepcopy(large)
    other["containers"][0]["image"] = "registry.example/app:2"
    keep._shared[hash(msgspec.json.encode(other))] = large  # a collision, forced
    assert keep.share(other) is other
    small = {"app": "web"}
    assert keep.share(dict(small)) is keep.share(dict(small))
    assert keep.share({}) is not keep.share({})  # empty values are not worth a lookup


def test_the_typed_decoder_keeps_what_runtime_pod_keeps() -> None:
    """Decoding a Pod straight into its runtime record gives the record of the Pod decoded whole."""
    pods = [o for o in cluster() if o["kind"] == "Pod"]
    odd = copy.deepcopy(pods[0])
    odd["metadata"]["annotations"] = {LAST_APPLIED: "{}", "team": "shop"}
    odd["status"]["startTime"] = "2026-03-01T10:00:01Z"
    for pod in [*pods, odd]:
        decoded = decode_runtime_pod(msgspec.json.encode(pod), Keeper())
        whole = runtime_pod(copy.deepcopy(pod))
        assert decoded is not None
        typed, owner = decoded
        assert typed == whole
        assert owner == controller_key(whole)
        assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(typed["metadata"])
        assert "startTime" not in typed.get("status", {})
        assert LAST_APPLIED not in typed["metadata"].get("annotations", {})
        for status in typed.get("status", {}).get("containerStatuses", []):
            assert set(status) <= {"name", "image"}
    assert decode_runtime_pod(msgspec.json.encode({**pods[0], "kind": "Deployment"}), Keeper()) is None


def _exact(value: Any) -> str:
    """JSON that tells ``True``, ``1`` and ``1.0`` apart (``==`` does not), keys sorted."""
    return json.dumps(value, sort_keys=True)


# Values a pod's fields may hold, of every JSON type: equal ones of different types, empties, long ones
# (past the length under which texts are remembered), a float, and the last-applied annotation.
_VALUES: list[Any] = [
    "a",
    "b",
    "",
    1,
    1.0,
    True,
    None,
    0,
    {},
    [],
    {"k": "v"},
    {"k": 1},
    [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
    {"matchFields": [{"key": "metadata.name", "values": ["node-1"]}]},
    {"long": "x" * 300},
    ["y" * 140, "z" * 140],
    2.5e300,
]


def _random_pod(rng: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    pod = copy.deepcopy(base)
    spec, status, metadata = pod["spec"], pod.setdefault("status", {}), pod["metadata"]
    fields = rng.sample(sorted(_POD_SPEC_FIELDS), rng.randrange(0, 6))
    for key in fields:
        spec[key] = rng.choice(_VALUES)
    for key in rng.sample(["nodeName", "hostname", "affinity", "tolerations", "securityContext"], 2):
        if rng.random() < 0.3:
            spec.pop(key, None)
    for key in rng.sample(sorted(_STATUS_FIELDS), rng.randrange(0, 5)):
        status[key] = rng.choice(_VALUES)
    if rng.random() < 0.3:
        status["containerStatuses"] = [
            {"name": rng.choice(["a", "b"]), "image": rng.choice(_VALUES), "imageID": "sha256:x"}
        ]
    for container in spec.get("containers", []):
        container["image"] = rng.choice(["app:1", "app:2", 1, None])
        if rng.random() < 0.3:
            container["ports"] = [{"containerPort": rng.choice([80, 80.0, "80"])}]
    labels = metadata.setdefault("labels", {})
    labels["pick"] = rng.choice(["1", "2", "3"])
    if rng.random() < 0.3:
        metadata["annotations"] = {LAST_APPLIED: "{}", "team": rng.choice(["shop", "ads"])}
    if rng.random() < 0.2:
        metadata["finalizers"] = rng.choice(_VALUES)
    if rng.random() < 0.3:
        metadata["namespace"] = rng.choice(["shop", "ops", ""])
    for reference in metadata.get("ownerReferences", []):
        if rng.random() < 0.2:
            reference["controller"] = rng.choice([True, False, 1])
    return pod


def test_the_typed_decoder_keeps_what_runtime_pod_keeps_on_random_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pods that share and differ in every field, read by one Keeper (what it remembers of one pod serves
    the next): each record is the one runtime_pod makes of the Pod decoded whole, types and key order too,
    also once the Keeper remembers no more specs."""
    from kharden.sources import _trim  # noqa: PLC0415

    rng = random.Random(18)  # noqa: S311 - test data
    bases = [o for o in cluster() if o["kind"] == "Pod"]
    pods = [_random_pod(rng, rng.choice(bases)) for _ in range(600)]
    for remembered in (1 << 16, 5):
        monkeypatch.setattr(_trim, "_REMEMBERED", remembered)
        keep = Keeper()
        for pod in pods:
            decoded = decode_runtime_pod(msgspec.json.encode(pod), keep)
            if decoded is None:  # a spec field's value the typed decoder refuses: none here
                raise AssertionError(pod)
            typed, owner = decoded
            whole = runtime_pod(copy.deepcopy(pod))
            assert _exact(typed) == _exact(whole)
            assert owner == controller_key(whole)
            assert list(typed) == list(whole)
            assert list(typed["metadata"]) == list(whole["metadata"])
            assert list(typed.get("status", {})) == list(whole.get("status", {}))
            assert sorted(typed["spec"]) == sorted(whole["spec"])
        assert len(keep.specs) <= remembered
