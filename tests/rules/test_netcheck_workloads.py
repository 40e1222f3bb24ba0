"""The workloads of a set of pod classes, read off each class's first pods, are those of every pod in turn."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml

from kharden.analysis.context import ScanContext
from kharden.inventory import Inventory
from kharden.rules._netcheck import Workload, workload_of, workloads
from kharden.sources.documents import Collected


def _pod(rng: random.Random, index: int) -> dict[str, Any]:
    """A running Pod of one of a few ReplicaSets (or none), with labels that split a ReplicaSet's pods."""
    owner = rng.choice(["web-5d9", "db-77f", None])
    metadata: dict[str, Any] = {
        "name": f"pod-{index}",
        "namespace": rng.choice(["shop", "ops"]),
        "labels": {"app": rng.choice(["web", "db"]), "zone": rng.choice(["a", "b"])},
    }
    if owner is not None:
        metadata["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}
        ]
    spec = {"containers": [{"name": "app", "image": "app:1"}], "hostNetwork": rng.random() < 0.2}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _seen(found: list[Workload]) -> list[tuple[str, str, int, bool]]:
    return [(w.name, w.namespace, id(w.pod), w.host_network) for w in found]


@pytest.mark.parametrize("seed", range(30))
def test_workloads_of_classes_are_those_of_their_pods_in_turn(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a seeded, repeatable test input
    collected = Collected()
    pods = [_pod(rng, i) for i in range(rng.randint(1, 25))]
    collected.add_stream(yaml.safe_dump_all(pods).encode(), "pods.yaml")
    net = ScanContext(Inventory(collected.objects), frozenset("MG")).network
    classes = net.classes[:-1]
    for _ in range(10):
        subset = [c for c in classes if rng.random() < 0.6]
        rng.shuffle(subset)
        direct = list({id(w): w for w in workload_of(subset).values()}.values())
        assert _seen(workloads(subset)) == _seen(direct)
