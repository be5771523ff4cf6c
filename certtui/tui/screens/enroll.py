"""Phone enrollment (`p`): the QR on the left; URL, fingerprint, countdown, steps, events right."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from certtui.core import policy
from certtui.tui.widgets.qr_code import QrCode

if TYPE_CHECKING:
    from certtui.enroll.events import EnrollEvent
    from certtui.enroll.server import EnrollmentSession

# The TUI takes no --timeout: a session stops after core/policy.py's ENROLL_TIMEOUT_S, as the
# countdown shows.
SESSION_SECONDS = policy.ENROLL_TIMEOUT_S

STEPS = (
    ("page", "Page opened on the phone"),
    ("profile", "Profile downloaded"),
    ("trusted", "This phone trusts the root"),
)
# Under load (a scanner on the LAN, the benchmark) requests arrive by the thousand each
# second: the list keeps the latest 100 (more than any screen shows), and events that come
# faster than ten a second are drawn together, so serving never waits on the screen.
EVENTS_SHOWN = 100
REDRAW_S = 0.1
# What the phone still has to do when the trust test fails: almost always the switch.
MISSING_STEP = (
    "Switch on full trust: Settings → General → About → Certificate Trust Settings, "
    "then run the test again on the page."
)


class EnrollScreen(Screen[None]):
    """Runs one enrollment session on the app's own loop; `esc` stops it and closes the ports."""

    BINDINGS = [
        Binding(
            "escape",
            "stop",
            "Stop",
            id="enroll.stop",
            tooltip="Stop the enrollment server and close both ports",
        ),
    ]
    """Remappable by id."""

    def __init__(self, session: EnrollmentSession) -> None:
        super().__init__()
        self.session = session
        self.done: set[str] = set()
        self.rejected = False
        self._unsubscribe: Any = None
        self._pending: list[EnrollEvent] = []
        self._drawn_at = 0.0
        self._redraw: Any = None

    def compose(self) -> ComposeResult:
        es = self.session
        from certtui.enroll import page

        with Horizontal(id="enroll-body"):
            yield QrCode(es.url, id="qr")
            # The top of the side panel never moves: URL, fingerprint, countdown, progress.
            # Only the event log below scrolls by itself (the guide scrolls on request).
            with Vertical(id="enroll-side"):
                yield Static(Text(es.url), id="enroll-url")
                lines = page.group_fingerprint(es.root.fingerprint)
                fingerprint = "\n".join(
                    ("SHA-256 " if i == 0 else " " * 8) + line for i, line in enumerate(lines)
                )
                yield Static(Text(fingerprint), id="enroll-fingerprint")
                yield Static("", id="countdown")
                yield Static("", id="trusted-banner")
                yield Static("", id="steps")
                yield Static(Text(es.trust_skipped or ""), id="trust-skipped", classes="warning-text")
                with VerticalScroll(id="phone-guide"):
                    yield Static("On an iPhone or iPad", classes="section-title")
                    yield Static(
                        Text(
                            "\n".join(f"{n}. {step}" for n, step in enumerate(page.IOS_STEPS, 1))
                            + f"\n{page.IOS_NOTE}"
                        ),
                        id="phone-steps",
                    )
                    yield Static("On Android", classes="section-title")
                    yield Static(
                        Text(
                            "\n".join(f"{n}. {step}" for n, step in enumerate(page.ANDROID_STEPS, 1))
                            + f"\n{page.ANDROID_NOTE}"
                        ),
                        id="android-steps",
                    )
                with VerticalScroll(id="enroll-log"):
                    yield Static("Events", classes="section-title")
                    yield Vertical(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trust-skipped").display = bool(self.session.trust_skipped)
        self.query_one("#trusted-banner").display = False
        self._unsubscribe = self.session.subscribe(self._event)
        self._pending = list(self.session.events)
        self._draw_events()
        self._tick()
        self.set_interval(1, self._tick)

    # -- what happens --------------------------------------------------------------------

    def _event(self, event: EnrollEvent) -> None:
        """Queue the event; draw now, or with the next batch when events come thick and fast."""
        self._pending.append(event)
        if self._redraw is not None:
            return
        wait = self._drawn_at + REDRAW_S - time.monotonic()
        if wait <= 0:
            self._draw_events()
        else:
            self._redraw = self.set_timer(wait, self._draw_events)

    def _draw_events(self) -> None:
        from certtui.enroll.events import EventKind, PageOpened, ProfileDownloaded

        self._redraw = None
        self._drawn_at = time.monotonic()
        batch, self._pending = self._pending, []
        for event in batch:
            if event.kind is EventKind.TRUSTED:
                self.done.add("trusted")
                self.rejected = False
            elif event.kind is EventKind.REJECTED:
                self.rejected = "trusted" not in self.done
            elif isinstance(event, PageOpened):
                self.done.add("page")
            elif isinstance(event, ProfileDownloaded):
                self.done.add("profile")
        shown = batch[-EVENTS_SHOWN:]
        box = self.query_one("#events")
        old = list(box.children)
        excess = len(old) + len(shown) - EVENTS_SHOWN
        if excess > 0:
            box.remove_children(old[:excess])
        # Client text is escaped by the server and never read as markup here.
        box.mount_all([Static(Text(event.line()), classes="event") for event in shown])
        if shown:
            log = self.query_one("#enroll-log", VerticalScroll)
            # After the layout that gives the new lines their place: the newest is always seen.
            self.call_after_refresh(log.scroll_end, animate=False)
        self._render_steps()

    def _render_steps(self) -> None:
        text = Text()
        for key, label in STEPS:
            if key == "trusted" and self.session.trust_url is None:
                continue
            mark = "✓" if key in self.done else "○"
            text.append(f"{mark} {label}\n", style="bold" if key in self.done else "")
        if self.rejected:
            text.append(f"✗ The phone does not trust the root yet. {MISSING_STEP}\n")
        self.query_one("#steps", Static).update(text)
        trusted = "trusted" in self.done
        self.query_one("#steps").set_class(trusted, "-trusted")
        banner = self.query_one("#trusted-banner", Static)
        banner.display = trusted
        if trusted:
            banner.update("✓ This phone trusts the root. esc stops; another phone can scan now.")

    def _tick(self) -> None:
        # The session's own expiry, by the clock it was started with (the app's).
        left = int(self.session.seconds_left())
        reason = self.session.reason
        label = (
            f"Stopped: {reason}." if reason else f"Stops in {left // 60:d}:{left % 60:02d} · esc stops now"
        )
        self.query_one("#countdown", Static).update(label)

    async def on_unmount(self) -> None:
        """Leaving the app with the screen open (q, ctrl+c) closes both ports too."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.session.stop("stopped")

    async def action_stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        await self.session.stop("stopped")
        self.dismiss(None)
