"""Issue 16, the list: checklist markers, rows told apart, an aligned header, honest actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.pki import issue_one
from support.tui import settle

from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.demo import build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import CerttuiApp, make_app
from certtui.tui.screens.cert_list import CertListScreen
from certtui.tui.screens.confirm import ConfirmScreen
from certtui.tui.screens.inspect import InspectScreen
from certtui.tui.screens.revoke import RevokeScreen


def screen_lines(app: CerttuiApp) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


@pytest.fixture
def demo(home: Path) -> Any:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


def row_of(app: CerttuiApp, text: str) -> str:
    [line] = [line for line in screen_lines(app) if text in line]
    return line


async def select(pilot: Any, name: str) -> None:
    await pilot.press("slash", *name, "enter")
    await settle(pilot.app, pilot)


async def test_failing_certificates_are_marked_counted_and_explained(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # The 900-day camera certificate fails on an iPhone; nas.home.arpa does not.
        assert row_of(app, "legacy-camer").lstrip().startswith("✗"), row_of(app, "legacy-camer")
        assert not row_of(app, "nas.home.arpa").lstrip().startswith("✗")
        summary = str(app.screen.query_one("#summary").render())
        assert summary == (
            "10 certificates · 3 fail the iOS checklist · 1 expiring · 1 revoked · 1 external"
        ), summary
        legend = str(app.screen.query_one("#legend").render())
        assert "✗ fails the iOS checklist" in legend and "* imported" in legend
        screen = app.screen
        assert isinstance(screen, CertListScreen)
        judged = screen.judged
        assert judged == 10
        # A reload (another process wrote) judges only what is new: the verdicts are cached.
        screen.reload()
        await settle(app, pilot)
        assert screen.judged == judged


async def test_same_names_show_their_ids_and_names_do_not_repeat(demo: Store) -> None:
    second = issue_one(demo, IssueRequest(names=("router.lan",)), now=demo_clock())
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        rows = [line for line in screen_lines(app) if "router.lan" in line]
        assert len(rows) == 2 and any(f"id {second.id[:8]}" in r for r in rows), rows
        nas = row_of(app, "nas.home.arpa")
        # The second column adds the other names, it does not repeat the first.
        assert nas.count("nas.home.arpa") == 1 and "192.168.1.10" in nas, nas


async def test_filter_says_how_many_match_and_when_none_do(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"home.arpa")
        await settle(app, pilot)
        assert "6 of 10 match" in str(app.screen.query_one("#summary").render())
        await pilot.press(*"zzz")
        await settle(app, pilot)
        assert "nothing matches" in str(app.screen.query_one("#summary").render())


async def test_header_stays_aligned_after_the_filter_opens_and_scrolling(home: Path) -> None:
    store = build_demo_store(db_path(home))
    for n in range(30):
        issue_one(store, IssueRequest(names=(f"host{n}.home.arpa",)), now=demo_clock())
    app = make_app(store, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"host")
        await settle(app, pilot)
        await pilot.press("enter", "end")
        await settle(app, pilot)
        lines = screen_lines(app)
        [header] = [line for line in lines if "Kind" in line and "Expires" in line]
        row = next(line for line in lines if "host" in line and "server" in line)
        assert header.index("Kind") == row.index("server"), (header, row)
        assert header.index("Status") == row.index("valid"), (header, row)
    store.close()


async def test_revoke_is_not_offered_for_an_imported_certificate(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await select(pilot, "fritz")
        assert app.screen.table.current.external
        assert "Revoke" not in {k.description for k in app.screen.query("FooterKey")}
        await pilot.press("r")
        await settle(app, pilot)
        assert not isinstance(app.screen, (RevokeScreen, ConfirmScreen))


async def test_renewing_a_revoked_certificate_does_not_say_the_old_one_stays_valid(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await select(pilot, "old-nas")
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "stays revoked" in body and "stays valid" not in body, body


async def test_footer_shows_export_revoke_copy_and_renew_at_80_columns(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await select(pilot, "router")
        footer = screen_lines(app)[-1]
        for chip in ("e Export", "r Revoke", "c Copy", "R Renew", "? Help", "q Quit"):
            assert chip in footer, footer


async def test_v_in_inspect_shows_the_pem_begin_line_at_80x24(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await select(pilot, "nas.home")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)
        await pilot.press("v")
        await settle(app, pilot)
        await pilot.pause()
        assert any("-----BEGIN CERTIFICATE-----" in line for line in screen_lines(app))


async def test_the_footer_follows_the_highlight_and_is_rebuilt_only_when_its_keys_change(
    demo: Store,
) -> None:
    """Moving onto an imported certificate drops Revoke and Renew from the footer; moving between
    two rows that offer the same keys does not rebuild it (a rebuild costs each key press ~20 ms)."""
    from textual.widgets import Footer

    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CertListScreen)
        await pilot.press("home")
        await settle(app, pilot)
        assert screen.table.current is not None and screen.table.current.kind.value == "root"
        footer = screen.query_one(Footer)
        rebuilt: list[str] = []
        original = footer.recompose

        async def counting() -> None:
            rebuilt.append(screen.table.current.id if screen.table.current else "")
            await original()

        footer.recompose = counting  # type: ignore[method-assign]
        leaves = 0
        while (current := screen.table.current) is not None and not current.external and leaves < 20:
            leaves += 1
            await pilot.press("down")
            await settle(app, pilot)
            now_on = screen.table.current
            if now_on is not None and not now_on.external and now_on.kind.value == "server":
                assert "R Renew" in screen_lines(app)[-1]
        assert current is not None and current.names == ("fritz.box",)
        assert leaves >= 5
        last = screen_lines(app)[-1]
        assert "R Renew" not in last and "r Revoke" not in last, last
        # Rebuilt where the offer changed (root to leaves, onto the import), not on every row.
        assert 1 <= len(rebuilt) < leaves, rebuilt
