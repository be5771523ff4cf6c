"""Before a session starts: the host the QR names, and the trust test the store allows."""

from __future__ import annotations

from certtui.errors import CerttuiError


def advertised_host(advertise: str | None, bind: str) -> str:
    """The host the QR names: --advertise checked and normalised, else one found locally."""
    from certtui.core.models import NameType
    from certtui.core.names import parse_name
    from certtui.enroll import netinfo

    if advertise is None:
        found = netinfo.advertise_for(bind)
        if found is None:
            raise CerttuiError(
                "no LAN address found on this machine's interfaces; give the address the phone "
                "should use with --advertise HOST"
            )
        return found
    name = parse_name(advertise)
    if name.type not in (NameType.DNS, NameType.IP) or name.value.startswith("*"):
        raise CerttuiError(
            f"--advertise {advertise!r} is not a host the phone can open; give a host name or "
            "an IP address such as 192.168.1.20"
        )
    return name.value
