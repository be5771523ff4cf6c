"""The enrollment server on 127.0.0.1: every route, every refusal, no secrets, escaped events."""

from __future__ import annotations

import asyncio
import plistlib
import re
import socket
import subprocess
import sys
import unicodedata
from collections.abc import AsyncIterator, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from enroll_support import HOST, UA, Reply, exchange, get, parse, request, start_session, wait_for_event

from certtui.core.store import Store
from certtui.enroll import page
from certtui.enroll.admission import MAX_CONNECTIONS_PER_CLIENT
from certtui.enroll.events import EventKind, escape
from certtui.enroll.server import (
    DEFAULT_PORT,
    EnrollmentSession,
    RootInfo,
    new_token,
)
from certtui.errors import CerttuiError


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store(name="Test Root CA")


@pytest.fixture
async def session(store: Store) -> AsyncIterator[EnrollmentSession]:
    es = await start_session(store)
    yield es
    await es.stop()


def root_der(store: Store) -> bytes:
    return store.der(store.root_id() or "")


async def good(es: EnrollmentSession, store: Store) -> None:
    """The server still serves: the .crt is the root."""
    reply = await get(es.http_port, f"/{es.token}/root.crt")
    assert reply.status == 200
    assert reply.body == root_der(store)


# -- routes ------------------------------------------------------------------------------


def assert_download(reply: Reply, content_type: str, filename: str) -> None:
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.headers["content-disposition"] == (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{filename}"
    )
    assert reply.headers["cache-control"] == "no-store"


async def test_landing_page(session: EnrollmentSession, store: Store) -> None:
    reply = await get(session.http_port, f"/{session.token}/", UA["iphone-safari"])
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert "content-disposition" not in reply.headers
    html = reply.body.decode()
    assert "Test Root CA" in html
    fp = RootInfo.from_store(store).fingerprint
    groups = [fp[i : i + 4].upper() for i in range(0, 64, 4)]
    for line in range(4):
        assert " ".join(groups[line * 4 : line * 4 + 4]) in html
    # The trust test's absolute URL is in the source literally, loaded as an image.
    assert f'"https://{HOST}:{session.tls_port}/{session.token}/trusted"' in html
    assert "new Image()" in html
    # Nothing loads from elsewhere: no src= attribute at all, no stylesheet link.
    assert " src=" not in html
    assert "stylesheet" not in html
    csp = reply.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert f"img-src https://{HOST}:{session.tls_port}" in csp


async def test_mobileconfig_for_ios_has_target_device_type(session: EnrollmentSession, store: Store) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.mobileconfig", UA["iphone-safari"])
    assert_download(reply, "application/x-apple-aspen-config", "Test-Root-CA.mobileconfig")
    profile = plistlib.loads(reply.body)
    assert profile["PayloadType"] == "Configuration"
    assert profile["TargetDeviceType"] == 1
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == root_der(store)


@pytest.mark.parametrize("ua", ["ipad-as-mac", "desktop", "android-chrome", None])
async def test_mobileconfig_elsewhere_omits_target_device_type(
    session: EnrollmentSession, store: Store, ua: str | None
) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.mobileconfig", UA.get(ua or ""))
    assert_download(reply, "application/x-apple-aspen-config", "Test-Root-CA.mobileconfig")
    profile = plistlib.loads(reply.body)
    assert "TargetDeviceType" not in profile
    assert profile["PayloadContent"][0]["PayloadContent"] == root_der(store)


async def test_crt_is_the_root_der(session: EnrollmentSession, store: Store) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.crt", UA["android-chrome"])
    assert_download(reply, "application/x-x509-ca-cert", "Test-Root-CA.crt")
    assert reply.body == root_der(store)


async def test_pem_is_the_root(session: EnrollmentSession, store: Store) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.pem", UA["desktop"])
    assert_download(reply, "application/x-pem-file", "Test-Root-CA.pem")
    assert reply.body.startswith(b"-----BEGIN CERTIFICATE-----\n")
    cert = x509.load_pem_x509_certificate(reply.body)
    assert cert.public_bytes(serialization.Encoding.DER) == root_der(store)


