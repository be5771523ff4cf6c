"""The SQLite store: schema and migrations, write transactions, sealed keys, listing and audit."""

from __future__ import annotations

import errno
import functools
import getpass
import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certtui.core import policy
from certtui.core.models import CertRecord, Kind, Resolved, Status
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, NoStore, NotFound, PassphraseChanged, StoreError

if TYPE_CHECKING:
    from cryptography import x509

    from certtui.core import keys as keymod

# cryptography (keys, certificates) is imported where a method needs it, not here: `certtui
# list` and the TUI's first frame read only columns, and cryptography costs about 40 ms.

# Another certtui process (a second SSH session) may be mid-write; wait this long for it
# before telling the user, instead of failing at once. Transactions here last milliseconds.
BUSY_TIMEOUT_S = 10.0
# "expiring": the windows of core/policy.py, where their reason is.
LEAF_EXPIRING_DAYS = policy.LEAF_EXPIRING_DAYS
CA_EXPIRING_DAYS = policy.CA_EXPIRING_DAYS
# Rows read (and printed, by `list --json`) at a time: a large store never sits in memory as
# a whole, and a batch is still large enough that each read costs nothing extra.
LIST_BATCH = 1000
# The folder and database hold the sealed root key: owner only, whatever the umask.
DIR_MODE = 0o700
FILE_MODE = 0o600
# After `passwd`, how long the checkpoint that overwrites the old sealed keys waits for another
# process's read snapshot (`certtui list --json | less`) to end: long enough for a listing to
# finish printing, short enough that passwd does not look hung.
CHECKPOINT_WAIT_S = 5.0

