"""The lifecycle commands: revoke, crl, export."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from certtui.commands.common import printable, resolve, summary, warn
from certtui.core import policy
from certtui.errors import CerttuiError
from certtui.session import Session, read_secret_file

# Spelled out here so `certtui --help` does not import cryptography (tests/test_help_imports.py
# checks it); tests check that they match certtui.core.revocation.REASONS and core.export.Format.
REASON_NAMES = (
    "unspecified",
    "keyCompromise",
    "cACompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
)
FORMAT_NAMES = ("pem", "der", "key", "fullchain", "p12", "p12-legacy", "p7b", "mobileconfig", "crl")
# The CRL lifetime `crl` signs by default (core/policy.py, with its reason).
DEFAULT_CRL_DAYS = policy.CRL_DAYS

pass_session = click.make_pass_decorator(Session)


@click.command()
@click.argument("ref", metavar="ID")
@click.option(
    "--reason",
    type=click.Choice(REASON_NAMES),
    default="unspecified",
    show_default=True,
    help="Why (RFC 5280); unspecified leaves the reasonCode out of the CRL.",
)
@pass_session
def revoke(session: Session, ref: str, reason: str) -> None:
    """Revoke a certificate and re-sign its CA's CRL."""
    from certtui.journeys import revoke as journey

    store = session.store()
    rec, ca = journey.target(store, resolve(store, ref).id)
    if journey.needs_key(store, rec):
        store = session.unlocked_store()
    result = journey.revoke(store, journey.RevokeRequest(rec.id, reason))
    done = result.record
    if result.already:
        click.echo(f"{done.id} was already revoked on {done.revoked_at} ({done.revocation_reason})")
        return
    click.echo(f"revoked {summary(done)} on {done.revoked_at} ({done.revocation_reason})")
    if result.crl is not None:
        click.echo(
            f"signed CRL number {result.crl.number} of CA {printable(ca.subject or ca.id)} ({ca.id}), "
            f"next update {result.crl.next_update}"
        )
    if result.no_crl:
        warn(result.no_crl)


@click.command()
@click.option("--issuer", metavar="ID", help="The CA (default: the CA that issues leaves).")
@click.option(
    "--days",
    type=int,
    default=DEFAULT_CRL_DAYS,
    show_default=True,
    help="nextUpdate is this many days from now.",
)
@click.option("--der", is_flag=True, help="Write DER instead of PEM (needs --out).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="The file to write (a folder gets NAME.crl); default: PEM to stdout.",
)
@click.option(
    "--all",
    "all_cas",
    is_flag=True,
    help="Sign every CA's CRL and write each as DER to --out DIR as ID.crl, the names --crl-url uses.",
)
@pass_session
def crl(session: Session, issuer: str | None, days: int, der: bool, out: Path | None, all_cas: bool) -> None:
    """Sign a fresh CRL for a CA and store it."""
    from certtui.core import export, revocation
    from certtui.errors import PolicyError

    revocation.check_days(days)
    if all_cas:
        if out is None or issuer is not None:
            raise CerttuiError("--all writes every CA's CRL to a folder: give --out DIR, and no --issuer")
        _crl_all(session, days, out)
        return
    if der and out is None:
        raise CerttuiError("--der writes binary, which certtui does not print; add --out PATH")
    store = session.store()
    ca_id = resolve(store, issuer).id if issuer else store.default_issuer_id()
    if ca_id is None:
        raise CerttuiError("the store has no CA yet; create one with `certtui init --name NAME`")
    ca = store.get(ca_id)
    blocker = revocation.crl_blocker(store, ca)
    if blocker:
        raise PolicyError(blocker)
    stored = revocation.sign_crl(session.unlocked_store(), ca.id, days=days)
    if out is None:
        click.echo(export.crl_pem(stored.der).decode(), nl=False)
        return
    path = export.target_path(out, export.file_name(ca, export.Format.CRL))
    export.write_atomic(path, stored.der if der else export.crl_pem(stored.der), private=False)
    click.echo(f"wrote {path} (CRL number {stored.number}, next update {stored.next_update})")


