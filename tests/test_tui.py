"""Pilot flows for the TUI's shell, first run, unlock, list, filter, inspect and clipboard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.pki import issue_one
from support.tui import settle

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest, IssueRequest, Kind
from certtui.core.store import Store
from certtui.demo import build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import make_app
from certtui.tui.screens.cert_list import CertListScreen
from certtui.tui.screens.inspect import InspectScreen
from certtui.tui.screens.setup import SetupScreen
from certtui.tui.screens.unlock import UnlockScreen
from certtui.tui.widgets.cert_table import CertTable
from certtui.tui.widgets.checklist import ChecklistPanel


@pytest.fixture
def demo(home: Path) -> Store:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


def names_in_table(table: CertTable) -> list[str]:
    return [table._rows[i].record.subject or table._rows[i].record.id for i in table._visible]


async def test_first_run_setup_creates_root_with_constraints(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        assert isinstance(app.screen, SetupScreen)
        app.screen.query_one("#root-name").value = "Flat Root"
        app.screen.query_one("#passphrase").value = "s3cret pass"
        app.screen.query_one("#passphrase2").value = "s3cret pass"
        # remove 'lan', add a constraint of our own
        for row in app.screen.query(".constraint-row"):
            if row.value == "lan":
                row.query_one("Button").press()
        await pilot.pause()
        app.screen.query_one("#add-constraint").value = "example.home"
        await pilot.click("#add-constraint-button")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
        assert app.store is not None and app.store.encrypted
    store = Store.open(db_path(home))
    [root] = store.records()
    assert root.subject == "Flat Root" and root.kind is Kind.ROOT
    from cryptography import x509

    nc = store.certificate(root.id).extensions.get_extension_for_class(x509.NameConstraints)
    permitted = sorted(str(getattr(n.value, "exploded", n.value)) for n in nc.value.permitted_subtrees)
    assert "lan" not in permitted and "example.home" in permitted and "home.arpa" in permitted
    assert "fd00::/8" in [str(n.value) for n in nc.value.permitted_subtrees]
    store.unlock("s3cret pass")
    store.close()


async def test_setup_refuses_mismatched_passphrases_inline(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        app.screen.query_one("#passphrase").value = "one"
        app.screen.query_one("#passphrase2").value = "two"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = app.screen.query_one("#passphrase-error")
        assert error.display and "differ" in str(error.render())
        assert isinstance(app.screen, SetupScreen)
    assert not db_path(home).exists()


async def test_unlock_wrong_then_right(home: Path) -> None:
    store, _ = init_store(db_path(home), InitRequest(name="Locked Root"), "right horse")
    store.close()
    store = Store.open(db_path(home))
    app = make_app(store)
    done: list[bool] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.jobs.require_unlock(lambda: done.append(True))
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await pilot.press(*"wrong", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, UnlockScreen)
        error = app.screen.query_one("#unlock-error")
        assert error.display and "wrong passphrase" in str(error.render())
        assert not store.unlocked and not done
        await pilot.press(*"right horse", "enter")
        await settle(app, pilot)
        assert store.unlocked and done == [True]
        assert isinstance(app.screen, CertListScreen)


async def test_list_in_tree_order_with_summary(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        rows = [(r.depth, r.record.subject) for r in table._rows]
        assert rows[0] == (0, "Home Lab Root CA")
        assert rows[1] == (1, "Home Lab Intermediate")
        # leaves under the intermediate, newest first; the foreign certificate last
        leaves = [s for d, s in rows if d == 2]
        assert leaves[0] == "old-nas.home.arpa" and leaves[-1] == "nas.home.arpa"
        assert rows[-1] == (0, "fritz.box")
        summary = str(app.screen.query_one("#summary").render())
        assert summary == ("10 certificates · 3 fail the iOS checklist · 1 expiring · 1 revoked · 1 external")


async def test_filter_narrows_and_escape_restores_keeping_highlight(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        assert table.visible_count == 10
        await pilot.press("slash", *"printer")
        await pilot.pause()
        assert names_in_table(table) == ["printer.home.arpa"]
        await pilot.press("escape")
        await pilot.pause()
        assert table.visible_count == 10
        assert table.current is not None and table.current.subject == "printer.home.arpa"
        assert app.focused is table
        # filtering by SAN (an IP) works too
        await pilot.press("slash", *"192.168.1.10")
        await pilot.pause()
        assert names_in_table(table) == ["nas.home.arpa"]


async def test_inspect_shows_checklist_with_fail_for_900_days(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        await pilot.press("slash", *"legacy", "enter")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)
        panel = app.screen.query_one(ChecklistPanel)
        by_id = {f.id: f.severity for f in panel.findings}
        assert by_id["leaf.lifetime-825"] == "fail"
        assert panel.findings[0].severity == "fail"  # fails first
        details = str(app.screen.query_one("#details-text").render())
        assert "legacy-camera.home.arpa" in details and "SHA-256" in details
        assert not app.screen.query_one("#pem").display
        await pilot.press("v")
        assert app.screen.query_one("#pem").display
        await pilot.press("escape")
        assert isinstance(app.screen, CertListScreen) and table.visible_count == 1


async def test_inspect_stacks_at_80_columns(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one("#inspect-body").has_class("-stacked")
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert not app.screen.query_one("#inspect-body").has_class("-stacked")


async def test_copy_puts_pem_on_clipboard(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        root = demo.records()[0]
        assert app.clipboard.startswith("-----BEGIN CERTIFICATE-----")
        from certtui.core.details import pem_text

        assert app.clipboard == pem_text(demo.der(root.id))


async def test_another_process_issuing_appears_without_a_key_press(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = init_store(db_path(home), InitRequest(name="Shared Root"), None)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        assert table.visible_count == 1
        subprocess.run(
            [sys.executable, "-m", "certtui", "issue", "fresh.home.arpa"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for _ in range(60):  # the poll runs every 2 s; give it up to 6 s
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
            if table.visible_count == 2:
                break
        assert table.visible_count == 2
        assert "fresh.home.arpa" in names_in_table(table)


async def test_ten_thousand_rows_render_only_a_screenful(home: Path) -> None:
    store, _ = init_store(db_path(home), InitRequest(name="Big Root"), None)
    # 10,000 rows through the table's data path, without signing 10,000 certificates.
    root = store.records()[0]
    from dataclasses import replace

    from certtui.core.inventory import TreeRow

    rows = [TreeRow(0, root)] + [
        TreeRow(
            1,
            replace(
                root,
                id=f"{i:012x}",
                subject=f"host{i}.home.arpa",
                kind=Kind.SERVER,
                names=(f"host{i}.home.arpa",),
            ),
        )
        for i in range(10_000)
    ]
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        table.rows_formatted = 0
        table.set_rows(rows)
        await pilot.pause()
        assert table.visible_count == 10_001
        height = table.scrollable_content_region.height
        assert 0 < table.rows_formatted <= 2 * height
        before = table.rows_formatted
        await pilot.press("slash", *"host99")
        await pilot.pause()
        assert table.visible_count == 111  # host99, host990-999, host9900-9999
        assert table.rows_formatted - before <= 2 * height * 7  # a screen per keystroke at most


async def test_keymap_remaps_by_binding_id(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock, keymap={"cert.inspect": "i"})
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("i")
        await settle(app, pilot)
        assert isinstance(app.screen, InspectScreen)


async def test_help_lists_every_binding_of_the_list(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        from rich.markdown import Markdown
        from textual.widgets import Static

        keys = str(app.screen.query_one("#help-keys").render())
        for needle in (
            "Inspect",
            "Filter",
            "Copy: Copy the certificate PEM",
            "Renew",
            "Quit",
            "Up: Previous row",
            "ctrl+p",
        ):
            assert needle in keys
        assert "Scroll Left" not in keys  # only certtui's own bindings, with tooltips
        guide = app.screen.query_one("#help-guide", Static).content
        assert isinstance(guide, Markdown) and "Three journeys" in guide.markup


async def test_worker_errors_become_notifications(demo: Store) -> None:
    from certtui.errors import CerttuiError

    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)

        def boom() -> None:
            raise CerttuiError("the thing went wrong; do the other thing")

        app.jobs.run_job(boom, description="failing on purpose")
        await settle(app, pilot)
        messages = [n.message for n in app._notifications]
        assert "the thing went wrong; do the other thing" in messages


def test_issue_from_core_is_in_tree_under_its_issuer(home: Path) -> None:
    store, _ = init_store(db_path(home), InitRequest(name="R", intermediate=True), None)
    leaf = issue_one(store, IssueRequest(names=("a.home.arpa",)))
    from certtui.core.inventory import tree_order

    order = [(r.depth, r.record.id) for r in tree_order(store.records())]
    assert order[-1] == (2, leaf.id)
