"""Revocations and CRLs in the store: marking a certificate revoked, each CA's signed CRLs."""

from __future__ import annotations

from certtui.core.store.connection import Connected


class Revocations(Connected):
    """The rows `certtui.core.revocation` and the listing's CRL warnings read and write."""

    def mark_revoked(self, cert_id: str, at: str, reason: str) -> bool:
        """Inside `write()`: the certificate revoked at `at`; False if it already was."""
        cursor = self._exec(
            "UPDATE certificates SET revoked_at = ?, revocation_reason = ? "
            "WHERE id = ? AND revoked_at IS NULL",
            (at, reason, cert_id),
        )
        return bool(cursor.rowcount)

    def revoked_under(self, ca_id: str, default_reason: str) -> list[tuple[str, str, str]]:
        """(serial in hex, revoked at, reason) of the revoked certificates the CA issued, in issue
        order; `default_reason` where none was recorded."""
        rows = self._query(
            "SELECT serial, revoked_at, COALESCE(revocation_reason, ?) FROM certificates "
            "WHERE issuer_id = ? AND id != ? AND revoked_at IS NOT NULL ORDER BY seq",
            (default_reason, ca_id, ca_id),
        )
        return [(str(serial), str(at), str(reason)) for serial, at, reason in rows]

    def next_crl_number(self, ca_id: str) -> int:
        """Inside `write()`: the number the CA's next CRL carries (1 for its first)."""
        row = self._row("SELECT COALESCE(MAX(number), 0) + 1 FROM crls WHERE issuer_id = ?", (ca_id,))
        return int(row[0]) if row else 1

    def add_crl(self, issuer_id: str, number: int, this_update: str, next_update: str, der: bytes) -> None:
        """Inside `write()`."""
        self._exec(
            "INSERT INTO crls (issuer_id, number, this_update, next_update, der) VALUES (?, ?, ?, ?, ?)",
            (issuer_id, number, this_update, next_update, der),
        )

    def latest_crl(self, ca_id: str) -> tuple[str, int, str, str, bytes] | None:
        """(issuer id, number, thisUpdate, nextUpdate, DER) of the CA's newest CRL, or None."""
        row = self._row(
            "SELECT issuer_id, number, this_update, next_update, der FROM crls "
            "WHERE issuer_id = ? ORDER BY number DESC LIMIT 1",
            (ca_id,),
        )
        return None if row is None else (row[0], int(row[1]), row[2], row[3], bytes(row[4]))

    def crl_next_updates(self, unexpired_at: str) -> list[tuple[str, str, str]]:
        """(CA id, subject, nextUpdate of its latest CRL) of each CA with a CRL that has not
        expired at `unexpired_at`, in issue order."""
        # SQLite takes the bare next_update from the row holding MAX(number): the latest CRL.
        rows = self._query(
            "SELECT c.id, c.subject, MAX(l.number), l.next_update FROM crls l "
            "JOIN certificates c ON c.id = l.issuer_id WHERE c.not_after > ? "
            "GROUP BY l.issuer_id ORDER BY c.seq",
            (unexpired_at,),
        )
        return [(str(ca_id), str(subject), str(next_update)) for ca_id, subject, _number, next_update in rows]
