"""The TUI shell: keymap config, command palette, themes, mouse, and the locked-store flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.tui import palette_shows, settle, wait_until

from certtui.core.store import Store
from certtui.demo import DEMO_PASSPHRASE, build_demo_store, demo_clock
from certtui.errors import CerttuiError
from certtui.paths import config_path, db_path
from certtui.tui.app import make_app
from certtui.tui.config import load_keymap
from certtui.tui.screens.cert_list import CertListScreen
from certtui.tui.screens.enroll import EnrollScreen
from certtui.tui.screens.inspect import InspectScreen
from certtui.tui.screens.unlock import UnlockScreen
from certtui.tui.widgets.cert_table import CertTable


@pytest.fixture
def demo(home: Path) -> Store:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


def test_keymap_file_is_read_by_binding_id(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    assert load_keymap(config_path()) == {}
    config_path().write_text('[keymap]\n"cert.inspect" = "i"\n"view.filter" = "f"\n')
    assert load_keymap(config_path()) == {"cert.inspect": "i", "view.filter": "f"}


def test_home_option_moves_the_config_file_too(tmp_path: Path) -> None:
    assert config_path(tmp_path / "elsewhere") == tmp_path / "elsewhere" / "config.toml"


@pytest.mark.parametrize("text", ['[keymap]\n"cert.inspect" = 3\n', "[keymap\n", "keymap = 1\n"])
def test_a_bad_keymap_file_is_one_clear_error(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    config_path().write_text(text)
    with pytest.raises(CerttuiError, match=r"config\.toml"):
        load_keymap(config_path())


async def test_palette_offers_actions_as_category_verb(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in (
            "cert: inspect",
            "cert: issue",
            "cert: revoke",
            "cert: renew",
            "export: files",
            "phone: enroll",
            "view: filter",
            "view: help",
            "store: unlock",
        ):
            assert any(t == title or t.startswith(title + "  (") for t in titles), (title, titles)
        # Palette rows show their keys, as the footer names them (issue 16).
        assert "cert: issue  (n)" in titles and "cert: renew  (R)" in titles
        # and running one through the palette works
        await pilot.press("ctrl+p")
        await pilot.press(*"cert: inspect")
        await wait_until(pilot, lambda: palette_shows(app, "cert: inspect"), "the palette to offer it")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)


@pytest.mark.parametrize("theme", ["textual-light", "textual-dark"])
async def test_works_in_built_in_themes(demo: Store, theme: str) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        svg = app.export_screenshot()
        assert "iOS checklist" in svg.replace("&#160;", " ")


async def test_mouse_click_highlights_then_opens(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        await pilot.click(CertTable, offset=(5, 1))
        await pilot.pause()
        assert table.cursor == 1 and table.current.subject == "Home Lab Intermediate"
        await pilot.click(CertTable, offset=(5, 1))
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)


async def test_ctrl_r_reloads(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        from support.pki import issue_one

        from certtui.core.models import IssueRequest

        issue_one(demo, IssueRequest(names=("late.home.arpa",)))
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert app.screen.query_one(CertTable).visible_count == 11


async def test_enrollment_on_a_locked_store_asks_for_the_passphrase(home: Path) -> None:
    build_demo_store(db_path(home)).close()
    store = Store.open(db_path(home))
    app = make_app(
        store,
        clock=demo_clock,
        enroll_bind="127.0.0.1",
        enroll_advertise="192.168.1.2",
        enroll_port=0,
        enroll_tls_port=0,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        assert isinstance(app.screen, UnlockScreen)
        app.screen.query_one("#passphrase").value = DEMO_PASSPHRASE
        await pilot.press("enter")
        for _ in range(50):
            await settle(app, pilot)
            if isinstance(app.screen, EnrollScreen):
                break
        assert isinstance(app.screen, EnrollScreen)
        assert app.screen.session.trust_url is not None  # 192.168.1.2 fits the constraints
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
    store.close()
