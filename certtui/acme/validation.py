"""http-01, tls-alpn-01 and dns-01 (RFC 8555 section 8.3-8.4, RFC 8737), built so the LAN is safe.

Each name is resolved once, through the system resolver (or a `--resolve` pin), and the
validator connects to that address only: a DNS answer that changes between the check and the
connection (rebinding) changes nothing. Loopback, link-local, multicast and unspecified
addresses are refused unless the operator allowed loopback. Only the configured ports are
used, redirects stay on the same identifier, and a response body is read up to a few KB and
never repeated back. dns-01 asks one resolver (`--dns-resolver`, else the system's) for the
TXT records of `_acme-challenge.<name>` and connects to nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.resolver
from cryptography import x509

from certtui.acme.problems import Problem
from certtui.core import policy as limits

# The ports RFC 8555 section 8.3 and RFC 8737 section 3 fix; --http-01-port and
# --tls-alpn-01-port change them (tests, and clients behind a port forward).
HTTP01_PORT = 80
TLSALPN01_PORT = 443
# RFC 8737 section 3: the id-pe-acmeIdentifier extension and the ALPN protocol.
ACME_IDENTIFIER_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")
ALPN = "acme-tls/1"
_REDIRECTS = (301, 302, 303, 307, 308)


class Retryable(Problem):
    """A connection failure: worth another try after a short pause."""


@dataclass(frozen=True)
class ValidationPolicy:
    http01_port: int = HTTP01_PORT
    tlsalpn01_port: int = TLSALPN01_PORT
    allow_loopback: bool = False
    # NAME -> address pins (`--resolve`), checked before the system resolver.
    pins: Mapping[str, str] = field(default_factory=dict)
    # The resolver dns-01 asks (`--dns-resolver ADDR[:PORT]`); None: the system's.
    dns_resolver: tuple[str, int] | None = None


def forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    """Why the validator must not connect to this address, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return (
            None
            if allow_loopback
            else "a loopback address (start certtui acme with --allow-loopback for clients on this machine)"
        )
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    return None


