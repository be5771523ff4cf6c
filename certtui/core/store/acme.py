"""The ACME server's tables: accounts, client keys, orders, authorizations, challenges, approvals."""

from __future__ import annotations

import json
from typing import Any

from certtui.core.store.acme_records import (
    Account,
    Approval,
    Authorization,
    Challenge,
    Order,
    Registration,
    _account,
    _approval,
    _challenge,
    _dumps,
    _order,
    _registration,
)
from certtui.core.store.connection import Tables

_ACCOUNT = "SELECT name, kid, patterns, status, created_at FROM acme_accounts"
_REG = "SELECT id, account, thumbprint, jwk, status, contact, created_at FROM acme_registrations"
_ORDER = (
    "SELECT id, registration, status, identifiers, expires, error, cert_id, created_at, replaces "
    "FROM acme_orders"
)
_AUTHZ = "SELECT id, order_id, type, value, status, expires FROM acme_authorizations"
_CHALL = "SELECT id, authz_id, type, token, status, validated, error FROM acme_challenges"
_APPROVAL = (
    "SELECT a.order_id, a.names, a.status, a.reason, a.created_at, a.decided_at, r.account "
    "FROM acme_approvals a JOIN acme_orders o ON o.id = a.order_id "
    "JOIN acme_registrations r ON r.id = o.registration"
)