def _crl_all(session: Session, days: int, out: Path) -> None:
    """Every CA of this store with its key: a fresh CRL each, written as DER to out/ID.crl."""
    from certtui.core import export, profiles, revocation
    from certtui.core.models import Kind

    if out.exists() and not out.is_dir():
        raise CerttuiError(f"{out} is a file; --all writes one CRL per CA into a folder")
    store = session.store()
    cas = [r for k in (Kind.ROOT, Kind.INTERMEDIATE) for r in store.records(kind=k) if not r.external]
    signable = [ca for ca in cas if revocation.crl_blocker(store, ca) is None]
    for ca in cas:
        if ca not in signable:
            warn(revocation.crl_blocker(store, ca) or "")
    if not signable:
        raise CerttuiError("no CA of this store can sign a CRL; create one with `certtui init --name NAME`")
    out.mkdir(mode=0o755, exist_ok=True)
    store = session.unlocked_store()
    for ca in signable:
        stored = revocation.sign_crl(store, ca.id, days=days)
        # DER: what an http:// CRL distribution point serves (RFC 5280 4.2.1.13).
        path = out / profiles.crl_file_name(ca.id)
        export.write_atomic(path, stored.der, private=False)
        click.echo(f"wrote {path} (CA {printable(ca.subject or ca.id)}, CRL number {stored.number})")


def ask_password(fmt: str) -> str:
    """A new export password: typed twice on a terminal."""
    if not sys.stdin.isatty():
        raise CerttuiError(f"{fmt} needs a password but stdin is not a terminal; give --password-file FILE")
    secret = click.prompt(f"Password for the {fmt} file", hide_input=True, confirmation_prompt=True, err=True)
    if not secret:
        raise CerttuiError("the password is empty; type one (PKCS#12 and keys need a password)")
    return str(secret)


@click.command(name="export")
@click.argument("ref", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    required=True,
    help="pem, der, key, fullchain, p12, p12-legacy (iPhone/macOS), p7b, mobileconfig, crl.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    metavar="PATH",
    help="The file to write; an existing folder gets an mkcert-style name.",
)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The password for key, p12, p12-legacy or a client mobileconfig (first line).",
)
@click.option("--with-root", is_flag=True, help="Append the root to fullchain, p12 or p12-legacy.")
@click.option("--unencrypted-key", is_flag=True, help="Write --format key in the clear (for nginx).")
@pass_session
def export_(
    session: Session,
    ref: str,
    fmt: str,
    out: Path,
    password_file: Path | None,
    with_root: bool,
    unencrypted_key: bool,
) -> None:
    """Write a certificate, key, chain, bundle, profile or CRL to a file."""
    from certtui.core import export

    store = session.store()
    rec = resolve(store, ref)
    form = export.Format(fmt)
    export.check(rec, form, with_root=with_root, unencrypted_key=unencrypted_key)
    wants_password = export.needs_password(rec, form, unencrypted_key=unencrypted_key)
    if password_file is not None and not wants_password:
        raise CerttuiError(
            f"--password-file applies to key, p12, p12-legacy and a client's mobileconfig; "
            f"drop it for {fmt}" + (" with --unencrypted-key" if unencrypted_key else "")
        )
    if export.holds_key(rec, form):
        store = session.unlocked_store()
    password = None
    if wants_password:
        password = (
            read_secret_file(password_file, "--password-file", "password")
            if password_file
            else ask_password(fmt)
        )
    from certtui.journeys.export import write

    [done] = write(
        store, rec, (fmt,), out, password=password, with_root=with_root, unencrypted_key=unencrypted_key
    )
    path = done.path
    click.echo(f"wrote {path}" + (" (replaced)" if done.replaced else ""))
    if done.warning is not None:
        warn(done.warning)
    if rec.external and rec.kind.value == "root":
        warn(
            f"{rec.id} is an external root, imported from elsewhere, not this store's own: a device "
            "that trusts it trusts whoever holds its key"
        )
    if unencrypted_key:
        warn(f"{path} holds the private key unencrypted; keep it readable by its server only")
