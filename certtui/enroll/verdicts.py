"""The trust test's verdicts: which client is the phone, and what its TLS handshake says."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

from certtui.enroll.events import (
    EnrollEvent,
    NoVerdict,
    OtherClientTested,
    RequestReceived,
    TrustConfirmed,
    TrustRejected,
)
from certtui.enroll.trust import Handshake

# The alerts a client sends when it does not accept the server's certificate (RFC 8446, 6.2),
# by OpenSSL's name for them: only these (after a real ClientHello) are a refusal of the root.
CERTIFICATE_ALERTS = {
    "TLSV1_ALERT_UNKNOWN_CA": "unknown_ca",
    "SSLV3_ALERT_BAD_CERTIFICATE": "bad_certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "certificate_unknown",
}
# OpenSSL's reasons for a ClientHello it cannot agree with (version, cipher, group, signature):
# a client too old or too odd for the test, not a verdict on the root.
NEGOTIATION_FAILURES = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "VERSION_TOO_LOW",
        "NO_PROTOCOLS_AVAILABLE",
        "NO_SHARED_CIPHER",
        "NO_SHARED_GROUPS",
        "NO_SHARED_SIGNATURE_ALGORITHMS",
        "NO_SUITABLE_SIGNATURE_ALGORITHM",
        "INAPPROPRIATE_FALLBACK",
    }
)
# Addresses that loaded the page or the profile in this session, the only ones whose trust
# test is a verdict: a home LAN has tens of devices, and beyond this the oldest is forgotten
# (a flood of addresses costs memory, never a verdict).
MAX_PAGE_CLIENTS = 256


def _what(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or type(exc).__name__)
    return type(exc).__name__


def judge(exc: BaseException, handshake: Handshake) -> tuple[bool, str]:
    """(whether a failed handshake is the device refusing the test certificate, what to say).

    Only a real ClientHello ending in a certificate alert, or in a close right after the
    server answered it with its certificate, is a refusal; anything else is no verdict.
    """
    what = _what(exc)
    if isinstance(exc, ssl.SSLError) and exc.reason in CERTIFICATE_ALERTS and handshake.hello:
        alert = CERTIFICATE_ALERTS[str(exc.reason)]
        return (
            True,
            f"the device refused the test certificate (alert {alert}): it does not trust the root yet",
        )
    if isinstance(exc, ssl.SSLError) and exc.reason in NEGOTIATION_FAILURES:
        return False, (
            f"the client and the test server share no TLS version or cipher ({what}): "
            "this says nothing about trust"
        )
    if not handshake.hello:
        return False, f"what arrived is not a TLS ClientHello ({what}): this says nothing about trust"
    if isinstance(exc, ConnectionAbortedError | TimeoutError):
        return False, (
            f"the client went silent after the server's certificate ({what}): this says nothing about trust"
        )
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ssl.SSLEOFError | ssl.SSLZeroReturnError) or (
        isinstance(exc, ssl.SSLError) and exc.reason == "UNEXPECTED_EOF_WHILE_READING"
    ):
        return True, (
            "the device closed the connection right after the server's certificate: "
            "it does not trust the root yet"
        )
    return False, f"the TLS handshake failed ({what}): this says nothing about trust"


class TrustTest:
    """The addresses that loaded the page or the profile, and the event each trust test earns."""

    def __init__(self, emit: Callable[[EnrollEvent], None], clock: Callable[[], datetime]) -> None:
        self._emit = emit
        self._clock = clock
        # Client addresses that loaded the page or the profile (insertion order: oldest first).
        self.page_clients: dict[str, None] = {}

    def page_loaded(self, client: str) -> None:
        self.page_clients.pop(client, None)
        self.page_clients[client] = None
        while len(self.page_clients) > MAX_PAGE_CLIENTS:
            del self.page_clients[next(iter(self.page_clients))]

    def completed(self, client: str, platform: str) -> None:
        """A client fetched /trusted over TLS with the test certificate."""
        if client in self.page_clients:
            self._emit(
                TrustConfirmed(
                    self._clock(),
                    client,
                    platform,
                    detail="the device that loaded the page completed TLS with the test "
                    "certificate: it trusts the root",
                )
            )
        else:
            self._emit(
                OtherClientTested(
                    self._clock(),
                    client,
                    platform,
                    detail=f"a TLS client at {client} completed the trust test without loading the page",
                )
            )

    def handshake_failed(self, client: str, exc: BaseException, handshake: Handshake) -> None:
        refused, detail = judge(exc, handshake)
        if not refused:
            self._emit(NoVerdict(self._clock(), client, detail=detail))
        elif client in self.page_clients:
            self._emit(TrustRejected(self._clock(), client, detail=detail))
        else:
            self._emit(
                OtherClientTested(
                    self._clock(),
                    client,
                    detail=f"a TLS client at {client} refused the test certificate without loading the page",
                )
            )

    def not_tls(self, client: str, page_url: str) -> None:
        """Plain HTTP typed to the HTTPS test port: reported as a request, never judged."""
        self._emit(
            RequestReceived(
                self._clock(),
                client,
                "unknown",
                "-",
                "(plain HTTP on the HTTPS test port)",
                None,
                f"open {page_url} instead",
            )
        )
