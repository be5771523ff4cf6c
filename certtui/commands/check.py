"""`certtui check`: the iOS trust checklist for store IDs, PEM/DER files and live TLS servers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from certtui.commands.common import echo_json, printable, resolve, warn
from certtui.core.models import Kind
from certtui.errors import CerttuiError, NoStore, NotFound
from certtui.session import Session

if TYPE_CHECKING:
    from cryptography import x509

pass_session = click.make_pass_decorator(Session)


@dataclass(frozen=True)
class Target:
    """One thing to check: its first certificate, the chain that came with it, and where from."""

    source: str
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    kind: Kind | None = None


def read_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a bundle: leaf first), or the one in a DER file."""
    from certtui.core.loaders import CertificateRefusals, load_certificates
    from certtui.core.userfiles import read_user_file

    refusals = CertificateRefusals(
        other_blocks="{source} holds no CERTIFICATE block; give the certificate, not a key or CSR",
        damaged=(
            "{source} has a CERTIFICATE block that does not decode ({error}); export the certificate again"
        ),
        neither="{source} is not a certificate (neither PEM nor DER); give a .pem, .crt or .der file",
    )
    return load_certificates(read_user_file(path, "certificate"), str(path), refusals)


def _optional_store(session: Session) -> Any:
    """The store if there is one: files can be checked without it."""
    try:
        return session.store()
    except NoStore:
        return None


def _target(ref: str, store: Any) -> Target:
    path = Path(ref)
    if path.is_dir():
        raise CerttuiError(f"{ref} is a folder; give a certificate file or a store ID")
    if path.exists():
        certs = read_certificates(path)
        return Target(ref, certs[0], tuple(certs[1:]))
    if store is None:
        raise CerttuiError(
            f"{ref!r} is not a file, and there is no store to look it up in; give a PEM or DER file"
        )
    try:
        rec = resolve(store, ref)
    except NotFound as exc:
        raise CerttuiError(f"{ref!r} is not a file, and {exc}") from None
    from certtui.core.checks import inspected_kind

    cert = store.certificate(rec.id)
    # As the TUI judges it: an imported certificate that could serve TLS is a server's.
    return Target(ref, cert, tuple(store.chain(rec.id)), inspected_kind(rec, cert))


_TAGS = {"fail": "FAIL", "warn": "WARN", "info": "INFO", "pass": "pass"}


def _print(target: Target, kind: str, findings: list[Any]) -> None:
    from certtui.core.checks import label

    # Names and details quote the certificate, which may come from anywhere: escaped.
    click.echo(printable(f"{target.source}: {kind} certificate {label(target.cert)}"))
    width = max(len(f.id) for f in findings)
    for f in findings:
        tag = _TAGS[f.severity.value]
        if f.severity.value == "pass":
            click.echo(printable(f"  {tag}  {f.id.ljust(width)}  {f.title}: {f.detail}"))
            continue
        click.echo(f"  {tag}  {f.id.ljust(width)}  {f.title}")
        pad = " " * (width + 10)
        click.echo(f"{pad}{printable(f.detail)}")
        if f.fix:
            click.echo(f"{pad}fix: {printable(f.fix)}")
    counts = {s: sum(1 for f in findings if f.severity.value == s) for s in _TAGS}
    click.echo("  " + ", ".join(f"{n} {s}" for s, n in counts.items()) + "\n")


@click.command()
@click.argument("refs", nargs=-1, metavar="ID|FILE...")
@click.option("--host", metavar="NAME", help="The host name or IP the phone uses to reach the server.")
@click.option(
    "--root",
    "root_files",
    multiple=True,
    metavar="FILE",
    help="Trust this root too, besides the store's; repeatable.",
)
@click.option(
    "--connect",
    metavar="HOST[:PORT]",
    help="Check the chain a live TLS server sends (port 443, or 587/143/110 with --starttls).",
)
@click.option("--servername", metavar="NAME", help="The SNI name to send (default: the --connect host).")
@click.option("--starttls", metavar="smtp|imap|pop3", help="Upgrade a plain mail session to TLS first.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per input.")
@pass_session
def check(
    session: Session,
    refs: tuple[str, ...],
    host: str | None,
    root_files: tuple[str, ...],
    connect: str | None,
    servername: str | None,
    starttls: str | None,
    as_json: bool,
) -> None:
    """Check certificates against the iOS trust rules; exit 1 if any rule fails."""
    from certtui.core import checks, tlsprobe
    from certtui.core.names import parse_name

    if bool(refs) == bool(connect):
        raise CerttuiError("give certificate IDs or files to check, or --connect HOST[:PORT], but not both")
    if not connect and (servername or starttls):
        raise CerttuiError("--servername and --starttls go with --connect HOST[:PORT]")
    if starttls is not None and starttls not in tlsprobe.STARTTLS:
        raise CerttuiError(f"--starttls {starttls} is not known; use one of {', '.join(tlsprobe.STARTTLS)}")
    for name in (host, servername):
        if name:
            parse_name(name)
    roots = [cert for f in root_files for cert in read_certificates(Path(f))]
    store = _optional_store(session)
    served: tlsprobe.Probe | None = None
    if connect:
        target_host, port = tlsprobe.parse_target(connect)
        served = tlsprobe.fetch(target_host, port, servername=servername, starttls=starttls)
        targets = [Target(connect, served.chain[0], served.chain[1:])]
        host = host or servername or target_host
    else:
        targets = [_target(ref, store) for ref in refs]
    out = []
    failed = False
    for t in targets:
        # With a host, a presented or named certificate is a server's whatever the store says.
        kind = (
            checks.classify(t.cert, store=store, host_given=True)
            if host
            else t.kind or checks.classify(t.cert, store=store)
        )
        findings = checks.ordered(
            checks.check(
                t.cert,
                t.chain,
                host=host,
                store=store,
                roots=roots,
                kind=kind,
                served=served is not None,
                tls_version=served.version if served else None,
            )
        )
        failed = failed or any(f.severity is checks.Severity.FAIL for f in findings)
        if as_json:
            out.append(
                {
                    "subject": t.cert.subject.rfc4514_string(),
                    "kind": kind.value,
                    "findings": [f.to_json() for f in findings],
                }
            )
        else:
            _print(t, kind.value, findings)
    if as_json:
        echo_json(out)
    if store is not None:
        from certtui.core.revocation import crl_warnings

        for message in crl_warnings(store):
            warn(message)
    if failed:
        click.get_current_context().exit(1)