async def test_head_gives_headers_without_body(session: EnrollmentSession) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.crt", method="HEAD")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-x509-ca-cert"
    assert reply.body == b""


async def test_token_without_slash_redirects(session: EnrollmentSession) -> None:
    reply = await get(session.http_port, f"/{session.token}")
    assert reply.status == 308
    assert reply.headers["location"] == f"/{session.token}/"
    assert reply.headers["cache-control"] == "no-store"


async def test_a_query_string_is_ignored(session: EnrollmentSession, store: Store) -> None:
    reply = await get(session.http_port, f"/{session.token}/root.crt?x=1")
    assert reply.status == 200
    assert reply.body == root_der(store)


# -- refusals ----------------------------------------------------------------------------


def wrong(token: str) -> str:
    """Another token of the same length."""
    return new_token() if token != new_token() else "A" * len(token)


REFUSED: list[tuple[str, str, Callable[[str], str], int]] = [
    ("wrong token", "GET", lambda t: f"/{wrong(t)}/root.crt", 404),
    ("wrong token, landing", "GET", lambda t: f"/{wrong(t)}/", 404),
    ("wrong token, POST", "POST", lambda t: f"/{wrong(t)}/root.crt", 404),
    ("wrong token, DELETE", "DELETE", lambda t: f"/{wrong(t)}/", 404),
    ("token prefix", "GET", lambda t: f"/{t[:-1]}/root.crt", 404),
    ("no token", "GET", lambda t: "/root.crt", 404),
    ("root path", "GET", lambda t: "/", 404),
    ("unknown file", "GET", lambda t: f"/{t}/certtui.db", 404),
    ("raw ..", "GET", lambda t: f"/{t}/../{t}/root.crt", 404),
    ("raw .. to a file", "GET", lambda t: f"/{t}/../../../etc/passwd", 404),
    ("encoded ..", "GET", lambda t: f"/{t}/%2e%2e/%2e%2e/etc/passwd", 404),
    ("encoded .. upper", "GET", lambda t: f"/{t}/%2E%2E/{t}/root.crt", 404),
    ("encoded slash", "GET", lambda t: f"/{t}%2froot.crt", 404),
    ("trailing slash", "GET", lambda t: f"/{t}/root.crt/", 404),
    ("trusted on plain HTTP", "GET", lambda t: f"/{t}/trusted", 404),
    ("OPTIONS *", "OPTIONS", lambda t: "*", 404),
    ("POST", "POST", lambda t: f"/{t}/root.crt", 405),
    ("POST landing", "POST", lambda t: f"/{t}/", 405),
    ("PUT", "PUT", lambda t: f"/{t}/root.mobileconfig", 405),
    ("DELETE", "DELETE", lambda t: f"/{t}/root.pem", 405),
]


@pytest.mark.parametrize(("what", "method", "path", "status"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refused_then_still_serving(
    session: EnrollmentSession,
    store: Store,
    what: str,
    method: str,
    path: Callable[[str], str],
    status: int,
) -> None:
    reply = await get(session.http_port, path(session.token), method=method)
    assert reply.status == status, what
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.headers["cache-control"] == "no-store"
    if status == 405:
        assert reply.headers["allow"] == "GET, HEAD"
    else:
        assert "allow" not in reply.headers
    assert b"CERTIFICATE" not in reply.body
    await good(session, store)


async def test_wrong_token_gives_the_same_404_as_no_route(session: EnrollmentSession) -> None:
    a = await get(session.http_port, f"/{wrong(session.token)}/root.crt", method="POST")
    b = await get(session.http_port, "/nothing-here", method="GET")
    strip = re.compile(rb"Date: [^\r]*\r\n")
    assert strip.sub(b"", a.raw) == strip.sub(b"", b.raw)


async def test_oversized_header_is_400(session: EnrollmentSession, store: Store) -> None:
    data = request(f"/{session.token}/root.crt", extra=f"X-Big: {'a' * 5000}\r\n")
    reply = parse(await exchange(session.http_port, data))
    assert reply.status == 400
    event = await wait_for_event(session, lambda e: e.status == 400)
    assert event.path == "(malformed request)"
    await good(session, store)


async def test_too_many_headers_is_400(session: EnrollmentSession, store: Store) -> None:
    extra = "".join(f"X-H{i}: {i}\r\n" for i in range(100))
    reply = parse(await exchange(session.http_port, request(f"/{session.token}/", extra=extra)))
    assert reply.status == 400
    await good(session, store)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
        b"HELLO THERE\r\n\r\n",
        b"GET\r\n\r\n",
        b"\x00\x01\x02\x03\r\n\r\n",
    ],
)
async def test_garbage_request_line_is_400(session: EnrollmentSession, store: Store, garbage: bytes) -> None:
    reply = parse(await exchange(session.http_port, garbage))
    assert reply.status == 400
    await good(session, store)


