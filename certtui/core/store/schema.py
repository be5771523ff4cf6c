"""The store's schema: numbered migrations, and the check that a database is certtui's own."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

from certtui.core.store.connection import _busy, _corrupt
from certtui.errors import StoreError

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
