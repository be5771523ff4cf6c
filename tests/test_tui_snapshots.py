"""Snapshots of setup, the list, inspect and help at 80x24 and 120x40, from the demo store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certtui.demo import build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import make_app

SIZES = [(80, 24), (120, 40)]
# Fixed ports for the enrollment snapshot (the URL is on screen); rarely taken on a test box.
ENROLL_PORT = 18555


async def _steady(pilot: Any) -> None:
    """No blinking cursor, every worker done, no toasts: the same picture every run."""
    from textual.widgets import Input

    app = pilot.app
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()
    for field in app.screen.query(Input):
        field.cursor_blink = False
    app.clear_notifications()
    await pilot.pause()


def _demo_app(home: Path) -> Any:
    return make_app(build_demo_store(db_path(home)), clock=demo_clock)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_setup(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    app = make_app(None, db_path=db_path(home))
    assert snap_compare(app, terminal_size=size, run_before=_steady)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_list(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    assert snap_compare(_demo_app(home), terminal_size=size, run_before=_steady)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inspect_failing_certificate(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    async def open_legacy(pilot: Any) -> None:
        await _steady(pilot)
        await pilot.press("slash", *"legacy", "enter", "enter")
        await _steady(pilot)

    assert snap_compare(_demo_app(home), terminal_size=size, run_before=open_legacy)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    async def open_help(pilot: Any) -> None:
        await _steady(pilot)
        await pilot.press("question_mark")
        await _steady(pilot)

    assert snap_compare(_demo_app(home), terminal_size=size, run_before=open_help)


async def _enter(pilot: Any, *keys: str) -> None:
    await _steady(pilot)
    await pilot.press(*keys)
    await pilot.pause(0.4)
    await _steady(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_issue_form_failing_preview(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    async def fill(pilot: Any) -> None:
        await _enter(pilot, "n")
        pilot.app.screen.query_one("#names").value = "camera.home.arpa 192.168.1.40"
        pilot.app.screen.query_one("#days").value = "900"
        await pilot.pause(0.4)
        await _steady(pilot)

    assert snap_compare(_demo_app(home), terminal_size=size, run_before=fill)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_revoke(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    async def open_revoke(pilot: Any) -> None:
        await _enter(pilot, "slash", *"router", "enter")
        await _enter(pilot, "r")

    assert snap_compare(_demo_app(home), terminal_size=size, run_before=open_revoke)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_export(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    async def open_export(pilot: Any) -> None:
        await _enter(pilot, "slash", *"192.168.1.10", "enter")
        await _enter(pilot, "e")
        pilot.app.screen.query_one("#directory").value = "/srv/certs"
        await _steady(pilot)

    assert snap_compare(_demo_app(home), terminal_size=size, run_before=open_export)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_enrollment(snap_compare: Any, home: Path, size: tuple[int, int]) -> None:
    from certtui.tui.screens.enroll import EnrollScreen

    async def open_enroll(pilot: Any) -> None:
        await _enter(pilot, "p")
        for _ in range(50):
            if isinstance(pilot.app.screen, EnrollScreen):
                break
            await _steady(pilot)
        await _steady(pilot)

    app = make_app(build_demo_store(db_path(home)), clock=demo_clock, enroll_bind="127.0.0.1",
                   enroll_advertise="127.0.0.1", enroll_port=ENROLL_PORT,
                   enroll_tls_port=ENROLL_PORT + 1, enroll_token="Xq7vKp2RtYw")
    assert snap_compare(app, terminal_size=size, run_before=open_enroll)
