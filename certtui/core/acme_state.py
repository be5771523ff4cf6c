"""The ACME server's state in the store: invited accounts, client keys, orders, authorizations."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, NotFound

# 128 random bits per URL id (accounts, orders, authorizations, challenges) and per token:
# RFC 8555 section 8.1 asks for at least 128 bits of entropy in a challenge token.
ID_BYTES = 16
# EAB key ids are shorter, they are typed or pasted once: 96 bits still cannot be guessed.
KID_BYTES = 12
# The EAB MAC key: 256 bits, the size of an HMAC-SHA256 block's output.
HMAC_BYTES = 32


def new_id(nbytes: int = ID_BYTES) -> str:
    """A random base64url id that does not start with `-`: an EAB key id is typed after a flag
    (`certbot --eab-kid KID`, `lego --kid KID`), where a leading `-` reads as another option."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token


def new_hmac_key() -> bytes:
    """A 256-bit EAB MAC key whose base64url form does not start with `-` (see `new_id`)."""
    while True:
        key = secrets.token_bytes(HMAC_BYTES)
        if not base64.urlsafe_b64encode(key).startswith(b"-"):
            return key


@dataclass(frozen=True)
class Account:
    """An invited account (EAB), or one made by open registration (`kid` None)."""

    name: str
    kid: str | None
    patterns: tuple[str, ...]
    status: str
    created_at: str


@dataclass(frozen=True)
class Registration:
    """One ACME client key bound to an account; its id is the end of the account URL."""

    id: str
    account: str
    thumbprint: str
    jwk: str
    status: str
    contact: tuple[str, ...]
    created_at: str


@dataclass(frozen=True)
class Order:
    id: str
    registration: str
    status: str
    identifiers: tuple[tuple[str, str], ...]
    expires: str
    error: dict[str, Any] | None
    cert_id: str | None
    created_at: str
    # The store id of the certificate this order renews (RFC 9773 `replaces`).
    replaces: str | None = None


@dataclass(frozen=True)
class Authorization:
    id: str
    order_id: str
    type: str
    value: str
    status: str
    expires: str


@dataclass(frozen=True)
class Challenge:
    id: str
    authz_id: str
    type: str
    token: str
    status: str
    validated: str | None
    error: dict[str, Any] | None


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


# -- accounts --------------------------------------------------------------------------------


def _account(row: tuple[Any, ...]) -> Account:
    return Account(row[0], row[1], tuple(row[2].split("\n")) if row[2] else (), row[3], row[4])


_ACCOUNT = "SELECT name, kid, patterns, status, created_at FROM acme_accounts"


def add_account(
    store: Store, name: str, patterns: tuple[str, ...], *, invited: bool
) -> tuple[Account, bytes]:
    """Create an account; an invited one gets an EAB key id and MAC key (returned, stored sealed)."""
    kid = new_id(KID_BYTES) if invited else None
    hmac = new_hmac_key() if invited else b""
    with store.write():
        if store.conn.execute("SELECT 1 FROM acme_accounts WHERE name = ?", (name,)).fetchone():
            raise CerttuiError(
                f"an ACME account named {name!r} exists already; pick another name or remove it first"
            )
        sealed = store.seal_secret(f"acme-eab:{name}", hmac) if invited else None
        store.conn.execute(
            "INSERT INTO acme_accounts (name, kid, hmac, patterns, status, created_at) "
            "VALUES (?, ?, ?, ?, 'active', ?)",
            (name, kid, sealed, "\n".join(patterns), iso(utcnow())),
        )
        store.event("acme-account-add", None, f"{name}: {', '.join(patterns)}")
    return account(store, name), hmac


def account(store: Store, name: str) -> Account:
    row = store.conn.execute(_ACCOUNT + " WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no ACME account named {name!r}; `certtui acme account list` shows them")
    return _account(row)


