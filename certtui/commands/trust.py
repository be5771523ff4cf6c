"""The trust commands: put the root into this machine's trust stores, take it out, show where it is."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import click

from certtui.commands.common import echo_json, printable, warn
from certtui.errors import CerttuiError
from certtui.session import Session

pass_session = click.make_pass_decorator(Session)
_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


def _shared(command: Any) -> Any:
    options = [
        click.option("--system", is_flag=True, help="The system trust store (needs root)."),
        click.option(
            "--nss", is_flag=True, help="Every NSS database of this user (Chromium, Firefox profiles)."
        ),
        click.option("--java", is_flag=True, help="A standalone JDK's keystore ($JAVA_HOME, or --keystore)."),
        click.option(
            "--firefox-policy",
            is_flag=True,
            help="Firefox's enterprise policy, Certificates.Install (needs root).",
        ),
        click.option(
            "--all",
            "all_",
            is_flag=True,
            help="Every place: --system, --nss, --firefox-policy and, with $JAVA_HOME or --keystore, --java.",
        ),
        click.option("--dry-run", is_flag=True, help="Print what would change; change nothing."),
        click.option("--ca", metavar="ID", help="The CA to trust (default: the store's root)."),
        click.option(
            "--root-dir",
            type=_DIR,
            metavar="DIR",
            help="Write under DIR instead of / and run nothing there (image builds).",
        ),
        click.option(
            "--keystore",
            type=_FILE,
            metavar="PATH",
            help="The Java keystore for --java (default: $JAVA_HOME/lib/security/cacerts).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _java_home() -> Path | None:
    value = os.environ.get("JAVA_HOME")
    return Path(value) if value else None


def _act(session: Session, install: bool, flags: dict[str, Any]) -> None:
    stale = flags.pop("stale", False)
    from certtui.journeys import trust as tj

    chosen = {t for t in tj.Target if flags[t.value.replace("-", "_")]}
    if flags["all_"]:
        chosen |= {tj.Target.SYSTEM, tj.Target.NSS, tj.Target.FIREFOX_POLICY}
        if flags["keystore"] or _java_home():
            chosen.add(tj.Target.JAVA)
    explicit = bool(chosen)
    targets = frozenset(chosen or tj.DEFAULT_TARGETS)
    req = tj.TrustRequest(
        install=install,
        targets=targets,
        home=tj.user_home(),
        dry_run=flags["dry_run"],
        ca=flags["ca"],
        root_dir=flags["root_dir"],
        java_home=_java_home(),
        keystore=flags["keystore"],
        euid=os.geteuid(),
    )
    missing = tj.needs_root(req)
    later = None
    if missing:
        verb = "installing into" if install else "removing from"
        places = " and ".join(
            "the system trust store" if t is tj.Target.SYSTEM else "Firefox's policy" for t in sorted(missing)
        )
        extra = ["--stale"] if stale else []
        command = tj.sudo_command(tj.invoked_program(), session.db.parent, req, missing, extra)
        line = f"{verb} {places} needs root; run: {command}"
        if explicit:
            raise CerttuiError(line)
        # The default (system and NSS): this user's databases now, the root part by the user.
        later = line
        req = dataclasses.replace(req, targets=targets - missing)
    result = (tj.apply_stale if stale else tj.apply)(session.store(), req)
    for change in result.changes:
        click.echo(printable(change.line()))
    for note in result.notes:
        click.echo(f"note: {printable(note)}")
    if later:
        warn(later)


@click.group(name="trust")
def trust() -> None:
    """Trust the store's root on this machine: system store, NSS (Chromium, Firefox), Java."""


@trust.command()
@_shared
@pass_session
def install(session: Session, **flags: Any) -> None:
    """Add the root; without a target flag: --system and --nss. A second run says "already trusted"."""
    _act(session, True, flags)


@trust.command()
@_shared
@click.option(
    "--stale", is_flag=True, help="Remove the stale certtui roots `status` lists instead (by fingerprint)."
)
@pass_session
def uninstall(session: Session, **flags: Any) -> None:
    """Remove exactly what install added (matched by fingerprint); default: --system and --nss."""
    _act(session, False, flags)


@trust.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--ca", metavar="ID", help="The CA to look for (default: the store's root).")
@click.option("--root-dir", type=_DIR, metavar="DIR", help="Look under DIR instead of /.")
@click.option("--keystore", type=_FILE, metavar="PATH", help="A Java keystore to look in too.")
@pass_session
def status(
    session: Session, as_json: bool, ca: str | None, root_dir: Path | None, keystore: Path | None
) -> None:
    """Where the root is trusted, stale certtui roots, and who honours its name constraints."""
    from certtui.journeys import trust as tj

    req = tj.TrustRequest(
        install=True,
        targets=frozenset(tj.Target),
        home=tj.user_home(),
        ca=ca,
        root_dir=root_dir,
        java_home=_java_home(),
        keystore=keystore,
        euid=os.geteuid(),
    )
    report = tj.status(session.store(), req)
    if as_json:
        echo_json(report.to_json())
        return
    click.echo(printable(f"{report.ca.subject} (id {report.ca.id}, SHA-256 {report.ca.sha256})"))
    rows = [("WHERE", "STATE", "PATH", "")] + [(p.label, p.state, p.path, p.detail) for p in report.places]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        click.echo(
            printable(
                "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
                + (f"  {row[3]}" if row[3] else "")
            ).rstrip()
        )
    for item in report.stale:
        click.echo(printable(f"stale: {item.path}: {item.what}, SHA-256 {item.sha256}"))
    for note in report.notes:
        click.echo(f"note: {printable(note)}")


# Reached through the group only: a module-level click command is a top-level one (cli.COMMAND_MODULES).
del install, uninstall, status