async def resolve(
    typ: str, value: str, policy: ValidationPolicy
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The one address the validator connects to for this identifier, resolved once."""
    if typ == "ip":
        candidates = [value]
    elif value in policy.pins:
        candidates = [policy.pins[value]]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(value, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise Problem("dns", f"{value} does not resolve through this machine's resolver") from None
        candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
    reasons = []
    for text in candidates:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        why = forbidden(address, policy.allow_loopback)
        if why is None:
            return address
        reasons.append(f"{address} is {why}")
    raise Problem("connection", f"{value}: certtui does not validate against {'; '.join(reasons)}")


def key_authorization(token: str, thumbprint: str) -> str:
    return f"{token}.{thumbprint}"


def _netloc(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


async def _read_capped(response: aiohttp.ClientResponse, what: str) -> bytes:
    length = response.content_length
    if length is not None and length > limits.ACME_MAX_BODY:
        raise Problem("incorrectResponse", f"{what}: the response body is over {limits.ACME_MAX_BODY} bytes")
    data = b""
    while len(data) <= limits.ACME_MAX_BODY:
        chunk = await response.content.read(limits.ACME_MAX_BODY + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise Problem("incorrectResponse", f"{what}: the response body is over {limits.ACME_MAX_BODY} bytes")


async def http01(
    typ: str, value: str, token: str, expected: str, policy: ValidationPolicy, session: aiohttp.ClientSession
) -> None:
    """Fetch http://VALUE/.well-known/acme-challenge/TOKEN from its one address; raise a Problem."""
    address = await resolve(typ, value, policy)
    host = f"[{value}]" if typ == "ip" and ":" in value else value
    url = f"http://{host}:{policy.http01_port}/.well-known/acme-challenge/{token}"
    for hop in range(limits.ACME_MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (HTTP01_PORT if scheme == "http" else TLSALPN01_PORT)
        target = f"{scheme}://{_netloc(address, port)}{parts.path or '/'}" + (
            f"?{parts.query}" if parts.query else ""
        )
        what = f"http-01 for {value} ({scheme}://{host}:{port})"
        kwargs: dict[str, object] = {}
        if scheme == "https":
            # As Let's Encrypt does: the redirect target's certificate is not what is validated.
            kwargs = {"ssl": False, "server_hostname": value if typ == "dns" else None}
        try:
            async with session.get(
                target,
                headers={"Host": host if port in (80, 443) else f"{host}:{port}"},
                allow_redirects=False,
                **kwargs,  # type: ignore[arg-type]
            ) as response:
                if response.status in _REDIRECTS and hop < limits.ACME_MAX_REDIRECTS:
                    location = response.headers.get("Location", "")
                    url = _redirect(url, location, typ, value, address, policy, what)
                    continue
                if response.status in _REDIRECTS:
                    raise Problem("connection", f"{what}: more than {limits.ACME_MAX_REDIRECTS} redirects")
                if response.status != 200:
                    raise Problem(
                        "unauthorized", f"{what}: the client answered HTTP {response.status}, not 200"
                    )
                body = await _read_capped(response, what)
        except (TimeoutError, aiohttp.ClientConnectionError, OSError) as exc:
            raise Retryable(
                "connection", f"{what}: could not connect or read ({type(exc).__name__})"
            ) from None
        except aiohttp.ClientError as exc:
            raise Problem("connection", f"{what}: the HTTP exchange failed ({type(exc).__name__})") from None
        if body.rstrip(b" \t\r\n").decode("ascii", "replace") != expected:
            # The body is never echoed back: it could be anything a LAN host serves.
            raise Problem("unauthorized", f"{what}: the response is not this challenge's key authorization")
        return
    raise Problem("connection", f"{value}: more than {limits.ACME_MAX_REDIRECTS} redirects")


def _redirect(
    current: str,
    location: str,
    typ: str,
    value: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    policy: ValidationPolicy,
    what: str,
) -> str:
    """The next URL, if the redirect stays on this identifier, http/https and the allowed ports."""
    if not location:
        raise Problem("connection", f"{what}: a redirect without a Location")
    nxt = urljoin(current, location)
    parts = urlsplit(nxt)
    shown = nxt[:120]
    if parts.scheme not in ("http", "https"):
        raise Problem(
            "connection", f"{what}: refused a redirect to {shown}: only http and https are followed"
        )
    try:
        port = parts.port or (HTTP01_PORT if parts.scheme == "http" else TLSALPN01_PORT)
    except ValueError:
        raise Problem("connection", f"{what}: refused a redirect to a malformed URL") from None
    allowed_port = policy.http01_port if parts.scheme == "http" else policy.tlsalpn01_port
    if port != allowed_port:
        raise Problem(
            "connection",
            f"{what}: refused a redirect to {shown}: {parts.scheme} is followed only to port {allowed_port}",
        )
    host = (parts.hostname or "").lower().rstrip(".")
    same = host == value
    if not same:
        try:
            same = ipaddress.ip_address(host) == address and typ == "ip"
        except ValueError:
            same = False
    if not same:
        raise Problem(
            "connection",
            f"{what}: refused a redirect to {shown}: it leaves {value}, the identifier validated",
        )
    return nxt


def _reverse_name(value: str) -> str:
    """RFC 8738 section 6: tls-alpn-01 for an IP names its reverse-DNS name in the SNI."""
    return ipaddress.ip_address(value).reverse_pointer


async def tlsalpn01(typ: str, value: str, expected: str, policy: ValidationPolicy) -> None:
    """Handshake with ALPN acme-tls/1 and check the self-signed certificate RFC 8737 describes."""
    address = await resolve(typ, value, policy)
    port = policy.tlsalpn01_port
    what = f"tls-alpn-01 for {value} (port {port})"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    # The certificate is self-signed by design; its acmeIdentifier extension is what proves control.
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols([ALPN])
    sni = value if typ == "dns" else _reverse_name(value)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(str(address), port, ssl=context, server_hostname=sni),
            limits.ACME_CONNECT_TIMEOUT_S,
        )
    except ssl.SSLError as exc:
        raise Problem(
            "tls", f"{what}: the TLS handshake failed ({exc.reason or type(exc).__name__})"
        ) from None
    except (TimeoutError, OSError) as exc:
        raise Retryable("connection", f"{what}: could not connect ({type(exc).__name__})") from None
    try:
        tls = writer.get_extra_info("ssl_object")
        if tls is None or tls.selected_alpn_protocol() != ALPN:
            raise Problem("tls", f"{what}: the client did not negotiate ALPN {ALPN}")
        der = tls.getpeercert(binary_form=True)
    finally:
        writer.close()
    _check_alpn_certificate(der, typ, value, expected, what)


def _check_alpn_certificate(der: bytes | None, typ: str, value: str, expected: str, what: str) -> None:
    if not der:
        raise Problem("tls", f"{what}: the client presented no certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    except x509.ExtensionNotFound as exc:
        raise Problem("unauthorized", f"{what}: the certificate lacks {exc.oid.dotted_string}") from None
    except ValueError:
        raise Problem("tls", f"{what}: the certificate does not decode") from None
    names = list(san)
    wanted: x509.GeneralName = (
        x509.DNSName(value) if typ == "dns" else x509.IPAddress(ipaddress.ip_address(value))
    )
    if len(names) != 1 or names[0] != wanted:
        raise Problem("unauthorized", f"{what}: the certificate's subjectAltName is not exactly {value}")
    if not ext.critical:
        raise Problem("unauthorized", f"{what}: the acmeIdentifier extension is not critical")
    digest = hashlib.sha256(expected.encode()).digest()
    # The extension's value is the DER of an OCTET STRING holding the SHA-256 digest.
    raw = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else b""
    if raw != b"\x04\x20" + digest:
        raise Problem(
            "unauthorized", f"{what}: the acmeIdentifier is not this challenge's key authorization digest"
        )


async def validate(
    ctype: str,
    typ: str,
    value: str,
    token: str,
    thumbprint: str,
    policy: ValidationPolicy,
    session: aiohttp.ClientSession,
) -> None:
    """One challenge, with a few tries on connection failures; raises the final Problem."""
    expected = key_authorization(token, thumbprint)
    for attempt in range(limits.ACME_ATTEMPTS):
        try:
            if ctype == "http-01":
                await http01(typ, value, token, expected, policy, session)
            elif ctype == "dns-01":
                await dns01(value, expected, policy)
            else:
                await tlsalpn01(typ, value, expected, policy)
            return
        except Retryable:
            if attempt == limits.ACME_ATTEMPTS - 1:
                raise
            await asyncio.sleep(limits.ACME_BACKOFF_S[min(attempt, len(limits.ACME_BACKOFF_S) - 1)])


def dns01_digest(expected: str) -> str:
    """RFC 8555 section 8.4: the TXT value is the base64url SHA-256 of the key authorization."""
    import base64

    return base64.urlsafe_b64encode(hashlib.sha256(expected.encode()).digest()).rstrip(b"=").decode()


def _dns_resolver(policy: ValidationPolicy) -> dns.asyncresolver.Resolver:
    if policy.dns_resolver is None:
        try:
            resolver = dns.asyncresolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration:
            raise Problem(
                "dns", "this machine has no system resolver; start certtui acme with --dns-resolver ADDR"
            ) from None
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [policy.dns_resolver[0]]
        resolver.port = policy.dns_resolver[1]
    resolver.timeout = limits.ACME_CONNECT_TIMEOUT_S
    resolver.lifetime = limits.ACME_TOTAL_TIMEOUT_S
    return resolver


async def dns01(value: str, expected: str, policy: ValidationPolicy) -> None:
    """Look up `_acme-challenge.<value>` TXT and find this challenge's digest among the records."""
    qname = f"_acme-challenge.{value.removeprefix('*.')}"
    what = f"dns-01 for {value}"
    resolver = _dns_resolver(policy)
    try:
        answer = await resolver.resolve(qname, "TXT", search=False, raise_on_no_answer=True)
    except dns.resolver.NXDOMAIN:
        raise Problem(
            "unauthorized", f"{what}: {qname} does not exist (NXDOMAIN); publish the TXT record first"
        ) from None
    except dns.resolver.NoAnswer:
        raise Problem("unauthorized", f"{what}: {qname} has no TXT record; publish it first") from None
    except (dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout, dns.exception.Timeout):
        raise Retryable("dns", f"{what}: the resolver did not answer for {qname}") from None
    except dns.exception.DNSException as exc:
        raise Problem("dns", f"{what}: the lookup of {qname} failed ({type(exc).__name__})") from None
    found = [b"".join(r.strings).decode("ascii", "replace") for r in answer]  # type: ignore[attr-defined]
    if dns01_digest(expected) not in found:
        # The records are not echoed back: they are whatever the zone holds.
        raise Problem(
            "unauthorized",
            f"{what}: none of the {len(found)} TXT record(s) at {qname} is this challenge's digest "
            "(base64url SHA-256 of the key authorization)",
        )


def client_session() -> aiohttp.ClientSession:
    """The validator's HTTP client: no cookies, no proxies from the environment, short timeouts."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(
            total=limits.ACME_TOTAL_TIMEOUT_S, connect=limits.ACME_CONNECT_TIMEOUT_S
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        auto_decompress=False,
        connector=aiohttp.TCPConnector(force_close=True, limit=20),
    )