def account_by_kid(store: Store, kid: str) -> tuple[Account, bytes] | None:
    """The account with this EAB key id and its MAC key (unsealed), or None."""
    row = store.conn.execute(
        "SELECT name, kid, patterns, status, created_at, hmac FROM acme_accounts WHERE kid = ?", (kid,)
    ).fetchone()
    if row is None or row[5] is None:
        return None
    return _account(row[:5]), store.unseal_secret(f"acme-eab:{row[0]}", bytes(row[5]))


def accounts(store: Store) -> list[Account]:
    return [_account(r) for r in store.conn.execute(_ACCOUNT + " ORDER BY created_at, name")]


def set_account_status(store: Store, name: str, status: str) -> Account:
    account(store, name)
    with store.write():
        store.conn.execute("UPDATE acme_accounts SET status = ? WHERE name = ?", (status, name))
        store.event(f"acme-account-{'disable' if status == 'disabled' else 'enable'}", None, name)
    return account(store, name)


def remove_account(store: Store, name: str) -> None:
    """Delete the account, its client keys and its orders; certificates it got stay in the store."""
    account(store, name)
    with store.write():
        store.conn.execute("DELETE FROM acme_accounts WHERE name = ?", (name,))
        store.event("acme-account-remove", None, name)


# -- registrations (client keys) -------------------------------------------------------------

_REG = "SELECT id, account, thumbprint, jwk, status, contact, created_at FROM acme_registrations"


def _registration(row: tuple[Any, ...]) -> Registration:
    return Registration(
        row[0], row[1], row[2], row[3], row[4], tuple(row[5].split("\n")) if row[5] else (), row[6]
    )


def registration(store: Store, reg_id: str) -> Registration | None:
    row = store.conn.execute(_REG + " WHERE id = ?", (reg_id,)).fetchone()
    return None if row is None else _registration(row)


def registration_by_thumbprint(store: Store, thumbprint: str) -> Registration | None:
    row = store.conn.execute(_REG + " WHERE thumbprint = ?", (thumbprint,)).fetchone()
    return None if row is None else _registration(row)


def add_registration(
    store: Store,
    account_name: str,
    thumbprint: str,
    jwk: str,
    contact: tuple[str, ...],
    *,
    open_account: tuple[str, ...] | None = None,
) -> Registration:
    """Bind a client key to an account; `open_account` (its patterns) creates the account too."""
    reg_id = new_id()
    now = iso(utcnow())
    with store.write():
        if open_account is not None:
            store.conn.execute(
                "INSERT INTO acme_accounts (name, kid, hmac, patterns, status, created_at) "
                "VALUES (?, NULL, NULL, ?, 'active', ?)",
                (account_name, "\n".join(open_account), now),
            )
        store.conn.execute(
            "INSERT INTO acme_registrations (id, account, thumbprint, jwk, status, contact, created_at) "
            "VALUES (?, ?, ?, ?, 'valid', ?, ?)",
            (reg_id, account_name, thumbprint, jwk, "\n".join(contact), now),
        )
        store.event("acme-register", None, f"{account_name}: client key {thumbprint[:16]}")
    found = registration(store, reg_id)
    assert found is not None
    return found


def update_registration(
    store: Store,
    reg_id: str,
    *,
    contact: tuple[str, ...] | None = None,
    status: str | None = None,
    key: tuple[str, str] | None = None,
) -> Registration:
    """Change contacts, deactivate, or roll the key (thumbprint, JWK) of a client key."""
    with store.write():
        if contact is not None:
            store.conn.execute(
                "UPDATE acme_registrations SET contact = ? WHERE id = ?", ("\n".join(contact), reg_id)
            )
        if status is not None:
            store.conn.execute("UPDATE acme_registrations SET status = ? WHERE id = ?", (status, reg_id))
            store.event("acme-deactivate", None, f"client key of account URL {reg_id}")
        if key is not None:
            store.conn.execute(
                "UPDATE acme_registrations SET thumbprint = ?, jwk = ? WHERE id = ?", (*key, reg_id)
            )
            store.event("acme-key-change", None, f"account URL {reg_id}: new key {key[0][:16]}")
    found = registration(store, reg_id)
    assert found is not None
    return found


