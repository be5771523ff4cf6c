"""The adoption and admin commands: import-ca, import, sign, passwd, restore."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from certtui.commands.common import printable, resolve, summary, warn
from certtui.core import policy
from certtui.core.userfiles import read_user_file
from certtui.errors import CerttuiError
from certtui.session import Session, forbid_core_dumps, read_passphrase, read_secret_file

# `passwd` reads the new passphrase from the file this names (first line), for scripts.
NEW_PASSPHRASE_ENV = "CERTTUI_NEW_PASSPHRASE_FILE"

pass_session = click.make_pass_decorator(Session)
_FILE = click.Path(dir_okay=False, path_type=Path)


def _note(message: str) -> None:
    click.echo(f"note: {printable(message)}")


@click.command(name="import-ca")
@click.argument("cert_path", metavar="CERT", type=_FILE)
@click.argument("key_path", metavar="KEY", type=_FILE)
@click.option(
    "--key-passphrase-file",
    type=_FILE,
    metavar="FILE",
    help="The KEY file's passphrase on the first line (else asked on a terminal).",
)
@click.option(
    "--crl-url",
    metavar="URL",
    help="Put this CRL distribution point (http://...) in every certificate issued later.",
)
@click.option(
    "--no-passphrase", is_flag=True, help="A new store keeps its keys unencrypted (not recommended)."
)
@click.option(
    "--force", is_flag=True, help="Import a CA whose certificates no iPhone would trust (weak key...)."
)
@pass_session
def import_ca(
    session: Session,
    cert_path: Path,
    key_path: Path,
    key_passphrase_file: Path | None,
    crl_url: str | None,
    no_passphrase: bool,
    force: bool,
) -> None:
    """Adopt an existing CA: a root into an empty store, or an intermediate of the store's root.

    CERT is PEM (text before it is fine) or DER; KEY is PKCS#1, PKCS#8 or SEC1, encrypted or
    not. mkcert: $CAROOT/rootCA.pem $CAROOT/rootCA-key.pem. easy-rsa: pki/ca.crt pki/private/ca.key.
    """
    from certtui.core import adopt, loaders
    from certtui.core.revocation import check_crl_url

    certs = loaders.load_certificates(read_user_file(cert_path, "CA certificate"), str(cert_path))
    if len(certs) > 1:
        raise CerttuiError(f"{cert_path} holds {len(certs)} certificates; give the CA's certificate alone")
    forbid_core_dumps()  # the CA's private key is in this process from here on
    key_data = read_user_file(key_path, "CA's private key")
    password = None
    if key_passphrase_file is not None:
        password = read_secret_file(key_passphrase_file, "--key-passphrase-file").encode()
    try:
        key = loaders.load_private_key(key_data, str(key_path), password)
    except loaders.KeyPassphraseNeeded:
        if not sys.stdin.isatty():
            raise
        secret = click.prompt(f"Passphrase of {key_path}", hide_input=True, err=True)
        key = loaders.load_private_key(key_data, str(key_path), str(secret).encode())
    if crl_url is not None:
        crl_url = check_crl_url(crl_url)
    if session.db.exists():
        if no_passphrase:
            raise CerttuiError(
                "--no-passphrase applies only when import-ca creates the store; this store exists "
                "(use `certtui passwd` to change its passphrase)"
            )
        store = session.store()
        root_id = store.root_id()
        # Refuse before the passphrase is asked; the import checks again.
        adopt.validate_ca(certs[0], key, store.certificate(root_id) if root_id else None, force=force)
        done = adopt.import_intermediate(session.unlocked_store(), certs[0], key, crl_url, force=force)
    else:
        adopt.validate_ca(certs[0], key, None, force=force)  # before the passphrase is asked
        passphrase = None if no_passphrase else session.passphrase(confirm=True)
        store, done = adopt.import_root(session.db, certs[0], key, passphrase, crl_url, force=force)
        store.close()
    click.echo(f"imported {summary(done.record)}; it issues from now on")
    for message in done.notes:
        _note(message)
    click.echo(f"store: {session.db.parent}")
    if no_passphrase:
        warn("the store has no passphrase: anyone who can read it can mint certificates your devices trust")


@click.command(name="import")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True, type=_FILE)
@pass_session
def import_(session: Session, paths: tuple[Path, ...]) -> None:
    """Watch certificates from elsewhere (PEM, DER or a PEM bundle); no key, marked external."""
    from certtui.core import adopt, loaders

    certs = []
    for path in paths:
        certs += loaders.load_certificates(read_user_file(path, "certificate"), str(path))
    done = adopt.import_certificates(session.store(), certs)
    for rec in done.added:
        click.echo(f"imported {summary(rec)} as external")
    for message in done.notes:
        _note(message)
    for message in done.warnings:
        warn(message)


@click.command()
@click.argument("csr_path", metavar="CSR", type=_FILE)
@click.option("--days", type=int, help=f"Lifetime in days (default {policy.LEAF_DAYS}).")
@click.option("--client", is_flag=True, help="A client (mTLS) certificate instead of a server one.")
@click.option("--issuer", metavar="ID", help="The CA to sign with (default: the issuing CA).")
@click.option(
    "--out", type=_FILE, metavar="PATH", help="Write the certificate (PEM) here instead of printing it."
)
@click.option("--force", is_flag=True, help="Sign a server certificate even if the checklist fails it.")
@pass_session
def sign(
    session: Session,
    csr_path: Path,
    days: int | None,
    client: bool,
    issuer: str | None,
    out: Path | None,
    force: bool,
) -> None:
    """Sign a device's certificate request (router, NAS, printer); its key stays on the device.

    The names come from the CSR's subjectAltName, else its CN; other subject fields are ignored.
    The same guardrail as `issue` applies.
    """
    from certtui.core import export
    from certtui.core.loaders import load_csr
    from certtui.core.models import Kind
    from certtui.journeys.adopt import CsrRequest, sign_csr

    csr = load_csr(read_user_file(csr_path, "certificate request"), str(csr_path))
    req = CsrRequest(csr, Kind.CLIENT if client else Kind.SERVER, days=days, issuer=issuer, force=force)
    store = session.store()
    if req.issuer:
        req = dataclasses.replace(req, issuer=resolve(store, req.issuer).id)
    rec = sign_csr(store, req, unlock=session.unlocked_store, warn=warn)
    pem = export.cert_pem(store.certificate(rec.id))
    if out is None:
        click.echo(pem.decode(), nl=False)
        click.echo(f"signed {summary(rec)}", err=True)
    else:
        export.write_atomic(out, pem, private=False)
        click.echo(f"signed {summary(rec)}")
        click.echo(f"wrote {out}")


@click.command()
@click.option(
    "--no-passphrase",
    is_flag=True,
    help="Remove the passphrase: keys are then stored unencrypted (asks to confirm).",
)
@click.option("--yes", is_flag=True, help="Confirm --no-passphrase without asking.")
@pass_session
def passwd(session: Session, no_passphrase: bool, yes: bool) -> None:
    """Change the store passphrase: every key is re-sealed under a new salt in one transaction.

    The new passphrase is asked twice, or read from $CERTTUI_NEW_PASSPHRASE_FILE (first line).
    On a store without a passphrase, this encrypts it.
    """
    from certtui.core.store.admin import change_passphrase

    store = session.store()
    if no_passphrase:
        if not store.encrypted:
            raise CerttuiError("the store has no passphrase already; nothing to remove")
        if not yes:
            if not sys.stdin.isatty():
                raise CerttuiError(
                    "removing the passphrase needs a confirmation and stdin is not a terminal; "
                    "add --yes to confirm"
                )
            click.confirm(
                "Remove the passphrase, so that anyone who can read the store can use its keys?",
                abort=True,
                err=True,
            )
    if store.encrypted:
        store = session.unlocked_store()
    new = None
    if not no_passphrase:
        new = read_passphrase(confirm=True, env_name=NEW_PASSPHRASE_ENV, prompt="New store passphrase")
    count, clean = change_passphrase(store, new)
    keys = f"{count} key{'' if count == 1 else 's'}"
    if new is None:
        click.echo(f"removed the passphrase: {keys} now stored unencrypted")
        warn("the store has no passphrase: anyone who can read it can mint certificates your devices trust")
    else:
        click.echo(
            f"changed the passphrase: {keys} re-sealed; the old passphrase no longer "
            "opens the store (backups made before still open with it)"
        )
    if not clean:
        from certtui.core.store import CHECKPOINT_WAIT_S

        warn(
            "another certtui process is reading the store, so the old sealed keys remain in its "
            f"files until that process ends (waited {CHECKPOINT_WAIT_S:.0f} s)"
        )


@click.command()
@click.argument("backup", type=_FILE)
@pass_session
def restore(session: Session, backup: Path) -> None:
    """Restore a `certtui backup` file as the store (never over an existing one)."""
    from certtui.core.store.admin import restore as restore_store

    store = restore_store(backup, session.db)
    count = len(store.records())
    store.close()
    click.echo(
        f"restored {backup} to {session.db.parent} ({count} certificates); it opens with "
        "the passphrase it had"
    )
