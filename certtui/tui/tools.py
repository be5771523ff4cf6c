"""What the palette's tools do: the same core calls as the CLI's commands, typed in, a result out.

backup (`certtui backup`), passwd (`certtui passwd`), import (`certtui import`), crl
(`certtui crl`) and check --connect (`certtui check --connect`): each function here is what that
command calls, without click.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from certtui.core.store import Store
from certtui.errors import CerttuiError


def backup(store: Store, path: Path) -> str:
    """`certtui backup PATH`."""
    store.backup(path)
    return f"Backed up the store to {path} (mode 0600); it opens with the same passphrase."


def change_passphrase(store: Store, new: str | None) -> str:
    """`certtui passwd`: every key re-sealed under the new passphrase (store unlocked)."""
    from certtui.core.store.admin import change_passphrase as core_change

    count, _ = core_change(store, new)
    keys = f"{count} key{'' if count == 1 else 's'}"
    if new is None:
        return f"Removed the passphrase: {keys} now stored unencrypted."
    return f"Changed the passphrase: {keys} re-sealed; the old passphrase no longer opens the store."


def import_files(store: Store, paths: list[Path]) -> str:
    """`certtui import FILE...`: watch certificates from elsewhere, marked external."""
    from certtui.core import adopt, loaders
    from certtui.core.userfiles import read_user_file

    certs = []
    for path in paths:
        certs += loaders.load_certificates(read_user_file(path, "certificate"), str(path))
    done = adopt.import_certificates(store, certs)
    lines = [f"Imported {len(done.added)} certificate(s) to watch."]
    lines += [str(note) for note in done.notes]
    return "\n".join(lines)


def sign_crl(store: Store, ca_id: str | None, now: datetime) -> str:
    """`certtui crl [--issuer ID]`: a fresh CRL, stored (store unlocked)."""
    from certtui.core import revocation
    from certtui.errors import PolicyError

    ca_id = ca_id or store.default_issuer_id()
    if ca_id is None:
        raise CerttuiError("the store has no CA yet")
    ca = store.get(ca_id)
    if blocker := revocation.crl_blocker(store, ca):
        raise PolicyError(blocker)
    stored = revocation.sign_crl(store, ca.id, now=now)
    return (
        f"Signed a CRL for {ca.subject or ca.id}: number {stored.number}, next update {stored.next_update}."
    )


def crl_status(store: Store, now: datetime) -> str:
    """Each CA's latest CRL: its number and next update, or why it has none."""
    from certtui.core.inventory import crl_warnings
    from certtui.core.revocation import crl_blocker, latest_crl

    lines = []
    for rec in store.records(now=now):
        if not rec.kind.is_ca:
            continue
        label = rec.subject or rec.id
        last = latest_crl(store, rec.id)
        if last is not None:
            lines.append(f"{label}: CRL number {last.number}, next update {last.next_update}")
        else:
            lines.append(f"{label}: no CRL yet ({crl_blocker(store, rec) or 'sign one now'})")
    lines += [f"Warning: {w}" for w in crl_warnings(store, now)]
    return "\n".join(lines) or "The store has no CA."


@dataclass(frozen=True)
class LiveCheck:
    """What a server sent, judged: the same findings `certtui check --connect` prints."""

    target: str
    subject: str
    findings: list[Any]


def check_server(store: Store | None, target: str, starttls: str | None, now: datetime) -> LiveCheck:
    """`certtui check --connect HOST[:PORT] [--starttls P]`."""
    from certtui.core import checks, tlsprobe

    if starttls is not None and starttls not in tlsprobe.STARTTLS:
        raise CerttuiError(f"STARTTLS {starttls} is not known; use one of {', '.join(tlsprobe.STARTTLS)}")
    host, port = tlsprobe.parse_target(target)
    served = tlsprobe.fetch(host, port, starttls=starttls)
    leaf = served.chain[0]
    kind = checks.classify(leaf, store=store, host_given=True)
    findings = checks.ordered(
        checks.check(
            leaf,
            served.chain[1:],
            host=host,
            store=store,
            kind=kind,
            served=True,
            tls_version=served.version,
            now=now,
        )
    )
    return LiveCheck(target, leaf.subject.rfc4514_string(), list(findings))


def _load_ca(cert_path: Path, key_path: Path, key_password: str) -> tuple[Any, Any]:
    from certtui.core import loaders
    from certtui.core.userfiles import read_user_file

    certs = loaders.load_certificates(read_user_file(cert_path, "CA certificate"), str(cert_path))
    if len(certs) > 1:
        raise CerttuiError(f"{cert_path} holds {len(certs)} certificates; give the CA's certificate alone")
    key = loaders.load_private_key(
        read_user_file(key_path, "CA's private key"), str(key_path), key_password.encode() or None
    )
    return certs[0], key


def import_ca(store: Store, cert_path: Path, key_path: Path, key_password: str) -> str:
    """`certtui import-ca CERT KEY` into this store: an intermediate of its root (store unlocked)."""
    from certtui.core import adopt

    cert, key = _load_ca(cert_path, key_path, key_password)
    root_id = store.root_id()
    adopt.validate_ca(cert, key, store.certificate(root_id) if root_id else None)
    done = adopt.import_intermediate(store, cert, key, None)
    return "\n".join(
        [f"Imported {done.record.subject or done.record.id}; it issues from now on.", *done.notes]
    )


def import_root(db: Path, cert_path: Path, key_path: Path, key_password: str, passphrase: str | None) -> Any:
    """`certtui import-ca CERT KEY` with no store yet: the store is made around that root."""
    from certtui.core import adopt

    cert, key = _load_ca(cert_path, key_path, key_password)
    adopt.validate_ca(cert, key, None)
    return adopt.import_root(db, cert, key, passphrase, None)


def sign_csr(store: Store, csr_path: Path, client: bool, out_dir: Path, force: bool) -> str:
    """`certtui sign CSR`: the names from the CSR, the same guardrail as issue (store unlocked).

    The store is unlocked first, so the guardrail judges the very certificate it stores, with
    the CSR's own key.
    """
    from certtui.core import export
    from certtui.core.loaders import load_csr
    from certtui.core.models import Kind
    from certtui.core.userfiles import read_user_file
    from certtui.journeys.adopt import CsrRequest
    from certtui.journeys.adopt import sign_csr as sign_journey

    csr = load_csr(read_user_file(csr_path, "certificate request"), str(csr_path))
    notes: list[str] = []
    req = CsrRequest(csr, Kind.CLIENT if client else Kind.SERVER, force=force)
    rec = sign_journey(store, req, warn=notes.append)
    path = export.target_path(out_dir, export.file_name(rec, export.Format.PEM))
    export.write_atomic(path, export.cert_pem(store.certificate(rec.id)), private=False)
    return "\n".join([f"Signed {rec.subject or rec.id} (id {rec.id}); wrote {path}.", *notes])
