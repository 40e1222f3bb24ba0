"""The classes each policy selects, and the policies of each class, read off bit sets shifted down to the
policy's namespace, are those of the whole bit sets."""

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