# -- orders, authorizations, challenges ------------------------------------------------------

_ORDER = (
    "SELECT id, registration, status, identifiers, expires, error, cert_id, created_at, replaces "
    "FROM acme_orders"
)


def _order(row: tuple[Any, ...]) -> Order:
    ids = tuple((i["type"], i["value"]) for i in json.loads(row[3]))
    return Order(row[0], row[1], row[2], ids, row[4], _loads(row[5]), row[6], row[7], row[8])


def create_order(
    store: Store,
    reg_id: str,
    identifiers: list[tuple[str, str]],
    expires: datetime,
    challenge_types: Callable[[str, str], tuple[str, ...]],
    replaces: str | None = None,
    waiting_for: list[str] | None = None,
) -> Order:
    """An order with one pending authorization per identifier and one challenge per type that
    `challenge_types(type, value)` offers it (a wildcard keeps its `*.` in the value)."""
    order_id = new_id()
    when = iso(expires)
    with store.write():
        store.conn.execute(
            "INSERT INTO acme_orders (id, registration, status, identifiers, expires, created_at, replaces) "
            "VALUES (?, ?, 'pending', ?, ?, ?, ?)",
            (
                order_id,
                reg_id,
                json.dumps([{"type": t, "value": v} for t, v in identifiers]),
                when,
                iso(utcnow()),
                replaces,
            ),
        )
        if waiting_for:
            store.conn.execute(
                "INSERT INTO acme_approvals (order_id, names, status, created_at) "
                "VALUES (?, ?, 'waiting', ?)",
                (order_id, "\n".join(waiting_for), iso(utcnow())),
            )
            store.event("acme-approval-wait", None, f"order {order_id}: {', '.join(waiting_for)}")
        for typ, value in identifiers:
            authz_id = new_id()
            store.conn.execute(
                "INSERT INTO acme_authorizations (id, order_id, type, value, status, expires) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                (authz_id, order_id, typ, value, when),
            )
            for ctype in challenge_types(typ, value):
                store.conn.execute(
                    "INSERT INTO acme_challenges (id, authz_id, type, token, status) "
                    "VALUES (?, ?, ?, ?, 'pending')",
                    (new_id(), authz_id, ctype, new_id()),
                )
    found = order(store, order_id)
    assert found is not None
    return found


def order(store: Store, order_id: str) -> Order | None:
    row = store.conn.execute(_ORDER + " WHERE id = ?", (order_id,)).fetchone()
    return None if row is None else _order(row)


def orders_of(store: Store, reg_id: str) -> list[Order]:
    return [
        _order(r)
        for r in store.conn.execute(_ORDER + " WHERE registration = ? ORDER BY created_at", (reg_id,))
    ]


def authorizations(store: Store, order_id: str) -> list[Authorization]:
    rows = store.conn.execute(
        "SELECT id, order_id, type, value, status, expires FROM acme_authorizations "
        "WHERE order_id = ? ORDER BY rowid",
        (order_id,),
    )
    return [Authorization(*r) for r in rows]


def authorization(store: Store, authz_id: str) -> Authorization | None:
    row = store.conn.execute(
        "SELECT id, order_id, type, value, status, expires FROM acme_authorizations WHERE id = ?", (authz_id,)
    ).fetchone()
    return None if row is None else Authorization(*row)


_CHALL = "SELECT id, authz_id, type, token, status, validated, error FROM acme_challenges"


def _challenge(row: tuple[Any, ...]) -> Challenge:
    return Challenge(row[0], row[1], row[2], row[3], row[4], row[5], _loads(row[6]))


