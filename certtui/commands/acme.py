"""`certtui acme`: the ACME server for the home lab's services, and its invited accounts."""

from __future__ import annotations

import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import click

from certtui.commands import acme_accounts
from certtui.commands.common import echo_json, printable, summary, warn
from certtui.core import policy
from certtui.errors import CerttuiError
from certtui.session import PASSPHRASE_ENV, Session, read_passphrase, read_secret_file

# systemd's LoadCredential= puts the passphrase here, readable by the service only.
CREDENTIAL_NAME = "certtui-passphrase"

pass_session = click.make_pass_decorator(Session)


def _passphrase() -> str:
    """$CERTTUI_PASSPHRASE_FILE, else $CREDENTIALS_DIRECTORY/certtui-passphrase, else a prompt."""
    if os.environ.get(PASSPHRASE_ENV):
        return read_passphrase(confirm=False)
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / CREDENTIAL_NAME).exists():
        return read_secret_file(Path(creds) / CREDENTIAL_NAME, f"$CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME}")
    return read_passphrase(confirm=False)


def _pins(values: tuple[str, ...]) -> dict[str, str]:
    import ipaddress

    out = {}
    for value in values:
        name, sep, address = value.rpartition(":") if value.count(":") == 1 else value.partition("=")
        try:
            ipaddress.ip_address(address)
        except ValueError:
            name = ""
        if not sep or not name:
            raise CerttuiError(f"--resolve {value!r} is not NAME:ADDRESS (or NAME=ADDRESS for IPv6)")
        out[name.lower().rstrip(".")] = address
    return out


def _dns_resolver(value: str | None) -> tuple[str, int] | None:
    """`ADDR`, `ADDR:PORT`, `[V6]:PORT` or a bare IPv6 address -> (address, port); port 53 by default."""
    import ipaddress

    if not value:
        return None
    text, port = value.strip(), "53"
    if text.startswith("["):
        text, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
    try:
        address = str(ipaddress.ip_address(text))
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise CerttuiError(
            f"--dns-resolver {value!r} is not ADDR[:PORT] (e.g. 192.168.1.1 or 127.0.0.1:5353)"
        ) from None
    return address, number


def _unit(argv: list[str], home: Path, port: int) -> str:
    """A systemd service running `certtui acme` with the passphrase as a credential."""
    exec_start = " ".join(
        shlex.quote(a) for a in [sys.executable, "-m", "certtui", "--home", str(home), *argv]
    )
    try:
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
    except (KeyError, ImportError):
        user = str(os.getuid())
    # A port under 1024 needs CAP_NET_BIND_SERVICE, and nothing else ever does.
    caps = (
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"
        if 0 < port < 1024
        else "CapabilityBoundingSet=\nAmbientCapabilities=\n"
    )
    return f"""# certtui acme as a service. Put the store passphrase in /etc/certtui/passphrase (0600,
# root), copy this to /etc/systemd/system/certtui-acme.service, then:
#   systemctl daemon-reload && systemctl enable --now certtui-acme
[Unit]
Description=certtui ACME server (the home root's CA for Caddy, certbot, lego...)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User={user}
ExecStart={exec_start}
LoadCredential={CREDENTIAL_NAME}:/etc/certtui/passphrase
KillSignal=SIGTERM
Restart=on-failure
RestartSec=5
UMask=0077
ReadWritePaths={home}
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
{caps}
[Install]
WantedBy=multi-user.target
"""


def _default_hostnames() -> tuple[str, ...]:
    return (socket.getfqdn().lower(),)


def _settings_text(directory: str, root_path: str, open_registration: bool) -> list[str]:
    eab = "" if open_registration else " --eab --kid KID --hmac HMAC"
    certbot_eab = "" if open_registration else " --eab-kid KID --eab-hmac-key HMAC"
    lines = [
        "client settings (KID and HMAC from `certtui acme account add NAME --allow PATTERN`):",
        f"  lego:    LEGO_CA_CERTIFICATES={root_path} lego --server {directory}{eab} --http -d NAME run",
        f"  certbot: REQUESTS_CA_BUNDLE={root_path} certbot certonly --standalone"
        f" --server {directory}{certbot_eab} -d NAME",
        f"  Caddy:   acme_ca {directory}   acme_ca_root {root_path}"
        + ("" if open_registration else "   acme_eab { key_id KID  mac_key HMAC }"),
        f"  acme.sh: acme.sh --issue --server {directory} --ca-bundle {root_path} --standalone -d NAME",
    ]
    return lines


