"""The SQLite store: schema and migrations, write transactions, sealed keys, listing and audit."""

from __future__ import annotations

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
from certtui.core.models import CertRecord, Kind, Status
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, NoStore, NotFound, StoreError

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


def _busy(exc: sqlite3.OperationalError) -> CerttuiError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreError(
            f"the store is busy: another certtui process has held it for over "
            f"{BUSY_TIMEOUT_S:.0f} s; wait for it to finish and try again"
        )
    return StoreError(f"the store could not be read or written ({text}); check the disk and try again")


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
        kdf = self.meta("kdf")
        self.encrypted = bool(kdf) and kdf != "none"

    # -- opening and creating ------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # check_same_thread off: the TUI reads and writes from worker threads, one writer at a time.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open an existing store; NoStore if there is none, StoreError if it is not usable."""
        if not path.exists():
            raise NoStore(
                f"no certtui store at {path.parent} yet; create one with `certtui init --name NAME`"
            )
        _check_length(path)
        try:
            conn = cls._connect(path)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise _busy(exc) from None
            raise _corrupt(path) from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{path} was written by a newer certtui (schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade certtui to use it"
            )
        if version == 0 or "meta" not in tables:
            conn.close()
            raise _corrupt(path)
        _migrate(conn)
        return cls(conn, path)

    @classmethod
    def create(cls, path: Path, passphrase: str | None, populate: Callable[[Store], None]) -> Store:
        """Make a new store atomically: it appears whole, with `populate`'s rows, or not at all.

        `passphrase` None makes an unencrypted store (`init --no-passphrase`).
        """
        folder = path.parent
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(folder, DIR_MODE)
        if path.exists():
            raise CerttuiError(
                f"a store already exists at {folder}; certtui never overwrites a root "
                "(use --home for a second store)"
            )
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        _unlink_db(tmp)
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        os.chmod(tmp, FILE_MODE)
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
                store.event("create", None, f"schema {SCHEMA_VERSION}")
            populate(store)
            kept_kek = store._kek
            conn.close()
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise CerttuiError(
                    f"a store already exists at {folder}; certtui never overwrites a root"
                ) from None
        finally:
            _unlink_db(tmp)
        store = cls.open(path)
        store._kek = kept_kek
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

    def unlock(self, passphrase: str) -> None:
        """Derive the KEK (Argon2id) and check it before any key is touched."""
        if not self.encrypted:
            return
        from certtui.core import keys as keymod

        params = keymod.KdfParams.from_json(self.meta("kdf") or "")
        kek = keymod.derive_kek(passphrase, params)
        keymod.verify_check(kek, bytes.fromhex(self.meta("check") or ""))
        self._kek = kek

    def reseal_all(self, new_kek: bytes | None, kdf_meta: str) -> int:
        """Re-seal every key under `new_kek` (None: unencrypted) and switch the KDF meta and
        check value, all in one transaction; returns the number of keys.

        The old sealed blobs are zeroed (secure_delete) and the WAL is truncated afterwards,
        so nothing the old passphrase opens is left in the store's files.
        """
        if not self.unlocked:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        from certtui.core import keys as keymod

        self.conn.execute("PRAGMA secure_delete = ON")
        with self.write():
            rows = self.conn.execute("SELECT id, sealed FROM keys ORDER BY id").fetchall()
            for key_id, sealed in rows:
                der = keymod.unseal(self._kek, key_id, bytes(sealed))
                self.conn.execute(
                    "UPDATE keys SET sealed = ? WHERE id = ?", (keymod.seal(new_kek, key_id, der), key_id)
                )
            # The ACME accounts' EAB keys are sealed the same way, under the same KEK.
            eab = self.conn.execute("SELECT name, hmac FROM acme_accounts WHERE hmac IS NOT NULL").fetchall()
            for name, sealed in eab:
                label = f"acme-eab:{name}"
                secret = keymod.unseal(self._kek, label, bytes(sealed))
                self.conn.execute(
                    "UPDATE acme_accounts SET hmac = ? WHERE name = ?",
                    (keymod.seal(new_kek, label, secret), name),
                )
            self.set_meta("kdf", kdf_meta)
            if new_kek is None:
                self.conn.execute("DELETE FROM meta WHERE key = 'check'")
            else:
                self.set_meta("check", keymod.make_check(new_kek).hex())
            self.event(
                "passwd", None, f"{len(rows)} keys re-sealed, " + ("encrypted" if new_kek else "unencrypted")
            )
        self._kek = new_kek
        self.encrypted = new_kek is not None
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another process is reading; its own last checkpoint overwrites the old pages
        return len(rows)

    def seal_secret(self, label: str, secret: bytes) -> bytes:
        """A secret other than a key (an ACME EAB key) sealed as keys are; `label` binds it."""
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        from certtui.core import keys as keymod

        return keymod.seal(self._kek, label, secret)

    def unseal_secret(self, label: str, sealed: bytes) -> bytes:
        from certtui.core import keys as keymod

        return keymod.unseal(self._kek, label, sealed)

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
            if self.encrypted and self._kek is None:
                raise CerttuiError("the store is locked; unlock it with the passphrase first")
            key_id = cert_id
            sealed = keymod.seal(self._kek, key_id, keymod.to_der(key))
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
        rows = self._query(
            "SELECT k.id, k.sealed FROM certificates c JOIN keys k ON k.id = c.key_id WHERE c.id = ?",
            (cert_id,),
        )
        if not rows:
            raise NotFound(f"certificate {cert_id} has no private key in the store")
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        key_id, sealed = rows[0]
        from certtui.core import keys as keymod

        return keymod.from_der(keymod.unseal(self._kek, key_id, bytes(sealed)))

    def root_id(self) -> str | None:
        return self.meta("root")

    def default_issuer_id(self) -> str | None:
        return self.meta("default_issuer") or self.meta("root")

    # -- resolving what the user typed ---------------------------------------------------

    def resolve(self, ref: str, *, unique: bool = False) -> CertRecord:
        """An exact id, else a unique serial prefix (4+ hex digits), else a name.

        A name gives the most recently issued non-revoked certificate carrying it (the most
        recent revoked one when no other has it). With `unique`, a name carried by more than
        one non-revoked certificate is refused, listing their ids.
        """
        ref = ref.strip()
        exact = self._query("SELECT id FROM certificates WHERE id = ?", (ref.lower(),))
        if exact:
            return self.get(exact[0][0])
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
                return self.get(prefix_ids[0])
        candidates = {ref.lower()}
        try:
            from certtui.core.names import parse_name

            candidates.add(parse_name(ref).value.lower())
        except CerttuiError:
            pass
        marks = ", ".join("?" for _ in candidates)
        rows = self._query(
            "SELECT DISTINCT c.id, c.revoked_at, c.seq FROM cert_names n "
            f"JOIN certificates c ON c.id = n.cert_id WHERE n.name IN ({marks}) "
            "ORDER BY c.seq DESC",
            tuple(sorted(candidates)),
        )
        live = [r[0] for r in rows if r[1] is None]
        if unique and len(live) > 1:
            raise NotFound(
                f"{ref!r} names {len(live)} certificates ({', '.join(live)}); give one of these ids"
            )
        if live:
            return self.get(live[0])
        if rows:
            return self.get(rows[0][0])
        hint = (
            f"; the serial prefix matches {', '.join(prefix_ids)}, so give more digits"
            if prefix_ids
            else "; run `certtui list` to see the ids"
        )
        raise NotFound(f"no certificate matches {ref!r}{hint}")

    # -- backup --------------------------------------------------------------------------

    def backup(self, dest: Path) -> None:
        """A consistent copy through SQLite's online backup API, written 0600."""
        try:
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:
            raise CerttuiError(f"{dest} already exists; choose a new file name") from None
        except OSError as exc:
            raise CerttuiError(f"cannot write {dest} ({exc.strerror}); choose another path") from None
        os.close(fd)
        os.chmod(dest, FILE_MODE)
        try:
            target = sqlite3.connect(dest)
            with target:
                self.conn.backup(target)
            target.close()
        except BaseException:
            _unlink_db(dest)
            raise
        with self.write():
            self.event("backup", None, str(dest))


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


def _unlink_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
