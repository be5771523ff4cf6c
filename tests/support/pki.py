"""Store set-up the tests share: a certificate issued in one call, a CA's CRL falling due."""

from __future__ import annotations

from datetime import datetime, timedelta

from certtui.core import issuance
from certtui.core.inventory import CRL_WARN_DAYS
from certtui.core.models import CertRecord, IssueRequest
from certtui.core.revocation import latest_crl
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow


def issue_one(store: Store, req: IssueRequest, now: datetime | None = None) -> CertRecord:
    """Plan, sign and store one certificate, with no guardrail: a test's fixture, not a journey."""
    return issuance.execute(store, issuance.plan(store, req), now=now)


def crl_due_soon(store: Store, ca_id: str, now: datetime | None = None) -> bool:
    """Whether the CA's stored CRL has a nextUpdate under 7 days away (False if it has none)."""
    stored = latest_crl(store, ca_id)
    if stored is None:
        return False
    return stored.next_update < iso((now or utcnow()) + timedelta(days=CRL_WARN_DAYS))