async def test_stalled_client_does_not_block_others_and_is_dropped(store: Store) -> None:
    es = await start_session(store, keepalive_timeout=0.5)
    try:
        reader, writer = await asyncio.open_connection(HOST, es.http_port)
        writer.write(f"GET /{es.token}/root.crt HTTP/1.1\r\nHost: x\r\n".encode())  # no blank line
        await writer.drain()
        await good(es, store)
        # The half request is dropped once the keep-alive timeout has passed.
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await good(es, store)
    finally:
        await es.stop()


async def test_connection_limit_per_client(session: EnrollmentSession, store: Store) -> None:
    idle = [await asyncio.open_connection(HOST, session.http_port) for _ in range(MAX_CONNECTIONS_PER_CLIENT)]
    try:
        reader, writer = await asyncio.open_connection(HOST, session.http_port)
        # One over the limit: closed at once, without an answer.
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        assert session.refused_connections == 1
        # Another address (still loopback) is served meanwhile.
        reply = await get(session.http_port, f"/{session.token}/root.crt", source="127.0.0.2")
        assert reply.status == 200
    finally:
        for _, w in idle:
            w.close()
    await asyncio.sleep(0.1)
    await good(session, store)


# -- secrets ------------------------------------------------------------------------------


def secret_bytes(store: Store, es: EnrollmentSession) -> list[bytes]:
    """Every form of every private key involved: PKCS#8 DER, PEM body lines, raw scalar."""
    keys = [store.private_key(store.root_id() or "")]
    if es.trust is not None:
        keys.append(es.trust.key)
    out: list[bytes] = []
    for key in keys:
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        out.append(der)
        out += [line for line in pem.splitlines() if b"-----" not in line and len(line) >= 16]
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        scalar = key.private_numbers().private_value.to_bytes(32, "big")
        out += [scalar, scalar.hex().encode(), scalar.hex().upper().encode()]
    return out


async def test_no_private_key_in_any_body(session: EnrollmentSession, store: Store) -> None:
    import ssl

    t = session.token
    root_ctx = ssl.create_default_context(
        cadata=RootInfo.from_store(store).certificate.public_bytes(serialization.Encoding.PEM).decode()
    )
    bodies: list[bytes] = []
    paths = [
        "/",
        f"/{t}",
        f"/{t}/",
        f"/{t}/root.mobileconfig",
        f"/{t}/root.crt",
        f"/{t}/root.pem",
        f"/{t}/trusted",
        f"/{t}/../",
        f"/{wrong(t)}/root.pem",
    ]
    for ua in [*UA.values(), None]:
        for path in paths:
            for method in ("GET", "HEAD", "POST"):
                bodies.append((await get(session.http_port, path, ua, method)).raw)
        for path in (f"/{t}/trusted", f"/{t}/root.pem", f"/{t}/"):
            bodies.append((await get(session.tls_port, path, ua, ssl_ctx=root_ctx)).raw)
    bodies.append(await exchange(session.http_port, b"BAD\r\n\r\n"))
    statuses = {parse(b).status for b in bodies}
    assert statuses == {200, 308, 400, 404, 405}
    secrets = secret_bytes(store, session)
    for body in bodies:
        assert b"PRIVATE KEY" not in body
        for secret in secrets:
            assert secret not in body


