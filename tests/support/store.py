"""The test stores' passphrase, and a check that a store is whole (after a kill, a race, a restore)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

PASSPHRASE = "correct horse battery staple"
"""The secret the `passphrase_file` fixture writes (its first line)."""


def store_is_whole(db: Path) -> tuple[int, int]:
    """Assert the store is whole (after a kill, say): integrity, key pairing, unique serials;
    return (certificates, keys)."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every certificate issued here has its key row ...
        assert (
            conn.execute(
                "SELECT c.id FROM certificates c LEFT JOIN keys k ON k.id = c.key_id "
                "WHERE c.key_id IS NULL OR k.id IS NULL"
            ).fetchall()
            == []
        )
        # ... and every key row its certificate: none is left pending.
        assert (
            conn.execute(
                "SELECT k.id FROM keys k LEFT JOIN certificates c ON c.key_id = k.id WHERE c.id IS NULL"
            ).fetchall()
            == []
        )
        # Names and the audit event came in the same transaction as the certificate.
        assert (
            conn.execute(
                "SELECT n.cert_id FROM cert_names n LEFT JOIN certificates c ON c.id = n.cert_id "
                "WHERE c.id IS NULL"
            ).fetchall()
            == []
        )
        certs = conn.execute("SELECT count(*) FROM certificates").fetchone()[0]
        made = "SELECT count(*) FROM events WHERE action IN ('init', 'issue')"
        assert conn.execute(made).fetchone()[0] == certs
        serials = [r[0] for r in conn.execute("SELECT serial FROM certificates")]
        assert len(set(serials)) == len(serials)
        keys = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
        return certs, keys
