"""Port and address sets: unions, intersections, except-carving, and how they read."""

from __future__ import annotations

import pytest

from kharden.analysis._netsets import ALL_PORTS, METADATA_API, NO_PORTS, PUBLIC_ADDRESSES, AddressSet, PortSet


def test_port_sets() -> None:
    web = PortSet.of("TCP", 80, 80) | PortSet.of("TCP", 81, 90) | PortSet.of("UDP", 53, 53)
    assert str(web) == "80-90/TCP, 53/UDP"
    assert str(web & PortSet.of("TCP", 85, 100)) == "85-90/TCP"
    assert web & PortSet.of("SCTP") == NO_PORTS
    assert (web.contains("TCP", 90), web.contains("TCP", 91), web.contains("UDP", 53)) == (True, False, True)
    assert str(ALL_PORTS) == "every port"
    assert str(PortSet.of("TCP") | PortSet.of("UDP", 53, 53)) == "every TCP port, 53/UDP"
    assert str(NO_PORTS) == "no port"
    assert web.as_list() == [{"protocol": "TCP", "port": 80, "endPort": 90}, {"protocol": "UDP", "port": 53}]


def test_ip_block_is_cidr_minus_excepts() -> None:
    block = (
        AddressSet.parse("10.0.0.0/8") - AddressSet.parse("10.1.0.0/16") - AddressSet.parse("10.255.0.0/16")
    )
    assert str(block) == "10.0.0.0/16, 10.2.0.0-10.254.255.255"
    assert block.intersects(AddressSet.parse("10.0.0.1"))
    assert not block.intersects(AddressSet.parse("10.1.2.3"))
    assert block.covers(AddressSet.parse("10.2.0.0/15"))
    assert not block.covers(AddressSet.parse("10.0.0.0/8"))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("10.1.2.3", False), ("172.20.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False),
        ("100.64.0.1", False), ("127.0.0.1", False), ("224.0.0.1", False), ("203.0.113.5", False),
        ("2606:4700::1111", True), ("fd00:ec2::254", False), ("fe80::1", False), ("::1", False), ("2001:db8::1", False),
    ],
)  # fmt: skip
def test_public_addresses(address: str, public: bool) -> None:
    assert PUBLIC_ADDRESSES.intersects(AddressSet.parse(address)) == public


def test_metadata_api_is_v4_and_v6() -> None:
    assert str(METADATA_API) == "169.254.169.254, fd00:ec2::254"


def test_host_bits_are_ignored_like_the_api_server() -> None:
    assert AddressSet.parse("10.1.2.3/8") == AddressSet.parse("10.0.0.0/8")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        AddressSet.parse("10.0.0/8")
