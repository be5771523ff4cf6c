"""The TUI's "store: trust on this machine": the status table, installing the NSS part, the system command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.tui import palette_shows, settle, wait_until
from textual.widgets import DataTable, Static
from trust_support import certutil, nss_nicknames

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.paths import db_path
from certtui.tui.app import make_app
from certtui.tui.screens.trust import TrustScreen


@pytest.fixture
def store(home: Path) -> Store:
    made, _ = init_store(db_path(home), InitRequest(name="Tui Trust Root"), None)
    yield made
    made.close()


def rows(screen: TrustScreen) -> dict[str, str]:
    table = screen.query_one("#trust-table", DataTable)
    return {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}


@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
async def test_palette_entry_shows_the_table_and_installs_the_nss_part(
    store: Store, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "user"
    nssdb = user / ".pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil("-N", "-d", f"sql:{nssdb}", "--empty-password")
    monkeypatch.setenv("HOME", str(user))
    fp = store.get(store.root_id() or "").sha256
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "store: trust on this machine" in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"store: trust on this machine")
        await wait_until(
            pilot, lambda: palette_shows(app, "store: trust on this machine"), "the palette to offer it"
        )
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TrustScreen)
        assert rows(screen)["Chromium/Chrome"] == "absent"
        system = str(screen.query_one("#trust-system", Static).render())
        assert f"--home {home} trust install --system" in system
        await pilot.press("i")
        await settle(app, pilot)
        assert rows(screen)["Chromium/Chrome"] == "trusted"
        assert f"certtui Tui Trust Root {fp[:16]}" in nss_nicknames(nssdb)
        # The system store is not touched from the TUI: its row still says this fresh root is absent.
        table = screen.query_one("#trust-table", DataTable)
        assert str(table.get_row_at(0)[1]) in ("absent", "unknown")
        await pilot.press("u")
        await settle(app, pilot)
        assert rows(screen)["Chromium/Chrome"] == "absent"
        assert nss_nicknames(nssdb) == []
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, TrustScreen)
