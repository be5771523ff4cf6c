"""The user's NSS databases (Chromium's nssdb, each Firefox profile): certutil."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from certtui.core import trustplaces as tp
from certtui.errors import CerttuiError
from certtui.journeys.trust.model import Target, TrustCA, TrustRequest, common_name
from certtui.journeys.trust.tools import Doer, read_or_empty, run_tool

NSS_PACKAGES = (
    "libnss3-tools (Debian/Ubuntu), nss-tools (Fedora/RHEL, Alpine), nss (Arch), mozilla-nss-tools (openSUSE)"
)


@dataclass(frozen=True)
class NssDb:
    label: str
    path: Path
    kind: str
    """'sql' (cert9.db), 'legacy' (cert8.db only), 'new' (a profile folder with no database yet)."""


def nss_databases(home: Path) -> list[NssDb]:
    """Every NSS database of the user at `home`: Chromium's, snap Chromium's, each Firefox profile's."""
    found: list[NssDb] = []

    def add(label: str, path: Path, profile: bool) -> None:
        if any(db.path == path for db in found) or not path.is_dir():
            return
        if (path / "cert9.db").is_file():
            found.append(NssDb(label, path, "sql"))
        elif (path / "cert8.db").is_file():
            found.append(NssDb(label, path, "legacy"))
        elif profile:
            found.append(NssDb(label, path, "new"))

    for label, rel in tp.CHROMIUM_DBS:
        add(label, home / rel, False)
    for label, rel in tp.FIREFOX_BASES:
        base = home / rel
        ini = base / "profiles.ini"
        if not ini.is_file():
            continue
        text = read_or_empty(ini).decode("utf-8", "replace")
        for profile in tp.parse_profiles_ini(text, base):
            add(f"{label} profile {profile.name}", profile, True)
    return found


def find_certutil() -> str:
    found = shutil.which("certutil")
    if found is None:
        raise CerttuiError(f"certutil is not installed; it comes with {NSS_PACKAGES}")
    return found


def nss_entries(certutil: str, db: Path) -> list[tuple[str, str, list[str]]]:
    """(nickname, trust, fingerprints of the certificates under that nickname).

    Only certtui's nicknames and TLS-trusted CAs are read: Firefox caches every intermediate it
    meets (untrusted, `,,`), hundreds of certutil runs that could never change the answer.
    """
    out: list[tuple[str, str, list[str]]] = []
    seen: set[str] = set()
    for nick, trust in tp.parse_certutil_list(run_tool([certutil, "-L", "-d", f"sql:{db}"])):
        if nick in seen:
            continue
        seen.add(nick)
        if not (nick.startswith(f"{tp.NAME_PREFIX} ") or tp.trusted_for_tls(trust)):
            out.append((nick, trust, []))
            continue
        pem = run_tool([certutil, "-L", "-d", f"sql:{db}", "-n", nick, "-a"])
        out.append((nick, trust, tp.pem_fingerprints(pem.encode())))
    return out


def trusted_in(entries: list[tuple[str, str, list[str]]], sha256: str) -> bool:
    """Whether a database's entries (`nss_entries`) trust the certificate for TLS servers."""
    return any(sha256 in fps and tp.trusted_for_tls(trust) for _n, trust, fps in entries)


def step(req: TrustRequest, ca: TrustCA, doer: Doer) -> None:
    dbs = nss_databases(req.home)
    if not dbs:
        doer.say(
            Target.NSS,
            "no database found",
            f"under {req.home} (Chromium: ~/.pki/nssdb; Firefox: profiles.ini)",
        )
        return
    certutil = find_certutil()
    nick = tp.nss_nickname(common_name(ca), ca.sha256)
    for db in dbs:
        where = f"sql:{db.path} ({db.label})"
        if db.kind == "legacy":
            doer.say(
                Target.NSS,
                "skipped",
                f"{db.path} ({db.label}): a legacy cert8.db; certtui changes only cert9.db databases",
            )
            continue
        owner = db.path.stat().st_uid
        if owner != req.euid:
            # Root under sudo with the user's $HOME: files root wrote there would lock the user's
            # browser out of its own database, and profiles.ini could aim certutil anywhere.
            doer.say(
                Target.NSS,
                "skipped",
                f"{db.path} ({db.label}): owned by uid {owner}; run certtui as that user for it",
            )
            continue
        entries = [] if db.kind == "new" else nss_entries(certutil, db.path)
        if req.install:
            if trusted_in(entries, ca.sha256):
                doer.say(Target.NSS, "already trusted:", where)
                continue
            if db.kind == "new":
                # What Firefox itself does on a profile's first start: an empty-password cert9.db.
                doer.run(
                    Target.NSS,
                    [certutil, "-N", "-d", f"sql:{db.path}", "--empty-password"],
                    what="new database",
                )
            doer.run(
                Target.NSS,
                [certutil, "-A", "-d", f"sql:{db.path}", "-t", "C,,", "-n", nick, "-a"],
                stdin=ca.pem,
                what=db.label,
            )
        else:
            mine = [
                n
                for n, _t, fps in entries
                if n.startswith(f"{tp.NAME_PREFIX} ") and fps and set(fps) == {ca.sha256}
            ]
            if not mine:
                doer.say(Target.NSS, "not installed:", where)
            for name in mine:
                doer.run(Target.NSS, [certutil, "-D", "-d", f"sql:{db.path}", "-n", name], what=db.label)
