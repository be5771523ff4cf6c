"""`certtui schedule install|status`: the daily `renew --due --quiet` as a systemd timer or a cron line."""

from __future__ import annotations

import os

import click

from certtui.errors import CerttuiError
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)


@click.group()
def schedule() -> None:
    """Run `certtui renew --due --quiet` every day."""


@schedule.command(name="install")
@click.option("--user", "scope", flag_value="user", help="A unit of your user manager (default unless root).")
@click.option("--system", "scope", flag_value="system", help="A unit of the system manager (as root).")
@click.option(
    "--at", default=None, metavar="HH:MM", help="The time of day (default 03:17, plus up to 10 min)."
)
@click.option(
    "--passphrase-file",
    metavar="FILE",
    help="The store passphrase for the timer (mode 0600; default: $CERTTUI_PASSPHRASE_FILE).",
)
@click.option("--dry-run", is_flag=True, help="Print each unit (after a # NAME line) and write nothing.")
@click.option("--no-enable", is_flag=True, help="Write the units but do not run systemctl.")
@pass_session
def _install(
    session: Session,
    scope: str | None,
    at: str | None,
    passphrase_file: str | None,
    dry_run: bool,
    no_enable: bool,
) -> None:
    """Write the systemd service and timer, and enable the timer."""
    from certtui.core import policy
    from certtui.journeys import schedule as journey

    scope = scope or ("system" if os.geteuid() == 0 else "user")
    if scope == "system" and os.geteuid() != 0 and not dry_run:
        raise CerttuiError(
            "--system writes to /etc/systemd/system, which needs root; run as root or use --user"
        )
    store = session.store()
    req = journey.check_request(
        scope, at or policy.SCHEDULE_AT, session.db.parent, store.encrypted, passphrase_file
    )
    units = journey.units(req)
    if dry_run:
        for name, text in units.items():
            click.echo(f"# {name}")
            click.echo(text)
        # On stderr: stdout holds only the units, each after its `# NAME` line, for scripts.
        click.echo(f"without systemd, this crontab line does the same:\n{journey.cron_line(req)}", err=True)
        return
    if not journey.has_systemd():
        click.echo("this system does not run systemd; add this line with `crontab -e` instead:")
        click.echo(journey.cron_line(req))
        return
    for path in journey.install(req):
        click.echo(f"wrote {path}")
    if no_enable:
        flag = " --user" if scope == "user" else ""
        click.echo(
            f"enable it with `systemctl{flag} daemon-reload && "
            f"systemctl{flag} enable --now {journey.NAME}.timer`"
        )
        return
    problem = journey.enable(scope)
    if problem:
        raise CerttuiError(f"wrote the units, but {problem}; fix that and enable {journey.NAME}.timer")
    click.echo(f"enabled {journey.NAME}.timer: every day at {req.at} (plus up to 10 minutes)")


@schedule.command(name="status")
@pass_session
def _status(session: Session) -> None:
    """Where the timer is, when it runs next, and how the last run went."""
    from certtui.core.timefmt import utcnow
    from certtui.journeys import renew_due
    from certtui.journeys import schedule as journey

    state = journey.status(utcnow())
    if not state.installed:
        click.echo("no certtui timer installed; add one with `certtui schedule install`")
    for path in state.installed:
        click.echo(f"timer: {path}")
    if state.next_run is not None:
        click.echo(f"next run: {state.next_run.strftime('%Y-%m-%d %H:%M %Z')} (plus up to 10 minutes)")
    last = renew_due.last_run(session.store())
    if last is None:
        click.echo("last run: never")
        return
    renewed = last.get("renewed") or []
    failures = last.get("failures") or []
    verdict = "ok" if last.get("ok") else "FAILED"
    click.echo(f"last run: {last.get('at')} {verdict}, {len(renewed)} renewed, {len(failures)} failed")  # type: ignore[arg-type]
    for line in failures:  # type: ignore[attr-defined]
        click.echo(f"  failed: {line}")


del _install, _status
