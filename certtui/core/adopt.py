"""Adopt what users already have (CAs and certificates) and administer the store (passwd, restore)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.core import checks, revocation
from certtui.core import keys as keymod
from certtui.core.extensions import extension
from certtui.core.loaders import names_of
from certtui.core.models import CertRecord, Kind
from certtui.core.store import (
    FILE_MODE,
    Store,
    _unlink_db,
    cert_subject_cn,
    check_schema,
    disk_full,
    fingerprint,
    full_disk_is_one_line,
    make_folder,
    out_of_space,
)
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, PolicyError, StoreError

# The first 16 bytes of every SQLite 3 database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"


# -- import-ca ---------------------------------------------------------------------------


def dead_ends(cert: x509.Certificate, now: datetime | None = None) -> list[str]:
    """Why nothing this CA issues can ever be trusted by an iPhone, one line each (none: fine).

    The key (iOS takes RSA 2048+ and EC P-256/P-384 in a chain), a notBefore still to come,
    and a critical extension that no client knows (RFC 5280 4.2: it must then reject the chain).
    """
    name = checks.label(cert)
    out = []
    severity, evidence = checks.key_verdict(cert)
    if severity is checks.Severity.FAIL:
        out.append(f"{name}'s key is {evidence}, so every chain through it is refused")
    now = now or utcnow()
    if cert.not_valid_before_utc > now:
        out.append(
            f"{name} is not valid until {iso(cert.not_valid_before_utc)}, so until then every "
            "chain through it is refused"
        )
    try:
        extensions = list(cert.extensions)
    except (x509.DuplicateExtension, ValueError):
        extensions = []
        out.append(f"{name}'s extensions do not decode, so clients refuse every chain through it")
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            out.append(
                f"{name} has a critical extension no client knows ({ext.oid.dotted_string}), so "
                "clients must refuse every chain through it"
            )
    return out


def validate_ca(
    cert: x509.Certificate, key: keymod.PrivateKey, root: x509.Certificate | None, *, force: bool = False
) -> list[str]:
    """Refuse a CA that cannot be imported (into an empty store when `root` is None, else under
    that root), or that is a dead end for iPhones unless `force`; return the one-line notes
    about what it cannot do."""
    name = checks.label(cert)
    if not checks.classify(cert).is_ca:
        raise PolicyError(
            f"{name} is not a CA (no basicConstraints CA:TRUE); import-ca takes a CA, "
            "use `certtui import` to watch other certificates"
        )
    ku = extension(cert, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        raise PolicyError(
            f"{name}'s key usage lacks keyCertSign, so it cannot sign certificates; import a CA that can"
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise PolicyError(
            f"the key does not match {name}'s certificate; give the key file that belongs to it"
        )
    if root is None:
        if not checks.self_signed(cert):
            raise PolicyError(
                f"{name} is not a self-signed root; a new store starts from its root, so import "
                "the root first, then this intermediate"
            )
    elif checks.self_signed(cert):
        raise PolicyError(
            f"the store already has a root ({checks.label(root)}); import-ca adds only an intermediate "
            "issued by it (use --home for a second store)"
        )
    elif not checks.issued_by(cert, root):
        raise PolicyError(
            f"{name} was not issued by this store's root ({checks.label(root)}); import-ca adds only "
            "intermediates issued by it (use --home for a second store)"
        )
    notes = []
    blocked = dead_ends(cert)
    if blocked and not force:
        raise PolicyError(
            f"{'; '.join(blocked)}: no certificate it issues would be trusted by an iPhone; import "
            "a CA that can, or add --force to import it anyway"
        )
    notes += [f"imported anyway (--force): {line}" for line in blocked]
    bc = extension(cert, x509.BasicConstraints)
    if root is None and isinstance(bc, x509.BasicConstraints) and bc.path_length == 0:
        notes.append(
            f"{name} has path length 0, so it cannot have an intermediate; leaves are issued from it directly"
        )
    if cert.not_valid_after_utc <= utcnow():
        notes.append(f"{name} expired on {iso(cert.not_valid_after_utc)}; nothing it issues will be trusted")
    return notes


@dataclass(frozen=True)
class CaImported:
    """An imported CA's record, and the one-line notes on what it cannot do."""

    record: CertRecord
    notes: tuple[str, ...]


