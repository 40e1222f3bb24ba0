"""A scan traces each place its whole-inventory findings point at once (network rules report one policy rule
for many workloads): the findings are those traced one by one."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from kharden.analysis.context import ScanContext
from kharden.inventory import Inventory
from kharden.model import Hit, Location, Obj
from kharden.rules import select
from kharden.runner import Runner, finding
from kharden.scan import ScanOptions, collect
from kharden.suppress import Policy
from netdocs import deployment, namespace, policy

_NETWORK_RULES = [
    "netpol.ingress-open",
    "netpol.egress-open",
    "netpol.internet-egress",
    "netpol.selects-nothing",
    "exposure.metadata-api",
]


def test_each_place_is_traced_once_and_findings_are_as_traced_each_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = [namespace("shop"), namespace("ops")]
    docs += [deployment("shop", f"web{i}") for i in range(4)] + [deployment("ops", "job", host_network=True)]
    docs.append(policy("shop", "out", podSelector={}, policyTypes=["Egress"], egress=[{}]))
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    context = ScanContext(Inventory(collect([str(path)], ScanOptions()).objects), frozenset("M"))
    rules = select(_NETWORK_RULES)
    hits = [(rule, hit, hit.obj) for rule in rules for hit in rule.check(context) if isinstance(hit, Hit)]
    assert len(hits) > len({(id(hit.at or obj), hit.path) for _, hit, obj in hits})  # places repeat

    traced: Counter[tuple[int, str]] = Counter()
    trace = Obj.trace

    def counted(obj: Obj, pointer: str) -> tuple[Location, str]:
        traced[(id(obj), pointer)] += 1
        return trace(obj, pointer)

    runner = Runner(rules)
    one_by_one = [finding(rule, obj, hit, {}, Policy()) for rule, hit, obj in hits if obj is not None]
    monkeypatch.setattr(Obj, "trace", counted)
    kept = [runner.finding(rule, obj, hit, {}) for rule, hit, obj in hits if obj is not None]
    assert kept == one_by_one
    assert set(traced.values()) == {1}
