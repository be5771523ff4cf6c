"""The PKI commands: init, issue, list, show, renew, locate, backup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from certtui.cli import Session
from certtui.commands.common import echo_json, printable, resolve, summary, warn
from certtui.core.models import InitRequest, IssueRequest, KeySpec, Kind, Status
from certtui.errors import CerttuiError

if TYPE_CHECKING:
    from certtui.core.keys import PrivateKey

KEY_CHOICE = click.Choice([k.value for k in KeySpec])
pass_session = click.make_pass_decorator(Session)


@click.command()
@click.option("--name", required=True, help="The root's common name, e.g. 'Home Lab Root CA'.")
@click.option("--key", type=KEY_CHOICE, default=KeySpec.EC256.value, show_default=True)
@click.option("--days", type=int, help="Root lifetime in days (default 3650).")
@click.option("--no-passphrase", is_flag=True, help="Store keys unencrypted (not recommended).")
@click.option(
    "--permit",
    multiple=True,
    metavar="NAME_OR_CIDR",
    help="Name constraint on the root; repeat it (home.arpa, 192.168.0.0/16).",
)
@click.option("--intermediate", is_flag=True, help="Also create an intermediate that signs leaves.")
@click.option(
    "--crl-url",
    metavar="URL",
    help="Put this CRL distribution point (http://...) in every certificate issued later.",
)
@pass_session
def init(
    session: Session,
    name: str,
    key: str,
    days: int | None,
    no_passphrase: bool,
    permit: tuple[str, ...],
    intermediate: bool,
    crl_url: str | None,
) -> None:
    """Create the store and its root CA."""
    from certtui.core.issuance import init_store

    if session.db.exists():
        raise CerttuiError(
            f"a store already exists at {session.db.parent}; certtui never overwrites a root "
            "(use --home for a second store)"
        )
    if crl_url is not None:
        from certtui.core.revocation import check_crl_url

        crl_url = check_crl_url(crl_url)
    req = InitRequest(
        name=name, key=KeySpec(key), days=days, permit=permit, intermediate=intermediate, crl_url=crl_url
    )
    passphrase = None if no_passphrase else session.passphrase(confirm=True)
    store, records = init_store(session.db, req, passphrase)
    store.close()
    for rec in records:
        click.echo(f"created {summary(rec)}")
    click.echo(f"store: {session.db.parent}")
    if crl_url:
        click.echo(f"CRL distribution point of later certificates: {crl_url}")
    if no_passphrase:
        warn("the store has no passphrase: anyone who can read it can mint certificates your devices trust")


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    from certtui.core.userfiles import read_user_file

    try:
        text = read_user_file(path, "list of names").decode("utf-8")
    except UnicodeDecodeError:
        raise CerttuiError(
            f"{path} is not UTF-8 text; give a text file with one certificate's names per line"
        ) from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].replace(",", " ").split()
        if words:
            out.append((number, words))
    if not out:
        raise CerttuiError(f"{path} has no names; write one certificate's names per line")
    return out


@click.command()
@click.argument("names", nargs=-1)
@click.option("--client", is_flag=True, help="A client (mTLS) certificate instead of a server one.")
@click.option(
    "--intermediate",
    is_flag=True,
    help="A pathlen-0 intermediate CA under the root; NAME is its common name.",
)
@click.option("--days", type=int, help="Lifetime in days (default 397; 1826 for an intermediate).")
@click.option("--key", type=KEY_CHOICE, default=KeySpec.EC256.value, show_default=True)
@click.option("--issuer", metavar="ID", help="The CA to sign with (default: the issuing CA).")
@click.option(
    "--permit",
    multiple=True,
    metavar="NAME_OR_CIDR",
    help="Name constraint on a new intermediate; repeatable.",
)
@click.option(
    "--from",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="One certificate per line: names separated by spaces; # starts a comment.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was issued as JSON.")
@click.option("--force", is_flag=True, help="Issue a server certificate even if the checklist fails it.")
@pass_session
def issue(
    session: Session,
    names: tuple[str, ...],
    client: bool,
    intermediate: bool,
    days: int | None,
    key: str,
    issuer: str | None,
    permit: tuple[str, ...],
    from_file: Path | None,
    as_json: bool,
    force: bool,
) -> None:
    """Issue a certificate for NAME... (host names, IPs, emails, URIs)."""
    from certtui.core import issuance

    if client and intermediate:
        raise CerttuiError("--client and --intermediate exclude each other; pick one")
    if bool(names) == bool(from_file):
        raise CerttuiError("give the names to issue, or --from FILE, but not both")
    kind = Kind.CLIENT if client else Kind.INTERMEDIATE if intermediate else Kind.SERVER
    store = session.store()
    if issuer:
        issuer = resolve(store, issuer).id

    def request(words: tuple[str, ...]) -> IssueRequest:
        return IssueRequest(
            names=words,
            kind=kind,
            days=days,
            key=KeySpec(key),
            issuer=issuer,
            cn=" ".join(words) if intermediate else None,
            permit=permit,
        )

    if from_file is None:
        plans = [issuance.plan(store, request(names))]
    else:
        plans = []
        for number, words in _lines(from_file):
            try:
                plans.append(issuance.plan(store, request(tuple(words))))
            except CerttuiError as exc:
                raise CerttuiError(f"{from_file}:{number}: {exc}") from None
    from certtui.core.checks import guardrail

    previewed = not store.unlocked
    if previewed:
        # A locked store is judged before the passphrase is asked, on previews of the plans.
        for line in guardrail(store, plans, force=force):
            warn(line)
        store = session.unlocked_store()
    issuer_keys: dict[str, PrivateKey] = {}
    taken: set[str] = set()
    signed = []
    for p in plans:
        if p.issuer_id not in issuer_keys:
            issuer_keys[p.issuer_id] = store.private_key(p.issuer_id)
        signed.append(issuance.sign(store, p, issuer_key=issuer_keys[p.issuer_id], taken=taken))
    if not previewed:
        # Otherwise the very certificates about to be stored are judged: none is signed twice.
        for line in guardrail(store, plans, force=force, signed=[s.cert for s in signed]):
            warn(line)
    issued = []
    for s in signed:
        rec = issuance.commit(store, s)
        issued.append(rec)
        if not as_json:
            click.echo(f"issued {summary(rec)}")
    if as_json:
        echo_json([r.to_json() for r in issued] if from_file else issued[0].to_json())


def _table(records: list) -> None:  # type: ignore[type-arg]
    rows = [("ID", "KIND", "STATUS", "EXPIRES", "KEY", "NAMES")]
    for r in records:
        rows.append(
            (
                r.id,
                r.kind.value + ("*" if r.external else ""),
                r.status.value,
                r.not_after[:10],
                r.key_type,
                printable(", ".join(r.names) or r.subject),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    if any(r.external for r in records):
        click.echo("* external: imported from elsewhere, not issued by this store (no key here)")


@click.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--kind", type=click.Choice([k.value for k in Kind]))
@click.option("--status", type=click.Choice([s.value for s in Status]))
@click.option(
    "--expiring-within",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Only certificates that expire within DAYS (and have not yet).",
)
@pass_session
def list_(
    session: Session, as_json: bool, kind: str | None, status: str | None, expiring_within: int | None
) -> None:
    """List the certificates in the store."""
    from certtui.core.inventory import crl_warnings

    store = session.store()
    kinds, statuses = Kind(kind) if kind else None, Status(status) if status else None
    if as_json:
        from certtui.core.listing import write_json

        # Straight from the columns, as they are read: a CertRecord per row would double the
        # time on 10,000, and the whole text at once would hold 6 MB more in memory.
        write_json(
            store.listed_batches(kind=kinds, status=statuses, expiring_within=expiring_within),
            lambda text: click.echo(text, nl=False),
        )
    elif records := store.records(kind=kinds, status=statuses, expiring_within=expiring_within):
        _table(records)
    else:
        click.echo("no certificates match", err=True)
    for message in crl_warnings(store):
        warn(message)


@click.command()
@click.argument("ref", metavar="ID")
@click.option("--pem", is_flag=True, help="Print the certificate as PEM.")
@pass_session
def show(session: Session, ref: str, pem: bool) -> None:
    """Show one certificate's details."""
    from cryptography.hazmat.primitives import serialization

    from certtui.core.details import details

    store = session.store()
    rec = resolve(store, ref)
    cert = store.certificate(rec.id)
    if pem:
        click.echo(cert.public_bytes(serialization.Encoding.PEM).decode(), nl=False)
        return
    head = [
        ("ID", rec.id),
        ("Kind", rec.kind.value + (" (external)" if rec.external else "")),
        ("Status", rec.status.value + (f" on {rec.revoked_at}" if rec.revoked_at else "")),
        ("Names", ", ".join(rec.names) or "-"),
        ("Issuer ID", rec.issuer_id or "(not in the store)"),
        (
            "Private key",
            "in the store, encrypted"
            if rec.has_key and store.encrypted
            else "in the store, unencrypted"
            if rec.has_key
            else "none",
        ),
    ]
    if rec.renewed_by:
        head.append(("Renewed by", rec.renewed_by))
    rows = head + details(cert)
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k.ljust(width)}  {printable(v)}")


