"""`certtui enroll`: the root for a phone behind a QR code, and whether the phone now trusts it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from certtui.commands.common import enrollment_options, group_enrollment_values
from certtui.core import policy

if TYPE_CHECKING:
    from certtui.enroll.events import EnrollEvent
    from certtui.enroll.server import EnrollmentSession
    from certtui.session import Session

# The screen is built for an 80-column terminal (docs/architecture.md: 80x24 minimum).
WIDTH = 80
# Bounded wait for the terminal at the end: a terminal that stopped reading (Ctrl-S) does not
# keep certtui alive after its server has stopped.
FINAL_WRITE_WAIT_S = 2.0
# Columns between the QR and the text beside it in the redrawn screen.
SIDE_GAP = 2


def event_lines(event: EnrollEvent, width: int = WIDTH) -> list[str]:
    """One event as lines of at most `width` columns, broken between words (indented after)."""
    return textwrap.wrap(event.line(), width, subsequent_indent=" " * 9, break_on_hyphens=False) or [""]


def _wrapped(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest)


def _screen(es: EnrollmentSession) -> str:
    """Steps first, then the QR, the plain URL and the fingerprint as the last block."""
    from certtui.enroll import page, qr

    minutes = f"{es.timeout / 60:g} min" if es.timeout >= 60 else f"{es.timeout:g} s"
    ports = f"HTTP port {es.http_port}"
    if es.tls_port is not None:
        ports += f", HTTPS trust test port {es.tls_port}"
    firewall = f"{es.http_port}" + (f",{es.tls_port}" if es.tls_port is not None else "")
    lines = _wrapped(f"Serving the root \u201c{es.root.name}\u201d on {es.bind}: {ports}.", "", "")
    lines += _wrapped(f"If the phone cannot connect, open the ports: sudo ufw allow {firewall}/tcp", "", "")
    lines.append(f"Stops after {minutes} or on Ctrl-C.")
    lines += ["", "Scan the QR code with the phone's camera. On an iPhone or iPad:"]
    for number, step in enumerate(page.IOS_STEPS, 1):
        lines += _wrapped(step, f"  {number}. ", "     ")
    lines += _wrapped(page.IOS_NOTE, "  ", "  ")
    lines.append("On Android:")
    for number, step in enumerate(page.ANDROID_STEPS, 1):
        lines += _wrapped(step, f"  {number}. ", "     ")
    if es.trust_url is not None:
        lines += _wrapped(
            "Last, tap Test trust on the page: this terminal prints phone-trusted-root "
            "when the phone trusts the root, phone-rejected-certificate while it does not.",
            "",
            "",
        )
    else:
        lines += _wrapped(es.trust_skipped or "trust test skipped", "", "  ")
    lines.append("")
    lines.append(qr.render(es.url))
    lines.append(es.url)
    for index, group in enumerate(page.group_fingerprint(es.root.fingerprint)):
        lines.append(("SHA-256 " if index == 0 else " " * 8) + group)
    return "\n".join(lines)


def redrawn(es: EnrollmentSession, events: list[EnrollEvent], size: tuple[int, int]) -> str:
    """One terminal screen: the QR with the URL, fingerprint and steps beside it, last events below.

    The QR is never scrolled away, so a second phone can still scan it.
    """
    from certtui.enroll import page, qr

    columns, rows = max(size[0], 40), max(size[1], 10)
    code = qr.render(es.url).splitlines()
    qr_width = len(qr.render(es.url, colour=False).splitlines()[0])
    side_width = max(columns - qr_width - SIDE_GAP, 20)
    side = [es.url[:side_width], "SHA-256 fingerprint:"]
    side += page.group_fingerprint(es.root.fingerprint)
    side.append("")
    steps = [f"{n}. {step}" for n, step in enumerate(page.IOS_STEPS, 1)]
    if es.trust_url is not None:
        steps.append("Then tap Test trust on the page.")
    steps.append("Android: " + " ".join(page.ANDROID_STEPS))
    for step in steps:
        wrapped = textwrap.wrap(step, side_width, subsequent_indent="   ")
        if len(side) + len(wrapped) > len(code):
            break  # the steps that fit beside the QR; the page shows them all
        side += wrapped
    top = max(len(code), len(side))
    lines = []
    for i in range(top):
        left = code[i] if i < len(code) else " " * qr_width
        right = side[i] if i < len(side) else ""
        lines.append(f"{left}{' ' * SIDE_GAP}{right}")
    room = rows - top - 2
    tail: list[str] = []
    for event in reversed(events):
        block = event_lines(event, columns)
        if len(tail) + len(block) > room:
            break
        tail = block + tail
    footer = f"Serving on {es.bind} · Ctrl-C stops"
    lines += tail + [""] * max(room - len(tail), 0) + [footer[:columns]]
    return "\x1b[H\x1b[2J" + "\n".join(lines)


@click.command()
@enrollment_options
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=policy.ENROLL_TIMEOUT_S,
    show_default=True,
    metavar="SECONDS",
    help="Stop after this many seconds.",
)
@click.pass_obj
def enroll(
    session: Session, bind: str, port: int, tls_port: int, advertise: str | None, timeout: int
) -> None:
    """Serve the root to a phone behind a QR code, and show whether the phone trusts it."""
    # `certtui --port 9000 enroll` means `certtui enroll --port 9000`; a flag after wins.
    bind, port, tls_port, advertise = group_enrollment_values(
        session, bind=bind, port=port, tls_port=tls_port, advertise=advertise
    )
    from certtui.journeys import enroll as journey

    store = session.store()
    planned = journey.plan(store, advertise, bind)
    test = None
    if planned.test_plan is not None:
        # The issuing CA's key signs the one-day test certificate: ask for the passphrase now.
        test = journey.sign_trust_test(session.unlocked_store(), planned)
    es = journey.new_session(
        store, planned, test, journey.EnrollOptions(bind, port, tls_port, advertise), timeout
    )
    from certtui.enroll.events import Outbox, fd_sink

    out = sys.stdout
    out.flush()
    try:
        sink = fd_sink(out.fileno())
        real_fd = True
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        sink = _stream_sink(out)
        real_fd = False
    # Every line goes through the outbox: a terminal that stops reading never blocks the loop.
    outbox = Outbox(sink)
    tty = out.isatty()
    recent: list[EnrollEvent] = []

    def shown(event: EnrollEvent) -> None:
        if tty:
            recent.append(event)
            del recent[:-100]
            outbox.screen(redrawn(es, recent, shutil.get_terminal_size()))
        else:
            for line in event_lines(event):
                outbox.put(line)

    es.subscribe(shown)

    def started(running: EnrollmentSession) -> None:
        # `kill` stops as cleanly as Ctrl-C: ports closed, the closing line printed.
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, running.request_stop, "stopped (SIGTERM)"
        )
        if tty:
            outbox.screen(redrawn(running, recent, shutil.get_terminal_size()))
        else:
            outbox.put(click.unstyle(_screen(running)))

    try:
        reason = es.run(on_start=started)
    except KeyboardInterrupt:
        reason = "stopped (Ctrl-C)"
    requests = sum(1 for e in es.events if e.kind.value == "request")
    verdicts = [e.kind.value for e in es.events if e.kind.value != "request"]
    outcome = f"last trust event: {verdicts[-1]}" if verdicts else "no trust test seen"
    outbox.put(("\n" if tty else "") + f"enrollment ended: {reason}; {requests} requests; {outcome}")
    # Give the terminal a bounded time to take the last lines, then leave in any case.
    if not outbox.close(FINAL_WRITE_WAIT_S) and real_fd:
        # The writer is stuck in write() on a terminal that stopped reading: the server has
        # stopped and said all it could; do not wait for that terminal at interpreter exit.
        os._exit(0)


def _stream_sink(out: object) -> Callable[[str], None]:
    def write(text: str) -> None:
        out.write(text)  # type: ignore[attr-defined]
        out.flush()  # type: ignore[attr-defined]

    return write