@click.group(invoke_without_command=True)
@click.option(
    "--bind", default="0.0.0.0", show_default=True, metavar="ADDR", help="The address to listen on."
)
@click.option("--port", type=click.IntRange(0, 65535), default=policy.ACME_PORT, show_default=True)
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    metavar="NAME|IP",
    help="The server's own name(s) in its certificate and URL (default: this machine's FQDN).",
)
@click.option("--ca", "ca_ref", metavar="ID", help="The CA that signs (default: the store's issuing CA).")
@click.option(
    "--days", type=click.IntRange(1, 397), default=None, help="Lifetime of the certificates (default 90)."
)
@click.option(
    "--open-registration", is_flag=True, help="Let any client register, without EAB (not recommended)."
)
@click.option("--http-01-port", type=click.IntRange(1, 65535), default=80, show_default=True)
@click.option("--tls-alpn-01-port", type=click.IntRange(1, 65535), default=443, show_default=True)
@click.option(
    "--allow-loopback", is_flag=True, help="Validate clients on loopback addresses (clients on this machine)."
)
@click.option(
    "--resolve",
    "pins",
    multiple=True,
    metavar="NAME:ADDR",
    help="Validate NAME at ADDR instead of asking the resolver (like curl --resolve); repeatable.",
)
@click.option(
    "--dns-resolver",
    metavar="ADDR[:PORT]",
    help="The resolver dns-01 asks for _acme-challenge TXT records (default: the system's).",
)
@click.option(
    "--approve",
    type=click.Choice(["none", "new-names"]),
    default="none",
    show_default=True,
    help="new-names: an order for a name no certificate carried waits for `certtui acme approve` or the TUI.",
)
@click.option("--orders-per-minute", type=click.IntRange(1), default=None, help="Rate limit (default 30).")
@click.option("--failures-per-hour", type=click.IntRange(1), default=None, help="Rate limit (default 20).")
@click.option(
    "--print-systemd-unit", is_flag=True, help="Print a systemd unit that runs this command, and exit."
)
@click.pass_context
def acme(
    ctx: click.Context,
    bind: str,
    port: int,
    hostnames: tuple[str, ...],
    ca_ref: str | None,
    days: int | None,
    open_registration: bool,
    http_01_port: int,
    tls_alpn_01_port: int,
    allow_loopback: bool,
    pins: tuple[str, ...],
    dns_resolver: str | None,
    approve: str,
    orders_per_minute: int | None,
    failures_per_hour: int | None,
    print_systemd_unit: bool,
) -> None:
    """Serve ACME (RFC 8555) over HTTPS, so services get and renew certificates by themselves.

    Accounts are invited (`certtui acme account add`); each may order only the names its
    patterns allow, and every certificate passes the same checks as `certtui issue`.
    """
    if ctx.invoked_subcommand is not None:
        return
    session: Session = ctx.obj
    if print_systemd_unit:
        argv = ["acme", "--bind", bind, "--port", str(port)]
        argv += [f"--hostname={h}" for h in hostnames] + [f"--resolve={p}" for p in pins]
        given = {
            "--ca": ca_ref,
            "--days": days,
            "--dns-resolver": dns_resolver,
            "--orders-per-minute": orders_per_minute,
            "--failures-per-hour": failures_per_hour,
        }
        argv += [f"{flag}={value}" for flag, value in given.items() if value is not None]
        if approve != "none":
            argv.append(f"--approve={approve}")
        if http_01_port != 80:
            argv.append(f"--http-01-port={http_01_port}")
        if tls_alpn_01_port != 443:
            argv.append(f"--tls-alpn-01-port={tls_alpn_01_port}")
        argv += [
            flag
            for flag, on in (("--open-registration", open_registration), ("--allow-loopback", allow_loopback))
            if on
        ]
        click.echo(_unit(argv, session.db.parent.resolve(), port), nl=False)
        return
    import asyncio

    from certtui.acme import context, runner, validation
    from certtui.journeys import acme as journey

    store = session.store()
    ca = journey.signing_ca(store, ca_ref)
    names = hostnames or _default_hostnames()
    from certtui.core.names import parse_names

    parse_names(names)
    resolver = _dns_resolver(dns_resolver)
    if store.encrypted:
        store.unlock(_passphrase())
    ca_key = store.private_key(ca.record.id)
    settings = context.Settings(
        days=days or policy.ACME_DAYS,
        open_registration=open_registration,
        validation=validation.ValidationPolicy(
            http01_port=http_01_port,
            tlsalpn01_port=tls_alpn_01_port,
            allow_loopback=allow_loopback,
            pins=_pins(pins),
            dns_resolver=resolver,
        ),
        approve_new_names=approve == "new-names",
        orders_per_minute=orders_per_minute or policy.ACME_ORDERS_PER_MINUTE,
        failures_per_hour=failures_per_hour or policy.ACME_FAILURES_PER_HOUR,
    )
    if ca.root_only:
        warn(
            "the store has only a root, so the root's key is online while the server runs; "
            "make an issuing CA with `certtui issue --intermediate NAME` and restart"
        )
    if open_registration:
        warn("open registration: any client that reaches this port can get certificates the CA allows")
    root_id = store.root_id() or ca.record.id

    def started(info: Any) -> None:
        click.echo(f"certtui acme: serving {info.directory}")
        click.echo(f"  signing CA: {summary(ca.record)}")
        click.echo(
            f"  own certificate: {info.server_cert.id}, expires {info.server_cert.not_after}"
            + (" (issued now)" if info.renewed else "")
        )
        invited = [a for a in journey.accounts(store) if a.kid]
        click.echo(
            "  registration: open (no EAB)"
            if open_registration
            else f"  registration: invited accounts only (EAB), {len(invited)} account(s)"
        )
        if approve == "new-names":
            click.echo("  approval: orders for new names wait for `certtui acme approve ORDER` or the TUI")
        click.echo(f"  export the root for clients: certtui export {root_id} --format pem --out root.pem")
        for line in _settings_text(info.directory, "root.pem", open_registration):
            click.echo(line)
        sys.stdout.flush()

    asyncio.run(
        runner.serve(
            store,
            ca.record,
            ca_key,
            settings,
            bind=bind,
            port=port,
            hostnames=names,
            on_start=started,
            log=runner.log_line,
        )
    )
    click.echo("certtui acme: stopped")


