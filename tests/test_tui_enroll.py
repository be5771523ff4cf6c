"""Phone enrollment inside the TUI: the real server on 127.0.0.1, the QR, the steps, esc."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from enroll_support import HOST, UA, get
from support.qr import decode
from support.tui import settle

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.paths import db_path
from certtui.tui.app import make_app
from certtui.tui.screens.cert_list import CertListScreen
from certtui.tui.screens.enroll import EnrollScreen
from certtui.tui.widgets.qr_code import QrCode

TOKEN = "TuiTestTok1"


@pytest.fixture
def store(home: Path) -> Store:
    store, _ = init_store(db_path(home), InitRequest(name="Enroll Root", intermediate=True), None)
    yield store
    store.close()


def _app(store: Store):  # type: ignore[no-untyped-def]
    return make_app(
        store, enroll_bind=HOST, enroll_advertise=HOST, enroll_port=0, enroll_tls_port=0, enroll_token=TOKEN
    )


async def _open(app, pilot) -> EnrollScreen:  # type: ignore[no-untyped-def]
    await settle(app, pilot)
    await pilot.press("p")
    for _ in range(50):
        await settle(app, pilot)
        if isinstance(app.screen, EnrollScreen):
            return app.screen
    raise AssertionError(f"no enrollment screen; notifications: {list(app._notifications)}")


async def _until(pilot, predicate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never met")


async def test_enroll_serves_page_and_profile_and_shows_steps(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        es = screen.session
        assert es.url == f"http://{HOST}:{es.http_port}/{TOKEN}/"
        # the QR on screen decodes back to the session URL
        assert decode(screen.query_one(QrCode).lines) == es.url
        page = await get(es.http_port, f"/{TOKEN}/", UA["iphone-safari"])
        assert page.status == 200 and es.root.name.encode() in page.body
        profile = await get(es.http_port, f"/{TOKEN}/root.mobileconfig", UA["iphone-safari"])
        assert profile.headers["content-type"].startswith("application/x-apple-aspen-config")
        await _until(pilot, lambda: {"page", "profile"} <= screen.done)
        steps = str(screen.query_one("#steps").render())
        assert "✓ Page opened" in steps and "✓ Profile downloaded" in steps
        assert "○ This phone trusts the root" in steps
        events = " ".join(str(w.render()) for w in screen.query(".event"))
        assert "root.mobileconfig" in events and "iOS" in events


async def test_trusting_client_completes_the_trust_test(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open(app, pilot)
        es = screen.session
        assert es.tls_port is not None
        # the phone loads the page: only its address gets a verdict
        assert (await get(es.http_port, f"/{TOKEN}/", UA["iphone-safari"])).status == 200
        # a client that trusts nothing is rejected first: the missing step is shown
        with pytest.raises(ssl.SSLError):
            await get(es.tls_port, f"/{TOKEN}/trusted", ssl_ctx=ssl.create_default_context())
        await _until(pilot, lambda: screen.rejected)
        assert "Certificate Trust Settings" in str(screen.query_one("#steps").render())
        # a client that trusts only the store's root: the phone-trusted-root event
        root_pem = store.certificate(store.root_id()).public_bytes(Encoding.PEM).decode()
        ctx = ssl.create_default_context(cadata=root_pem)
        reply = await get(es.tls_port, f"/{TOKEN}/trusted", ssl_ctx=ctx)
        assert reply.status == 200
        await _until(pilot, lambda: "trusted" in screen.done)
        assert "✓ This phone trusts the root" in str(screen.query_one("#steps").render())


async def test_escape_stops_the_server_and_closes_both_ports(store: Store) -> None:
    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        ports = (screen.session.http_port, screen.session.tls_port)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
        for port in ports:
            with pytest.raises(OSError):
                await asyncio.wait_for(asyncio.open_connection(HOST, port), 2)


async def test_trust_test_skipped_outside_name_constraints(home: Path) -> None:
    store, _ = init_store(db_path(home), InitRequest(name="C", permit=("home.arpa", "192.168.0.0/16")), None)
    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        assert screen.session.trust_url is None
        skipped = screen.query_one("#trust-skipped")
        assert skipped.display and "name constraints" in str(skipped.render())
        await pilot.press("escape")
        await settle(app, pilot)
    store.close()


def _screen_text(app) -> list[str]:  # type: ignore[no-untyped-def]
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


async def test_header_stays_put_newest_event_shows_and_trust_gets_a_banner(store: Store) -> None:
    from datetime import UTC, datetime

    from certtui.enroll.events import EnrollEvent, EventKind

    app = _app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        es = screen.session
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(12):
            es._emit(EnrollEvent(at, EventKind.REQUEST, "192.168.1.23", "iOS", "GET", f"/{TOKEN}/p{n}", 404))
            await pilot.pause()
        es._emit(EnrollEvent(at, EventKind.TRUSTED, "192.168.1.23", detail="the newest verdict"))
        await _until(pilot, lambda: "trusted" in screen.done)
        await settle(app, pilot)
        await pilot.pause()
        text = "\n".join(_screen_text(app))
        # The URL and every fingerprint line are still on screen, the QR whole.
        assert es.url in text
        from certtui.enroll import page

        for line in page.group_fingerprint(es.root.fingerprint):
            assert line in text
        assert screen.query_one("#qr").region.y == 0
        # The newest event is visible at once, not one event behind.
        assert "the newest verdict" in text
        assert "This phone trusts the root. esc stops" in text
        # Android's steps are there as on the page.
        assert page.ANDROID_STEPS[0] in str(screen.query_one("#android-steps").render())