@click.command()
@click.argument("ref", metavar="[ID]", required=False)
@click.option(
    "--expiring-within",
    type=click.IntRange(min=0),
    metavar="DAYS",
    help="Renew every leaf that expires within DAYS (for cron).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_session
def renew(session: Session, ref: str | None, expiring_within: int | None, as_json: bool) -> None:
    """Renew a leaf: same names, kind, key type and issuer; a new key and the default lifetime."""
    from certtui.core import issuance

    if (ref is None) == (expiring_within is None):
        raise CerttuiError("give an ID to renew, or --expiring-within DAYS, but not both")
    store = session.store()
    if ref is not None:
        olds = [resolve(store, ref)]
    else:
        olds = issuance.renewable(store, expiring_within or 0)
    plans = [issuance.plan_renewal(store, old) for old in olds]
    if not plans:
        click.echo(f"nothing expires within {expiring_within} days", err=True)
        if as_json:
            echo_json([])
        return
    store = session.unlocked_store()
    out = []
    for old, p in zip(olds, plans, strict=True):
        new = issuance.execute(store, p)
        out.append({"old": old.id, "new": new.to_json()})
        if not as_json:
            click.echo(f"renewed {old.id} -> {new.id}: {summary(new)}")
    if as_json:
        echo_json(out)


@click.command()
@pass_session
def locate(session: Session) -> None:
    """Print the store folder."""
    click.echo(str(session.db.parent))


@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_session
def backup(session: Session, path: Path) -> None:
    """Copy the store to PATH (SQLite online backup; opens with the same passphrase)."""
    session.store().backup(path)
    click.echo(f"backed up the store to {path} (mode 0600); it opens with the same passphrase")


COMMANDS = [init, issue, list_, show, renew, locate, backup]
