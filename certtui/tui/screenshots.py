"""Regenerate screenshots/ from the deterministic demo store: `python -m certtui.tui.screenshots`."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from certtui.demo import build_demo_store, demo_clock

# Wide enough to show the inspect screen side by side, the size the README shows.
SIZE = (120, 40)
# Shots also taken at the 80x24 minimum (README.md, "At 80x24"), saved as NAME-80x24.svg.
SMALL = (80, 24)
SMALL_SHOTS = ("issue", "list", "enroll")
# Every fixed value the enrollment screen shows (the phone test never runs here).
DEMO_TOKEN = "Xq7vKp2RtYw"
DEMO_ADDRESS = "192.168.1.2"
DEMO_PORT = 8555
# The export form shows the folder certtui started in; the picture must not depend on it.
DEMO_EXPORT_DIR = Path("/srv/certs")
# The enrollment and issue shots wait for a state (the screen mounted over a listening server,
# the checklist of what was typed), not a time; this deadline only stops a hung run (aiohttp's
# import alone takes seconds on a loaded machine).
STATE_DEADLINE_S = 300.0

Steps = Callable[[Any], Awaitable[None]]


async def steady(pilot: Any) -> None:
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


async def press(pilot: Any, *keys: str) -> None:
    """Press keys once the screen is steady, then wait for it to settle again."""
    await steady(pilot)
    await pilot.press(*keys)
    await pilot.pause(0.4)
    await steady(pilot)


async def until(pilot: Any, state: Callable[[], bool], what: str) -> None:
    """Let the app run, steadily, until `state()` holds; give up after STATE_DEADLINE_S."""
    give_up = time.monotonic() + STATE_DEADLINE_S
    while not state():
        if time.monotonic() > give_up:
            raise TimeoutError(f"{what} did not come within {STATE_DEADLINE_S:g} s")
        await steady(pilot)
        await pilot.pause(0.05)
    await steady(pilot)


async def _issue_failing(pilot: Any) -> None:
    await press(pilot, "n")
    form = pilot.app.screen
    form.query_one("#names").value = "camera.home.arpa 192.168.1.40"
    form.query_one("#days").value = "900"
    # The checklist of what was just typed: the live preview runs once typing pauses.
    await until(pilot, lambda: form.preview is not None, "the issue form's checklist")


async def _select(pilot: Any, name: str, *keys: str) -> None:
    await press(pilot, "slash", *name, "enter")
    await press(pilot, *keys)


async def _enroll(pilot: Any) -> None:
    from certtui.tui.screens.enroll import EnrollScreen

    await press(pilot, "p")
    # Between its jobs no worker runs, so `steady` alone can return before the server has
    # started: wait until the screen is there and mounted (the session listens before it is).
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, EnrollScreen) and pilot.app.screen.is_mounted,
        "the enrollment screen",
    )


SHOTS: dict[str, Steps] = {
    "setup": steady,
    "list": steady,
    "inspect": lambda p: _select(p, "legacy", "enter"),
    "help": lambda p: press(p, "question_mark"),
    "issue": _issue_failing,
    "revoke": lambda p: _select(p, "router", "r"),
    "export": lambda p: _select(p, "192.168.1.10", "e"),
    "enroll": _enroll,
}


def demo_app(home: Path, name: str, port: int = DEMO_PORT) -> Any:
    """The app a shot starts from: setup on an empty home, else the demo store."""
    from certtui.paths import db_path
    from certtui.tui.app import make_app

    db = db_path(home / name)
    store = build_demo_store(db) if name != "setup" else None
    return make_app(
        store,
        db_path=db,
        clock=demo_clock,
        enroll_bind="127.0.0.1",
        enroll_advertise=DEMO_ADDRESS,
        enroll_port=port,
        enroll_tls_port=port + 1,
        enroll_token=DEMO_TOKEN,
        start_dir=DEMO_EXPORT_DIR,
    )


async def _shoot(home: Path, out: Path, name: str, size: tuple[int, int], suffix: str = "") -> Path:
    app = demo_app(home / f"{name}{suffix}", name)
    path = out / f"{name}{suffix}.svg"
    async with app.run_test(size=size) as pilot:
        await SHOTS[name](pilot)
        path.write_text(app.export_screenshot(title=f"certtui: {name}"), encoding="utf-8")
    if app.store is not None:
        app.store.close()
    return path


async def generate(out: Path, size: tuple[int, int] = SIZE) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SHOTS:
            written.append(await _shoot(Path(tmp), out, name, size))
        for name in SMALL_SHOTS:
            written.append(await _shoot(Path(tmp), out, name, SMALL, f"-{SMALL[0]}x{SMALL[1]}"))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    for path in asyncio.run(generate(args.out)):
        print(path)


if __name__ == "__main__":
    main()
