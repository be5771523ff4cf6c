"""`certtui acme account`: invite, list, disable and remove the ACME server's accounts."""

from __future__ import annotations

import click

from certtui.commands.common import echo_json, printable
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)


@click.group()
def account() -> None:
    """Invite, list, disable and remove the ACME accounts."""


@account.command(name="add")
@click.argument("name")
@click.option(
    "--allow",
    "patterns",
    multiple=True,
    metavar="PATTERN",
    help="A name it may order: nas.home.arpa, *.home.arpa, 192.168.1.10, 192.168.1.0/24; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print name, kid and hmac as JSON.")
@pass_session
def account_add(session: Session, name: str, patterns: tuple[str, ...], as_json: bool) -> None:
    """Invite an account: prints its EAB key id and HMAC key, once (they are stored sealed)."""
    from certtui.journeys import acme as journey

    store = session.unlocked_store()
    made = journey.add_account(store, name, patterns)
    if as_json:
        echo_json(
            {
                "name": made.account.name,
                "kid": made.account.kid,
                "hmac": made.hmac_b64,
                "allow": list(made.account.patterns),
            }
        )
        return
    click.echo(
        f"invited ACME account {printable(made.account.name)}: may order {', '.join(made.account.patterns)}"
    )
    click.echo(f"  EAB key id:   {made.account.kid}")
    click.echo(f"  EAB HMAC key: {made.hmac_b64}")
    click.echo(
        "this HMAC key is shown only now; give both to the client (certbot --eab-kid/--eab-hmac-key, "
        "lego --kid/--hmac, Caddy acme_eab)"
    )


@account.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@pass_session
def account_list(session: Session, as_json: bool) -> None:
    """List the accounts: name, status, EAB key id, patterns (never the HMAC key)."""
    from certtui.journeys import acme as journey

    found = journey.accounts(session.store())
    if as_json:
        echo_json(
            [
                {
                    "name": a.name,
                    "kid": a.kid,
                    "status": a.status,
                    "allow": list(a.patterns),
                    "created_at": a.created_at,
                }
                for a in found
            ]
        )
        return
    if not found:
        click.echo(
            "no ACME accounts; invite one with `certtui acme account add NAME --allow PATTERN`", err=True
        )
    for a in found:
        click.echo(
            printable(
                f"{a.name}  {a.status}  kid {a.kid or '(open registration)'}  allow {', '.join(a.patterns)}"
            )
        )


@account.command(name="disable")
@click.argument("name")
@pass_session
def account_disable(session: Session, name: str) -> None:
    """Refuse the account's requests from now on (its certificates stay valid)."""
    from certtui.journeys import acme as journey

    journey.disable_account(session.store(), name)
    click.echo(f"disabled ACME account {printable(name)}")


@account.command(name="remove")
@click.argument("name")
@pass_session
def account_remove(session: Session, name: str) -> None:
    """Delete the account, its client keys and orders (its certificates stay in the store)."""
    from certtui.journeys import acme as journey

    journey.remove_account(session.store(), name)
    click.echo(f"removed ACME account {printable(name)}")
