"""Revoke a certificate and sign its CA's CRL again (or say why that CA cannot sign one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from certtui.core.models import CertRecord
from certtui.core.store import Store

if TYPE_CHECKING:
    from certtui.core.revocation import Revocation


@dataclass(frozen=True)
class RevokeRequest:
    """Revoke one certificate for a reason (RFC 5280 reason names)."""

    cert_id: str
    reason: str = "unspecified"


def needs_key(store: Store, rec: CertRecord) -> bool:
    """Revoking signs a CRL, so it needs the CA's key, unless that CA cannot sign CRLs (or
    the certificate is revoked already)."""
    from certtui.core.revocation import crl_blocker

    if rec.issuer_id is None or rec.revoked_at:
        return False
    return crl_blocker(store, store.get(rec.issuer_id)) is None


def revoke(store: Store, req: RevokeRequest, now: datetime | None = None) -> Revocation:
    """Mark it revoked and re-sign the CRL in one go (the store unlocked if `needs_key`)."""
    from certtui.core.revocation import revoke as core_revoke

    return core_revoke(store, req.cert_id, req.reason, now=now)


def sentence(result: Revocation) -> str:
    """What happened, in one sentence (the TUI's notification)."""
    rec = result.record
    label = rec.subject or ", ".join(rec.names) or rec.id
    if result.already:
        return f"{label} was already revoked on {rec.revoked_at} ({rec.revocation_reason})"
    if result.no_crl:
        return f"Revoked {label}. {result.no_crl}"
    number = f" (CRL number {result.crl.number})" if result.crl is not None else ""
    return f"Revoked {label}; the CRL is re-signed{number}."


def target(store: Store, ref: str) -> tuple[CertRecord, CertRecord]:
    """The certificate an id names and the CA whose CRL revokes it; refuses roots and
    certificates no CA of this store issued."""
    from certtui.core.revocation import check_revocable

    rec = store.resolve(ref)
    return rec, check_revocable(store, rec)
