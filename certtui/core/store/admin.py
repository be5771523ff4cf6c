"""Administering a store as a whole: passwd (re-sealing every key), and restoring a backup."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from certtui.core.store.connection import disk_full, full_disk_is_one_line, out_of_space
from certtui.core.store.files import _SQLITE_MAGIC, FILE_MODE, _unlink_db, fsync_file, make_folder
from certtui.core.store.schema import check_schema
from certtui.core.store.store import Store
from certtui.errors import CerttuiError, StoreError

# cryptography and the KDF's parameters are imported where a key is checked or derived:
# `certtui list` imports this package and reads only columns.


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
    from certtui.core import keys as keymod

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
        from certtui.core.kdf import KdfParams

        why = KdfParams.from_json(kdf).weak
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
        from cryptography import x509

        from certtui.core import keys as keymod

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
        fsync_file(tmp)
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
