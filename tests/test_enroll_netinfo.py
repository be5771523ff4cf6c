"""Which local address the QR advertises: filters and preferences on given lists, no network."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from certtui.enroll import netinfo
from certtui.enroll.netinfo import IfAddress


def addr(interface: str, address: str, temporary: bool = False) -> IfAddress:
    return IfAddress(interface, ip_address(address), temporary)


TYPICAL_HOST = [
    addr("lo", "127.0.0.1"),
    addr("lo", "::1"),
    addr("docker0", "172.17.0.1"),
    addr("br-3f2a1c", "172.18.0.1"),
    addr("veth9a8b7c", "fe80::1c2b:3aff:fe4d:5e6f"),
    addr("virbr0", "192.168.122.1"),
    addr("eth0", "fe80::211:22ff:fe33:4455"),
    addr("eth0", "2001:db8:1::20"),
    addr("eth0", "fd12:3456:789a:1::20"),
    addr("wlan0", "169.254.10.20"),
    addr("eth0", "192.168.178.20"),
]


def test_prefers_private_ipv4_and_skips_loopback_link_local_and_bridges() -> None:
    ranked = [str(a.address) for a in netinfo.candidates(TYPICAL_HOST)]
    assert ranked == ["192.168.178.20", "fd12:3456:789a:1::20", "2001:db8:1::20"]
    best = netinfo.choose(TYPICAL_HOST)
    assert best == addr("eth0", "192.168.178.20")


@pytest.mark.parametrize("network", ["10.1.2.3", "172.20.0.5", "192.168.1.10"])
def test_every_rfc1918_range_is_private(network: str) -> None:
    public = addr("eth0", "198.51.100.7")
    assert netinfo.choose([public, addr("eth1", network)]) == addr("eth1", network)


def test_public_ipv4_beats_global_ipv6_when_nothing_is_private() -> None:
    found = netinfo.choose([addr("eth0", "2001:db8::5"), addr("eth0", "198.51.100.7")])
    assert found == addr("eth0", "198.51.100.7")


def test_stable_ipv6_before_privacy_address() -> None:
    found = netinfo.choose([addr("eth0", "fd00::abcd", temporary=True), addr("eth0", "fd00::20")])
    assert found == addr("eth0", "fd00::20")


def test_no_lan_address() -> None:
    only_local = [
        addr("lo", "127.0.0.1"),
        addr("docker0", "172.17.0.1"),
        addr("eth0", "fe80::1"),
        addr("podman0", "10.88.0.1"),
        addr("cni0", "10.244.0.1"),
        addr("lxcbr0", "10.0.3.1"),
    ]
    assert netinfo.choose(only_local) is None
    assert netinfo.candidates([]) == []


def test_default_advertise_follows_bind() -> None:
    assert netinfo.default_advertise("127.0.0.1", TYPICAL_HOST) == "127.0.0.1"
    assert netinfo.default_advertise("192.168.178.20", []) == "192.168.178.20"
    # 0.0.0.0 answers on IPv4 only; :: on both.
    v6_only = [addr("eth0", "fd00::20")]
    assert netinfo.default_advertise("0.0.0.0", v6_only) is None
    assert netinfo.default_advertise("::", v6_only) == "fd00::20"
    assert netinfo.default_advertise("0.0.0.0", TYPICAL_HOST) == "192.168.178.20"
    assert netinfo.default_advertise("::", TYPICAL_HOST) == "192.168.178.20"


IF_INET6 = """\
fd123456789a00010000000000000020 02 40 00 00     eth0
fd123456789a0001aabbccddeeff0011 02 40 00 01     eth0
fd123456789a00010000000000000099 02 40 00 40     eth0
fd123456789a00010000000000000098 02 40 00 20     eth0
fe80000000000000021122fffe334455 02 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
garbage line
"""


def test_parse_if_inet6() -> None:
    found = netinfo.parse_if_inet6(IF_INET6)
    assert found == [
        addr("eth0", "fd12:3456:789a:1::20"),
        addr("eth0", "fd12:3456:789a:1:aabb:ccdd:eeff:11", temporary=True),
        addr("eth0", "fe80::211:22ff:fe33:4455"),
        addr("lo", "::1"),
    ]
    assert netinfo.choose(found) == addr("eth0", "fd12:3456:789a:1::20")


def test_reading_this_machine_sends_nothing_and_works() -> None:
    # Reads the kernel's tables only (ioctl, /proc); whatever it finds is well-formed.
    for found in netinfo.local_addresses():
        assert found.interface
    best = netinfo.choose(netinfo.local_addresses())
    assert best is None or not best.address.is_loopback
