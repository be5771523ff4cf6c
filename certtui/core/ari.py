"""ACME Renewal Information (RFC 9773): a certificate's ARI id and its suggested renewal window."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certtui.core.extensions import extension

# RFC 9773 section 4.3.3 suggests clients poll about every six hours; a window moved by the
# operator (renew-early) is then seen within that time.
RETRY_AFTER_S = 6 * 3600
# An early window (renew-early, or a CA being replaced) is one hour that ended when it was
# marked: wholly in the past, so a client renews on its next check (RFC 9773 section 4.2).
EARLY_WINDOW = timedelta(hours=1)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def serial_bytes(serial: int) -> bytes:
    """The DER INTEGER content of a serial: big-endian two's complement, minimal length."""
    return serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)


def cert_id(cert: x509.Certificate) -> str:
    """RFC 9773 section 4.1: base64url(AKI keyIdentifier) "." base64url(serial)."""
    aki = extension(cert, x509.AuthorityKeyIdentifier, strict=True)
    if aki is None:
        raise ValueError("the certificate has no authority key identifier")
    if aki.key_identifier is None:
        raise ValueError("the certificate's authority key identifier has no keyIdentifier")
    return f"{_b64(aki.key_identifier)}.{_b64(serial_bytes(cert.serial_number))}"


def parse_cert_id(text: str) -> tuple[bytes, int]:
    """(keyIdentifier, serial) of an ARI id; ValueError if it is not one."""
    aki, dot, serial = text.partition(".")
    if not dot or not aki or not serial or "=" in text:
        raise ValueError("an ARI certificate id is base64url(AKI keyIdentifier).base64url(serial)")
    raw_aki = base64.urlsafe_b64decode(aki + "=" * (-len(aki) % 4))
    raw_serial = base64.urlsafe_b64decode(serial + "=" * (-len(serial) % 4))
    if not raw_serial or raw_serial[0] & 0x80:
        raise ValueError("the serial of an ARI certificate id must be a positive integer")
    return raw_aki, int.from_bytes(raw_serial, "big")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    early: bool
    why: str


def window(
    not_before: datetime, not_after: datetime, early_since: datetime | None = None, why: str = ""
) -> Window:
    """The middle third of the certificate's last third of life; with `early_since` (the time
    the operator marked it, or its CA's replacement began) the hour before that, if earlier."""
    life = not_after - not_before
    start, end = not_before + life * 7 / 9, not_before + life * 8 / 9
    if early_since is not None and early_since < end:
        end = max(not_before, early_since)
        start = max(not_before, end - EARLY_WINDOW)
        return Window(start, end, True, why)
    return Window(start, end, False, "the middle third of the last third of its life")
