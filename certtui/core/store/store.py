"""The Store: one open certtui database, every table's methods, opened, created or backed up."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from certtui.core.store.certificates import Certificates
from certtui.core.store.connection import (
    _busy,
    _corrupt,
    disk_full,
    full_disk,
    full_disk_is_one_line,
    out_of_space,
)
from certtui.core.store.files import (
    FILE_MODE,
    _check_length,
    _unlink_db,
    fsync_file,
    make_folder,
    tighten_modes,
)
from certtui.core.store.revocations import Revocations
from certtui.core.store.schema import SCHEMA_VERSION, _migrate, check_schema
from certtui.errors import CerttuiError, NoStore, StoreError

if TYPE_CHECKING:
    from certtui.core.store.acme import AcmeTables
    from certtui.core.store.upkeep import UpkeepTables


class Store(Certificates, Revocations):
    """One open certtui store. Writes go through `write()`; keys need `unlock()` first."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._kek = None
        # The key material (KDF parameters and check value) this session seals under: every
        # write that seals or reads a sealed key checks that no other process changed it.
        self._material = self._read_material()
        kdf = self._material[0]
        self.encrypted = bool(kdf) and kdf != "none"
        # What `open` fixed on its way (a folder mode tightened): the caller tells the user.
        self.notices: list[str] = []

    # The ACME and upkeep tables are loaded on first use: their records are a dozen dataclasses,
    # which would cost `certtui list` (and the TUI's first frame) several ms each run.

    @functools.cached_property
    def acme(self) -> AcmeTables:
        """The ACME server's tables (accounts, client keys, orders, approvals)."""
        from certtui.core.store.acme import AcmeTables

        return AcmeTables(self)

    @functools.cached_property
    def upkeep(self) -> UpkeepTables:
        """The upkeep tables (deploy targets, notification channels, scans)."""
        from certtui.core.store.upkeep import UpkeepTables

        return UpkeepTables(self)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open an existing store; NoStore if there is none, StoreError if it is not usable."""
        if not path.exists():
            raise NoStore(
                f"no certtui store at {path.parent} yet; create one with `certtui init --name NAME`"
            )
        _check_length(path)
        notices = tighten_modes(path)
        conn = None
        try:
            conn = cls._connect(path)
            check_schema(conn, path)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise _busy(exc) from None
            raise _corrupt(path) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        _migrate(conn)
        store = cls(conn, path)
        store.notices = notices
        return store

    @classmethod
    def create(cls, path: Path, passphrase: str | None, populate: Callable[[Store], None]) -> Store:
        """Make a new store atomically: it appears whole, with `populate`'s rows, or not at all.

        `passphrase` None makes an unencrypted store (`init --no-passphrase`).
        """
        folder = path.parent
        make_folder(folder)
        if path.exists():
            raise CerttuiError(
                f"a store already exists at {folder}; certtui never overwrites a root "
                "(use --home for a second store)"
            )
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        _unlink_db(tmp)
        with full_disk_is_one_line(folder, lambda: _unlink_db(tmp)):
            return cls._create(path, tmp, passphrase, populate)

    @classmethod
    def _create(
        cls, path: Path, tmp: Path, passphrase: str | None, populate: Callable[[Store], None]
    ) -> Store:
        folder = path.parent
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        os.chmod(tmp, FILE_MODE)
        conn = None
        try:
            conn = cls._connect(tmp)
            conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn)
            store = cls(conn, tmp)
            with store.write():
                if passphrase is None:
                    store.set_meta("kdf", "none")
                else:
                    from certtui.core import keys as keymod

                    params = keymod.KdfParams.fresh()
                    kek = keymod.derive_kek(passphrase, params)
                    store.set_meta("kdf", params.to_json())
                    store.set_meta("check", keymod.make_check(kek).hex())
                    store._kek = kek
                store.encrypted = passphrase is not None
                store._material = store._read_material()
                store.event("create", None, f"schema {SCHEMA_VERSION}")
            populate(store)
            sealing_kek = store._kek
            # Everything into the database file itself before it takes the store's name: the
            # WAL beside the temporary name does not follow the link.
            if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] != 0:
                raise StoreError(f"could not finish writing the new store in {folder}; try again")
            conn.close()
            conn = None
            fsync_file(tmp)
            _check_length(tmp)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CerttuiError(
                    f"a store already exists at {folder}; certtui never overwrites a root"
                ) from None
        except (sqlite3.Error, OSError) as exc:
            if out_of_space(exc, folder):
                raise disk_full(folder) from None
            raise
        finally:
            if conn is not None:
                conn.close()
            _unlink_db(tmp)
        # The store just linked is this command's own: if the disk is too full to open it,
        # it goes again, and the user is told that nothing was written.
        with full_disk_is_one_line(folder, lambda: _unlink_db(path)):
            store = cls.open(path)
        store._kek = sealing_kek
        return store

    # -- backup --------------------------------------------------------------------------

    def backup(self, dest: Path) -> None:
        """A consistent copy through SQLite's online backup API, written 0600."""
        try:
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:
            raise CerttuiError(f"{dest} already exists; choose a new file name") from None
        except OSError as exc:
            if full_disk(exc):
                raise disk_full(dest.parent) from None
            raise CerttuiError(f"cannot write {dest} ({exc.strerror}); choose another path") from None
        os.close(fd)
        os.chmod(dest, FILE_MODE)
        try:
            with full_disk_is_one_line(dest.parent):
                target = sqlite3.connect(dest)
                try:
                    with target:
                        self.conn.backup(target)
                    # On disk before the command says so (a full disk may show only here).
                    fsync_file(dest)
                finally:
                    target.close()
        except BaseException:
            _unlink_db(dest)
            raise
        with self.write():
            self.event("backup", None, str(dest))
