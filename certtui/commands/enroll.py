"""`certtui enroll`: the root for a phone behind a QR code, and whether the phone now trusts it."""

from __future__ import annotations

import asyncio
import signal
import textwrap
from typing import TYPE_CHECKING

import click

from certtui.commands.common import enrollment_options, group_enrollment_values
from certtui.core import policy

if TYPE_CHECKING:
    from certtui.enroll.server import EnrollmentSession
    from certtui.session import Session

# The screen is built for an 80-column terminal (docs/architecture.md: 80x24 minimum).
WIDTH = 80
# Fingerprint groups per line under the QR: 8 groups of 4 hex digits fit beside the label.
FP_GROUPS_PER_LINE = 8


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
    for index, group in enumerate(page.group_fingerprint(es.root.fingerprint, FP_GROUPS_PER_LINE)):
        lines.append(("SHA-256 " if index == 0 else " " * 8) + group)
    return "\n".join(lines)


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
    es.subscribe(lambda event: click.echo(event.line()))

    def started(running: EnrollmentSession) -> None:
        # `kill` stops as cleanly as Ctrl-C: ports closed, the closing line printed.
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGTERM, running.request_stop, "stopped (SIGTERM)"
        )
        click.echo(_screen(running))

    try:
        reason = es.run(on_start=started)
    except KeyboardInterrupt:
        reason = "stopped (Ctrl-C)"
    requests = sum(1 for e in es.events if e.kind.value == "request")
    verdicts = [e.kind.value for e in es.events if e.kind.value != "request"]
    outcome = f"last trust event: {verdicts[-1]}" if verdicts else "no trust test seen"
    click.echo(f"enrollment ended: {reason}; {requests} requests; {outcome}")
