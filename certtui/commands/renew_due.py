"""`certtui renew --due`: the adapter `renew` hands over to (the timer runs it with --quiet)."""

from __future__ import annotations

import click

from certtui.commands.common import printable, summary
from certtui.session import Session


def run_due(session: Session, *, every: bool, min_days: int, quiet: bool) -> None:
    """Renew and deploy what is due; one line per failure on stderr, exit status 1 if any."""
    from certtui.journeys import renew_due

    store = session.store()

    def unlock() -> None:
        if not store.unlocked:
            session.unlocked_store()

    result = renew_due.run(store, renew_due.DueRequest(every=every, min_days=min_days), unlock)
    if not quiet:
        for old, new in result.renewed:
            click.echo(f"renewed {old.id} -> {new.id}: {summary(new)}")
        for deployed in result.deployed:
            if deployed.ok:
                click.echo(deployed.line())
        for line in result.notes + result.notified:
            click.echo(printable(line))
        if not (result.renewed or result.deployed or result.failures):
            click.echo("nothing is due", err=True)
    for line in result.failures:
        click.echo(printable(f"failed: {line}"), err=True)
    if result.failures:
        click.get_current_context().exit(1)
