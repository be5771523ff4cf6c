"""Issue one certificate or a batch: preview, plan, sign, guardrail, commit.

One implementation for `certtui issue` (one or `--from FILE`) and the TUI's issue form;
`guarded` is also the guardrail of `certtui sign` (journeys/adopt.py). Typed requests in,
records out, `CerttuiError` on failure; nothing is stored unless every certificate of the
batch passed the guardrail (or `force`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from certtui.core.checks.findings import Finding, Severity
from certtui.core.models import CertRecord, IssueRequest, Kind
from certtui.core.store import Store
from certtui.errors import BadName, CerttuiError, NamesRefused, PolicyError

if TYPE_CHECKING:
    from cryptography import x509

    from certtui.core.issuance import IssuePlan, Signed
    from certtui.core.keys import PrivateKey, PublicKey

T = TypeVar("T")
Unlock = Callable[[], Store]
"""Returns the store unlocked (the CLI asks for the passphrase); called only if it is locked."""
Report = Callable[[str], None]
"""Receives each guardrail warning as it is known (before any passphrase prompt)."""


@dataclass(frozen=True)
class Preview:
    """The live checklist of a would-be certificate, or why the request cannot be planned."""

    findings: tuple[Finding, ...] = ()
    error: str | None = None
    # "names" when the error is about the names typed (a form shows it beside that field).
    field: str | None = None

    @property
    def fails(self) -> list[str]:
        return [f.id for f in self.findings if f.severity is Severity.FAIL]


@dataclass(frozen=True)
class BatchRequest:
    """Certificates to issue together; `where[i]` (e.g. `names.txt:3`) prefixes request i's errors."""

    requests: tuple[IssueRequest, ...]
    force: bool = False
    where: tuple[str, ...] = field(default=())


def preview(store: Store, req: IssueRequest, now: datetime) -> Preview:
    """Plan the request and check what it would issue: no unlock, nothing written."""
    from certtui.core.checks.preview import preview_findings
    from certtui.core.issuance import plan

    try:
        p = plan(store, req)
        return Preview(tuple(preview_findings(store, p, now)))
    except CerttuiError as exc:
        about_names = isinstance(exc, BadName | NamesRefused)
        return Preview(error=str(exc), field="names" if about_names else None)


def issuers(store: Store) -> list[CertRecord]:
    """The CAs that can sign: in the store with their key, neither revoked nor expired."""
    return [
        r
        for r in store.records(kind=None)
        if r.kind.is_ca and r.has_key and r.status.value in ("valid", "expiring")
    ]


def plan_batch(store: Store, batch: BatchRequest) -> list[IssuePlan]:
    """Validate every request (names, issuer, constraints, days) before anything is signed."""
    from certtui.core.issuance import plan

    plans = []
    for i, req in enumerate(batch.requests):
        try:
            plans.append(plan(store, req))
        except CerttuiError as exc:
            if i < len(batch.where):
                raise CerttuiError(f"{batch.where[i]}: {exc}") from None
            raise
    return plans


def guardrail(
    store: Store,
    plans: Sequence[IssuePlan],
    *,
    force: bool,
    now: datetime | None = None,
    signed: Sequence[x509.Certificate] | None = None,
    public_keys: Sequence[PublicKey] | None = None,
) -> list[str]:
    """Issue-time guardrail for server certificates (`issue`, `sign`, the TUI form).

    Refuses, with PolicyError naming the failing rule ids, any server plan the checklist
    fails, unless `force`. Returns the lines to show as warnings (and, when forced, the fails).

    `signed` holds, plan by plan, the certificates about to be stored, signed by the real CAs
    (an unlocked store signs first): they are judged as they are, so nothing is signed twice.
    Without it (a locked store, before the passphrase is asked) each plan is previewed, with
    `public_keys` (plan by plan: the CSR's key `sign` will certify) when given.
    """
    from certtui.core.checks.preview import preview_findings, signed_findings

    if signed is not None and len(signed) != len(plans):
        raise ValueError("guardrail: one signed certificate per plan")
    warnings: list[str] = []
    refused: list[str] = []
    for i, p in enumerate(plans):
        if p.kind is not Kind.SERVER:
            continue
        name = ", ".join(p.names.values())
        findings = (
            preview_findings(store, p, now, public_keys[i] if public_keys is not None else None)
            if signed is None
            else signed_findings(store, p, signed[i], now)
        )
        fails = [f for f in findings if f.severity is Severity.FAIL]
        warnings += [
            f"{name}: {f.id}: {f.detail}"
            for f in findings
            if f.severity is Severity.WARN or (force and f in fails)
        ]
        if fails:
            refused.append(f"{name} would fail " + ", ".join(f"{f.id} ({f.detail})" for f in fails))
    if refused and not force:
        raise PolicyError(
            f"refused: {'; '.join(refused)}; change the request, or add --force to issue it anyway"
        )
    return warnings


def guarded(
    store: Store,
    plans: Sequence[IssuePlan],
    sign_all: Callable[[Store], list[T]],
    cert_of: Callable[[T], x509.Certificate],
    *,
    force: bool,
    unlock: Unlock | None = None,
    warn: Report | None = None,
    now: datetime | None = None,
    public_keys: Sequence[PublicKey] | None = None,
) -> tuple[Store, list[T]]:
    """Sign the plans behind the guardrail, storing nothing; returns the (unlocked) store and
    what `sign_all` signed.

    A locked store is judged before the passphrase is asked, on previews of the plans; an
    unlocked one signs first and the guardrail judges the very certificates about to be
    stored, so none is signed twice. `public_keys` are the keys to certify when they are not
    the plans' own (a CSR's): the preview judges those.
    """
    previewed = not store.unlocked
    if previewed:
        for line in guardrail(store, plans, force=force, now=now, public_keys=public_keys):
            if warn is not None:
                warn(line)
        if unlock is None:
            raise CerttuiError("the store is locked; unlock it with its passphrase first")
        store = unlock()
    signed = sign_all(store)
    if not previewed:
        for line in guardrail(store, plans, force=force, now=now, signed=[cert_of(s) for s in signed]):
            if warn is not None:
                warn(line)
    return store, signed


def issue_batch(
    store: Store,
    batch: BatchRequest,
    *,
    unlock: Unlock | None = None,
    warn: Report | None = None,
    issued: Callable[[CertRecord], None] | None = None,
    now: datetime | None = None,
) -> list[CertRecord]:
    """Plan every request, sign all behind the guardrail, then commit each (one transaction
    per certificate, `issued` told as each is stored); the records in order."""
    from certtui.core import issuance

    plans = plan_batch(store, batch)

    def sign_all(unlocked: Store) -> list[Signed]:
        issuer_keys: dict[str, PrivateKey] = {}
        taken: set[str] = set()
        out = []
        for p in plans:
            if p.issuer_id not in issuer_keys:
                issuer_keys[p.issuer_id] = unlocked.private_key(p.issuer_id)
            out.append(issuance.sign(unlocked, p, now=now, issuer_key=issuer_keys[p.issuer_id], taken=taken))
        return out

    store, signed = guarded(
        store, plans, sign_all, lambda s: s.cert, force=batch.force, unlock=unlock, warn=warn, now=now
    )
    records = []
    for s in signed:
        rec = issuance.commit(store, s)
        records.append(rec)
        if issued is not None:
            issued(rec)
    return records


def issue_one(store: Store, req: IssueRequest, now: datetime | None = None) -> CertRecord:
    """One certificate from an unlocked store (the TUI unlocks first): failing rules refuse
    unless `req.force`."""
    return issue_batch(store, BatchRequest((req,), force=req.force), now=now)[0]
