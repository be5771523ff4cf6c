"""Renew leaves: same names, kind, key type and issuer; a new key and the default lifetime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from certtui.core.models import CertRecord
from certtui.core.store import Store
from certtui.errors import CerttuiError

if TYPE_CHECKING:
    from certtui.core.issuance import IssuePlan


@dataclass(frozen=True)
class RenewRequest:
    """One leaf by id (`ref`), or every leaf expiring within `expiring_within` days (cron)."""

    ref: str | None = None
    expiring_within: int | None = None

    def __post_init__(self) -> None:
        if (self.ref is None) == (self.expiring_within is None):
            raise CerttuiError("give an ID to renew, or --expiring-within DAYS, but not both")


@dataclass(frozen=True)
class Renewed:
    """The old certificate (left valid until revoked) and the one that replaces it."""

    old: CertRecord
    new: CertRecord


def plan(store: Store, req: RenewRequest, now: datetime | None = None) -> list[tuple[CertRecord, IssuePlan]]:
    """Each leaf to renew with its plan; needs no key (an empty list: nothing is due)."""
    from certtui.core import issuance

    if req.ref is not None:
        olds = [store.resolve(req.ref)]
    else:
        olds = issuance.renewable(store, req.expiring_within or 0, now=now)
    return [(old, issuance.plan_renewal(store, old)) for old in olds]


def renew(
    store: Store,
    planned: list[tuple[CertRecord, IssuePlan]],
    *,
    now: datetime | None = None,
    renewed: Callable[[Renewed], None] | None = None,
) -> list[Renewed]:
    """Sign and store each renewal (the store must be unlocked), `renewed` told as each is stored."""
    from certtui.core.issuance import execute

    out = []
    for old, p in planned:
        done = Renewed(old, execute(store, p, now=now))
        out.append(done)
        if renewed is not None:
            renewed(done)
    return out


def renew_one(store: Store, rec: CertRecord, now: datetime | None = None) -> CertRecord:
    """Renew one leaf of an unlocked store (the TUI's `cert: renew`); the new record."""
    from certtui.core.issuance import plan_renewal

    return renew(store, [(rec, plan_renewal(store, rec))], now=now)[0].new
