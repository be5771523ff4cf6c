"""Inspect one stored certificate: the rows `certtui show` prints and the inspect screen shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from certtui.core.models import CertRecord
from certtui.core.store import Store


@dataclass(frozen=True)
class Inspection:
    """Everything both front ends show of one certificate, read (and checked) once."""

    record: CertRecord
    encrypted: bool
    """Whether the store seals its keys (what the private-key row says)."""
    expires_in: str
    fields: list[tuple[str, str]]
    extensions: list[tuple[str, str]]
    pem: str
    findings: list[Any]
    acme: list[tuple[str, str]] = field(default_factory=list)
    """For a certificate issued over ACME: its account, its ARI window, what it replaced."""

    def _common(self) -> list[tuple[str, str]]:
        rec = self.record
        return [
            ("ID", rec.id),
            ("Kind", rec.kind.value + (" (external)" if rec.external else "")),
            ("Status", rec.status.value + (f" on {rec.revoked_at}" if rec.revoked_at else "")),
        ]

    def show_rows(self) -> list[tuple[str, str]]:
        """`certtui show`: the record, then the fields, then every extension."""
        rec = self.record
        key = "none"
        if rec.has_key:
            key = "in the store, encrypted" if self.encrypted else "in the store, unencrypted"
        rows = [
            *self._common(),
            ("Names", ", ".join(rec.names) or "-"),
            ("Issuer ID", rec.issuer_id or "(not in the store)"),
            ("Private key", key),
        ]
        if rec.renewed_by:
            rows.append(("Renewed by", rec.renewed_by))
        return rows + self.acme + self.fields + self.extensions

    def screen_rows(self) -> list[tuple[str, str]]:
        """The inspect screen's details column (its extensions and the checklist are apart)."""
        rec = self.record
        key = "not in the store"
        if rec.has_key:
            key = "in the store, encrypted" if self.encrypted else "in the store, UNENCRYPTED"
        return [
            *self._common(),
            ("Expires", f"{rec.not_after} ({self.expires_in})"),
            ("Names", ", ".join(rec.names) or "-"),
            ("Private key", key),
            *self.acme,
            *([("Renewed by", rec.renewed_by)] if rec.renewed_by else []),
            *self.fields,
        ]


def inspect(store: Store, rec: CertRecord, now: datetime, *, checklist: bool = True) -> Inspection:
    """Read one certificate's details, and judge it with the iOS checklist (`checklist`)."""
    from certtui.core.details import extensions, fields, pem_text
    from certtui.core.inventory import expires_in

    cert = store.certificate(rec.id)
    return Inspection(
        rec,
        store.encrypted,
        expires_in(rec.not_after, now),
        fields(cert),
        extensions(cert),
        pem_text(store.der(rec.id)),
        findings(store, rec, now) if checklist else [],
        acme_rows(store, rec),
    )


def acme_rows(store: Store, rec: CertRecord) -> list[tuple[str, str]]:
    """The ACME account, the ARI window and the replaced certificate of an ACME certificate."""
    if not (rec.origin or "").startswith("acme:") or rec.origin == "acme-server":
        return []
    from certtui.core.timefmt import iso
    from certtui.journeys import acme as journey

    rows = [("ACME account", (rec.origin or "").removeprefix("acme:"))]
    # The server's --ca is not known here: only renew-early marks and revoked CAs move it.
    win = journey.ari_window(store, rec.id)
    rows.append(("ARI window", f"{iso(win.start)} to {iso(win.end)} ({win.why})"))
    replaced = store.renewal_of(rec.id)
    if replaced:
        rows.append(("Replaces", replaced))
    return rows


def findings(store: Store, rec: CertRecord, now: datetime) -> list[Any]:
    """The iOS checklist of one stored certificate, judged with its chain from the store."""
    from certtui.core import checks

    cert = store.certificate(rec.id)
    # An imported certificate a server could present is judged as the server certificate it is.
    kind = checks.inspected_kind(rec, cert)
    return list(checks.check(cert, store.chain(rec.id), store=store, now=now, kind=kind))
