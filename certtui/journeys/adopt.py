"""Adopt what was made elsewhere: sign a device's CSR behind the same guardrail as `issue`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from certtui.core.models import CertRecord, Kind
from certtui.core.store import Store
from certtui.journeys.issue import Report, Unlock, guarded

if TYPE_CHECKING:
    from cryptography import x509


@dataclass(frozen=True)
class CsrRequest:
    """Sign a device's certificate request: its names and key; the key stays on the device."""

    csr: x509.CertificateSigningRequest
    kind: Kind = Kind.SERVER
    days: int | None = None
    issuer: str | None = None
    force: bool = False


def sign_csr(
    store: Store,
    req: CsrRequest,
    *,
    unlock: Unlock | None = None,
    warn: Report | None = None,
    now: datetime | None = None,
) -> CertRecord:
    """Plan the CSR like `issue` plans names, sign it behind the guardrail, store it (no key)."""
    from certtui.core import csr

    p = csr.plan_csr(store, req.csr, kind=req.kind, days=req.days, issuer=req.issuer)
    store, signed = guarded(
        store,
        [p],
        lambda unlocked: [csr.csr_certificate(unlocked, p, req.csr, now=now)],
        lambda cert: cert,
        force=req.force,
        unlock=unlock,
        warn=warn,
        now=now,
        public_keys=[csr.csr_key(req.csr)],
    )
    return csr.store_signed_csr(store, p, signed[0])
