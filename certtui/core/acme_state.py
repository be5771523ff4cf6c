"""The ACME server's state in the store: invited accounts, client keys, orders, authorizations."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from certtui.core.store import Store
from certtui.core.store.acme_records import Account, Approval, Authorization, Challenge, Order, Registration
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


# -- accounts --------------------------------------------------------------------------------


def add_account(
    store: Store, name: str, patterns: tuple[str, ...], *, invited: bool
) -> tuple[Account, bytes]:
    """Create an account; an invited one gets an EAB key id and MAC key (returned, stored sealed)."""
    kid = new_id(KID_BYTES) if invited else None
    hmac = new_hmac_key() if invited else b""
    with store.write():
        if store.acme.account(name) is not None:
            raise CerttuiError(
                f"an ACME account named {name!r} exists already; pick another name or remove it first"
            )
        sealed = store.seal_secret(f"acme-eab:{name}", hmac) if invited else None
        store.acme.add_account(name, kid, sealed, patterns, iso(utcnow()))
        store.event("acme-account-add", None, f"{name}: {', '.join(patterns)}")
    return account(store, name), hmac


def account(store: Store, name: str) -> Account:
    found = store.acme.account(name)
    if found is None:
        raise NotFound(f"no ACME account named {name!r}; `certtui acme account list` shows them")
    return found


def account_by_kid(store: Store, kid: str) -> tuple[Account, bytes] | None:
    """The account with this EAB key id and its MAC key (unsealed), or None."""
    found = store.acme.account_by_kid(kid)
    if found is None:
        return None
    acct, sealed = found
    return acct, store.unseal_secret(f"acme-eab:{acct.name}", sealed)


def accounts(store: Store) -> list[Account]:
    return store.acme.accounts()


def set_account_status(store: Store, name: str, status: str) -> Account:
    account(store, name)
    with store.write():
        store.acme.set_account_status(name, status)
        store.event(f"acme-account-{'disable' if status == 'disabled' else 'enable'}", None, name)
    return account(store, name)


def remove_account(store: Store, name: str) -> None:
    """Delete the account, its client keys and its orders; certificates it got stay in the store."""
    account(store, name)
    with store.write():
        store.acme.remove_account(name)
        store.event("acme-account-remove", None, name)


# -- registrations (client keys) -------------------------------------------------------------


def registration(store: Store, reg_id: str) -> Registration | None:
    return store.acme.registration(reg_id)


def registration_by_thumbprint(store: Store, thumbprint: str) -> Registration | None:
    return store.acme.registration_by_thumbprint(thumbprint)


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
            store.acme.add_account(account_name, None, None, open_account, now)
        store.acme.add_registration(reg_id, account_name, thumbprint, jwk, contact, now)
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
        store.acme.update_registration(reg_id, contact=contact, status=status, key=key)
        if status is not None:
            store.event("acme-deactivate", None, f"client key of account URL {reg_id}")
        if key is not None:
            store.event("acme-key-change", None, f"account URL {reg_id}: new key {key[0][:16]}")
    found = registration(store, reg_id)
    assert found is not None
    return found


# -- orders, authorizations, challenges ------------------------------------------------------


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
        store.acme.add_order(order_id, reg_id, identifiers, when, iso(utcnow()), replaces)
        if waiting_for:
            store.acme.add_approval(order_id, waiting_for, iso(utcnow()))
            store.event("acme-approval-wait", None, f"order {order_id}: {', '.join(waiting_for)}")
        for typ, value in identifiers:
            authz_id = new_id()
            store.acme.add_authorization(authz_id, order_id, typ, value, when)
            for ctype in challenge_types(typ, value):
                store.acme.add_challenge(new_id(), authz_id, ctype, new_id())
    found = order(store, order_id)
    assert found is not None
    return found


def order(store: Store, order_id: str) -> Order | None:
    return store.acme.order(order_id)


def orders_of(store: Store, reg_id: str) -> list[Order]:
    return store.acme.orders_of(reg_id)


def authorizations(store: Store, order_id: str) -> list[Authorization]:
    return store.acme.authorizations(order_id)


def authorization(store: Store, authz_id: str) -> Authorization | None:
    return store.acme.authorization(authz_id)


def challenges(store: Store, authz_id: str) -> list[Challenge]:
    return store.acme.challenges(authz_id)


def challenge(store: Store, chall_id: str) -> Challenge | None:
    return store.acme.challenge(chall_id)


def processing_challenges(store: Store) -> list[Challenge]:
    """Challenges a previous run was validating when it stopped: the server takes them up again."""
    return store.acme.processing_challenges()


def start_challenge(store: Store, chall_id: str) -> bool:
    """pending -> processing; False if it was not pending (another request started it)."""
    with store.write():
        return store.acme.start_challenge(chall_id)


def _refresh_order(store: Store, order_id: str) -> None:
    """Inside `write()`: pending -> ready once every authorization is valid, invalid if one is."""
    states = store.acme.authorization_states(order_id)
    if states - {"valid", "pending"}:
        store.acme.fail_order(
            order_id,
            {
                "type": "urn:ietf:params:acme:error:unauthorized",
                "detail": "an authorization of this order failed",
            },
        )
    elif states == {"valid"}:
        store.acme.ready_order(order_id)


def finish_challenge(store: Store, chall: Challenge, error: dict[str, Any] | None, detail: str) -> None:
    """processing -> valid (error None) or invalid; the authorization and the order follow."""
    authz = authorization(store, chall.authz_id)
    assert authz is not None
    with store.write():
        store.acme.finish_challenge(chall, authz, error, iso(utcnow()))
        _refresh_order(store, authz.order_id)
        store.event("acme-validate", None, detail)


def deactivate_authorization(store: Store, authz_id: str) -> None:
    authz = authorization(store, authz_id)
    assert authz is not None
    with store.write():
        store.acme.deactivate_authorization(authz_id)
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
        store.acme.set_order(order_id, status, cert_id, error)


def order_issued(store: Store, order_id: str, cert_id: str) -> None:
    """Inside the `write()` that stores the certificate: the order is valid with it, and the
    certificate it replaces (if any) is renewed by it, as `certtui renew` links them."""
    store.acme.order_issued(order_id, cert_id)


# -- renewal information (RFC 9773) ----------------------------------------------------------


def cert_by_serial(store: Store, serial: int) -> str | None:
    """The id of the certificate certtui signed with this serial, or None."""
    return store.own_certificate_with_serial(format(serial, "x"))


def mark_renew_early(store: Store, cert_ids: list[str]) -> str:
    """Mark certificates (leaves, or CAs: everything under them) for early renewal; the time."""
    now = iso(utcnow())
    with store.write():
        for cert_id in cert_ids:
            store.acme.mark_renew_early(cert_id, now)
            store.event("acme-renew-early", cert_id, "renewal window moved to the past (ARI)")
    return now


def renew_early_marks(store: Store) -> dict[str, str]:
    """cert id -> when it was marked for early renewal."""
    return store.acme.renew_early_marks()


def acme_certificates(store: Store) -> list[str]:
    """The ids of the certificates issued through orders (the ones ARI speaks of)."""
    return store.acme.certificates()


def claim_for_finalize(store: Store, order_id: str) -> bool:
    """ready -> processing; False if the order was not ready (a second finalize, say)."""
    with store.write():
        return store.acme.claim_order(order_id)


def interrupted_orders(store: Store) -> list[Order]:
    """Orders a previous run was signing when it stopped (nothing was stored for them)."""
    return store.acme.orders_in("processing")


def order_of_certificate(store: Store, cert_id: str) -> tuple[Order, Registration] | None:
    """The order that got this certificate, and the client key that placed it."""
    o = store.acme.order_of_certificate(cert_id)
    if o is None:
        return None
    reg = registration(store, o.registration)
    return None if reg is None else (o, reg)


# -- the approval queue (`certtui acme --approve new-names`) ---------------------------------

# What an authorization of an order in the queue says while it waits.
WAITING = "waiting for approval in certtui"


def new_names(store: Store, values: list[str]) -> list[str]:
    """The names no certificate of the store has carried."""
    return store.names_never_carried(values)


def approval(store: Store, order_id: str) -> Approval | None:
    return store.acme.approval(order_id)


def approvals(store: Store, *, waiting_only: bool = True) -> list[Approval]:
    return store.acme.approvals(waiting_only=waiting_only)


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
        if not store.acme.decide(order_id, approve, reason, iso(utcnow())):
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
    return store.acme.decided()


def waiting_challenges(store: Store, order_id: str) -> list[Challenge]:
    """The order's challenges a client triggered while it waited (held in `processing`)."""
    return store.acme.processing_challenges(order_id)


def applied(store: Store, order_id: str) -> None:
    with store.write():
        store.acme.applied(order_id)


def refuse_order(store: Store, order_id: str, error: dict[str, Any]) -> None:
    """A refused order: its challenges, authorizations and itself invalid, with the reason."""
    with store.write():
        store.acme.refuse_order(order_id, error)