def _add_ca(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    kind: Kind,
    issuer_id: str | None,
    crl_url: str | None,
    notes: list[str],
) -> str:
    """Inside `write()`: add the CA with its key, make it the default issuer, note its CRL ability."""
    cert_id = store.add_certificate(
        cert, kind=kind, names=(), issuer_id=issuer_id, key=key, action="import-ca"
    )
    if kind is Kind.ROOT:
        store.set_meta("root", cert_id)
    store.set_meta("default_issuer", cert_id)
    blocker = revocation.crl_blocker(store, store.get(cert_id))
    if blocker and crl_url:
        raise PolicyError(f"--crl-url cannot be used: {blocker}")
    if blocker:
        notes.append(blocker)
    if crl_url:
        store.set_meta("crl_url", revocation.check_crl_url(crl_url))
    return cert_id


def import_root(
    path: Path,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    passphrase: str | None,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> tuple[Store, CaImported]:
    """Create a store around a self-signed root and its key; nothing exists if anything fails."""
    notes = validate_ca(cert, key, None, force=force)
    ids: list[str] = []

    def populate(store: Store) -> None:
        with store.write():
            ids.append(_add_ca(store, cert, key, Kind.ROOT, None, crl_url, notes))

    store = Store.create(path, passphrase, populate)
    return store, CaImported(store.get(ids[0]), tuple(notes))


def import_intermediate(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> CaImported:
    """Add an intermediate issued by the store's root, with its key; it becomes the default issuer."""
    root_id = store.root_id()
    if root_id is None:
        raise CerttuiError("the store has no root; import a root into an empty store first")
    notes = validate_ca(cert, key, store.certificate(root_id), force=force)
    with store.write():
        cert_id = _add_ca(store, cert, key, Kind.INTERMEDIATE, root_id, crl_url, notes)
    return CaImported(store.get(cert_id), tuple(notes))


# -- import (watch certificates from elsewhere) ------------------------------------------


@dataclass(frozen=True)
class Imported:
    """What `import_certificates` did: the records added, one note per certificate skipped, and
    one warning per certificate added that goes by the name of one of the store's own CAs."""

    added: tuple[CertRecord, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def _lookup_names(cert: x509.Certificate) -> set[str]:
    """The names `Store.resolve` finds a certificate by: its CN and SAN entries, lower-case."""
    cn = cert_subject_cn(cert)
    return {n.lower() for n in names_of(cert)} | ({cn.lower()} if cn else set())


def _clash(
    cert: x509.Certificate, cert_id: str, own_cas: Sequence[tuple[CertRecord, x509.Certificate]]
) -> str | None:
    """The warning for a foreign certificate named like one of the store's own CAs, or None."""
    mine = _lookup_names(cert)
    for rec, ca in own_cas:
        if cert.subject == ca.subject or mine & _lookup_names(ca):
            return (
                f"imported {cert_id} goes by the name of this store's own {rec.kind.value} "
                f"{rec.subject or rec.id} ({rec.id}); that name still means the store's own, and the "
                f"imported one is marked external (if you did not expect it, remove it: it is not yours)"
            )
    return None


def import_certificates(store: Store, certs: Sequence[x509.Certificate]) -> Imported:
    """Add foreign certificates, with no key, as external; skip those already in the store.

    All are added in one transaction. Each is linked to its issuer when that is in the store
    (or in the same batch) and its signature verifies; CAs go first so leaves find them.
    """
    rank = {Kind.ROOT: 0, Kind.INTERMEDIATE: 1}
    order = sorted(((checks.classify(c), c) for c in certs), key=lambda kc: rank.get(kc[0], 2))
    cas = [
        (r.id, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
    ]
    own_cas = [
        (r, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
        if not r.external
    ]
    added: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    with store.write():
        for kind, cert in order:
            existing = store.find_sha256(fingerprint(cert))
            if existing is not None:
                shown = ", ".join(names_of(cert)) or checks.label(cert)
                notes.append(f"skipped {shown}: already in the store as {existing}")
                continue
            issuer_id = None
            if kind is not Kind.ROOT:
                issuer_id = next((cid for cid, ca in cas if checks.issued_by(cert, ca)), None)
            cert_id = store.add_certificate(
                cert,
                kind=kind,
                names=names_of(cert),
                issuer_id=issuer_id,
                external=True,
                action="import",
            )
            added.append(cert_id)
            if (clash := _clash(cert, cert_id, own_cas)) is not None:
                warnings.append(clash)
            if kind.is_ca:
                cas.append((cert_id, cert))
    return Imported(tuple(store.get(i) for i in added), tuple(notes), tuple(warnings))


# -- passwd ------------------------------------------------------------------------------


def change_passphrase(store: Store, new_passphrase: str | None) -> tuple[int, bool]:
    """Re-seal every key under a new passphrase and a new salt (None: no passphrase), in one
    transaction; returns the number of keys, and whether the old sealed copies are gone from
    the store's files (see `Store.reseal_all`). The store must be unlocked."""
    if not store.unlocked:
        raise CerttuiError("the store is locked; unlock it with the current passphrase first")
    if new_passphrase is None:
        return store.reseal_all(None, "none")
    if not new_passphrase:
        raise CerttuiError("the new passphrase is empty; type one, or use --no-passphrase")
    params = keymod.KdfParams.fresh()
    return store.reseal_all(keymod.derive_kek(new_passphrase, params), params.to_json())


# -- restore -----------------------------------------------------------------------------


def _check_backup_file(backup: Path) -> None:
    """Refuse what is not an SQLite file before SQLite reads it."""
    try:
        with backup.open("rb") as f:
            header = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise CerttuiError(
            f"cannot read {backup} ({exc.strerror}); give the path of a file `certtui backup` wrote"
        ) from None
    if header != _SQLITE_MAGIC:
        raise CerttuiError(f"{backup} is not an SQLite database; give a file `certtui backup` wrote")


def check_backup(conn: sqlite3.Connection, backup: Path) -> None:
    """Refuse a backup that is damaged, not certtui's own schema, of a newer schema, with a
    weak or absurd KDF, or whose keys do not match the store's kind (every refusal one line).

    A backup is a file someone may hand the user: it is judged as an attacker's file.
    """
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.OperationalError:
        raise  # the disk, not the file (the caller says which)
    except sqlite3.DatabaseError:
        result = []
    if result != [("ok",)]:
        raise StoreError(f"{backup} fails SQLite's integrity check (damaged); restore an older backup")
    try:
        check_schema(conn, backup)
    except StoreError as exc:
        if "is not a readable certtui database" in str(exc):
            raise CerttuiError(
                f"{backup} is not a certtui store; give a file `certtui backup` wrote"
            ) from None
        if "newer certtui" in str(exc):
            raise StoreError(str(exc).replace("to use it", "to restore it")) from None
        if str(exc).startswith(str(backup)):
            raise
        raise StoreError(f"{backup}: {exc}") from None
    kdf = conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()[0]
    encrypted = kdf != "none"
    if encrypted:
        why = keymod.KdfParams.from_json(kdf).weak
        if why is not None:
            raise StoreError(
                f"{backup} was not made by certtui at its own cost: {why}; restore a backup certtui made"
            )
        if conn.execute("SELECT value FROM meta WHERE key = 'check'").fetchone() is None:
            raise StoreError(f"{backup} has a passphrase but no check value: the file was altered")
    wrong = "x'00'" if encrypted else "x'01', x'02'"
    odd = conn.execute(f"SELECT id FROM keys WHERE substr(sealed, 1, 1) IN ({wrong}) LIMIT 1").fetchone()
    if odd is not None:
        state = (
            "in the clear though the store has a passphrase"
            if encrypted
            else ("sealed though the store has no passphrase")
        )
        raise StoreError(
            f"{backup} holds the key {odd[0]} {state}: the file was altered; restore a backup you trust"
        )
    if not encrypted:
        # A plain store's keys can be checked against their certificates without a passphrase.
        for key_id, sealed, der in conn.execute(
            "SELECT k.id, k.sealed, c.der FROM keys k JOIN certificates c ON c.key_id = k.id"
        ):
            try:
                key = keymod.from_der(bytes(sealed)[1:])
                ok = keymod.matches(key, x509.load_der_x509_certificate(bytes(der)).public_key())
            except (ValueError, CerttuiError):
                ok = False
            if not ok:
                raise StoreError(
                    f"{backup} holds the key {key_id}, which is not its certificate's key: the file was "
                    "altered; restore a backup you trust"
                )


def restore(backup: Path, path: Path) -> Store:
    """Copy a backup in as the store at `path` (folder 0700, file 0600); never overwrites.

    The copy is judged (`check_backup`) before it takes the store's name: a refused backup
    leaves nothing at `path`. An older schema is migrated by `Store.open`, the first open.
    """
    if path.exists():
        raise CerttuiError(
            f"a store already exists at {path.parent}; restore never overwrites one, so move it "
            "aside or restore with --home into an empty folder"
        )
    _check_backup_file(backup)
    # Judged where it lies first, so a refused backup leaves no folder behind; and its copy
    # again below, before the copy takes the store's name.
    try:
        with closing(sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)) as src:
            src.execute("PRAGMA trusted_schema = OFF")
            check_backup(src, backup)
    except sqlite3.DatabaseError:
        raise StoreError(
            f"{backup} fails SQLite's integrity check (damaged); restore an older backup"
        ) from None
    folder = path.parent
    make_folder(folder)
    tmp = folder / f".{path.name}.{os.getpid()}.restore"
    _unlink_db(tmp)
    with full_disk_is_one_line(folder, lambda: _unlink_db(tmp)):
        _copy_in(backup, tmp, path)
    # The store just linked is this command's own: a disk too full to open it takes it away.
    with full_disk_is_one_line(folder, lambda: _unlink_db(path)):
        store = Store.open(path)
        try:
            with store.write():
                store.event("restore", None, str(backup))
        except BaseException:
            store.close()
            raise
    return store


def _copy_in(backup: Path, tmp: Path, path: Path) -> None:
    """Copy the backup to `tmp`, judge the copy, and link it in as `path` (tmp goes always)."""
    damaged = f"{backup} fails SQLite's integrity check (damaged); restore an older backup"
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        os.chmod(tmp, FILE_MODE)
        try:
            src = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.DatabaseError:
            raise StoreError(damaged) from None
        dst = sqlite3.connect(tmp)
        try:
            try:
                src.backup(dst)
            except sqlite3.DatabaseError as exc:
                if out_of_space(exc, tmp.parent):
                    raise
                raise StoreError(damaged) from None
            dst.execute("PRAGMA trusted_schema = OFF")
            check_backup(dst, backup)
            # WAL, as `Store.create` makes it: readers never wait for a writer.
            dst.execute("PRAGMA journal_mode = WAL")
        finally:
            dst.close()
            src.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise CerttuiError(
                f"a store appeared at {path.parent} while restoring; restore never overwrites one"
            ) from None
    except (sqlite3.Error, OSError) as exc:
        if out_of_space(exc, path.parent):
            raise disk_full(path.parent) from None
        raise
    finally:
        _unlink_db(tmp)
