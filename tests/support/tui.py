"""Pilot helpers: wait for the app's workers, or for a state, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# Waiting for a state polls this often; the deadline only stops a hung test (a loaded 2-core
# machine running eight suites can take seconds for what takes milliseconds alone).
POLL_S = 0.02
DEADLINE_S = 60.0


async def settle(app: Any, pilot: Any) -> None:
    """Wait for every worker, then for the messages they posted."""
    from textual.worker import WorkerFailed

    for _ in range(3):
        try:
            await app.workers.wait_for_complete()
        except WorkerFailed:
            pass  # the app's handler has reported it; the test checks what it showed
        await pilot.pause()


async def wait_until(
    pilot: Any, state: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S
) -> None:
    """Let the app run until `state()` holds; fail naming `what` if it never does."""
    give_up = time.monotonic() + deadline_s
    while not state():
        if time.monotonic() > give_up:
            raise AssertionError(f"waited {deadline_s:g} s for {what}")
        await pilot.pause(POLL_S)


def _shape(req: Any) -> tuple[Any, ...]:
    return (req.names, req.kind, req.days, req.key, req.issuer)


async def wait_preview(app: Any, pilot: Any) -> None:
    """Wait until the issue form's checklist is the one of the request now in the form (the
    debounce has fired and its preview came back), then for the workers."""
    screen = app.screen

    def current() -> bool:
        req = screen.request()
        shown = screen._previewed
        if req is None:
            return shown is None
        return shown is not None and screen.preview is not None and _shape(shown) == _shape(req)

    await wait_until(pilot, current, "the checklist of the request in the form")
    await settle(app, pilot)


def palette_shows(app: Any, title: str) -> bool:
    """Whether the command palette is open with `title` as its highlighted command."""
    from textual.command import CommandList, CommandPalette

    screen = app.screen
    if not isinstance(screen, CommandPalette):
        return False
    results = screen.query_one(CommandList)
    option = results.highlighted_option
    return option is not None and title in str(option.prompt)
