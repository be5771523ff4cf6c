"""Snapshots of setup, the list, inspect and help at 80x24 and 120x40, from the demo store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certtui.demo import build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import make_app

SIZES = [(80, 24), (120, 40)]


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
