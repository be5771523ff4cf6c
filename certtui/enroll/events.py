"""What the enrollment server reports: one event per request, the trust verdicts, and non-verdicts."""

from __future__ import annotations

from dataclasses import dataclass
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
