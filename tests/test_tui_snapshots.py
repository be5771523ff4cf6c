"""Snapshots at 80x24 and 120x40 of every screen, made by the screenshot script's own flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tui import wait_until

from certtui.tui.screenshots import SHOTS, Steps, demo_app, press, steady

SIZES = [(80, 24), (120, 40)]
# Not the default 8555, which a certtui running on this machine may hold: the enrollment
# snapshot shows the URL, so its port must be the one asked for.
SNAPSHOT_PORT = 18555


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SHOTS))
def test_screen(snap_compare: Any, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    app = demo_app(tmp_path, name, port=SNAPSHOT_PORT)
    assert snap_compare(app, terminal_size=size, run_before=SHOTS[name])


# The palette's dialogs (issue 16), opened as the palette row opens them, and the ACME screen.
async def _tool(pilot: Any, opener: str, screen_type: str = "AskScreen") -> None:
    from certtui.tui import palette

    await steady(pilot)
    getattr(palette, opener)(pilot.app)
    await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == screen_type, f"the {opener} screen")
    await steady(pilot)


async def _acme(pilot: Any) -> None:
    from certtui.tui.screens.acme import AcmeScreen

    await press(pilot, "A")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AcmeScreen), "the ACME screen")
    await steady(pilot)


TOOL_SHOTS: dict[str, Steps] = {
    "check-server": lambda p: _tool(p, "open_check_server"),
    "sign-csr": lambda p: _tool(p, "open_sign_csr"),
    "import-ca": lambda p: _tool(p, "open_import_ca"),
    "crl-status": lambda p: _tool(p, "show_crl_status", "ResultScreen"),
    "acme": _acme,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(TOOL_SHOTS))
def test_tool(snap_compare: Any, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    app = demo_app(tmp_path, name, port=SNAPSHOT_PORT)
    assert snap_compare(app, terminal_size=size, run_before=TOOL_SHOTS[name])