# Numbered migrations: MIGRATIONS[i] takes PRAGMA user_version from i to i + 1.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            key_type TEXT NOT NULL,
            sealed BLOB NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE certificates (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            serial TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('root', 'intermediate', 'server', 'client')),
            subject TEXT NOT NULL,
            names TEXT NOT NULL,
            issuer_id TEXT,
            not_before TEXT NOT NULL,
            not_after TEXT NOT NULL,
            key_id TEXT REFERENCES keys (id),
            key_type TEXT NOT NULL,
            external INTEGER NOT NULL DEFAULT 0,
            sha256 TEXT NOT NULL UNIQUE,
            der BLOB NOT NULL,
            revoked_at TEXT,
            revocation_reason TEXT,
            renewed_by TEXT,
            created_at TEXT NOT NULL)""",
        """CREATE UNIQUE INDEX certificates_own_serial ON certificates (serial)
            WHERE external = 0""",
        """CREATE TABLE cert_names (cert_id TEXT NOT NULL, name TEXT NOT NULL)""",
        """CREATE INDEX cert_names_name ON cert_names (name)""",
        """CREATE TABLE crls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            issuer_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            this_update TEXT NOT NULL,
            next_update TEXT NOT NULL,
            der BLOB NOT NULL,
            UNIQUE (issuer_id, number))""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            cert_id TEXT,
            detail TEXT NOT NULL DEFAULT '')""",
    ],
    # The ACME server (certtui acme): where a certificate came from, and the server's state.
    # Invited accounts (EAB key sealed like a private key), the client keys bound to them,
    # orders, their authorizations and challenges. Nonces live in memory; their epoch is meta.
    [
        """ALTER TABLE certificates ADD COLUMN origin TEXT""",
        """CREATE TABLE acme_accounts (
            name TEXT PRIMARY KEY,
            kid TEXT UNIQUE,
            hmac BLOB,
            patterns TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
            created_at TEXT NOT NULL)""",
        """CREATE TABLE acme_registrations (
            id TEXT PRIMARY KEY,
            account TEXT NOT NULL REFERENCES acme_accounts (name) ON DELETE CASCADE,
            thumbprint TEXT NOT NULL UNIQUE,
            jwk TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('valid', 'deactivated')),
            contact TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""",
        """CREATE TABLE acme_orders (
            id TEXT PRIMARY KEY,
            registration TEXT NOT NULL REFERENCES acme_registrations (id) ON DELETE CASCADE,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
            identifiers TEXT NOT NULL,
            expires TEXT NOT NULL,
            error TEXT,
            cert_id TEXT,
            created_at TEXT NOT NULL)""",
        """CREATE INDEX acme_orders_registration ON acme_orders (registration)""",
        """CREATE TABLE acme_authorizations (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES acme_orders (id) ON DELETE CASCADE,
            type TEXT NOT NULL CHECK (type IN ('dns', 'ip')),
            value TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked')),
            expires TEXT NOT NULL)""",
        """CREATE INDEX acme_authorizations_order ON acme_authorizations (order_id)""",
        """CREATE TABLE acme_challenges (
            id TEXT PRIMARY KEY,
            authz_id TEXT NOT NULL REFERENCES acme_authorizations (id) ON DELETE CASCADE,
            type TEXT NOT NULL,
            token TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
            validated TEXT,
            error TEXT)""",
        """CREATE INDEX acme_challenges_authz ON acme_challenges (authz_id)""",
    ],
    # Keeping certificates valid (deploy targets, notifications, scans): certtui.core.upkeep.
    [
        """CREATE TABLE deploy_targets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            cert_id TEXT NOT NULL,
            fullchain TEXT,
            cert TEXT,
            chain TEXT,
            key TEXT,
            key_format TEXT NOT NULL DEFAULT 'pem' CHECK (key_format IN ('pem', 'pkcs8-encrypted')),
            p12 TEXT,
            password_file TEXT,
            owner TEXT,
            mode INTEGER,
            reload TEXT,
            reload_shell INTEGER NOT NULL DEFAULT 0,
            verify TEXT,
            servername TEXT,
            starttls TEXT,
            created_at TEXT NOT NULL,
            last_at TEXT,
            last_cert_id TEXT,
            last_serial TEXT,
            last_ok INTEGER,
            last_stage TEXT,
            last_message TEXT,
            deployed_serial TEXT)""",
        """CREATE TABLE notify_channels (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('ntfy', 'webhook', 'email')),
            target TEXT NOT NULL,
            format TEXT,
            smtp_host TEXT,
            smtp_port INTEGER,
            starttls INTEGER NOT NULL DEFAULT 0,
            smtp_user TEXT,
            password_file TEXT,
            sender TEXT,
            expiry_days INTEGER NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE notify_sent (
            channel_id INTEGER NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            state TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (channel_id, event))""",
        """CREATE TABLE scans (
            endpoint TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            sha256 TEXT,
            cert_id TEXT,
            verdict TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '')""",
    ],
    # ACME part 2: the certificate an order renews (RFC 9773 `replaces`), certificates the
    # operator marked for early renewal (renew-early, ARI), and the approval queue's decisions.
    [
        """ALTER TABLE acme_orders ADD COLUMN replaces TEXT""",
        """CREATE TABLE acme_renew_early (
            cert_id TEXT PRIMARY KEY,
            marked_at TEXT NOT NULL)""",
        """CREATE TABLE acme_approvals (
            order_id TEXT PRIMARY KEY REFERENCES acme_orders (id) ON DELETE CASCADE,
            names TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('waiting', 'approved', 'refused')),
            reason TEXT NOT NULL DEFAULT '',
            applied INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            decided_at TEXT)""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "id, serial, kind, subject, names, issuer_id, not_before, not_after, key_id, key_type,"
    " external, sha256, revoked_at, revocation_reason, renewed_by, created_at, origin"
)
_HEX = re.compile(r"[0-9a-fA-F]{4,}")
_KINDS = {k.value: k for k in Kind}
_new_record = object.__new__
# The first 16 bytes of every SQLite 3 database file, and the length of its header.
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
# A short file is read this many times: once, and again after a concurrent checkpoint that
# was extending it had time to finish and delete its WAL.
_LENGTH_ATTEMPTS = 3


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


class DiskFull(StoreError):
    """SQLite or the OS found the disk full; the transaction or file was dropped."""


def _busy(exc: sqlite3.OperationalError) -> CerttuiError:
    text = str(exc)
    if full_disk(exc):
        return DiskFull("the disk is full; nothing was written; free some space and try again")
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store is busy: another certtui process has held it for over "
            f"{BUSY_TIMEOUT_S:.0f} s; wait for it to finish and try again"
        )
    return StoreError(f"the store could not be read or written ({text}); check the disk and try again")


