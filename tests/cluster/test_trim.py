"""What a cluster source keeps: equal pod specs of workload templates shared, never changed."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
from fixture import cluster

from kharden.sources._trim import LAST_APPLIED, Keeper, decode_runtime_pod, runtime_pod, trim


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
        typed = decode_runtime_pod(msgspec.json.encode(pod), Keeper().share)
        whole = runtime_pod(copy.deepcopy(pod))
        assert typed == whole
        assert typed is not None
        assert not {"uid", "resourceVersion", "creationTimestamp", "managedFields"} & set(typed["metadata"])
        assert "startTime" not in typed.get("status", {})
        assert LAST_APPLIED not in typed["metadata"].get("annotations", {})
        for status in typed.get("status", {}).get("containerStatuses", []):
            assert set(status) <= {"name", "image"}
    assert decode_runtime_pod(msgspec.json.encode({**pods[0], "kind": "Deployment"}), Keeper().share) is None
