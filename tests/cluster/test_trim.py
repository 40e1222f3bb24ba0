"""What a cluster source keeps: equal pod specs of workload templates shared, never changed."""

from __future__ import annotations

import copy
import json
from typing import Any

import msgspec
from fixture import cluster

from kharden.sources._trim import Keeper, trim


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