def challenges(store: Store, authz_id: str) -> list[Challenge]:
    return [
        _challenge(r) for r in store.conn.execute(_CHALL + " WHERE authz_id = ? ORDER BY rowid", (authz_id,))
    ]


def challenge(store: Store, chall_id: str) -> Challenge | None:
    row = store.conn.execute(_CHALL + " WHERE id = ?", (chall_id,)).fetchone()
    return None if row is None else _challenge(row)


def processing_challenges(store: Store) -> list[Challenge]:
    """Challenges a previous run was validating when it stopped: the server takes them up again."""
    return [_challenge(r) for r in store.conn.execute(_CHALL + " WHERE status = 'processing'")]


def start_challenge(store: Store, chall_id: str) -> bool:
    """pending -> processing; False if it was not pending (another request started it)."""
    with store.write():
        return bool(
            store.conn.execute(
                "UPDATE acme_challenges SET status = 'processing' WHERE id = ? AND status = 'pending'",
                (chall_id,),
            ).rowcount
        )


def _refresh_order(store: Store, order_id: str) -> None:
    """Inside `write()`: pending -> ready once every authorization is valid, invalid if one is."""
    states = {
        r[0]
        for r in store.conn.execute("SELECT status FROM acme_authorizations WHERE order_id = ?", (order_id,))
    }
    if states - {"valid", "pending"}:
        store.conn.execute(
            "UPDATE acme_orders SET status = 'invalid', error = COALESCE(error, ?) "
            "WHERE id = ? AND status IN ('pending', 'ready')",
            (
                json.dumps(
                    {
                        "type": "urn:ietf:params:acme:error:unauthorized",
                        "detail": "an authorization of this order failed",
                    }
                ),
                order_id,
            ),
        )
    elif states == {"valid"}:
        store.conn.execute(
            "UPDATE acme_orders SET status = 'ready' WHERE id = ? AND status = 'pending'", (order_id,)
        )


def finish_challenge(store: Store, chall: Challenge, error: dict[str, Any] | None, detail: str) -> None:
    """processing -> valid (error None) or invalid; the authorization and the order follow."""
    authz = authorization(store, chall.authz_id)
    assert authz is not None
    with store.write():
        if error is None:
            store.conn.execute(
                "UPDATE acme_challenges SET status = 'valid', validated = ? WHERE id = ?",
                (iso(utcnow()), chall.id),
            )
            store.conn.execute(
                "UPDATE acme_authorizations SET status = 'valid' WHERE id = ? AND status = 'pending'",
                (authz.id,),
            )
        else:
            store.conn.execute(
                "UPDATE acme_challenges SET status = 'invalid', error = ? WHERE id = ?",
                (json.dumps(error), chall.id),
            )
            store.conn.execute(
                "UPDATE acme_authorizations SET status = 'invalid' WHERE id = ? AND status = 'pending'",
                (authz.id,),
            )
            store.conn.execute(
                "UPDATE acme_orders SET error = ? WHERE id = ?", (json.dumps(error), authz.order_id)
            )
        _refresh_order(store, authz.order_id)
        store.event("acme-validate", None, detail)


def deactivate_authorization(store: Store, authz_id: str) -> None:
    authz = authorization(store, authz_id)
    assert authz is not None
    with store.write():
        store.conn.execute("UPDATE acme_authorizations SET status = 'deactivated' WHERE id = ?", (authz_id,))
        _refresh_order(store, authz.order_id)


