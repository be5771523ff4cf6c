"""The PKI commands: init, issue, list, show, renew, locate, backup."""

from __future__ import annotations

from pathlib import Path

import click

from certtui.commands.common import echo_json, printable, resolve, summary, warn
from certtui.core import policy
from certtui.core.models import InitRequest, IssueRequest, KeySpec, Kind, Status
from certtui.errors import CerttuiError
from certtui.session import Session

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
@click.option(
    "--days",
    type=int,
    help=f"Lifetime in days (default {policy.LEAF_DAYS}; {policy.INTERMEDIATE_DAYS} for an intermediate).",
)
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
    from certtui.journeys.issue import BatchRequest, issue_batch

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
        batch = BatchRequest((request(names),), force=force)
    else:
        lines = _lines(from_file)
        batch = BatchRequest(
            tuple(request(tuple(words)) for _, words in lines),
            force=force,
            where=tuple(f"{from_file}:{number}" for number, _ in lines),
        )
    issued = issue_batch(
        store,
        batch,
        unlock=session.unlocked_store,
        warn=warn,
        issued=None if as_json else lambda rec: click.echo(f"issued {summary(rec)}"),
    )
    if as_json:
        echo_json([r.to_json() for r in issued] if from_file else issued[0].to_json())


def _table(records: list, deployed: dict[str, list[str]] | None = None) -> None:  # type: ignore[type-arg]
    rows = [("ID", "KIND", "STATUS", "EXPIRES", "KEY", "NAMES")]
    for r in records:
        # `deployed at HOST:PORT`: the last `certtui scan` saw this certificate served there.
        seen = (deployed or {}).get(r.id)
        rows.append(
            (
                r.id,
                r.kind.value + ("*" if r.external else ""),
                r.status.value,
                r.not_after[:10],
                r.key_type,
                printable(
                    (", ".join(r.names) or r.subject)
                    + (f"  [{r.origin}]" if r.origin else "")
                    + (f"  [renewed by {r.renewed_by}]" if r.renewed_by and r.origin else "")
                    + (f"  [deployed at {', '.join(seen)}]" if seen else "")
                ),
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
        # Written by SQLite from the columns, as they are read: a CertRecord per row would double
        # the time on 10,000, and the whole text at once would hold 6 MB more in memory.
        for utf8 in store.list_json(kind=kinds, status=statuses, expiring_within=expiring_within):
            click.echo(utf8, nl=False)
    elif records := store.records(kind=kinds, status=statuses, expiring_within=expiring_within):
        from certtui.core.upkeep import deployed_at

        _table(records, deployed_at(store))
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
    store = session.store()
    rec = resolve(store, ref)
    if pem:
        from cryptography.hazmat.primitives import serialization

        click.echo(store.certificate(rec.id).public_bytes(serialization.Encoding.PEM).decode(), nl=False)
        return
    from certtui.core.timefmt import utcnow
    from certtui.journeys.inspect import inspect

    rows = inspect(store, rec, utcnow(), checklist=False).show_rows()
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
@click.option(
    "--due", is_flag=True, help="Renew what passed 2/3 of its life and has a deploy target, then deploy."
)
@click.option(
    "--all", "every", is_flag=True, help="With --due: every leaf issued here, deploy target or not."
)
@click.option(
    "--min-days", type=click.IntRange(min=0), default=0, help="With --due: also renew under N days left."
)
@click.option("--quiet", is_flag=True, help="With --due: print failures only (for the timer).")
@pass_session
def renew(
    session: Session,
    ref: str | None,
    expiring_within: int | None,
    as_json: bool,
    due: bool,
    every: bool,
    min_days: int,
    quiet: bool,
) -> None:
    """Renew a leaf: same names, kind, key type and issuer; a new key and the default lifetime."""
    from certtui.journeys import renew as journey

    if due:
        if ref is not None or expiring_within is not None or as_json:
            raise CerttuiError("--due renews by itself; drop the ID, --expiring-within and --json")
        from certtui.commands.renew_due import run_due

        run_due(session, every=every, min_days=min_days, quiet=quiet)
        return
    if every or min_days or quiet:
        raise CerttuiError("--all, --min-days and --quiet go with --due")
    store = session.store()
    req = journey.RenewRequest(ref, expiring_within)
    if ref is not None:
        # The ID resolved here says on stderr which external certificates it won over.
        req = journey.RenewRequest(resolve(store, ref).id)
    planned = journey.plan(store, req)
    if not planned:
        click.echo(f"nothing expires within {expiring_within} days", err=True)
        if as_json:
            echo_json([])
        return
    done = journey.renew(
        session.unlocked_store(),
        planned,
        renewed=None
        if as_json
        else lambda r: click.echo(f"renewed {r.old.id} -> {r.new.id}: {summary(r.new)}"),
    )
    if as_json:
        echo_json([{"old": r.old.id, "new": r.new.to_json()} for r in done])


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