class AcmeTables(Tables):
    """The rows `certtui.core.acme_state` reads and writes (`Store.acme`); a change runs inside
    the store's `write()`."""

    # -- accounts and client keys -------------------------------------------------------------

    def account(self, name: str) -> Account | None:
        row = self._row(_ACCOUNT + " WHERE name = ?", (name,))
        return None if row is None else _account(row)

    def account_by_kid(self, kid: str) -> tuple[Account, bytes] | None:
        """The account with this EAB key id, and its MAC key as sealed; None without one."""
        row = self._row(
            "SELECT name, kid, patterns, status, created_at, hmac FROM acme_accounts WHERE kid = ?", (kid,)
        )
        return None if row is None or row[5] is None else (_account(row[:5]), bytes(row[5]))

    def accounts(self) -> list[Account]:
        return [_account(r) for r in self._query(_ACCOUNT + " ORDER BY created_at, name")]

    def add_account(
        self, name: str, kid: str | None, sealed_hmac: bytes | None, patterns: tuple[str, ...], at: str
    ) -> None:
        self._exec(
            "INSERT INTO acme_accounts (name, kid, hmac, patterns, status, created_at) "
            "VALUES (?, ?, ?, ?, 'active', ?)",
            (name, kid, sealed_hmac, "\n".join(patterns), at),
        )

    def set_account_status(self, name: str, status: str) -> None:
        self._exec("UPDATE acme_accounts SET status = ? WHERE name = ?", (status, name))

    def remove_account(self, name: str) -> None:
        """The account; its client keys, orders and the rest go with it (ON DELETE CASCADE)."""
        self._exec("DELETE FROM acme_accounts WHERE name = ?", (name,))

    def registration(self, reg_id: str) -> Registration | None:
        row = self._row(_REG + " WHERE id = ?", (reg_id,))
        return None if row is None else _registration(row)

    def registration_by_thumbprint(self, thumbprint: str) -> Registration | None:
        row = self._row(_REG + " WHERE thumbprint = ?", (thumbprint,))
        return None if row is None else _registration(row)

    def add_registration(
        self, reg_id: str, account: str, thumbprint: str, jwk: str, contact: tuple[str, ...], at: str
    ) -> None:
        self._exec(
            "INSERT INTO acme_registrations (id, account, thumbprint, jwk, status, contact, created_at) "
            "VALUES (?, ?, ?, ?, 'valid', ?, ?)",
            (reg_id, account, thumbprint, jwk, "\n".join(contact), at),
        )

    def update_registration(
        self,
        reg_id: str,
        *,
        contact: tuple[str, ...] | None = None,
        status: str | None = None,
        key: tuple[str, str] | None = None,
    ) -> None:
        """Change what is given of the client key's contacts, status and key (thumbprint, JWK)."""
        if contact is not None:
            self._exec("UPDATE acme_registrations SET contact = ? WHERE id = ?", ("\n".join(contact), reg_id))
        if status is not None:
            self._exec("UPDATE acme_registrations SET status = ? WHERE id = ?", (status, reg_id))
        if key is not None:
            self._exec("UPDATE acme_registrations SET thumbprint = ?, jwk = ? WHERE id = ?", (*key, reg_id))

    # -- orders, authorizations, challenges --------------------------------------------------

    def add_order(
        self,
        order_id: str,
        reg_id: str,
        identifiers: list[tuple[str, str]],
        expires: str,
        at: str,
        replaces: str | None,
    ) -> None:
        self._exec(
            "INSERT INTO acme_orders (id, registration, status, identifiers, expires, created_at, replaces) "
            "VALUES (?, ?, 'pending', ?, ?, ?, ?)",
            (
                order_id,
                reg_id,
                json.dumps([{"type": t, "value": v} for t, v in identifiers]),
                expires,
                at,
                replaces,
            ),
        )

    def add_authorization(self, authz_id: str, order_id: str, typ: str, value: str, expires: str) -> None:
        self._exec(
            "INSERT INTO acme_authorizations (id, order_id, type, value, status, expires) "
            "VALUES (?, ?, ?, ?, 'pending', ?)",
            (authz_id, order_id, typ, value, expires),
        )

    def add_challenge(self, chall_id: str, authz_id: str, typ: str, token: str) -> None:
        self._exec(
            "INSERT INTO acme_challenges (id, authz_id, type, token, status) VALUES (?, ?, ?, ?, 'pending')",
            (chall_id, authz_id, typ, token),
        )

    def order(self, order_id: str) -> Order | None:
        row = self._row(_ORDER + " WHERE id = ?", (order_id,))
        return None if row is None else _order(row)

    def orders_of(self, reg_id: str) -> list[Order]:
        return [
            _order(r) for r in self._query(_ORDER + " WHERE registration = ? ORDER BY created_at", (reg_id,))
        ]

    def orders_in(self, status: str) -> list[Order]:
        return [_order(r) for r in self._query(_ORDER + " WHERE status = ?", (status,))]

    def order_of_certificate(self, cert_id: str) -> Order | None:
        row = self._row(_ORDER + " WHERE cert_id = ?", (cert_id,))
        return None if row is None else _order(row)

    def newest_orders(self, limit: int) -> list[tuple[str, str]]:
        """(order id, account name) of the newest orders, newest first."""
        rows = self._query(
            "SELECT o.id, r.account FROM acme_orders o JOIN acme_registrations r ON r.id = o.registration "
            "ORDER BY o.created_at DESC, o.rowid DESC LIMIT ?",
            (limit,),
        )
        return [(str(r[0]), str(r[1])) for r in rows]

    def order_counts(self) -> dict[str, int]:
        """Account name -> how many orders its client keys placed (accounts with none left out)."""
        rows = self._query(
            "SELECT r.account, COUNT(*) FROM acme_orders o JOIN acme_registrations r "
            "ON r.id = o.registration GROUP BY r.account"
        )
        return {str(name): int(count) for name, count in rows}

    def certificates_by_account(self) -> dict[str, list[str]]:
        """Account name -> the ids of the certificates it got (origin `acme:<name>`), oldest first."""
        out: dict[str, list[str]] = {}
        for cert_id, origin in self._query(
            "SELECT id, origin FROM certificates WHERE origin LIKE 'acme:%' ORDER BY not_before"
        ):
            out.setdefault(origin.removeprefix("acme:"), []).append(cert_id)
        return out

    def certificates(self) -> list[str]:
        """The ids of the certificates issued through orders."""
        return [r[0] for r in self._query("SELECT cert_id FROM acme_orders WHERE cert_id IS NOT NULL")]

    def authorizations(self, order_id: str) -> list[Authorization]:
        return [
            Authorization(*r) for r in self._query(_AUTHZ + " WHERE order_id = ? ORDER BY rowid", (order_id,))
        ]

    def authorization(self, authz_id: str) -> Authorization | None:
        row = self._row(_AUTHZ + " WHERE id = ?", (authz_id,))
        return None if row is None else Authorization(*row)

    def challenges(self, authz_id: str) -> list[Challenge]:
        return [
            _challenge(r) for r in self._query(_CHALL + " WHERE authz_id = ? ORDER BY rowid", (authz_id,))
        ]

    def challenge(self, chall_id: str) -> Challenge | None:
        row = self._row(_CHALL + " WHERE id = ?", (chall_id,))
        return None if row is None else _challenge(row)

    def processing_challenges(self, order_id: str | None = None) -> list[Challenge]:
        """Challenges in `processing`, of every order or of one."""
        if order_id is None:
            return [_challenge(r) for r in self._query(_CHALL + " WHERE status = 'processing'")]
        rows = self._query(
            _CHALL + " WHERE status = 'processing' AND authz_id IN "
            "(SELECT id FROM acme_authorizations WHERE order_id = ?)",
            (order_id,),
        )
        return [_challenge(r) for r in rows]

    def start_challenge(self, chall_id: str) -> bool:
        """pending -> processing; False if it was not pending."""
        cursor = self._exec(
            "UPDATE acme_challenges SET status = 'processing' WHERE id = ? AND status = 'pending'",
            (chall_id,),
        )
        return bool(cursor.rowcount)

    def finish_challenge(
        self, chall: Challenge, authz: Authorization, error: dict[str, Any] | None, at: str
    ) -> None:
        """The challenge valid (error None) or invalid, and its pending authorization with it; an
        error is the order's too."""
        if error is None:
            self._exec(
                "UPDATE acme_challenges SET status = 'valid', validated = ? WHERE id = ?", (at, chall.id)
            )
        else:
            self._exec(
                "UPDATE acme_challenges SET status = 'invalid', error = ? WHERE id = ?",
                (_dumps(error), chall.id),
            )
            self._exec("UPDATE acme_orders SET error = ? WHERE id = ?", (_dumps(error), authz.order_id))
        self._exec(
            "UPDATE acme_authorizations SET status = ? WHERE id = ? AND status = 'pending'",
            ("valid" if error is None else "invalid", authz.id),
        )

    def deactivate_authorization(self, authz_id: str) -> None:
        self._exec("UPDATE acme_authorizations SET status = 'deactivated' WHERE id = ?", (authz_id,))

    def authorization_states(self, order_id: str) -> set[str]:
        """The statuses the order's authorizations are in."""
        return {
            r[0]
            for r in self._query("SELECT status FROM acme_authorizations WHERE order_id = ?", (order_id,))
        }

    def fail_order(self, order_id: str, error: dict[str, Any]) -> None:
        """A pending or ready order invalid; an error it already has stays."""
        self._exec(
            "UPDATE acme_orders SET status = 'invalid', error = COALESCE(error, ?) "
            "WHERE id = ? AND status IN ('pending', 'ready')",
            (_dumps(error), order_id),
        )

    def ready_order(self, order_id: str) -> None:
        """A pending order ready to be finalized."""
        self._exec("UPDATE acme_orders SET status = 'ready' WHERE id = ? AND status = 'pending'", (order_id,))

    def set_order(
        self, order_id: str, status: str, cert_id: str | None, error: dict[str, Any] | None
    ) -> None:
        """The order's status; its certificate and error only where given."""
        self._exec(
            "UPDATE acme_orders SET status = ?, cert_id = COALESCE(?, cert_id), "
            "error = COALESCE(?, error) WHERE id = ?",
            (status, cert_id, _dumps(error), order_id),
        )

    def claim_order(self, order_id: str) -> bool:
        """ready -> processing; False if the order was not ready."""
        cursor = self._exec(
            "UPDATE acme_orders SET status = 'processing' WHERE id = ? AND status = 'ready'", (order_id,)
        )
        return bool(cursor.rowcount)

    def reopen_processing_orders(self) -> None:
        """Every order in `processing` ready again."""
        self._exec("UPDATE acme_orders SET status = 'ready' WHERE status = 'processing'")

    def order_issued(self, order_id: str, cert_id: str) -> None:
        """The order valid with its certificate, and the certificate it replaces (if any, and not
        renewed yet) renewed by it."""
        self._exec("UPDATE acme_orders SET status = 'valid', cert_id = ? WHERE id = ?", (cert_id, order_id))
        row = self._row("SELECT replaces FROM acme_orders WHERE id = ?", (order_id,))
        if row and row[0]:
            self._exec(
                "UPDATE certificates SET renewed_by = ? WHERE id = ? AND renewed_by IS NULL",
                (cert_id, row[0]),
            )

    def refuse_order(self, order_id: str, error: dict[str, Any]) -> None:
        """The order's open challenges, its pending authorizations and itself invalid, with the
        error; its approval applied."""
        text = _dumps(error)
        self._exec(
            "UPDATE acme_challenges SET status = 'invalid', error = ? "
            "WHERE status IN ('pending', 'processing') "
            "AND authz_id IN (SELECT id FROM acme_authorizations WHERE order_id = ?)",
            (text, order_id),
        )
        self._exec(
            "UPDATE acme_authorizations SET status = 'invalid' WHERE order_id = ? AND status = 'pending'",
            (order_id,),
        )
        self._exec(
            "UPDATE acme_orders SET status = 'invalid', error = ? "
            "WHERE id = ? AND status IN ('pending', 'ready')",
            (text, order_id),
        )
        self.applied(order_id)

    # -- renewal information (RFC 9773) and the approval queue -----------------------------------

    def mark_renew_early(self, cert_id: str, at: str) -> None:
        self._exec(
            "INSERT INTO acme_renew_early (cert_id, marked_at) VALUES (?, ?) "
            "ON CONFLICT (cert_id) DO UPDATE SET marked_at = excluded.marked_at",
            (cert_id, at),
        )

    def renew_early_marks(self) -> dict[str, str]:
        """cert id -> when it was marked for early renewal."""
        return {r[0]: r[1] for r in self._query("SELECT cert_id, marked_at FROM acme_renew_early")}

    def add_approval(self, order_id: str, names: list[str], at: str) -> None:
        self._exec(
            "INSERT INTO acme_approvals (order_id, names, status, created_at) VALUES (?, ?, 'waiting', ?)",
            (order_id, "\n".join(names), at),
        )

    def approval(self, order_id: str) -> Approval | None:
        row = self._row(_APPROVAL + " WHERE a.order_id = ?", (order_id,))
        return None if row is None else _approval(row)

    def approvals(self, *, waiting_only: bool) -> list[Approval]:
        """The approval queue by age: only orders still waiting, or every decision too."""
        where = " WHERE a.status = 'waiting' AND o.status = 'pending'" if waiting_only else ""
        return [_approval(r) for r in self._query(_APPROVAL + where + " ORDER BY a.created_at, a.order_id")]

    def decided(self) -> list[Approval]:
        """Decisions not applied yet."""
        return [
            _approval(r) for r in self._query(_APPROVAL + " WHERE a.status != 'waiting' AND a.applied = 0")
        ]

    def decide(self, order_id: str, approve: bool, reason: str, at: str) -> bool:
        """The operator's decision on a waiting order; False if it was not waiting."""
        cursor = self._exec(
            "UPDATE acme_approvals SET status = ?, reason = ?, decided_at = ? "
            "WHERE order_id = ? AND status = 'waiting'",
            ("approved" if approve else "refused", reason, at, order_id),
        )
        return bool(cursor.rowcount)

    def applied(self, order_id: str) -> None:
        self._exec("UPDATE acme_approvals SET applied = 1 WHERE order_id = ?", (order_id,))
