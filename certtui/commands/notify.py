"""`certtui notify add|list|remove|test`: where certtui tells you what needs you."""

from __future__ import annotations

import click

from certtui.commands.common import printable
from certtui.core import policy
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)


@click.group()
def notify() -> None:
    """Notification channels: ntfy, webhooks (json, Slack, Discord) and e-mail."""


@notify.command(name="add")
@click.argument("kind", type=click.Choice(["ntfy", "webhook", "email"]))
@click.argument("target", metavar="URL|ADDRESS")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "slack", "discord"]), help="webhook: the body's shape."
)
@click.option(
    "--smtp", metavar="HOST[:PORT]", help="email: the mail server (port 25, or 587 with --starttls)."
)
@click.option("--starttls", is_flag=True, help="email: upgrade the SMTP session to TLS.")
@click.option("--user", metavar="U", help="email: the SMTP login.")
@click.option("--password-file", metavar="F", help="email: the SMTP password's file (mode 0600).")
@click.option("--from", "sender", metavar="ADDRESS", help="email: the sender (default: the address itself).")
@click.option(
    "--expiry-days",
    type=int,
    default=policy.EXPIRY_WARN_DAYS,
    show_default=True,
    help="Warn this many days before a certificate nothing renews expires.",
)
@pass_session
def _add(
    session: Session,
    kind: str,
    target: str,
    fmt: str | None,
    smtp: str | None,
    starttls: bool,
    user: str | None,
    password_file: str | None,
    sender: str | None,
    expiry_days: int,
) -> None:
    """Add a channel: `ntfy URL`, `webhook URL [--format]`, or `email ADDRESS --smtp HOST[:PORT]`."""
    from certtui.journeys import notify as journey

    req = journey.ChannelRequest(kind, target, fmt, smtp, starttls, user, password_file, sender, expiry_days)
    channel = journey.add_channel(session.store(), req)
    click.echo(printable(f"added channel {channel.id}: {channel.label()}"))
    click.echo(f"send a test with `certtui notify test {channel.id}`")


@notify.command(name="list")
@pass_session
def _list(session: Session) -> None:
    """List the channels."""
    from certtui.core import upkeep

    found = upkeep.channels(session.store())
    if not found:
        click.echo("no channels; add one with `certtui notify add ntfy URL`", err=True)
    for c in found:
        login = f", login {c.smtp_user}" if c.smtp_user else ""
        tls = ", STARTTLS" if c.starttls else ""
        click.echo(printable(f"{c.id}  {c.label()}{tls}{login}; warns {c.expiry_days} days before expiry"))


@notify.command(name="remove")
@click.argument("channel_id", metavar="CHANNEL", type=int)
@pass_session
def _remove(session: Session, channel_id: int) -> None:
    """Remove a channel."""
    from certtui.core import upkeep

    channel = upkeep.remove_channel(session.store(), channel_id)
    click.echo(printable(f"removed channel {channel.id}: {channel.label()}"))


@notify.command(name="test")
@click.argument("channel_ids", metavar="[CHANNEL]...", type=int, nargs=-1)
@pass_session
def _test(session: Session, channel_ids: tuple[int, ...]) -> None:
    """Send a test message to every channel (or those given); exit 1 if one fails."""
    from certtui.journeys import notify as journey

    results = journey.send_test(session.store(), list(channel_ids) or None)
    if not results:
        click.echo("no channels; add one with `certtui notify add ntfy URL`", err=True)
    failed = False
    for channel, problem in results:
        if problem is None:
            click.echo(printable(f"sent a test to {channel.label()}"))
        else:
            failed = True
            click.echo(printable(f"failed: {channel.label()}: {problem}"), err=True)
    if failed:
        click.get_current_context().exit(1)


del _add, _list, _remove, _test
