"""The TUI's part of keeping certificates valid: inspect shows the deploy targets and their last
result, `d` deploys now (asking for the passphrase once), and the list marks what a scan saw."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import upkeep
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.journeys import deploy as journey
from certtui.tui.app import CerttuiApp, make_app
from certtui.tui.screens.inspect import InspectScreen
from certtui.tui.screens.unlock import UnlockScreen
from certtui.tui.widgets.cert_table import CertTable


async def settle(app: CerttuiApp, pilot: object) -> None:
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()  # type: ignore[attr-defined]


async def test_inspect_shows_targets_and_d_deploys_now(
    make_store: Callable[..., Store], tmp_path: Path
) -> None:
    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    rec = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    journey.add(
        store, journey.TargetRequest(rec.id, fullchain=str(tmp_path / "f.pem"), key=str(tmp_path / "k.pem"))
    )
    # A fresh session: the store is locked again, as when the TUI starts.
    locked = Store.open(store.path)
    app = make_app(locked)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"nas", "enter", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)
        details = str(app.screen.query_one("#details-text").render())
        assert "Deploy 1" in details and str(tmp_path / "f.pem") in details
        assert "never deployed (d deploys now)" in details
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, UnlockScreen)
        await pilot.press(*PASSPHRASE, "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)
        assert (tmp_path / "k.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        details = str(app.screen.query_one("#details-text").render())
        assert "ok: wrote 2 file(s)" in details
    locked.close()


async def test_d_without_a_target_says_how_to_add_one(make_store: Callable[..., Store]) -> None:
    store = make_store()
    rec = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"nas", "enter", "enter")
        await settle(app, pilot)
        await pilot.press("d")
        await pilot.pause()
        shown = [n.message for n in app._notifications]
        assert any(f"certtui deploy add {rec.id}" in m for m in shown), shown


async def test_the_list_marks_what_the_last_scan_saw_deployed(make_store: Callable[..., Store]) -> None:
    store = make_store()
    seen = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    issue_one(store, IssueRequest(names=("printer.home.arpa",)))
    upkeep.record_scan(
        store, upkeep.Scan("127.0.0.1:8443", iso(utcnow()), seen.sha256, seen.id, "current", "")
    )
    app = make_app(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        lines = {r.record.id: table._format(r, 120) for r in table._rows}
        assert "nas.home.arpa (deployed)" in lines[seen.id]
        assert sum("(deployed)" in line for line in lines.values()) == 1
