"""Helpers the subcommands share: output of records and JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from certtui.core import policy
from certtui.core.models import CertRecord
from certtui.core.printable import printable

if TYPE_CHECKING:
    from certtui.core.store import Store
    from certtui.session import Session

__all__ = ["echo_json", "printable", "resolve", "summary", "warn"]


def echo_json(value: Any) -> None:
    # json only when something is printed as JSON: not on every `certtui issue`.
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def summary(rec: CertRecord) -> str:
    """`server nas.home.arpa, 192.168.1.10 (id 3f2a..., EC P-256, expires 2027-...Z)`."""
    label = ", ".join(rec.names) or rec.subject or "(no name)"
    return printable(f"{rec.kind.value} {label} (id {rec.id}, {rec.key_type}, expires {rec.not_after})")


def warn(message: str) -> None:
    """Warnings go to stderr so they never break JSON on stdout."""
    click.echo(f"warning: {printable(message)}", err=True)


def resolve(store: Store, ref: str) -> CertRecord:
    """The certificate an ID argument names (`Store.lookup`); says on stderr which external
    certificates with the same name the store's own one won over."""
    found = store.lookup(ref)
    if found.note:
        click.echo(f"note: {printable(found.note)}", err=True)
    return found.record


def enrollment_options(command: Any) -> Any:
    """--bind, --port, --tls-port and --advertise: the same for `certtui enroll` and the TUI."""
    options = [
        click.option(
            "--bind",
            default=policy.ENROLL_BIND,
            show_default=True,
            metavar="ADDR",
            help="Enrollment: the address to listen on (:: for IPv6 too).",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=policy.ENROLL_PORT,
            show_default=True,
            help=f"Enrollment: the HTTP port; if {policy.ENROLL_PORT} is taken, any free port (0: any).",
        ),
        click.option(
            "--tls-port",
            type=click.IntRange(0, 65535),
            default=policy.ENROLL_TLS_PORT,
            show_default=True,
            help="Enrollment: the HTTPS port of the trust test; if taken, any free port.",
        ),
        click.option(
            "--advertise",
            metavar="HOST",
            help="Enrollment: the host or IP in the QR code (default: the LAN address).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def group_enrollment_values(
    session: Session, *, bind: str, port: int, tls_port: int, advertise: str | None
) -> tuple[str, int, int, str | None]:
    """The enrollment flags of the running subcommand, each left at its default replaced by
    the same flag given to the group before it (`certtui --bind 127.0.0.1 enroll`)."""
    ctx = click.get_current_context()
    values: dict[str, Any] = {"bind": bind, "port": port, "tls_port": tls_port, "advertise": advertise}
    for name, value in session.enroll_flags.items():
        if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT:
            values[name] = value
    return values["bind"], values["port"], values["tls_port"], values["advertise"]
