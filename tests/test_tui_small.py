"""Issue 16, small things: the theme is saved, keymap typos are reported, screenshots land
somewhere real, light-theme contrast, and a new 10-year root says "in 10 years"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from certtui.core.inventory import expires_in
from certtui.core.store import Store
from certtui.core.timefmt import iso
from certtui.demo import build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import CerttuiApp, make_app


async def settle(app: CerttuiApp, pilot: Any) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def demo(home: Path) -> Any:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


def contrast(fg: Any, bg: Any) -> float:
    def lum(c: Any) -> float:
        def ch(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        r, g, b = c.triplet
        return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def test_theme_choice_is_saved_in_config_toml(demo: Store, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"cert.inspect" = "i"\n', encoding="utf-8")
    app = make_app(demo, clock=demo_clock, config_path=config, keymap={"cert.inspect": "i"})
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "textual-light"
        await settle(app, pilot)
    text = config.read_text(encoding="utf-8")
    assert 'theme = "textual-light"' in text and '"cert.inspect" = "i"' in text
    again = make_app(demo, clock=demo_clock, config_path=config)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(again, pilot)
        assert again.theme == "textual-light"


async def test_unknown_keymap_id_is_reported_at_start(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock, keymap={"cert.inspekt": "i", "cert.issue": "N"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert any("cert.inspekt" in m for m in messages), messages
        assert not any("cert.issue" in m for m in messages)


async def test_screenshot_without_downloads_lands_in_the_start_folder(
    demo: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(tmp_path / "nohome" / "Downloads"))
    start = tmp_path / "start"
    start.mkdir()
    app = make_app(demo, clock=demo_clock, start_dir=start)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.action_screenshot()
        await pilot.pause()
        [saved] = list(start.glob("*.svg"))
        assert any(str(saved) in n.message for n in app._notifications)


async def test_light_theme_pass_text_and_cursor_meet_wcag_aa(demo: Store) -> None:
    from textual.widgets import Input

    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "textual-light"
        await settle(app, pilot)
        table = app.screen.table
        cursor = table.rich_style + table.get_component_rich_style("cert-table--cursor", partial=True)
        assert contrast(cursor.color, cursor.bgcolor) >= 4.5
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#names", Input).value = "nas2.home.arpa"
        for _ in range(100):
            if app.screen.query(".finding.-pass"):
                break
            await settle(app, pilot)
            await pilot.pause(0.05)
        passed = app.screen.query(".finding.-pass").first()
        style = passed.rich_style
        assert contrast(style.color, style.bgcolor) >= 4.5


def test_a_new_ten_year_root_says_in_10_years() -> None:
    now = demo_clock()
    assert expires_in(iso(now + timedelta(days=3650) - timedelta(minutes=1)), now) == "in 10 years"
    assert expires_in(iso(now + timedelta(days=400)), now) == "in 1 year"
    assert expires_in(iso(now + timedelta(days=300)), now) == "in 10 months"


def test_export_says_replaced_and_warns_on_a_key_of_another_certificate(
    cli, make_store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from support.pki import issue_one

    from certtui.core.models import IssueRequest
    from certtui.tui import actions

    store = make_store()
    old = issue_one(store, IssueRequest(names=("web.home.arpa",)))
    out = tmp_path / "deploy"
    out.mkdir()
    # The first deployment: chain and unencrypted key, side by side.
    cli.ok("export", old.id, "--format", "key", "--unencrypted-key", "--out", str(out))
    first = cli.ok("export", old.id, "--format", "fullchain", "--out", str(out))
    assert "(replaced)" not in first.stdout and "warning" not in first.stderr
    # The renew case: a new certificate's chain lands beside the old key.
    new = issue_one(store, IssueRequest(names=("web.home.arpa",)))
    again = cli.ok("export", new.id, "--format", "fullchain", "--out", str(out))
    assert "(replaced)" in again.stdout
    assert "holds the key of another certificate" in again.stderr and "key values mismatch" in again.stderr
    # The TUI's export says the same.
    written = actions.export(store, actions.ExportRequest(new.id, ("fullchain",), out))
    assert written[0].replaced and written[0].warning and "another certificate" in written[0].warning
    # Exporting chain and key together leaves a matching pair: no warning.
    both = actions.export(
        store, actions.ExportRequest(new.id, ("fullchain", "key"), out, unencrypted_key=True)
    )
    assert not any(w.warning for w in both)