def _more_commands() -> list[click.Command]:
    """`acme renew-early`, `pending`, `approve`, `refuse`, built here so that `acme` is this
    module's only command (`account` is in acme_accounts.py)."""

    @click.command(name="renew-early")
    @click.argument("ref", metavar="ID", required=False)
    @click.option("--all", "every", is_flag=True, help="Every certificate issued over ACME and still in use.")
    @pass_session
    def renew_early(session: Session, ref: str | None, every: bool) -> None:
        """Move the renewal window (ARI) of a certificate, of everything a CA signed (a root or
        intermediate rollover) or of --all into the past: clients renew on their next check."""
        from certtui.journeys import acme as journey

        ids = journey.renew_early(session.store(), ref, every=every)
        click.echo(
            f"marked {len(ids)} certificate(s) for early renewal: {', '.join(ids[:20])}"
            + (" ..." if len(ids) > 20 else "")
        )
        click.echo(
            "ACME clients that check renewal information (certbot 4.1+, Caddy) renew on their next check"
        )

    @click.command(name="pending")
    @click.option("--json", "as_json", is_flag=True)
    @pass_session
    def pending(session: Session, as_json: bool) -> None:
        """List the orders waiting for approval (with --approve new-names)."""
        from certtui.journeys import acme as journey

        found = journey.waiting(session.store())
        if as_json:
            echo_json(
                [
                    {"order": a.order_id, "account": a.account, "names": list(a.names), "since": a.created_at}
                    for a in found
                ]
            )
            return
        if not found:
            click.echo("no order is waiting for approval", err=True)
        for a in found:
            click.echo(printable(f"{a.order_id}  {a.account}  {', '.join(a.names)}  since {a.created_at}"))

    @click.command(name="approve")
    @click.argument("order")
    @pass_session
    def approve_order(session: Session, order: str) -> None:
        """Approve an order waiting for new names: the server validates it within a second or two."""
        from certtui.journeys import acme as journey

        done = journey.decide(session.store(), order, approve=True, reason="")
        click.echo(printable(f"approved order {done.order_id} of {done.account}: {', '.join(done.names)}"))

    @click.command(name="refuse")
    @click.argument("order")
    @click.option("--reason", default="", help="Told to the client in the order's error.")
    @pass_session
    def refuse_order(session: Session, order: str, reason: str) -> None:
        """Refuse an order waiting for new names: it becomes invalid (rejectedIdentifier)."""
        from certtui.journeys import acme as journey

        done = journey.decide(session.store(), order, approve=False, reason=reason)
        click.echo(printable(f"refused order {done.order_id} of {done.account}: {', '.join(done.names)}"))

    return [renew_early, pending, approve_order, refuse_order]


acme.add_command(acme_accounts.account)
for _command in _more_commands():
    acme.add_command(_command)
del _command
