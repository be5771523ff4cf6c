"""`certtui scan HOST:PORT...`: which certificate each endpoint really serves, matched to the store."""

from __future__ import annotations

from pathlib import Path

import click

from certtui.commands.common import printable
from certtui.errors import CerttuiError
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)


@click.command()
@click.argument("addresses", nargs=-1, metavar="HOST:PORT...")
@click.option(
    "--from", "from_file", type=click.Path(dir_okay=False, path_type=Path), help="One HOST:PORT per line."
)
@click.option("--servername", metavar="NAME", help="The SNI name to send (default: each host).")
@click.option("--starttls", type=click.Choice(["smtp", "imap", "pop3"]), help="Upgrade a mail session first.")
@pass_session
def scan(
    session: Session,
    addresses: tuple[str, ...],
    from_file: Path | None,
    servername: str | None,
    starttls: str | None,
) -> None:
    """Scan endpoints (default: every deploy target's --verify); exit 1 unless all serve the newest."""
    from certtui.core.tlsprobe import parse_target
    from certtui.core.userfiles import read_user_file
    from certtui.journeys import scan as journey

    store = session.store()
    endpoints = [journey.Endpoint(a, servername, starttls) for a in addresses]
    if from_file is not None:
        try:
            text = read_user_file(from_file, "list of endpoints").decode("utf-8")
        except UnicodeDecodeError:
            raise CerttuiError(f"{from_file} is not UTF-8 text; write one HOST:PORT per line") from None
        endpoints += journey.endpoints_from_file(text, servername, starttls)
    if not endpoints:
        if servername or starttls:
            raise CerttuiError("--servername and --starttls go with the endpoints they apply to")
        endpoints = journey.endpoints_from_targets(store)
        if not endpoints:
            raise CerttuiError(
                "nothing to scan; give HOST:PORT, --from FILE, or add a deploy target with --verify"
            )
    for e in endpoints:
        parse_target(e.address)
    bad = False
    for result in journey.scan(store, endpoints):
        bad = bad or result.verdict != journey.CURRENT
        click.echo(printable(f"{result.endpoint}  {result.verdict.upper()}  {result.detail}"))
    if bad:
        click.get_current_context().exit(1)
