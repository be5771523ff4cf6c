"""The LAN address to advertise, read from this machine's interfaces without sending a packet."""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Linux ioctls (<linux/sockios.h>): an interface's flags and its (primary) IPv4 address.
SIOCGIFFLAGS = 0x8913
SIOCGIFADDR = 0x8915
IFF_UP = 0x1
# /proc/net/if_inet6 flags (<linux/if_addr.h>): a privacy address rotates within hours, so
# it is a poor thing to print under a QR; deprecated, DAD-failed and tentative ones do not
# answer at all.
IFA_F_TEMPORARY = 0x01
IFA_F_DADFAILED = 0x08
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IF_INET6 = Path("/proc/net/if_inet6")

# The ranges a phone on the same home network reaches: RFC 1918 and IPv6 unique local.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
# Bridges of Docker, Podman, libvirt, LXC/LXD and Kubernetes CNI: their addresses are private
# but no phone can reach them.
CONTAINER_PREFIXES = ("docker", "veth", "br-", "virbr", "lxcbr", "lxdbr", "podman", "cni", "flannel")


@dataclass(frozen=True)
class IfAddress:
    """One address on one interface, as the kernel lists it."""

    interface: str
    address: IPAddress
    temporary: bool = False


def _is_container(interface: str) -> bool:
    return interface.startswith(CONTAINER_PREFIXES)


def _usable(a: IfAddress) -> bool:
    ip = a.address
    return not (
        ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or _is_container(a.interface)
    )


def _rank(a: IfAddress) -> tuple[int, int]:
    private = any(a.address in net for net in PRIVATE_NETWORKS)
    # Private IPv4 first (the shortest URL, the smallest QR), then IPv6 ULA, then public
    # IPv4, then global IPv6; stable addresses before privacy ones.
    order = {(True, 4): 0, (True, 6): 1, (False, 4): 2, (False, 6): 3}
    return order[(private, a.address.version)], int(a.temporary)


def candidates(addresses: Iterable[IfAddress]) -> list[IfAddress]:
    """The addresses worth advertising, best first: no loopback, link-local or container bridge."""
    usable = [a for a in addresses if _usable(a)]
    return sorted(usable, key=_rank)


def choose(addresses: Iterable[IfAddress]) -> IfAddress | None:
    """The address to advertise, or None when this machine has no LAN address."""
    best = candidates(addresses)
    return best[0] if best else None


def default_advertise(bind: str, addresses: Iterable[IfAddress]) -> str | None:
    """The host for the URL: the bound address itself when it is specific, else the best LAN
    address the socket answers on (IPv4 only for 0.0.0.0); None when there is none."""
    try:
        bound = ipaddress.ip_address(bind)
    except ValueError:
        return bind  # a host name to bind to is also the name to advertise
    if not bound.is_unspecified:
        return str(bound)
    usable = [a for a in candidates(addresses) if bound.version == 6 or a.address.version == 4]
    return str(usable[0].address) if usable else None


def _ifreq(name: str) -> bytes:
    return struct.pack("256s", name.encode()[:15])


def ipv4_addresses() -> list[IfAddress]:
    """Each up interface's IPv4 address (SIOCGIFADDR), read locally: no packet is sent."""
    out: list[IfAddress] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            try:
                flags = struct.unpack_from("H", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, _ifreq(name)), 16)[0]
                if not flags & IFF_UP:
                    continue
                raw = fcntl.ioctl(s.fileno(), SIOCGIFADDR, _ifreq(name))
            except OSError:
                continue  # no IPv4 address on this interface
            out.append(IfAddress(name, ipaddress.IPv4Address(raw[20:24])))
    return out


def parse_if_inet6(text: str) -> list[IfAddress]:
    """The IPv6 addresses in /proc/net/if_inet6 text, without unusable (tentative...) ones."""
    out: list[IfAddress] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6:
            continue
        hex_addr, _index, _plen, _scope, hex_flags, name = fields
        try:
            address = ipaddress.IPv6Address(bytes.fromhex(hex_addr))
            flags = int(hex_flags, 16)
        except ValueError:
            continue
        if flags & (IFA_F_DADFAILED | IFA_F_DEPRECATED | IFA_F_TENTATIVE):
            continue
        out.append(IfAddress(name, address, temporary=bool(flags & IFA_F_TEMPORARY)))
    return out


def ipv6_addresses() -> list[IfAddress]:
    try:
        return parse_if_inet6(IF_INET6.read_text())
    except OSError:
        return []  # no IPv6 on this kernel, or not Linux


def local_addresses() -> list[IfAddress]:
    """Every IPv4 and IPv6 address of this machine's interfaces."""
    try:
        v4 = ipv4_addresses()
    except OSError:
        v4 = []
    return v4 + ipv6_addresses()


def advertise_for(bind: str) -> str | None:
    """`default_advertise` over this machine's interfaces."""
    return default_advertise(bind, local_addresses())