def full_disk(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or the OS's ENOSPC / EDQUOT."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full(folder: Path) -> StoreError:
    return DiskFull(f"the disk holding {folder} is full; nothing was written; free some space and try again")


@contextmanager
def full_disk_is_one_line(folder: Path, cleanup: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Turn a full disk met inside into one `disk_full` line, after `cleanup`."""
    try:
        yield
    except (sqlite3.Error, OSError, DiskFull) as exc:
        if not (isinstance(exc, DiskFull) or out_of_space(exc, folder)):
            raise
        cleanup()
        raise disk_full(folder) from None


def out_of_space(exc: BaseException, folder: Path) -> bool:
    """A full disk, also where SQLite reports a short write (its -shm, a sync) as an I/O error.

    Judge it before any temporary file is removed: that frees the space again.
    """
    io_error = isinstance(exc, sqlite3.Error) and "disk I/O error" in str(exc)
    return full_disk(exc) or (io_error and _no_space(folder))


def _no_space(folder: Path) -> bool:
    """The file system holding `folder` has (almost) no free block left."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    # A few pages: what SQLite needs to grow a file or its -shm by one step.
    return st.f_bavail * st.f_frsize < 64 * 1024


def _corrupt(path: Path) -> StoreError:
    return StoreError(
        f"{path} is not a readable certtui database (damaged or not ours); move it aside and restore a backup"
    )


def cert_subject_cn(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def fingerprint(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class _Clock:
    """The three instants a status needs, as sortable strings, computed once per listing."""

    def __init__(self, now: datetime) -> None:
        self.now = iso(now)
        self.leaf_soon = iso(now + timedelta(days=LEAF_EXPIRING_DAYS))
        self.ca_soon = iso(now + timedelta(days=CA_EXPIRING_DAYS))

    def status(self, kind: Kind | str, not_after: str, revoked_at: str | None) -> Status:
        if revoked_at:
            return Status.REVOKED
        if not_after <= self.now:
            return Status.EXPIRED
        soon = self.ca_soon if kind in ("root", "intermediate") else self.leaf_soon
        return Status.EXPIRING if not_after < soon else Status.VALID


class Store:
    """One open certtui store. Writes go through `write()`; keys need `unlock()` first."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._kek: bytes | None = None
        # The key material (KDF parameters and check value) this session seals under: every
        # write that seals or reads a sealed key checks that no other process changed it.
        self._material = self._read_material()
        kdf = self._material[0]
        self.encrypted = bool(kdf) and kdf != "none"
        # What `open` fixed on its way (a folder mode tightened): the caller tells the user.
        self.notices: list[str] = []

    # -- opening and creating ------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # check_same_thread off: the TUI reads and writes from worker threads, one writer at a time.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        # A schema someone altered runs no SQL function from a view or trigger (SQLite 3.31+).
        conn.execute("PRAGMA trusted_schema = OFF")
        return conn

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
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
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

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> int:
        """Changes whenever another connection commits: the TUI polls it to reload."""
        return int(self._query("PRAGMA data_version")[0][0])

    # -- transactions and meta -----------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A BEGIN IMMEDIATE transaction: all of it commits, or none of it."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise _busy(exc) from None
            # SQLITE_CORRUPT / SQLITE_NOTADB met mid-write (not a subclass such as IntegrityError).
            if type(exc) is sqlite3.DatabaseError:
                raise _corrupt(self.path) from None
            raise

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        except sqlite3.DatabaseError:
            raise _corrupt(self.path) from None

    def meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Inside `write()`."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def event(self, action: str, cert_id: str | None, detail: str = "") -> None:
        """Record who did what, inside the same `write()` as the change itself."""
        self.conn.execute(
            "INSERT INTO events (at, actor, action, cert_id, detail) VALUES (?, ?, ?, ?, ?)",
            (iso(utcnow()), _actor(), action, cert_id, detail),
        )

    def events(self, cert_id: str | None = None) -> list[tuple[str, str, str, str | None, str]]:
        sql = "SELECT at, actor, action, cert_id, detail FROM events"
        if cert_id is None:
            return self._query(sql + " ORDER BY id")
        return self._query(sql + " WHERE cert_id = ? ORDER BY id", (cert_id,))

    # -- the passphrase ------------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        return not self.encrypted or self._kek is not None

    def _read_material(self) -> tuple[str | None, str | None]:
        rows = dict(self._query("SELECT key, value FROM meta WHERE key IN ('kdf', 'check')"))
        return rows.get("kdf"), rows.get("check")

    def _forget_key(self, material: tuple[str | None, str | None]) -> PassphraseChanged:
        """Drop the KEK of a passphrase that no longer opens the store; the session asks again."""
        self._kek = None
        self._material = material
        self.encrypted = bool(material[0]) and material[0] != "none"
        return PassphraseChanged("the passphrase changed in another certtui session; unlock again")

    def _same_material(self) -> None:
        """Inside `write()`: raise PassphraseChanged if another process changed the passphrase."""
        now = self._read_material()
        if now != self._material:
            raise self._forget_key(now)

    def unlock(self, passphrase: str) -> None:
        """Derive the KEK (Argon2id) and check it before any key is touched; then check every
        CA's certificate against its key, and re-seal keys of an older format (once)."""
        material = self._read_material()
        self._material = material
        self.encrypted = bool(material[0]) and material[0] != "none"
        if not self.encrypted:
            return
        from certtui.core import keys as keymod

        params = keymod.KdfParams.from_json(material[0] or "")
        kek = keymod.derive_kek(passphrase, params)
        try:
            check = bytes.fromhex(material[1] or "")
        except ValueError:
            check = b""
        keymod.verify_check(kek, check)
        self._kek = kek
        try:
            self.check_ca_keys()
            self._upgrade_seals()
        except BaseException:
            self._kek = None
            raise

    def _sealed_rows(self, where: str = "", args: tuple[object, ...] = ()) -> list[tuple[str, bytes, bytes]]:
        """(key id, sealed blob, certificate DER) of keys, with the key material in one snapshot."""
        rows = self._query(
            "SELECT k.id, k.sealed, c.der, (SELECT value FROM meta WHERE key = 'kdf'), "
            "(SELECT value FROM meta WHERE key = 'check') "
            f"FROM keys k JOIN certificates c ON c.key_id = k.id {where} ORDER BY k.id",
            args,
        )
        if rows and (rows[0][3], rows[0][4]) != self._material:
            raise self._forget_key((rows[0][3], rows[0][4]))
        return [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]

    def _open_key(self, key_id: str, sealed: bytes, der: bytes) -> keymod.PrivateKey:
        """Unseal a key bound to its certificate, and insist that it is that certificate's key."""
        from cryptography import x509

        from certtui.core import keys as keymod

        public = x509.load_der_x509_certificate(der).public_key()
        key = keymod.from_der(
            keymod.unseal(self._kek, key_id, sealed, keymod.public_key_hash(public), encrypted=self.encrypted)
        )
        if not keymod.matches(key, public):
            raise StoreError(
                f"the stored key {key_id} is not the key of its certificate (the store was altered); "
                "restore a backup you trust"
            )
        return key

    def check_ca_keys(self) -> None:
        """Every CA certificate with a key in the store is checked against that key."""
        for key_id, sealed, der in self._sealed_rows("WHERE c.kind IN ('root', 'intermediate')"):
            self._open_key(key_id, sealed, der)

    def _upgrade_seals(self) -> None:
        """Re-seal keys sealed before they were bound to their certificate (format v1), once."""
        from certtui.core import keys as keymod

        old = self._query("SELECT count(*) FROM keys WHERE substr(sealed, 1, 1) = x'01'")[0][0]
        if not old:
            return
        with self.write():
            self._same_material()
            for key_id, sealed, der in self._sealed_rows("WHERE substr(k.sealed, 1, 1) = x'01'"):
                key = self._open_key(key_id, sealed, der)
                blob = keymod.seal(
                    self._kek, key_id, keymod.to_der(key), keymod.public_key_hash(key.public_key())
                )
                self.conn.execute("UPDATE keys SET sealed = ? WHERE id = ?", (blob, key_id))
            self.event("reseal", None, f"{old} keys bound to their certificates")

    def reseal_all(self, new_kek: bytes | None, kdf_meta: str) -> tuple[int, bool]:
        """Re-seal every key under `new_kek` (None: unencrypted) and switch the KDF meta and
        check value, all in one transaction; returns the number of keys, and whether the old
        sealed copies are gone from the store's files.

        The old sealed blobs are zeroed (secure_delete) and the WAL is checkpointed and
        truncated afterwards. Another process's read snapshot keeps the old pages until it
        ends: the checkpoint waits CHECKPOINT_WAIT_S for it, then the caller says so.
        """
        if not self.unlocked:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        from certtui.core import keys as keymod

        self.conn.execute("PRAGMA secure_delete = ON")
        with self.write():
            self._same_material()
            rows = self._sealed_rows()
            for key_id, sealed, der in rows:
                key = self._open_key(key_id, sealed, der)
                blob = keymod.seal(
                    new_kek, key_id, keymod.to_der(key), keymod.public_key_hash(key.public_key())
                )
                self.conn.execute("UPDATE keys SET sealed = ? WHERE id = ?", (blob, key_id))
            # The ACME accounts' EAB keys are sealed the same way, under the same KEK.
            eab = self.conn.execute("SELECT name, hmac FROM acme_accounts WHERE hmac IS NOT NULL").fetchall()
            for name, sealed in eab:
                label = f"acme-eab:{name}"
                secret = self._unseal_label(self._kek, label, bytes(sealed))
                self.conn.execute(
                    "UPDATE acme_accounts SET hmac = ? WHERE name = ?",
                    (self._seal_label(new_kek, label, secret), name),
                )
            self.set_meta("kdf", kdf_meta)
            if new_kek is None:
                self.conn.execute("DELETE FROM meta WHERE key = 'check'")
            else:
                self.set_meta("check", keymod.make_check(new_kek).hex())
            self.event(
                "passwd", None, f"{len(rows)} keys re-sealed, " + ("encrypted" if new_kek else "unencrypted")
            )
            material = self._read_material()
        self._kek = new_kek
        self._material = material
        self.encrypted = new_kek is not None
        return len(rows), self._checkpoint()

    def _checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; False if a reader kept it busy."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(CHECKPOINT_WAIT_S * 1000)}")
        try:
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError:
            busy = 1
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return busy == 0

    def seal_secret(self, label: str, secret: bytes) -> bytes:
        """A secret other than a key (an ACME EAB key) sealed as keys are, inside `write()`;
        `label` (the row it belongs to) is bound into the associated data."""
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        self._same_material()
        return self._seal_label(self._kek, label, secret)

    def unseal_secret(self, label: str, sealed: bytes) -> bytes:
        """A secret `seal_secret` sealed; PassphraseChanged if another session changed it."""
        self._same_material()
        return self._unseal_label(self._kek, label, sealed)

    @staticmethod
    def _label_hash(label: str) -> bytes:
        import hashlib

        return hashlib.sha256(label.encode()).digest()

    def _seal_label(self, kek: bytes | None, label: str, secret: bytes) -> bytes:
        from certtui.core import keys as keymod

        return keymod.seal(kek, label, secret, self._label_hash(label))

    def _unseal_label(self, kek: bytes | None, label: str, sealed: bytes) -> bytes:
        from certtui.core import keys as keymod

        return keymod.unseal(kek, label, sealed, self._label_hash(label), encrypted=self.encrypted)

    # -- certificates --------------------------------------------------------------------

    def id_taken(self, cert_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM certificates WHERE id = ?", (cert_id,)))

    def find_sha256(self, sha256: str) -> str | None:
        """The id of the certificate with this SHA-256 fingerprint, if the store has it."""
        rows = self._query("SELECT id FROM certificates WHERE sha256 = ?", (sha256,))
        return rows[0][0] if rows else None

    def add_certificate(
        self,
        cert: x509.Certificate,
        *,
        kind: Kind,
        names: tuple[str, ...],
        issuer_id: str | None,
        key: keymod.PrivateKey | None = None,
        external: bool = False,
        action: str = "issue",
        detail: str = "",
        origin: str | None = None,
    ) -> str:
        """Insert a certificate (and its sealed key) inside `write()`; returns its id.

        `origin` says who asked for it when not the CLI or the TUI (`acme:<account>`)."""
        from cryptography.hazmat.primitives import serialization

        from certtui.core import keys as keymod

        der = cert.public_bytes(serialization.Encoding.DER)
        sha = hashlib.sha256(der).hexdigest()
        serial = format(cert.serial_number, "x")
        dup = self._query("SELECT id FROM certificates WHERE sha256 = ?", (sha,))
        if dup:
            raise CerttuiError(f"this certificate is already in the store as {dup[0][0]}")
        cert_id = serial[:12]
        # Short serials (an imported CA's '01') would make short ids: use the fingerprint.
        if len(serial) < 12 or (external and self.id_taken(cert_id)):
            cert_id = sha[:12]
        if self.id_taken(cert_id):
            raise CerttuiError(f"id {cert_id} is already taken in the store")
        key_id = None
        if key is not None:
            # Sealed under the key material this very transaction sees, or not at all.
            self._same_material()
            if self.encrypted and self._kek is None:
                raise CerttuiError("the store is locked; unlock it with the passphrase first")
            if not keymod.matches(key, cert.public_key()):
                raise CerttuiError("the private key is not the certificate's key; nothing was stored")
            key_id = cert_id
            sealed = keymod.seal(
                self._kek, key_id, keymod.to_der(key), keymod.public_key_hash(cert.public_key())
            )
            self.conn.execute(
                "INSERT INTO keys (id, key_type, sealed, created_at) VALUES (?, ?, ?, ?)",
                (key_id, keymod.describe(key), sealed, iso(utcnow())),
            )
        subject = cert_subject_cn(cert)
        self.conn.execute(
            f"INSERT INTO certificates ({_COLUMNS}, der) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?)",
            (
                cert_id,
                serial,
                kind.value,
                subject,
                "\n".join(names),
                issuer_id if issuer_id is not None else (cert_id if kind is Kind.ROOT else None),
                iso(cert.not_valid_before_utc),
                iso(cert.not_valid_after_utc),
                key_id,
                keymod.describe(cert.public_key()),
                int(external),
                sha,
                iso(utcnow()),
                origin,
                der,
            ),
        )
        lookup = {n.lower() for n in names} | ({subject.lower()} if subject else set())
        self.conn.executemany(
            "INSERT INTO cert_names (cert_id, name) VALUES (?, ?)",
            [(cert_id, n) for n in sorted(lookup)],
        )
        self.event(action, cert_id, detail or subject or ", ".join(names))
        return cert_id

    def mark_renewed(self, old_id: str, new_id: str) -> None:
        """Inside `write()`."""
        self.conn.execute("UPDATE certificates SET renewed_by = ? WHERE id = ?", (new_id, old_id))

    @staticmethod
    def _record(row: tuple[Any, ...], status: Status) -> CertRecord:
        (
            cid,
            serial,
            kind,
            subject,
            names,
            issuer_id,
            nb,
            na,
            key_id,
            key_type,
            external,
            sha,
            revoked_at,
            reason,
            renewed_by,
            created_at,
            origin,
        ) = row
        # A frozen dataclass's __init__ sets each field through object.__setattr__, 3.5 us a
        # record; filling __dict__ makes the TUI's 10,000 rows in 6 ms instead of 35. A test
        # checks that every field is set and that the record equals the one __init__ makes.
        record = _new_record(CertRecord)
        record.__dict__.update(
            id=cid,
            serial=serial,
            kind=_KINDS[kind],
            subject=subject,
            names=tuple(names.split("\n")) if names else (),
            issuer_id=issuer_id,
            not_before=nb,
            not_after=na,
            status=status,
            has_key=key_id is not None,
            external=bool(external),
            key_type=key_type,
            sha256=sha,
            revoked_at=revoked_at,
            revocation_reason=reason,
            renewed_by=renewed_by,
            created_at=created_at,
            origin=origin,
            extra={},
        )
        return record

    def listed(
        self,
        *,
        kind: Kind | None = None,
        status: Status | None = None,
        expiring_within: int | None = None,
        now: datetime | None = None,
    ) -> list[tuple[tuple[Any, ...], Status]]:
        """Every certificate in issue order, filtered: its columns (`_COLUMNS`) and status.

        Nothing is parsed and no object is built per row: `records` makes CertRecords of
        these, and `list --json` prints them as they come (`listed_batches`).
        """
        out: list[tuple[tuple[Any, ...], Status]] = []
        for batch in self.listed_batches(kind=kind, status=status, expiring_within=expiring_within, now=now):
            out += batch
        return out

    def listed_batches(
        self,
        *,
        kind: Kind | None = None,
        status: Status | None = None,
        expiring_within: int | None = None,
        now: datetime | None = None,
    ) -> Iterator[list[tuple[tuple[Any, ...], Status]]]:
        """`listed`, a batch of rows at a time: a large store is printed as it is read."""
        clock = _Clock(now or utcnow())
        sql = f"SELECT {_COLUMNS} FROM certificates"
        args: list[object] = []
        where = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind.value)
        if expiring_within is not None:
            where += ["revoked_at IS NULL", "not_after > ?", "not_after <= ?"]
            args += [clock.now, iso((now or utcnow()) + timedelta(days=expiring_within))]
        if where:
            sql += " WHERE " + " AND ".join(where)
        try:
            cursor = self.conn.execute(sql + " ORDER BY seq", tuple(args))
            while rows := cursor.fetchmany(LIST_BATCH):
                batch = [(r, clock.status(r[2], r[7], r[12])) for r in rows]
                yield batch if status is None else [(r, s) for r, s in batch if s is status]
        except sqlite3.OperationalError as exc:
            raise _busy(exc) from None
        except sqlite3.DatabaseError:
            raise _corrupt(self.path) from None

    def records(
        self,
        *,
        kind: Kind | None = None,
        status: Status | None = None,
        expiring_within: int | None = None,
        now: datetime | None = None,
    ) -> list[CertRecord]:
        """Every certificate in issue order, filtered; no certificate is parsed."""
        record = self._record
        return [
            record(r, s)
            for r, s in self.listed(kind=kind, status=status, expiring_within=expiring_within, now=now)
        ]

    def get(self, cert_id: str, now: datetime | None = None) -> CertRecord:
        rows = self._query(f"SELECT {_COLUMNS} FROM certificates WHERE id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"no certificate with id {cert_id}; run `certtui list` to see the ids")
        row = rows[0]
        return self._record(row, _Clock(now or utcnow()).status(row[2], row[7], row[12]))

    def der(self, cert_id: str) -> bytes:
        rows = self._query("SELECT der FROM certificates WHERE id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"no certificate with id {cert_id}; run `certtui list` to see the ids")
        return bytes(rows[0][0])

    def certificate(self, cert_id: str) -> x509.Certificate:
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der(cert_id))

    def chain(self, cert_id: str) -> list[x509.Certificate]:
        """The issuers of a certificate in the store, nearest first, ending at its root."""
        out: list[x509.Certificate] = []
        seen = {cert_id}
        issuer = self.get(cert_id).issuer_id
        while issuer and issuer not in seen:
            seen.add(issuer)
            out.append(self.certificate(issuer))
            issuer = self.get(issuer).issuer_id
        return out

    def private_key(self, cert_id: str) -> keymod.PrivateKey:
        """The certificate's private key; the store must be unlocked if it is encrypted."""
        if not self._query("SELECT 1 FROM certificates WHERE id = ? AND key_id IS NOT NULL", (cert_id,)):
            raise NotFound(f"certificate {cert_id} has no private key in the store")
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        # One statement: the blob and the key material it was sealed under, from one snapshot.
        rows = self._sealed_rows("WHERE c.id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"certificate {cert_id} has no private key in the store")
        return self._open_key(*rows[0])

    def root_id(self) -> str | None:
        return self.meta("root")

    def default_issuer_id(self) -> str | None:
        return self.meta("default_issuer") or self.meta("root")

    # -- resolving what the user typed ---------------------------------------------------

    def resolve(self, ref: str) -> CertRecord:
        """The certificate an ID the user typed names (see `lookup`), without the note."""
        return self.lookup(ref).record

    def lookup(self, ref: str) -> Resolved:
        """An exact id, else a unique serial prefix (4+ hex digits), else a name; see below.

        A name (case-insensitive; a host name also in its normalised form) means the current
        certificates carrying it: neither revoked nor replaced by a renewal, or, when none is
        current, all of them. The store's own certificates come first: when exactly one own
        certificate is meant, it wins, and the external ones carrying the name are returned as
        `skipped` so the caller can say so. An external certificate is meant only when no own
        one carries the name. A name that means more than one certificate is refused, one line
        listing each candidate's id, kind and whether it is external: an imported certificate
        never stands in for the store's own, and two of the store's own are never guessed between.
        """
        ref = ref.strip()
        exact = self._query("SELECT id FROM certificates WHERE id = ?", (ref.lower(),))
        if exact:
            return Resolved(self.get(exact[0][0]))
        prefix_ids: list[str] = []
        if _HEX.fullmatch(ref):
            prefix_ids = [
                r[0]
                for r in self._query(
                    "SELECT id FROM certificates WHERE serial LIKE ? ORDER BY seq",
                    (ref.lower() + "%",),
                )
            ]
            if len(prefix_ids) == 1:
                return Resolved(self.get(prefix_ids[0]))
        candidates = {ref.lower()}
        try:
            from certtui.core.names import parse_name

            candidates.add(parse_name(ref).value.lower())
        except CerttuiError:
            pass
        marks = ", ".join("?" for _ in candidates)
        rows = self._query(
            "SELECT DISTINCT c.id, c.seq, c.external, c.revoked_at IS NULL AND c.renewed_by IS NULL "
            f"FROM cert_names n JOIN certificates c ON c.id = n.cert_id WHERE n.name IN ({marks}) "
            "ORDER BY c.seq DESC",
            tuple(sorted(candidates)),
        )
        if not rows:
            hint = (
                f"; the serial prefix matches {', '.join(prefix_ids)}, so give more digits"
                if prefix_ids
                else "; run `certtui list` to see the ids"
            )
            raise NotFound(f"no certificate matches {ref!r}{hint}")

        def meant(group: list[tuple[Any, ...]]) -> list[str]:
            current = [r[0] for r in group if r[3]]
            return current or [r[0] for r in group]

        own = [r for r in rows if not r[2]]
        external = [r for r in rows if r[2]]
        chosen = meant(own) if own else meant(external)
        if len(chosen) == 1:
            skipped = tuple(self.get(r[0]) for r in external) if own else ()
            return Resolved(self.get(chosen[0]), skipped)
        listed = [self.get(i) for i in chosen + (meant(external) if own else [])]
        shown = ", ".join(f"{r.id} ({r.kind.value}{', external' if r.external else ''})" for r in listed)
        raise NotFound(f"{ref!r} names {len(listed)} certificates: {shown}; give one of these ids")

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
                    fd = os.open(dest, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                finally:
                    target.close()
        except BaseException:
            _unlink_db(dest)
            raise
        with self.write():
            self.event("backup", None, str(dest))


# Tables SQLite itself may add (ANALYZE, PRAGMA optimize): statistics, never run as code.
_SQLITE_STATS = ("sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4")


@functools.cache
def expected_schema(version: int) -> frozenset[tuple[str, str, str, str | None]]:
    """sqlite_master as MIGRATIONS[:version] make it, on an empty in-memory database: any
    migration appended later is accepted without a second list to keep in step."""
    mem = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS[:version]:
            for statement in step:
                mem.execute(statement)
        return frozenset(mem.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        mem.close()


def check_schema(conn: sqlite3.Connection, path: Path) -> int:
    """Refuse any database but certtui's own: a known user_version and exactly the tables and
    indexes its migrations make (no trigger, view or virtual table); returns the version.

    Also refuses KDF parameters that would hang or exhaust the machine (keys.KdfParams).
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer certtui (schema {version}, this one knows "
            f"{SCHEMA_VERSION}); upgrade certtui to use it"
        )
    if version < 1:
        raise _corrupt(path)
    found = {
        row
        for row in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        if row[1] not in _SQLITE_STATS
    }
    expected = expected_schema(version)
    if found != expected:
        extra = sorted(found - expected)
        kinds = {"trigger": "a trigger", "view": "a view"}
        odd = next((r for r in extra if r[0] in kinds), None)
        if odd is None:
            odd = next((r for r in extra if (r[3] or "").upper().startswith("CREATE VIRTUAL")), None)
            what = f"a virtual table {odd[1]!r}" if odd else None
        else:
            what = f"{kinds[odd[0]]} {odd[1]!r}"
        if what is None:
            names = ", ".join(sorted({r[1] for r in (found ^ expected)}))
            what = f"tables or indexes that differ from certtui's ({names[:120]})"
        raise StoreError(
            f"{path} holds {what}, which certtui never makes: the file was altered; restore a backup "
            "you trust"
        )
    kdf = conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()
    if kdf is None:
        raise _corrupt(path)
    if kdf[0] != "none":
        # kdf, not keys: `list` of an encrypted store still needs no cryptography.
        from certtui.core.kdf import KdfParams

        KdfParams.from_json(kdf[0])
    return int(version)


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply the numbered migrations this database lacks, all in one transaction."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise _busy(exc) from None


def _header_bytes(path: Path) -> tuple[bytes, int]:
    """The database header and the file's size, read from one open file."""
    try:
        with open(path, "rb") as f:
            return f.read(_HEADER_BYTES), os.fstat(f.fileno()).st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path} ({exc.strerror}); check its permissions") from None


def _expected_size(header: bytes) -> int | None:
    """Page count x page size from an SQLite header; None when the header does not say.

    The page count (offset 28) is valid only when the version-valid-for number (offset 92)
    equals the change counter (offset 24); a page size of 1 means 65,536.
    """
    if len(header) < _HEADER_BYTES or not header.startswith(_SQLITE_MAGIC):
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if not pages or header[24:28] != header[92:96]:
        return None
    return pages * page_size


def _check_length(path: Path) -> None:
    """Refuse a database file shorter than its header says, before SQLite opens (or writes) it.

    SQLite itself only notices a missing page when it happens to read it. A non-empty WAL
    beside the file may hold the newer pages (a checkpoint cut short by a crash, or one
    running in another process right now): SQLite replays it, so the file is not judged then.
    A checkpoint finishes before its WAL is deleted, so a short file is read again after the
    WAL turns out to be gone.
    """
    for _ in range(_LENGTH_ATTEMPTS):
        header, size = _header_bytes(path)
        expected = _expected_size(header)
        if expected is None or size >= expected:
            return
        try:
            if os.path.getsize(f"{path}-wal") > 0:
                return
        except OSError:
            pass
    raise StoreError(
        f"{path} is cut short: its header counts {expected:,} bytes but the file holds {size:,} "
        "(an interrupted copy or a full disk); move it aside and restore a backup"
    )


def make_folder(folder: Path) -> None:
    """The store folder and every missing parent, each created 0700 whatever the umask."""
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        os.chmod(parent, DIR_MODE)
    os.chmod(folder, DIR_MODE)


def tighten_modes(path: Path) -> list[str]:
    """Narrow a store folder wider than 0700 (and a database wider than 0600); the notices."""
    notices = []
    for target, mode in ((path.parent, DIR_MODE), (path, FILE_MODE)):
        try:
            now = os.stat(target).st_mode & 0o777
            if now & ~mode:
                os.chmod(target, mode)
                notices.append(
                    f"{target} was open to group or others (mode {now:o}); certtui set it back to {mode:o}"
                )
        except OSError:
            pass  # not ours to change (another owner): SQLite's own open says what is wrong
    return notices


def _unlink_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
