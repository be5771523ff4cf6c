"""The trust loop: a one-day test certificate over HTTPS tells a trusting client from one that is not."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from enroll_support import HOST, UA, exchange, get, request, start_session, wait_for_event

from certtui.core.store import Store
from certtui.enroll import trust
from certtui.enroll.events import EventKind
from certtui.enroll.routes import PIXEL_GIF
from certtui.enroll.server import EnrollmentSession, RootInfo
from certtui.errors import CerttuiError


def root_context(store: Store) -> ssl.SSLContext:
    """A client that trusts the store's root and nothing else, with hostname checks on."""
    pem = store.certificate(store.root_id() or "").public_bytes(serialization.Encoding.PEM)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pem.decode())
    return ctx


def nothing_context() -> ssl.SSLContext:
    """A client that trusts no certificate at all (like a phone before enrollment)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@pytest.mark.parametrize("intermediate", [False, True], ids=["root-issues", "intermediate-issues"])
async def test_client_trusting_the_root_sees_trusted(
    make_store: Callable[..., Store], intermediate: bool
) -> None:
    store = make_store(intermediate=intermediate)
    es = await start_session(store)
    try:
        assert es.trust_url == f"https://{HOST}:{es.tls_port}/{es.token}/trusted"
        assert es.tls_port is not None
        # The phone loads the page first: only its address gets a verdict.
        assert (await get(es.http_port, f"/{es.token}/", UA["iphone-safari"])).status == 200
        reply = await get(
            es.tls_port, f"/{es.token}/trusted", UA["iphone-safari"], ssl_ctx=root_context(store)
        )
        assert reply.status == 200
        assert reply.headers["content-type"] == "image/gif"
        assert reply.headers["cache-control"] == "no-store"
        assert reply.body == PIXEL_GIF
        event = await wait_for_event(es, lambda e: e.kind is EventKind.TRUSTED)
        assert event.client == HOST
        assert "phone-trusted-root" in event.line()
        assert not [e for e in es.events if e.kind is EventKind.REJECTED]
        # The request itself is an event too, marked HTTPS.
        req = await wait_for_event(es, lambda e: e.path.endswith("/trusted"))
        assert (req.status, req.detail, req.platform) == (200, "HTTPS", "iOS")
    finally:
        await es.stop()


async def test_client_trusting_nothing_is_rejected(make_store: Callable[..., Store]) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        assert es.tls_port is not None
        assert (await get(es.http_port, f"/{es.token}/")).status == 200
        with pytest.raises(ssl.SSLCertVerificationError):
            await exchange(es.tls_port, request(f"/{es.token}/trusted"), ssl_ctx=nothing_context())
        event = await wait_for_event(es, lambda e: e.kind is EventKind.REJECTED)
        assert event.client == HOST
        verdict = event.line().split(" ", 2)[2]
        assert verdict.startswith("phone-rejected-certificate: the device ")
        assert not [e for e in es.events if e.kind is EventKind.TRUSTED]
        # The server goes on: a trusting client still gets through.
        ok = await get(es.tls_port, f"/{es.token}/trusted", ssl_ctx=root_context(store))
        assert ok.status == 200
    finally:
        await es.stop()


async def test_plain_http_on_the_tls_port_is_reported_not_judged(make_store: Callable[..., Store]) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        assert es.tls_port is not None
        try:
            raw = await exchange(es.tls_port, request(f"/{es.token}/trusted"))
        except ConnectionResetError:
            raw = b""  # closed with the request unread
        assert raw == b""
        event = await wait_for_event(es, lambda e: "HTTPS test port" in e.path)
        assert event.kind is EventKind.REQUEST
        assert event.detail == f"open {es.url} instead"
        assert not [e for e in es.events if e.kind is EventKind.REJECTED]
    finally:
        await es.stop()


async def test_a_silent_connection_is_no_verdict(make_store: Callable[..., Store]) -> None:
    # A browser's spare connection, opened and closed without a ClientHello.
    store = make_store()
    es = await start_session(store)
    try:
        assert es.tls_port is not None
        assert (await get(es.http_port, f"/{es.token}/")).status == 200
        _reader, writer = await asyncio.open_connection(HOST, es.tls_port)
        writer.close()
        await writer.wait_closed()
        ok = await get(es.tls_port, f"/{es.token}/trusted", ssl_ctx=root_context(store))
        assert ok.status == 200
        await wait_for_event(es, lambda e: e.kind is EventKind.TRUSTED)
        await asyncio.sleep(0.1)
        assert [e.kind for e in es.events if e.kind is not EventKind.REQUEST] == [EventKind.TRUSTED]
    finally:
        await es.stop()


async def test_tls_port_serves_only_trusted(make_store: Callable[..., Store]) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        assert es.tls_port is not None
        for path in (f"/{es.token}/", f"/{es.token}/root.crt", "/trusted", f"/{es.token}/trusted/"):
            reply = await get(es.tls_port, path, ssl_ctx=root_context(store))
            assert reply.status == 404, path
        reply = await get(es.tls_port, f"/{es.token}/trusted", method="POST", ssl_ctx=root_context(store))
        assert reply.status == 405
    finally:
        await es.stop()


async def test_served_certificate_is_the_one_day_test_certificate(make_store: Callable[..., Store]) -> None:
    store = make_store()
    es = await start_session(store)
    try:
        assert es.trust is not None and es.tls_port is not None
        _reader, writer = await asyncio.open_connection(
            HOST, es.tls_port, ssl=root_context(store), server_hostname=HOST
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        cert = x509.load_der_x509_certificate(der)
        assert cert == es.trust.certificate
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=1)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(HOST)]
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
        root = RootInfo.from_store(store).certificate
        cert.verify_directly_issued_by(root)
    finally:
        await es.stop()


def test_test_certificate_for_a_dns_name(make_store: Callable[..., Store]) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"])
    planned = trust.plan_test(store, "nas.home.arpa")
    assert planned.skipped is None and planned.plan is not None
    test = trust.sign_test(store, planned.plan)
    san = test.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["nas.home.arpa"]
    assert test.host == "nas.home.arpa"


def test_test_certificate_is_never_stored_only_audited(make_store: Callable[..., Store]) -> None:
    store = make_store()
    before = [r.id for r in store.records()]
    planned = trust.plan_test(store, HOST)
    assert planned.plan is not None
    test = trust.sign_test(store, planned.plan)
    assert [r.id for r in store.records()] == before
    _at, _actor, action, cert_id, detail = store.events()[-1]
    assert action == trust.AUDIT_ACTION
    assert cert_id == store.default_issuer_id()
    assert HOST in detail and f"{test.certificate.serial_number:x}" in detail


def test_server_context_loads_from_memory(make_store: Callable[..., Store]) -> None:
    store = make_store()
    planned = trust.plan_test(store, HOST)
    assert planned.plan is not None
    ctx = trust.server_context(trust.sign_test(store, planned.plan))
    assert ctx.minimum_version is ssl.TLSVersion.TLSv1_2


def test_locked_store_cannot_sign(make_store: Callable[..., Store]) -> None:
    from certtui.core.store import Store as StoreClass

    made = make_store(passphrase="a passphrase for this test")
    locked = StoreClass.open(made.path)
    try:
        planned = trust.plan_test(locked, HOST)  # planning needs no key
        assert planned.plan is not None
        with pytest.raises(CerttuiError, match="locked"):
            trust.sign_test(locked, planned.plan)
    finally:
        locked.close()


async def test_outside_name_constraints_skips_the_trust_test(make_store: Callable[..., Store]) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"])
    planned = trust.plan_test(store, HOST)
    assert planned.plan is None
    assert planned.skipped is not None
    assert "\n" not in planned.skipped
    assert planned.skipped.startswith(f"trust test skipped: {HOST} is outside the CA's name constraints")
    es = await start_session(store)
    try:
        assert es.tls_port is None and es.trust_url is None
        html = (await get(es.http_port, f"/{es.token}/", UA["iphone-safari"])).body.decode()
        assert "https://" + HOST not in html
        assert "outside the CA&#x27;s name constraints" in html
        assert (await get(es.http_port, f"/{es.token}/trusted")).status == 404
    finally:
        await es.stop()


def test_inside_name_constraints_plans_the_test(make_store: Callable[..., Store]) -> None:
    store = make_store(permit=["home.arpa", "192.168.0.0/16"])
    planned = trust.plan_test(store, "192.168.178.20")
    assert planned.skipped is None and planned.plan is not None


def test_session_without_trust_has_no_tls_port(make_store: Callable[..., Store]) -> None:
    es = EnrollmentSession(RootInfo.from_store(make_store()), advertise=HOST, bind=HOST)
    assert es.trust_url is None
