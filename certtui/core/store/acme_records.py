"""The ACME tables' rows as records (accounts, client keys, orders, authorizations, challenges)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from certtui.core.store.connection import Row


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


@dataclass(frozen=True)
class Approval:
    order_id: str
    names: tuple[str, ...]
    status: str
    reason: str
    created_at: str
    decided_at: str | None
    account: str


def _lines(text: str | None) -> tuple[str, ...]:
    return tuple(text.split("\n")) if text else ()


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json.loads(text)


def _dumps(error: dict[str, Any] | None) -> str | None:
    return None if error is None else json.dumps(error)


def _account(row: Row) -> Account:
    return Account(row[0], row[1], _lines(row[2]), row[3], row[4])


def _registration(row: Row) -> Registration:
    return Registration(row[0], row[1], row[2], row[3], row[4], _lines(row[5]), row[6])


def _order(row: Row) -> Order:
    ids = tuple((i["type"], i["value"]) for i in json.loads(row[3]))
    return Order(row[0], row[1], row[2], ids, row[4], _loads(row[5]), row[6], row[7], row[8])


def _challenge(row: Row) -> Challenge:
    return Challenge(row[0], row[1], row[2], row[3], row[4], row[5], _loads(row[6]))


def _approval(row: Row) -> Approval:
    return Approval(row[0], tuple(row[1].split("\n")), row[2], row[3], row[4], row[5], row[6])
