"""Issue 13 §4: the trust test's verdicts cannot be forged from the LAN, and the real flows
still give them; real TLS clients (Python ssl, curl, openssl s_client) on 127.0.0.0/8."""

from __future__ import annotations

import asyncio
import shutil
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from enroll_support import HOST, READ_TIMEOUT_S, UA, exchange, get, request, start_session, wait_for_event

from certtui.core.store import Store
from certtui.enroll.events import EventKind
from certtui.enroll.server import EnrollmentSession

# A second loopback address: the attacker on the LAN, a device that never loaded the page.
OTHER = "127.0.0.2"
CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")
# A client process makes one handshake on loopback; 20 s only stops a hang.
CLIENT_TIMEOUT_S = 20
VERDICTS = (EventKind.TRUSTED, EventKind.REJECTED)

needs_curl = pytest.mark.skipif(CURL is None, reason="needs curl (apt-get install curl)")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl CLI")


def root_pem(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(store.certificate(store.root_id() or "").public_bytes(serialization.Encoding.PEM))
    return path


def root_context(store: Store) -> ssl.SSLContext:
    pem = store.certificate(store.root_id() or "").public_bytes(serialization.Encoding.PEM)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pem.decode())
    return ctx


async def run(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """A client process, run without blocking the server's loop."""
    child = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(stdin), CLIENT_TIMEOUT_S)
    assert child.returncode is not None
    return child.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def curl(es: EnrollmentSession, *extra: str) -> list[str]:
    assert CURL is not None
    return [CURL, "-sS", "-o", "/dev/null", "-w", "%{http_code}", *extra, es.trust_url or ""]


def verdicts(es: EnrollmentSession) -> list[EventKind]:
    return [e.kind for e in es.events if e.kind in VERDICTS]


async def load_page(es: EnrollmentSession, source: str | None = None) -> None:
    reply = await get(es.http_port, f"/{es.token}/", UA["iphone-safari"], source=source)
    assert reply.status == 200


@pytest.fixture
async def session(make_store: Callable[..., Store]) -> AsyncIterator[EnrollmentSession]:
    es = await start_session(make_store())
    yield es
    await es.stop()


# ---------------------------------------------------------------- the forgeries of the issue


@needs_curl
async def test_curl_k_without_the_page_is_no_verdict(session: EnrollmentSession) -> None:
    es = session
    code, out, err = await run(*curl(es, "-k"))
    assert (code, out) == (0, "200"), err
    event = await wait_for_event(es, lambda e: e.kind is EventKind.OTHER_CLIENT)
    assert event.client == HOST
    assert event.detail == f"a TLS client at {HOST} completed the trust test without loading the page"
    assert verdicts(es) == []


@needs_curl
async def test_curl_k_from_another_address_than_the_page_is_no_verdict(session: EnrollmentSession) -> None:
    es = session
    await load_page(es)  # the phone, at 127.0.0.1
    code, out, err = await run(*curl(es, "-k", "--interface", OTHER))
    assert (code, out) == (0, "200"), err
    event = await wait_for_event(es, lambda e: e.kind is EventKind.OTHER_CLIENT)
    assert event.client == OTHER
    assert verdicts(es) == []


@pytest.mark.parametrize(
    "junk",
    [b"\x16junk!", b"\x16\x03\x01\x00\x01\x00", b"\x16\x03\x03\xff\xff\x01"],
    ids=["junk", "tiny-record", "huge-record"],
)
async def test_six_junk_bytes_are_no_verdict(session: EnrollmentSession, junk: bytes) -> None:
    es = session
    await load_page(es)
    assert es.tls_port is not None
    _reader, writer = await asyncio.open_connection(HOST, es.tls_port)
    writer.write(junk)  # as `printf ... | nc`: the bytes, then the connection closes
    await writer.drain()
    writer.close()
    event = await wait_for_event(es, lambda e: e.kind is EventKind.NO_VERDICT)
    assert "not a TLS ClientHello" in event.detail
    assert verdicts(es) == []


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_a_version_mismatch_is_no_verdict(session: EnrollmentSession) -> None:
    es = session
    await load_page(es)
    assert es.tls_port is not None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await exchange(es.tls_port, request(f"/{es.token}/trusted"), ssl_ctx=ctx)
    event = await wait_for_event(es, lambda e: e.kind is EventKind.NO_VERDICT)
    assert "says nothing about trust" in event.detail
    assert verdicts(es) == []