# -- events ------------------------------------------------------------------------------


async def test_one_event_per_get_with_path_and_platform(session: EnrollmentSession) -> None:
    path = f"/{session.token}/root.crt"
    await get(session.http_port, path, UA["android-chrome"])
    event = await wait_for_event(session, lambda e: e.path == path)
    await asyncio.sleep(0.05)
    assert [e for e in session.events if e.kind is EventKind.REQUEST] == [event]
    assert event.platform == "Android"
    assert event.method == "GET"
    assert event.status == 200
    assert event.client == HOST
    line = event.line()
    assert f"{HOST} Android GET {path} 200" in line


async def test_the_phones_steps_are_events_of_their_own_type(session: EnrollmentSession) -> None:
    from certtui.enroll.events import PageOpened, ProfileDownloaded, RequestReceived

    token = session.token
    await get(session.http_port, f"/{token}/", UA["iphone-safari"])
    await get(session.http_port, f"/{token}/root.mobileconfig", UA["iphone-safari"])
    await get(session.http_port, f"/{token}/root.crt", UA["android-chrome"])
    await get(session.http_port, f"/{token}/root.pem")
    await get(session.http_port, f"/{token}/root.crt", method="POST")
    await get(session.http_port, "/nope/")
    await wait_for_event(session, lambda e: e.path == "/nope/")
    assert [(type(e), e.path.removeprefix(f"/{token}")) for e in session.events] == [
        (PageOpened, "/"),
        (ProfileDownloaded, "/root.mobileconfig"),
        (ProfileDownloaded, "/root.crt"),
        (RequestReceived, "/root.pem"),
        (RequestReceived, "/root.crt"),
        (RequestReceived, "/nope/"),
    ]
    # Each is still a request: its line and its kind are a request's.
    assert {e.kind for e in session.events} == {EventKind.REQUEST}


