"""`certtui deploy add|list|remove|run`: where certificates go, and putting them there."""

from __future__ import annotations

from typing import Any

import click

from certtui.commands.common import echo_json, printable
from certtui.errors import CerttuiError
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)
STARTTLS_NAMES = ("smtp", "imap", "pop3")


@click.group()
def deploy() -> None:
    """Deploy targets: files, owner and mode, a reload command and a live check."""


@deploy.command(name="add")
@click.argument("ref", metavar="ID|NAME")
@click.option(
    "--fullchain", metavar="PATH", help="The certificate and its intermediates (what servers send)."
)
@click.option("--cert", "cert_path", metavar="PATH", help="The certificate alone.")
@click.option("--chain", metavar="PATH", help="The CAs above it, nearest first, the root last.")
@click.option("--key", metavar="PATH", help="The private key (mode 0600 unless --mode).")
@click.option(
    "--key-format",
    type=click.Choice(["pem", "pkcs8-encrypted"]),
    default="pem",
    show_default=True,
    help="pem: unencrypted PKCS#8 (nginx, Caddy); pkcs8-encrypted: with --password-file's password.",
)
@click.option("--p12", metavar="PATH", help="PKCS#12 with key and chain (needs --password-file).")
@click.option(
    "--password-file", metavar="FILE", help="The password of --p12 or an encrypted key (mode 0600)."
)
@click.option("--owner", metavar="USER[:GROUP]", help="Give the files to this owner (needs root).")
@click.option("--mode", metavar="0640", help="The key and PKCS#12 files' mode (default 0600).")
@click.option("--reload", metavar="COMMAND", help='Run after writing, e.g. "systemctl reload nginx".')
@click.option("--reload-shell", is_flag=True, help="Run --reload through /bin/sh (pipes, &&, variables).")
@click.option("--verify", metavar="HOST:PORT", help="Then check that this server presents the new serial.")
@click.option("--servername", metavar="NAME", help="The SNI name --verify sends (default: its host).")
@click.option("--starttls", type=click.Choice(STARTTLS_NAMES), help="--verify a mail port after STARTTLS.")
@pass_session
def _add(session: Session, ref: str, cert_path: str | None, **options: Any) -> None:
    """Add a deploy target for a certificate (renewals follow it)."""
    from certtui.journeys import deploy as journey

    req = journey.TargetRequest(cert_ref=ref, cert=cert_path, **options)
    target = journey.add(session.store(), req)
    files = ", ".join(f"{role} {path}" for role, path in target.paths())
    click.echo(printable(f"added deploy target {target.id} for {target.cert_id}: {files}"))
    if target.reload:
        click.echo(
            printable(f"  then runs: {target.reload}" + (" (through /bin/sh)" if target.reload_shell else ""))
        )
    if target.verify:
        click.echo(printable(f"  then checks that {target.verify} presents the new serial"))
    click.echo(f"deploy it now with `certtui deploy run {target.id}`")


def _last(t: Any) -> str:
    if t.last_at is None:
        return "never deployed"
    state = "ok" if t.last_ok else f"FAILED at {t.last_stage}"
    return f"{t.last_at} {state} ({t.last_cert_id}, serial {t.last_serial}): {t.last_message}"


@deploy.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@pass_session
def _list(session: Session, as_json: bool) -> None:
    """List the deploy targets and each one's last result."""
    from dataclasses import asdict

    from certtui.core import upkeep

    store = session.store()
    targets = upkeep.targets(store)
    if as_json:
        echo_json([{**asdict(t), "current_cert_id": upkeep.lineage_head(store, t.cert_id)} for t in targets])
        return
    if not targets:
        click.echo(
            "no deploy targets; add one with `certtui deploy add ID --fullchain PATH --key PATH`", err=True
        )
        return
    for t in targets:
        head = upkeep.lineage_head(store, t.cert_id)
        rec = store.get(head)
        click.echo(printable(f"{t.id}  {head}  {', '.join(rec.names) or rec.subject}"))
        for role, path in t.paths():
            mode = t.mode if role in ("key", "p12") and t.mode is not None else None
            extra = f" (mode {mode:04o})" if mode is not None else ""
            click.echo(printable(f"     {role}: {path}{extra}"))
        if t.owner:
            click.echo(printable(f"     owner: {t.owner}"))
        if t.reload:
            click.echo(printable(f"     reload: {t.reload}" + (" (shell)" if t.reload_shell else "")))
        if t.verify:
            sni = f" as {t.servername}" if t.servername else ""
            tls = f" after STARTTLS {t.starttls}" if t.starttls else ""
            click.echo(printable(f"     verify: {t.verify}{sni}{tls}"))
        click.echo(printable(f"     last: {_last(t)}"))


@deploy.command(name="remove")
@click.argument("target_id", metavar="TARGET", type=int)
@pass_session
def _remove(session: Session, target_id: int) -> None:
    """Remove a deploy target (the files it wrote stay)."""
    from certtui.core import upkeep

    target = upkeep.remove_target(session.store(), target_id)
    click.echo(f"removed deploy target {target.id}; the files it wrote stay where they are")


@deploy.command(name="run")
@click.argument("ref", metavar="TARGET|ID", required=False)
@click.option("--all", "every", is_flag=True, help="Every deploy target.")
@pass_session
def _run(session: Session, ref: str | None, every: bool) -> None:
    """Deploy now: write the newest certificate's files, reload, verify; exit 1 on any failure."""
    from certtui.journeys import deploy as journey

    if (ref is None) == (not every):
        raise CerttuiError("give a target number or certificate ID, or --all, but not both")
    store = session.store()
    targets = journey.targets_for(store, ref)
    if not targets:
        click.echo("no deploy targets; add one with `certtui deploy add ID ...`", err=True)
        return
    if any(journey.needs_key(t) for t in targets):
        store = session.unlocked_store()
    failed = False
    with journey.upkeep_lock(store):
        for target in targets:
            result = journey.deploy(store, target)
            if result.ok:
                click.echo(result.line())
            else:
                failed = True
                click.echo(f"failed: {result.line()}", err=True)
    if failed:
        click.get_current_context().exit(1)


del _add, _list, _remove, _run
