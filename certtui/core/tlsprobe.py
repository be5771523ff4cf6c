"""Fetch the certificate chain a live TLS server sends (also over STARTTLS); the only network code."""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from certtui.errors import CerttuiError

# 443 for HTTPS; with --starttls the submission (587), IMAP (143) and POP3 (110) ports, where
# the session starts in plain text. Implicit-TLS ports (465, 993, 995) need no --starttls.
DEFAULT_PORTS: dict[str | None, int] = {None: 443, "smtp": 587, "imap": 143, "pop3": 110}
STARTTLS = ("smtp", "imap", "pop3")
# Long enough for a slow home server over Wi-Fi, short enough that a wrong port does not hang.
TIMEOUT_S = 10.0
# iOS 14+ needs TLS 1.2 or later (mkcert #312): the first handshake insists on it.
MODERN = ssl.TLSVersion.TLSv1_2


@dataclass(frozen=True)
class Probe:
    """What one server sent: its chain (leaf first) and the TLS version it negotiated."""

    chain: tuple[x509.Certificate, ...]
    version: str

    @property
    def tls12(self) -> bool:
        return self.version in ("TLSv1.2", "TLSv1.3")


def parse_target(text: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (host, port or None)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise CerttuiError(f"cannot read {text!r} as HOST[:PORT]; write IPv6 as [fd00::1]:443")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise CerttuiError(f"no host in {text!r}; give HOST[:PORT], e.g. nas.home.arpa:443")
    if not port:
        return host, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CerttuiError(f"the port in {text!r} is not a number from 1 to 65535; give HOST[:PORT]")
    return host, int(port)


def get_unverified_chain(sock: ssl.SSLSocket) -> list[x509.Certificate]:
    """The certificates exactly as the peer sent them, leaf first, whether trusted or not.

    Python 3.13 made this public (`SSLSocket.get_unverified_chain()`, DER bytes); 3.10 to 3.12
    have it on the private `_sslobj`, as certificate objects. Prefer the public method.
    """
    public = getattr(sock, "get_unverified_chain", None)
    raw = public() if public is not None else sock._sslobj.get_unverified_chain()  # type: ignore[attr-defined]
    out = []
    for item in raw or ():
        der = item if isinstance(item, bytes) else ssl.PEM_cert_to_DER_cert(item.public_bytes())
        out.append(x509.load_der_x509_certificate(der))
    return out


def _context(modern: bool) -> ssl.SSLContext:
    # No verification: an untrusted chain must still be fetched; chain.trusted judges it later.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if modern:
        ctx.minimum_version = MODERN
    else:
        # The second try, only to read the chain of a TLS 1.0/1.1 server: OpenSSL 3 allows
        # those versions only at security level 0. Python deprecates naming them; we must.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


_Opened = tuple[ssl.SSLSocket, Callable[[], None]]


def _tls(host: str, port: int, sni: str, ctx: ssl.SSLContext, timeout: float) -> _Opened:
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        sock = ctx.wrap_socket(raw, server_hostname=sni)
    except BaseException:
        raw.close()
        raise
    return sock, sock.close


def _smtp(host: str, port: int, sni: str, ctx: ssl.SSLContext, timeout: float) -> _Opened:
    client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if not client.has_extn("starttls"):
            raise CerttuiError(f"{host}:{port} does not offer STARTTLS; check the port (587 or 25)")
        # smtplib sends the host it connected to as SNI; --servername names another.
        client._host = sni  # type: ignore[attr-defined]
        client.starttls(context=ctx)
    except BaseException:
        client.close()
        raise
    return client.sock, client.close  # type: ignore[return-value]


def _imap(host: str, port: int, sni: str, ctx: ssl.SSLContext, timeout: float) -> _Opened:
    client = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        client.host = sni
        client.starttls(ssl_context=ctx)
    except imaplib.IMAP4.error as exc:
        client.shutdown()
        raise CerttuiError(f"{host}:{port} refused STARTTLS ({exc}); check the port (143)") from None
    except BaseException:
        client.shutdown()
        raise
    return client.sock, client.shutdown  # type: ignore[return-value]


def _pop3(host: str, port: int, sni: str, ctx: ssl.SSLContext, timeout: float) -> _Opened:
    client = poplib.POP3(host, port, timeout=timeout)
    try:
        client.host = sni
        client.stls(context=ctx)
    except poplib.error_proto as exc:
        client.close()
        raise CerttuiError(f"{host}:{port} refused STLS ({exc}); check the port (110)") from None
    except BaseException:
        client.close()
        raise
    return client.sock, client.close  # type: ignore[return-value]


_OPENERS: dict[str | None, Callable[..., _Opened]] = {
    None: _tls,
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
}


def _handshake(opener: Callable[..., _Opened], *args: Any) -> Probe:
    sock, close = opener(*args)
    try:
        return Probe(tuple(get_unverified_chain(sock)), sock.version() or "unknown")
    finally:
        close()


def fetch(
    host: str,
    port: int | None = None,
    *,
    servername: str | None = None,
    starttls: str | None = None,
    timeout: float = TIMEOUT_S,
) -> Probe:
    """Connect, upgrade to TLS, and return the chain the server sends.

    A server that refuses TLS 1.2+ is asked again with TLS 1.0/1.1 allowed, so that its chain
    can still be checked; `Probe.tls12` is then False.
    """
    if starttls not in _OPENERS:
        raise CerttuiError(f"--starttls {starttls} is not known; use one of {', '.join(STARTTLS)}")
    port = port or DEFAULT_PORTS[starttls]
    where = f"{host}:{port}"
    args = (_OPENERS[starttls], host, port, servername or host)
    try:
        try:
            probe = _handshake(*args, _context(True), timeout)
        # A TLS 1.0/1.1-only server answers a TLS 1.2+ hello with an alert or a reset.
        except (ssl.SSLError, ConnectionResetError) as first:
            try:
                probe = _handshake(*args, _context(False), timeout)
            except (ssl.SSLError, ConnectionResetError):
                reason = getattr(first, "reason", None) or first
                raise CerttuiError(
                    f"the TLS handshake with {where} failed ({reason}); check that the port "
                    f"speaks TLS{' after STARTTLS' if starttls else ''}"
                ) from None
    except CerttuiError:
        raise
    except (OSError, EOFError, smtplib.SMTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise CerttuiError(f"cannot talk to {where} ({reason}); check the host and port") from None
    if not probe.chain:
        raise CerttuiError(f"{where} sent no certificate; check that it serves TLS with a certificate")
    return probe
