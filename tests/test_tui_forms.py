"""Issue 16, forms and dialogs at 80x24: keys in the footer, errors where they happen, nothing lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tui import settle, wait_until
from textual.widgets import Input

from certtui.core.store import Store
from certtui.demo import DEMO_PASSPHRASE, build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import CerttuiApp, make_app
from certtui.tui.screens.export import ExportScreen
from certtui.tui.screens.issue import IssueScreen
from certtui.tui.screens.revoke import RevokeScreen
from certtui.tui.screens.setup import SetupScreen
from certtui.tui.screens.unlock import UnlockScreen
from certtui.tui.widgets.checklist import ChecklistPanel


async def until(pilot: Any, predicate: Any, tries: int = 200) -> None:
    """Wait for a state (not a time): pause between checks, fail if it never comes."""
    for _ in range(tries):
        if predicate():
            return
        await settle(pilot.app, pilot)
        await pilot.pause(0.05)
    raise AssertionError("the state never came")


@pytest.fixture
def demo(home: Path) -> Any:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


@pytest.fixture
def locked(home: Path) -> Any:
    build_demo_store(db_path(home)).close()
    store = Store.open(db_path(home))
    yield store
    store.close()


def footer_keys(screen: Any) -> dict[str, str]:
    """What the footer of the active screen shows: key -> description."""
    return {k.key_display or k.key: k.description for k in screen.query("FooterKey")}


async def select(pilot: Any, name: str) -> None:
    await pilot.press("slash", *name, "enter")
    await settle(pilot.app, pilot)


def app_for(store: Store, tmp_path: Path) -> CerttuiApp:
    return make_app(store, clock=demo_clock, start_dir=tmp_path)


# -- every modal names its own keys --------------------------------------------------------


async def test_issue_form_footer_shows_its_own_keys_at_80x24(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, IssueScreen)
        keys = footer_keys(app.screen)
        assert "Issue" in keys.values() and "Cancel" in keys.values(), keys
        assert "Inspect" not in keys.values() and "Phone" not in keys.values()
        # The footer is on screen: its region lies inside the 24 rows.
        footer = app.screen.query_one("Footer")
        assert footer.region.y == 23 and footer.region.height == 1


@pytest.mark.parametrize(
    ("name", "key", "screen_type"), [("router", "r", RevokeScreen), ("192.168.1.10", "e", ExportScreen)]
)
async def test_every_dialog_has_ctrl_s_and_esc_in_its_footer(
    demo: Store, tmp_path: Path, name: str, key: str, screen_type: type
) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, name)
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, screen_type)
        keys = footer_keys(app.screen)
        assert "^s" in keys and "esc" in keys, keys


async def test_revoke_submits_on_ctrl_s(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, "router")
        target = app.screen.table.current
        assert target is not None and not target.revoked_at
        await pilot.press("r")
        await settle(app, pilot)
        assert isinstance(app.screen, RevokeScreen)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, RevokeScreen)
    assert demo.get(target.id).revoked_at


async def test_unlock_has_ctrl_s(locked: Store, tmp_path: Path) -> None:
    app = app_for(locked, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.jobs.require_unlock(lambda: None)
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        app.screen.query_one("#passphrase", Input).value = DEMO_PASSPHRASE
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert locked.unlocked


async def test_enter_in_the_last_field_submits_the_issue_form(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        before = len(demo.records())
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#names", Input).value = "enter.home.arpa"
        await until(pilot, lambda: app.screen.preview is not None and app.screen._previewed is not None)
        app.screen.query_one("#days", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, IssueScreen))
        await settle(app, pilot)
        assert len(demo.records()) == before + 1


# -- an error is seen where it happens -------------------------------------------------------


async def test_export_to_a_missing_folder_shows_the_error_beside_the_field(
    demo: Store, tmp_path: Path
) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, "192.168.1.10")
        await pilot.press("e")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        screen.query_one("#directory", Input).value = str(tmp_path / "nope")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        error = screen.query_one("#directory-error")
        assert error.display and "not a directory" in str(error.render())
        assert screen.focused is screen.query_one("#directory")
        # The message is on screen, not five wheel notches below.
        dialog = screen.query_one("#export-dialog")
        assert dialog.region.contains_region(error.region), (dialog.region, error.region)


async def test_a_failed_export_keeps_the_dialog_and_what_was_typed(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, "192.168.1.10")
        await pilot.press("e")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        # /proc is a folder, and nobody (root included) may create files in it.
        screen.query_one("#directory", Input).value = "/proc"
        screen.query_one("#password", Input).value = "pw one two"
        screen.query_one("#password2", Input).value = "pw one two"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert screen.query_one("#password", Input).value == "pw one two"
        error = screen.query_one("#export-error")
        assert error.display and "/proc" in str(error.render())


async def test_cancelled_unlock_keeps_the_issue_form_and_says_nothing_was_issued(
    locked: Store, tmp_path: Path
) -> None:
    app = app_for(locked, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#names", Input).value = "kept.home.arpa"
        await until(pilot, lambda: form._previewed is not None)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is form
        assert form.query_one("#names", Input).value == "kept.home.arpa"
        error = form.query_one("#form-error")
        assert error.display and "not issued" in str(error.render()).lower()


# -- narrow terminals stack; the preview agrees with the form -------------------------------


async def test_issue_form_stacks_below_100_columns(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen.query_one("#issue-dialog").has_class("-stacked")
        assert app.screen.query_one("#issue-preview").region.width >= 40


async def test_a_request_that_cannot_be_issued_never_says_accept(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#names", Input).value = "printer.example.com"
        await until(pilot, lambda: app.screen.preview is not None)
        title = str(app.screen.query_one(ChecklistPanel).query_one(".checklist-title").render())
        assert "accept" not in title and "cannot be issued" in title.lower(), title


async def test_names_outside_the_constraints_are_refused_beside_the_names(
    demo: Store, tmp_path: Path
) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#names", Input).value = "printer.example.com"
        await until(pilot, lambda: form.preview is not None and form.preview.error is not None)
        beside = form.query_one("#names-error")
        assert beside.display and "outside the permitted names" in str(beside.render())
        assert not form.query_one("#form-error").display
        form.query_one("#days").focus()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and app.focused is form.query_one("#names", Input)
        assert beside.display and "outside the permitted names" in str(beside.render())


async def test_fix_is_worded_for_the_form(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#names", Input).value = "long.home.arpa"
        app.screen.query_one("#days", Input).value = "900"
        await until(pilot, lambda: app.screen.preview is not None and app.screen.preview.fails)
        text = "\n".join(str(v.render()) for v in app.screen.query(".finding.-fail"))
        assert "set Days to 397" in text and "certtui " not in text, text


async def test_issue_form_opens_without_an_error(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, IssueScreen)
        # Once typing would have paused: the form's first check has run.
        await wait_until(pilot, lambda: form.checks > 0, "the form's first check")
        await settle(app, pilot)
        assert not form.query_one("#names-error").display


def test_library_text_is_translated() -> None:
    from certtui.tui.wording import humane

    for raw in (
        "candidates exhausted: signature does not match",
        "[Errno 104] Connection reset by peer",
        "[Errno 111] Connection refused",
    ):
        said = humane(raw)
        assert said != raw and "Errno" not in said and "candidates exhausted" not in said
    assert humane("nas.home.arpa is fine") == "nas.home.arpa is fine"


# -- the setup wizard ------------------------------------------------------------------------


async def test_setup_constraints_accept_spaces_and_commas(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SetupScreen)
        screen.query_one("#add-constraint", Input).value = "a.example, b.example c.example"
        await pilot.click("#add-constraint-button")
        await pilot.pause()
        assert {"a.example", "b.example", "c.example"} <= set(screen.constraints)
        assert not screen.query_one("#constraint-error").display


async def test_setup_cleared_field_clears_its_error(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        field = screen.query_one("#add-constraint", Input)
        field.value = "not a name!"
        await pilot.click("#add-constraint-button")
        await pilot.pause()
        assert screen.query_one("#constraint-error").display
        field.value = ""
        await pilot.pause()
        assert not screen.query_one("#constraint-error").display


async def test_setup_removing_a_constraint_keeps_focus_in_the_list(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        first = screen.query(".constraint-remove").first()
        first.focus()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.focused is not None
        assert "constraint-remove" in screen.focused.classes


async def test_setup_q_asks_before_quitting(home: Path) -> None:
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        app.screen.query_one("#create").focus()
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        assert app.screen.query("#confirm-quit") or type(app.screen).__name__ == "ConfirmQuitScreen"


async def test_a_one_field_fix_is_offered_on_a_key(demo: Store, tmp_path: Path) -> None:
    app = app_for(demo, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#names", Input).value = "long.home.arpa"
        form.query_one("#days", Input).value = "900"
        await until(pilot, lambda: form.preview is not None and form.preview.fails)
        await until(pilot, lambda: "Apply fix" in footer_keys(form).values())
        await pilot.press("ctrl+f")
        await until(pilot, lambda: form.preview is not None and not form.preview.fails)
        assert form.query_one("#days", Input).value == "397"
        await until(pilot, lambda: "Apply fix" not in footer_keys(form).values())