async def test_a_cipher_mismatch_is_no_verdict(session: EnrollmentSession) -> None:
    # RSA key exchange only, TLS 1.2 only: the server's EC key shares no cipher with it.
    es = session
    await load_page(es)
    assert es.tls_port is not None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA256")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        await exchange(es.tls_port, request(f"/{es.token}/trusted"), ssl_ctx=ctx)
    event = await wait_for_event(es, lambda e: e.kind is EventKind.NO_VERDICT)
    assert "says nothing about trust" in event.detail
    assert verdicts(es) == []


async def test_a_rejection_from_another_address_is_no_verdict(session: EnrollmentSession) -> None:
    es = session
    await load_page(es)
    assert es.tls_port is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        await exchange(
            es.tls_port,
            request(f"/{es.token}/trusted"),
            ssl_ctx=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
            source=OTHER,
        )
    event = await wait_for_event(es, lambda e: e.kind is EventKind.OTHER_CLIENT)
    assert event.client == OTHER and "without loading the page" in event.detail
    assert verdicts(es) == []


# ---------------------------------------------------------------- the real flows


@pytest.mark.parametrize("loaded", ["page", "profile"])
async def test_page_then_trust_url_with_the_root_is_trusted(
    make_store: Callable[..., Store], loaded: str
) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        path = f"/{es.token}/" if loaded == "page" else f"/{es.token}/root.mobileconfig"
        assert (await get(es.http_port, path, UA["iphone-safari"])).status == 200
        assert es.tls_port is not None
        reply = await get(es.tls_port, f"/{es.token}/trusted", ssl_ctx=root_context(store))
        assert reply.status == 200
        event = await wait_for_event(es, lambda e: e.kind is EventKind.TRUSTED)
        assert event.client == HOST
        assert verdicts(es) == [EventKind.TRUSTED]
        assert not [e for e in es.events if e.kind in (EventKind.OTHER_CLIENT, EventKind.NO_VERDICT)]
    finally:
        await es.stop()


@needs_curl
async def test_curl_with_and_without_the_root(make_store: Callable[..., Store], tmp_path: Path) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        await load_page(es)
        code, _out, err = await run(*curl(es))
        assert code == 60, err  # curl: the peer certificate cannot be authenticated
        await wait_for_event(es, lambda e: e.kind is EventKind.REJECTED)
        code, out, err = await run(*curl(es, "--cacert", str(root_pem(store, tmp_path))))
        assert (code, out) == (0, "200"), err
        await wait_for_event(es, lambda e: e.kind is EventKind.TRUSTED)
        assert verdicts(es) == [EventKind.REJECTED, EventKind.TRUSTED]
    finally:
        await es.stop()


@needs_openssl
async def test_openssl_s_client_with_and_without_the_root(
    make_store: Callable[..., Store], tmp_path: Path
) -> None:
    assert OPENSSL is not None
    store = make_store()
    es = await start_session(store)
    try:
        await load_page(es)
        target = f"{HOST}:{es.tls_port}"
        ask = request(f"/{es.token}/trusted")
        code, _out, _err = await run(
            OPENSSL, "s_client", "-connect", target, "-verify_return_error", "-quiet", stdin=ask
        )
        assert code != 0
        rejected = await wait_for_event(es, lambda e: e.kind is EventKind.REJECTED)
        assert "(alert unknown_ca)" in rejected.detail
        root = str(root_pem(store, tmp_path))
        code, out, err = await run(
            OPENSSL,
            "s_client",
            "-connect",
            target,
            "-CAfile",
            root,
            "-verify_return_error",
            "-quiet",
            stdin=ask,
        )
        assert code == 0 and out.startswith("HTTP/1.1 200"), (out, err)
        await wait_for_event(es, lambda e: e.kind is EventKind.TRUSTED)
        assert verdicts(es) == [EventKind.REJECTED, EventKind.TRUSTED]
    finally:
        await es.stop()


