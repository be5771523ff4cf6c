"""What the enrollment server reports: one event per request, the trust verdicts, and non-verdicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from certtui.core.printable import printable

# Client text (path, User-Agent) is cut to this many characters in an event: one event is one
# terminal line, and nothing a phone sends legitimately comes close.
MAX_CLIENT_TEXT = 120


def escape(text: str, limit: int = MAX_CLIENT_TEXT) -> str:
    r"""Client text made safe for a terminal: every control character shown as \xNN/\uNNNN.

    C0, DEL and C1, format characters such as bidi overrides, line and paragraph separators
    and lone surrogates are escaped (core/printable.py); a backslash
    becomes `\\` so that an escape can never be forged; text over `limit` is cut with `…`.
    """
    return printable(text, limit=limit, backslashes=True)


class EventKind(StrEnum):
    """A request, one of the two verdicts of the trust test, or a trust-test event that is no verdict."""

    REQUEST = "request"
    TRUSTED = "phone-trusted-root"
    REJECTED = "phone-rejected-certificate"
    # A TLS client that did not load the page or the profile from its address in this session
    # completed (or refused) the test: not the phone, so no verdict.
    OTHER_CLIENT = "trust-test-other-client"
    # The handshake failed in a way that says nothing about trust: not TLS, no common version
    # or cipher, another alert, a timeout.
    NO_VERDICT = "trust-test-no-verdict"


@dataclass(frozen=True)
class EnrollEvent:
    """One thing that happened on the enrollment server; client text is already escaped."""

    at: datetime
    kind: EventKind
    client: str
    platform: str = ""
    method: str = ""
    path: str = ""
    status: int | None = None
    detail: str = ""

    def line(self) -> str:
        """One terminal line: `08:22:41 192.168.1.23 iOS GET /x/root.mobileconfig 200`."""
        head = f"{self.at.astimezone():%H:%M:%S} {self.client}"
        if self.kind is EventKind.REQUEST:
            status = "" if self.status is None else f" {self.status}"
            tail = f" ({self.detail})" if self.detail else ""
            return f"{head} {self.platform} {self.method} {self.path}{status}{tail}"
        return f"{head} {self.kind.value}: {self.detail}"


# What the server emits, one type per thing that happened. Each fixes its `kind`, so its line
# and every reader of `kind` stay as they were; a front end tells the phone's steps by type.


@dataclass(frozen=True)
class RequestReceived(EnrollEvent):
    """A request on either port and the status it got (None: no HTTP answer was given)."""

    kind: EventKind = field(default=EventKind.REQUEST, init=False)


@dataclass(frozen=True)
class PageOpened(RequestReceived):
    """The landing page was served (200): the phone has the page open."""


@dataclass(frozen=True)
class ProfileDownloaded(RequestReceived):
    """The profile or the root as a .crt was served (200): the phone has the root to install."""


@dataclass(frozen=True)
class TrustConfirmed(EnrollEvent):
    """The device that loaded the page completed TLS with the test certificate."""

    kind: EventKind = field(default=EventKind.TRUSTED, init=False)


@dataclass(frozen=True)
class TrustRejected(EnrollEvent):
    """The device that loaded the page refused the test certificate: no trust yet."""

    kind: EventKind = field(default=EventKind.REJECTED, init=False)


@dataclass(frozen=True)
class OtherClientTested(EnrollEvent):
    """A TLS client that did not load the page completed or refused the test: no verdict."""

    kind: EventKind = field(default=EventKind.OTHER_CLIENT, init=False)


@dataclass(frozen=True)
class NoVerdict(EnrollEvent):
    """A failed handshake that says nothing about trust."""

    kind: EventKind = field(default=EventKind.NO_VERDICT, init=False)


def fd_sink(fd: int) -> Callable[[str], None]:
    """Write text to file descriptor `fd` whole, with `os.write` (no Python buffer)."""
    import os

    def write(text: str) -> None:
        data = memoryview(text.encode("utf-8", "replace"))
        while data:
            data = data[os.write(fd, data) :]

    return write


# A terminal that stops reading (Ctrl-S, a stalled SSH link) must never stall the server: at
# most this many lines wait for it; beyond, the oldest are dropped and counted. 1,000 lines is
# more than a terminal's scrollback shows of a burst, and a few hundred kilobytes at most.
OUTBOX_LINES = 1000


class Outbox:
    """Lines for a terminal, written by a thread of their own: `put` never blocks the caller.

    `sink` writes one chunk of text and may block (`fd_sink` writes to a file descriptor with
    `os.write`, so nothing waits in a Python buffer at exit). A `screen` (the whole of a
    redrawn terminal) replaces any screen not yet written: only the newest picture matters.
    """

    def __init__(self, sink: Callable[[str], None], cap: int = OUTBOX_LINES) -> None:
        import threading
        from collections import deque

        self.sink = sink
        self.cap = cap
        self.dropped = 0
        """Lines dropped because the terminal did not keep up."""
        self._lines: deque[str] = deque()
        self._screen: str | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._idle = True
        self._thread = threading.Thread(target=self._write_loop, name="certtui-outbox", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        with self._cond:
            if len(self._lines) >= self.cap:
                self._lines.popleft()
                self.dropped += 1
            self._lines.append(line)
            self._cond.notify()

    def screen(self, text: str) -> None:
        """Replace the terminal's picture (redraw mode): an older picture still queued is skipped."""
        with self._cond:
            self._screen = text
            self._cond.notify()

    def _take(self) -> str | None:
        with self._cond:
            while not self._lines and self._screen is None:
                if self._closed:
                    return None
                self._idle = True
                self._cond.notify_all()
                self._cond.wait()
            self._idle = False
            if self._screen is not None:
                text, self._screen = self._screen, None
                return text
            parts = []
            if self.dropped:
                parts.append(f"... {self.dropped} event line(s) dropped: the terminal did not keep up\n")
                self.dropped = 0
            while self._lines:
                parts.append(self._lines.popleft() + "\n")
            return "".join(parts)

    def _write_loop(self) -> None:
        while (text := self._take()) is not None:
            try:
                self.sink(text)
            except OSError:
                return  # the terminal went away: nothing more can be said there

    def close(self, wait: float) -> bool:
        """Stop after what is queued, waiting at most `wait` seconds; True if all was written."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(wait)
        return not self._thread.is_alive()
