"""Snapshots at 80x24 and 120x40 of every screen, made by the screenshot script's own flows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certtui.tui.screenshots import SHOTS, demo_app

SIZES = [(80, 24), (120, 40)]
# Not the default 8555, which a certtui running on this machine may hold: the enrollment
# snapshot shows the URL, so its port must be the one asked for.
SNAPSHOT_PORT = 18555


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SHOTS))
def test_screen(snap_compare: Any, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    app = demo_app(tmp_path, name, port=SNAPSHOT_PORT)
    assert snap_compare(app, terminal_size=size, run_before=SHOTS[name])
