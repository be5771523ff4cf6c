"""What the TUI's keys do to the store: typed requests in, core calls in workers, results out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from certtui.core.models import CertRecord, IssueRequest
from certtui.core.store import Store
from certtui.errors import CerttuiError


@dataclass(frozen=True)
class Preview:
    """The live checklist of a would-be certificate, or why the request cannot be planned."""

    findings: tuple[Any, ...] = ()
    error: str | None = None

    @property
    def fails(self) -> list[str]:
        return [f.id for f in self.findings if str(f.severity) == "fail"]


def preview(store: Store, req: IssueRequest, now: datetime) -> Preview:
    """Plan the request and check what it would issue: no unlock, nothing written."""
    from certtui.core.checks import preview_findings
    from certtui.core.issuance import plan

    try:
        p = plan(store, req)
        return Preview(tuple(preview_findings(store, p, now)))
    except CerttuiError as exc:
        return Preview(error=str(exc))


def issuers(store: Store) -> list[CertRecord]:
    """The CAs that can sign: in the store with their key, neither revoked nor expired."""
    return [
        r
        for r in store.records(kind=None)
        if r.kind.is_ca and r.has_key and r.status.value in ("valid", "expiring")
    ]


def issue(store: Store, req: IssueRequest, now: datetime) -> CertRecord:
    """Issue after the same guardrail as the CLI: failing rules refuse unless forced.

    The store is unlocked here, so the guardrail judges the very certificate it would store.
    """
    from certtui.core.checks import guardrail
    from certtui.core.issuance import commit, plan, sign

    p = plan(store, req)
    signed = sign(store, p, now=now)
    guardrail(store, [p], force=req.force, now=now, signed=[signed.cert])
    return commit(store, signed)


@dataclass(frozen=True)
class RevokeRequest:
    """Revoke one certificate for a reason (RFC 5280 reason names)."""

    cert_id: str
    reason: str = "unspecified"


def revoke(store: Store, req: RevokeRequest, now: datetime) -> str:
    """Revoke and re-sign the CRL; returns the sentence to show."""
    from certtui.core.revocation import revoke as core_revoke

    result = core_revoke(store, req.cert_id, req.reason, now=now)
    rec = result.record
    label = rec.subject or ", ".join(rec.names) or rec.id
    if result.already:
        return f"{label} was already revoked on {rec.revoked_at} ({rec.revocation_reason})"
    if result.no_crl:
        return f"Revoked {label}. {result.no_crl}"
    number = f" (CRL number {result.crl.number})" if result.crl is not None else ""
    return f"Revoked {label}; the CRL is re-signed{number}."


def revoke_needs_key(store: Store, rec: CertRecord) -> bool:
    """Revoking signs a CRL, so it needs the CA's key, unless that CA cannot sign CRLs."""
    from certtui.core.revocation import crl_blocker

    if rec.issuer_id is None or rec.revoked_at:
        return False
    return crl_blocker(store, store.get(rec.issuer_id)) is None


@dataclass(frozen=True)
class ExportRequest:
    """Write one or more formats of a certificate into a directory."""

    cert_id: str
    formats: tuple[str, ...]
    directory: Path
    password: str | None = None
    with_root: bool = False
    unencrypted_key: bool = False


@dataclass(frozen=True)
class Written:
    """One exported file: where, its mode, whether it replaced a file, and any warning."""

    path: Path
    mode: int
    replaced: bool = False
    warning: str | None = None


def export_needs_key(rec: CertRecord, formats: tuple[str, ...]) -> bool:
    from certtui.core.export import Format, holds_key

    return any(holds_key(rec, Format(f)) for f in formats)


def export(store: Store, req: ExportRequest) -> list[Written]:
    """Check every format first, then write each file atomically; says what each replaced."""
    from certtui.core.export import WITH_ROOT_FORMATS, Format, check, render, target_path, write_atomic

    rec = store.get(req.cert_id)
    if not req.directory.is_dir():
        raise CerttuiError(f"{req.directory} is not a directory; pick an existing one")
    formats = [Format(f) for f in req.formats]
    for fmt in formats:
        check(
            rec,
            fmt,
            with_root=req.with_root and fmt in WITH_ROOT_FORMATS,
            unencrypted_key=req.unencrypted_key and fmt is Format.KEY,
        )
    rendered = [
        render(
            store,
            rec,
            fmt,
            password=req.password,
            with_root=req.with_root and fmt in WITH_ROOT_FORMATS,
            unencrypted_key=req.unencrypted_key and fmt is Format.KEY,
        )
        for fmt in formats
    ]
    done: list[tuple[Path, bool]] = []
    for out in rendered:
        path = target_path(req.directory, out.filename)
        replaced = path.exists()
        write_atomic(path, out.data, private=out.private)
        done.append((path, replaced))
    # Judged once every file is written: a key exported with the chain is the new one.
    return [
        Written(path, path.stat().st_mode & 0o777, replaced, key_mismatch(store, rec, path))
        for path, replaced in done
    ]


def key_mismatch(store: Store, rec: CertRecord, path: Path) -> str | None:
    """A warning when a fullchain lands beside a key file of another certificate, else None."""
    from certtui.core.export import key_mismatch_warning

    return key_mismatch_warning(store.certificate(rec.id), path)


@dataclass(frozen=True)
class EnrollmentPlan:
    """Where the phone will connect, and the test certificate to sign (None: no trust test)."""

    host: str
    test_plan: Any
    skipped: str | None


def plan_enrollment(store: Store, advertise: str | None, bind: str) -> EnrollmentPlan:
    """Pick the advertised host and check the trust test can work; needs no key."""
    from certtui.enroll import trust
    from certtui.enroll.prepare import advertised_host

    host = advertised_host(advertise, bind)
    planned = trust.plan_test(store, host)
    return EnrollmentPlan(host, planned.plan, planned.skipped)


def sign_trust_test(store: Store, plan: EnrollmentPlan, now: datetime) -> Any:
    """The one-day test certificate, in memory only (the store must be unlocked)."""
    from certtui.enroll import trust

    return trust.sign_test(store, plan.test_plan, now) if plan.test_plan is not None else None


async def start_enrollment(
    store: Store, plan: EnrollmentPlan, test: Any, options: Any, seconds: float
) -> Any:
    """Start the session on the running loop (the app's) and return it, listening."""
    from certtui.enroll.server import EnrollmentSession, RootInfo

    session = EnrollmentSession(
        RootInfo.from_store(store),
        advertise=plan.host,
        bind=options.bind,
        port=options.port,
        tls_port=options.tls_port,
        timeout=seconds,
        trust=test,
        trust_skipped=plan.skipped,
        token=options.token,
    )
    await session.start()
    return session