async def test_the_expiry_is_read_on_the_sessions_clock(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    es = await start_session(store, with_trust=False, timeout=900, clock=lambda: now[0])
    try:
        assert es.expires_at == now[0] + timedelta(seconds=900)
        assert es.seconds_left() == 900
        now[0] += timedelta(seconds=61)
        assert es.seconds_left() == 839
        now[0] += timedelta(hours=1)
        assert es.seconds_left() == 0
        await get(es.http_port, "/nope")
        event = await wait_for_event(es, lambda e: e.path == "/nope")
        assert event.at == now[0]
    finally:
        await es.stop()


async def test_subscribers_get_every_event(session: EnrollmentSession) -> None:
    seen: list[str] = []
    unsubscribe = session.subscribe(lambda e: seen.append(e.path))
    await get(session.http_port, f"/{session.token}/", UA["iphone-safari"])
    await get(session.http_port, "/nope")
    await wait_for_event(session, lambda e: e.path == "/nope")
    unsubscribe()
    await get(session.http_port, "/after")
    await wait_for_event(session, lambda e: e.path == "/after")
    assert seen == [f"/{session.token}/", "/nope"]


def control_free(text: str) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


async def test_hostile_path_is_escaped_in_the_event(session: EnrollmentSession) -> None:
    await get(session.http_port, "/%1b]0;pwned%07%1b[2J%c2%9b31m%e2%80%ae%7f")
    event = await wait_for_event(session, lambda e: "pwned" in e.path)
    line = event.line()
    assert control_free(line)
    assert event.path == "/\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202e\\x7f"
    assert event.status == 404


async def test_hostile_user_agent_is_escaped(session: EnrollmentSession) -> None:
    # A C1 CSI and a bidi override as UTF-8 in the User-Agent: reaches the platform guess only.
    await get(session.http_port, "/ua-test", "iPhone \u009b2J \u202e")
    event = await wait_for_event(session, lambda e: e.path == "/ua-test")
    assert control_free(event.line())


def test_escape_covers_c0_del_c1_and_backslash() -> None:
    assert escape("a\x00b\x1f\x7f\x80\x9f\\") == "a\\x00b\\x1f\\x7f\\x80\\x9f\\\\"
    assert escape("x" * 200, limit=10) == "x" * 10 + "…"
    assert escape("nas.home.arpa/ü") == "nas.home.arpa/ü"


# -- the landing page per platform -------------------------------------------------------


@pytest.mark.parametrize(
    ("ua", "section", "safari"),
    [
        ("iphone-safari", "ios", False),
        ("iphone-firefox", "ios", True),
        ("iphone-duckduckgo", "ios", True),
        ("iphone-chrome-94", "ios", True),
        ("iphone-chrome-124", "ios", False),
        ("ipad-as-mac", "mac", False),
        ("android-chrome", "android", False),
        ("desktop", "desktop", False),
    ],
)
async def test_landing_page_per_platform(
    session: EnrollmentSession, ua: str, section: str, safari: bool
) -> None:
    html = (await get(session.http_port, f"/{session.token}/", UA[ua])).body.decode()
    sections = re.findall(r'<section id="platform-(\w+)"', html)
    assert sections == [section]
    assert ('id="open-in-safari"' in html) is safari
    assert (page.SAFARI_SENTENCE in html) is safari
    if section == "ios":
        assert page.IOS_STEPS[-1].split(" → ")[0] in html
        assert '<a class="button" href="root.mobileconfig">Install profile</a>' in html
    if section == "android":
        assert '<a class="button" href="root.crt">Download certificate</a>' in html
        assert "Encryption &amp; credentials" in html


def test_platform_guess() -> None:
    assert page.guess(UA["iphone-safari"]) == page.Client(page.Platform.IOS)
    assert page.guess(UA["iphone-firefox"]).label == "iOS, not Safari"
    assert page.guess(UA["ipad-as-mac"]).platform is page.Platform.MAC
    assert page.guess("").platform is page.Platform.DESKTOP


# -- lifecycle ---------------------------------------------------------------------------


async def test_timeout_stops_the_session(store: Store) -> None:
    es = await start_session(store, timeout=0.2)
    port = es.http_port
    assert await asyncio.wait_for(es.wait(), 5) == "timeout"
    with pytest.raises(OSError):
        await exchange(port, request("/"))


async def test_stop_is_idempotent_and_closes_ports(store: Store) -> None:
    es = await start_session(store)
    port, tls_port = es.http_port, es.tls_port
    await asyncio.gather(es.stop(), es.stop())
    assert await es.wait() == "stopped"
    for p in (port, tls_port):
        with pytest.raises(OSError):
            await exchange(p or 0, request("/"))


async def test_taken_default_port_gives_way(store: Store) -> None:
    blocker = socket.socket()
    try:
        blocker.bind((HOST, DEFAULT_PORT))
        blocker.listen()
    except OSError:
        pass  # already taken by something else: the fallback is exercised all the same
    try:
        es = EnrollmentSession(RootInfo.from_store(store), advertise=HOST, bind=HOST)
        await es.start()
        try:
            assert es.http_port not in (0, DEFAULT_PORT)
            assert es.url == f"http://{HOST}:{es.http_port}/{es.token}/"
        finally:
            await es.stop()
    finally:
        blocker.close()


async def test_taken_explicit_port_is_an_error(store: Store) -> None:
    with socket.socket() as blocker:
        blocker.bind((HOST, 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        es = EnrollmentSession(RootInfo.from_store(store), advertise=HOST, bind=HOST, port=port)
        with pytest.raises(CerttuiError, match=rf"cannot listen on {HOST} port {port} .*--port"):
            await es.start()


def test_importing_enroll_loads_neither_aiohttp_nor_textual() -> None:
    code = (
        "import sys, certtui.enroll.server, certtui.enroll.qr, certtui.enroll.netinfo, "
        "certtui.commands.enroll; "
        "print(sorted(m for m in ('aiohttp', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