def set_order(
    store: Store,
    order_id: str,
    status: str,
    *,
    cert_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    with store.write():
        store.conn.execute(
            "UPDATE acme_orders SET status = ?, cert_id = COALESCE(?, cert_id), "
            "error = COALESCE(?, error) WHERE id = ?",
            (status, cert_id, None if error is None else json.dumps(error), order_id),
        )


def order_issued(store: Store, order_id: str, cert_id: str) -> None:
    """Inside the `write()` that stores the certificate: the order is valid with it, and the
    certificate it replaces (if any) is renewed by it, as `certtui renew` links them."""
    store.conn.execute(
        "UPDATE acme_orders SET status = 'valid', cert_id = ? WHERE id = ?", (cert_id, order_id)
    )
    row = store.conn.execute("SELECT replaces FROM acme_orders WHERE id = ?", (order_id,)).fetchone()
    if row and row[0]:
        store.conn.execute(
            "UPDATE certificates SET renewed_by = ? WHERE id = ? AND renewed_by IS NULL", (cert_id, row[0])
        )


# -- renewal information (RFC 9773) ----------------------------------------------------------


def cert_by_serial(store: Store, serial: int) -> str | None:
    """The id of the certificate certtui signed with this serial, or None."""
    row = store.conn.execute(
        "SELECT id FROM certificates WHERE serial = ? AND external = 0", (format(serial, "x"),)
    ).fetchone()
    return None if row is None else str(row[0])


def mark_renew_early(store: Store, cert_ids: list[str]) -> str:
    """Mark certificates (leaves, or CAs: everything under them) for early renewal; the time."""
    now = iso(utcnow())
    with store.write():
        for cert_id in cert_ids:
            store.conn.execute(
                "INSERT INTO acme_renew_early (cert_id, marked_at) VALUES (?, ?) "
                "ON CONFLICT (cert_id) DO UPDATE SET marked_at = excluded.marked_at",
                (cert_id, now),
            )
            store.event("acme-renew-early", cert_id, "renewal window moved to the past (ARI)")
    return now


def renew_early_marks(store: Store) -> dict[str, str]:
    """cert id -> when it was marked for early renewal."""
    return {r[0]: r[1] for r in store.conn.execute("SELECT cert_id, marked_at FROM acme_renew_early")}


def acme_certificates(store: Store) -> list[str]:
    """The ids of the certificates issued through orders (the ones ARI speaks of)."""
    return [r[0] for r in store.conn.execute("SELECT cert_id FROM acme_orders WHERE cert_id IS NOT NULL")]


def claim_for_finalize(store: Store, order_id: str) -> bool:
    """ready -> processing; False if the order was not ready (a second finalize, say)."""
    with store.write():
        return bool(
            store.conn.execute(
                "UPDATE acme_orders SET status = 'processing' WHERE id = ? AND status = 'ready'", (order_id,)
            ).rowcount
        )


def interrupted_orders(store: Store) -> list[Order]:
    """Orders a previous run was signing when it stopped (nothing was stored for them)."""
    return [_order(r) for r in store.conn.execute(_ORDER + " WHERE status = 'processing'")]


def order_of_certificate(store: Store, cert_id: str) -> tuple[Order, Registration] | None:
    """The order that got this certificate, and the client key that placed it."""
    row = store.conn.execute(_ORDER + " WHERE cert_id = ?", (cert_id,)).fetchone()
    if row is None:
        return None
    o = _order(row)
    reg = registration(store, o.registration)
    return None if reg is None else (o, reg)


# -- the approval queue (`certtui acme --approve new-names`) ---------------------------------

# What an authorization of an order in the queue says while it waits.
WAITING = "waiting for approval in certtui"


@dataclass(frozen=True)
class Approval:
    order_id: str
    names: tuple[str, ...]
    status: str
    reason: str
    created_at: str
    decided_at: str | None
    account: str


_APPROVAL = (
    "SELECT a.order_id, a.names, a.status, a.reason, a.created_at, a.decided_at, r.account "
    "FROM acme_approvals a JOIN acme_orders o ON o.id = a.order_id "
    "JOIN acme_registrations r ON r.id = o.registration"
)


def _approval(row: tuple[Any, ...]) -> Approval:
    return Approval(row[0], tuple(row[1].split("\n")), row[2], row[3], row[4], row[5], row[6])


def new_names(store: Store, values: list[str]) -> list[str]:
    """The names no certificate of the store has carried."""
    return [
        v
        for v in values
        if store.conn.execute("SELECT 1 FROM cert_names WHERE name = ?", (v,)).fetchone() is None
    ]


def approval(store: Store, order_id: str) -> Approval | None:
    row = store.conn.execute(_APPROVAL + " WHERE a.order_id = ?", (order_id,)).fetchone()
    return None if row is None else _approval(row)


def approvals(store: Store, *, waiting_only: bool = True) -> list[Approval]:
    where = " WHERE a.status = 'waiting' AND o.status = 'pending'" if waiting_only else ""
    return [
        _approval(r) for r in store.conn.execute(_APPROVAL + where + " ORDER BY a.created_at, a.order_id")
    ]


def find_waiting(store: Store, ref: str) -> Approval:
    """The waiting order `ref` names (its id, or a unique prefix of six or more characters)."""
    ref = ref.strip()
    found = [
        a for a in approvals(store) if a.order_id == ref or (len(ref) >= 6 and a.order_id.startswith(ref))
    ]
    if not found:
        raise NotFound(f"no order waiting for approval is {ref!r}; `certtui acme pending` lists them")
    if len(found) > 1:
        raise CerttuiError(f"{ref!r} matches {len(found)} waiting orders; give more of the id")
    return found[0]


def decide(store: Store, order_id: str, approve: bool, reason: str) -> Approval:
    """Record the operator's decision; the server applies it within a second or two."""
    with store.write():
        changed = store.conn.execute(
            "UPDATE acme_approvals SET status = ?, reason = ?, decided_at = ? "
            "WHERE order_id = ? AND status = 'waiting'",
            ("approved" if approve else "refused", reason, iso(utcnow()), order_id),
        ).rowcount
        if not changed:
            raise CerttuiError(f"order {order_id} is not waiting for approval any more")
        store.event(
            "acme-approve" if approve else "acme-refuse",
            None,
            f"order {order_id}" + (f": {reason}" if reason else ""),
        )
    found = approval(store, order_id)
    assert found is not None
    return found


def decided(store: Store) -> list[Approval]:
    """Decisions the server has not applied yet."""
    return [
        _approval(r) for r in store.conn.execute(_APPROVAL + " WHERE a.status != 'waiting' AND a.applied = 0")
    ]


def waiting_challenges(store: Store, order_id: str) -> list[Challenge]:
    """The order's challenges a client triggered while it waited (held in `processing`)."""
    return [
        _challenge(r)
        for r in store.conn.execute(
            _CHALL + " WHERE status = 'processing' AND authz_id IN "
            "(SELECT id FROM acme_authorizations WHERE order_id = ?)",
            (order_id,),
        )
    ]


def applied(store: Store, order_id: str) -> None:
    with store.write():
        store.conn.execute("UPDATE acme_approvals SET applied = 1 WHERE order_id = ?", (order_id,))


def refuse_order(store: Store, order_id: str, error: dict[str, Any]) -> None:
    """A refused order: its challenges, authorizations and itself invalid, with the reason."""
    text = json.dumps(error)
    with store.write():
        store.conn.execute(
            "UPDATE acme_challenges SET status = 'invalid', error = ? "
            "WHERE status IN ('pending', 'processing') "
            "AND authz_id IN (SELECT id FROM acme_authorizations WHERE order_id = ?)",
            (text, order_id),
        )
        store.conn.execute(
            "UPDATE acme_authorizations SET status = 'invalid' WHERE order_id = ? AND status = 'pending'",
            (order_id,),
        )
        store.conn.execute(
            "UPDATE acme_orders SET status = 'invalid', error = ? "
            "WHERE id = ? AND status IN ('pending', 'ready')",
            (text, order_id),
        )
        store.conn.execute("UPDATE acme_approvals SET applied = 1 WHERE order_id = ?", (order_id,))
