"""The classes each policy selects, the policies of each class and whether it is isolated, read off bit sets
shifted down or off bytes per class, are those of the whole bit sets."""

from __future__ import annotations

import pytest
from test_netmatrix import random_cluster
from test_netpol import build

from kharden.analysis.netpol import EGRESS, INGRESS


@pytest.mark.parametrize("seed", range(60))
def test_classes_of_policies_and_policies_of_classes_are_the_set_bits(seed: int) -> None:
    net, _ = build(*random_cluster(seed))
    for policy in net.policies:
        bits = [i for i in range(policy.selected.bit_length()) if policy.selected >> i & 1]
        assert net.selected(policy) == [net.classes[i] for i in bits]
    for cls in net.classes:
        for direction in (INGRESS, EGRESS):
            expected = [p for p in net.policies if p.selected >> cls.index & 1 and direction in p.types]
            assert cls.policies(direction) == expected


@pytest.mark.parametrize("seed", range(60))
def test_isolated_classes_are_the_set_bits(seed: int) -> None:
    net, _ = build(*random_cluster(seed))
    for direction in (INGRESS, EGRESS):
        bits = net.isolated_bits[direction]
        assert [net.isolated(c, direction) for c in net.classes] == [
            bool(bits >> c.index & 1) for c in net.classes
        ]
        assert net.uncovered(direction) == [c for c in net.classes[:-1] if not bits >> c.index & 1]