async def test_python_client_without_the_root_is_rejected(session: EnrollmentSession) -> None:
    es = session
    await load_page(es)
    assert es.tls_port is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        await exchange(
            es.tls_port, request(f"/{es.token}/trusted"), ssl_ctx=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        )
    event = await wait_for_event(es, lambda e: e.kind is EventKind.REJECTED)
    assert event.client == HOST
    assert event.line().split(" ", 2)[2].startswith("phone-rejected-certificate: ")
    assert verdicts(es) == [EventKind.REJECTED]


async def test_a_close_right_after_the_certificate_is_rejected(session: EnrollmentSession) -> None:
    """A client that reads the server's certificate and hangs up without an alert (as some
    browsers do when they do not trust it)."""
    es = session
    await load_page(es)
    assert es.tls_port is not None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    reader, writer = await asyncio.open_connection(HOST, es.tls_port)
    writer.write(outgoing.read())
    await writer.drain()
    while True:
        incoming.write(await asyncio.wait_for(reader.read(65536), READ_TIMEOUT_S))
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            continue
    # The server's certificate arrived (the client would send its Finished now): hang up.
    served = tls.getpeercert(binary_form=True)
    assert served is not None and x509.load_der_x509_certificate(served).issuer.rfc4514_string()
    writer.close()
    event = await wait_for_event(es, lambda e: e.kind is EventKind.REJECTED)
    assert "closed the connection right after the server's certificate" in event.detail
    assert verdicts(es) == [EventKind.REJECTED]


# ---------------------------------------------------------------- the TUI's tick


async def test_tui_ticks_trust_only_for_the_phone_that_loaded_the_page(
    make_store: Callable[..., Store],
) -> None:
    from certtui.tui.app import make_app
    from certtui.tui.screens.enroll import EnrollScreen

    store = make_store()
    app = make_app(store, enroll_bind=HOST, enroll_advertise=HOST, enroll_port=0, enroll_tls_port=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("p")

        async def until(predicate: Callable[[], bool]) -> None:
            for _ in range(200):
                await app.workers.wait_for_complete()
                await pilot.pause(0.02)
                if predicate():
                    return
            raise AssertionError("condition never met")

        await until(lambda: isinstance(app.screen, EnrollScreen))
        screen = app.screen
        assert isinstance(screen, EnrollScreen)
        es = screen.session
        assert es.tls_port is not None
        # The attacker (curl -k) from another address than the phone: no tick, no cross.
        await load_page(es)
        careless = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        careless.check_hostname, careless.verify_mode = False, ssl.CERT_NONE
        reply = await get(es.tls_port, f"/{es.token}/trusted", ssl_ctx=careless, source=OTHER)
        assert reply.status == 200
        await until(lambda: any(e.kind is EventKind.OTHER_CLIENT for e in es.events))
        await until(
            lambda: "without loading the page" in " ".join(str(w.render()) for w in screen.query(".event"))
        )
        assert "trusted" not in screen.done and not screen.rejected
        assert "○ This phone trusts the root" in str(screen.query_one("#steps").render())
        # Junk on the TLS port: no cross either.
        _reader, writer = await asyncio.open_connection(HOST, es.tls_port)
        writer.write(b"\x16junk!")
        writer.close()
        await until(lambda: any(e.kind is EventKind.NO_VERDICT for e in es.events))
        await pilot.pause(0.05)
        assert not screen.rejected
        # The phone itself, trusting the root: the tick.
        reply = await get(es.tls_port, f"/{es.token}/trusted", ssl_ctx=root_context(store))
        assert reply.status == 200
        await until(lambda: "trusted" in screen.done)
        assert "✓ This phone trusts the root" in str(screen.query_one("#steps").render())
