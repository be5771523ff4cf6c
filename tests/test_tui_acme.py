"""Pilot flows for the ACME screen: accounts, live orders with reasons, approvals (`a` / `x`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.tui import settle

from certtui.acme.orders import challenge_types
from certtui.core import acme_state as state
from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.journeys import acme as journey
from certtui.paths import db_path
from certtui.tui.app import make_app
from certtui.tui.screens.acme import AcmeScreen, AddAccountScreen, EabScreen, RefuseScreen


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    s, _ = init_store(db_path(home), InitRequest(name="TUI ACME Root", intermediate=True), None)
    journey.add_account(s, "caddy", ["*.home.arpa"])
    yield s
    s.close()


def place(store: Store, account: str, name: str, *, wait: bool) -> str:
    """An order as the server writes it (the server is another process; the TUI reads the store)."""
    reg = state.add_registration(store, account, f"thumb-{name}", "{}", ())
    o = state.create_order(
        store,
        reg.id,
        [("dns", name)],
        utcnow() + timedelta(days=7),
        challenge_types,
        waiting_for=[name] if wait else None,
    )
    return o.id


def texts(screen: AcmeScreen, table: str) -> list[list[str]]:
    t = screen.query_one(table)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


async def test_the_screen_lists_accounts_orders_and_reasons_and_approves(store: Store) -> None:
    waiting = place(store, "caddy", "jellyfin.home.arpa", wait=True)
    failed = place(store, "caddy", "gone.home.arpa", wait=False)
    state.set_order(
        store, failed, "invalid", error={"type": "urn:ietf:params:acme:error:dns", "detail": "no A record"}
    )
    app = make_app(store)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        # The queue is announced on whatever screen is open.
        assert any("jellyfin.home.arpa" in str(n.message) for n in app._notifications)
        await pilot.press("A")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, AcmeScreen)
        assert texts(screen, "#acme-accounts")[0][:3] == ["caddy", "active", "*.home.arpa"]
        rows = {r[2]: r for r in texts(screen, "#acme-orders")}
        assert rows["jellyfin.home.arpa"][3] == "waiting"
        assert rows["jellyfin.home.arpa"][4] == state.WAITING
        assert rows["gone.home.arpa"][3] == "invalid" and rows["gone.home.arpa"][4] == "dns: no A record"
        assert "1 order(s) waiting" in str(screen.query_one("#acme-waiting").render())
        await pilot.press("a")
        await settle(app, pilot)
        decided = state.approval(store, waiting)
        assert decided is not None and decided.status == "approved"


async def test_refuse_with_a_reason_and_follow_another_process(store: Store, home: Path) -> None:
    app = make_app(store)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        assert texts(app.screen, "#acme-orders") == []
        # Another process (the server) places an order; the screen follows data_version.
        other = Store.open(db_path(home))
        try:
            order_id = place(other, "caddy", "nope.home.arpa", wait=True)
        finally:
            other.close()
        app._poll()
        await settle(app, pilot)
        assert [r[2] for r in texts(app.screen, "#acme-orders")] == ["nope.home.arpa"]
        assert any("nope.home.arpa" in str(n.message) for n in app._notifications)
        await pilot.press("x")
        await settle(app, pilot)
        assert isinstance(app.screen, RefuseScreen)
        app.screen.query_one("#reason").value = "not in this lab"
        await pilot.press("enter")
        await settle(app, pilot)
        decided = state.approval(store, order_id)
        assert decided is not None and (decided.status, decided.reason) == ("refused", "not in this lab")
        # Nothing is waiting any more: `a` says so instead of deciding anything.
        await pilot.press("a")
        await settle(app, pilot)
        assert any("waiting for approval" in str(n.message) for n in app._notifications)


async def test_add_shows_the_eab_key_once_copies_it_then_disable_and_remove(store: Store) -> None:
    app = make_app(store)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("A")
        await settle(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, AddAccountScreen)
        app.screen.query_one("#name").value = "lego"
        app.screen.query_one("#patterns").value = "nas.home.arpa, 192.168.1.0/24"
        app.screen.query_one("#patterns").focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, EabScreen)
        made = app.screen.made
        assert made.account.patterns == ("nas.home.arpa", "192.168.1.0/24")
        assert made.hmac_b64 in str(app.screen.query_one("#eab-hmac").render())
        await pilot.press("c")
        assert app.clipboard == f"{made.account.kid} {made.hmac_b64}"
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, AcmeScreen)
        # The HMAC key is not on the screen any more, and the store has it sealed.
        assert made.hmac_b64 not in str(app.screen.query_one("#acme-accounts").get_row_at(1))
        table = app.screen.query_one("#acme-accounts")
        table.move_cursor(row=table.get_row_index("lego"))
        await pilot.press("d")
        await settle(app, pilot)
        assert state.account(store, "lego").status == "disabled"
        await pilot.press("delete")
        await settle(app, pilot)
        await pilot.click("#yes")
        await settle(app, pilot)
        assert [a.name for a in state.accounts(store)] == ["caddy"]


async def test_inspect_shows_the_acme_account_the_ari_window_and_the_checklist(store: Store) -> None:
    from certtui.tui.screens.inspect import InspectScreen

    ca = store.default_issuer_id() or ""
    rec = journey.issue(
        store,
        names=["svc.home.arpa"],
        issuer_id=ca,
        issuer_key=store.private_key(ca),
        days=90,
        origin="acme:caddy",
    )
    app = make_app(store)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(app, pilot)
        app.push_screen(InspectScreen(app.jobs, rec))
        await settle(app, pilot)
        details = str(app.screen.query_one("#details-text").render())
        assert "ACME account" in details and "caddy" in details
        assert "ARI window" in details and "middle third of the last third" in details
        panel = app.screen.query_one("ChecklistPanel")
        assert panel.findings and any(f.id == "leaf.lifetime-825" for f in panel.findings)
