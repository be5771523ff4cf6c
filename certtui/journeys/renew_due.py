"""`renew --due`: renew what has used two thirds of its life, deploy it, and tell the user what needs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from certtui.core import policy, upkeep
from certtui.core.models import CertRecord, Kind
from certtui.core.store import Store
from certtui.core.timefmt import iso, parse, utcnow
from certtui.errors import AlreadyRenewed, CerttuiError
from certtui.journeys import deploy as deploying

LAST_RUN_META = "renew_due_last"


def renew_certificate(store: Store, rec: CertRecord, now: datetime | None = None) -> CertRecord:
    """Renew one leaf the way `certtui renew ID` does (same names, kind, key type, issuer; a new
    key; the default lifetime): the renew journey's `renew_one`."""
    from certtui.journeys.renew import renew_one

    return renew_one(store, rec, now=now)


def renew_at(rec: CertRecord) -> datetime:
    """When two thirds of the certificate's lifetime have passed."""
    start, end = parse(rec.not_before), parse(rec.not_after)
    return start + (end - start) * policy.RENEW_AT_FRACTION


def is_due(rec: CertRecord, now: datetime, min_days: int = policy.DEFAULT_MIN_DAYS) -> bool:
    return now >= renew_at(rec) or parse(rec.not_after) - now < timedelta(days=min_days)


def renewable_by_store(rec: CertRecord) -> bool:
    return rec.kind in (Kind.SERVER, Kind.CLIENT) and not rec.external and rec.has_key


@dataclass(frozen=True)
class DueRequest:
    """`renew --due [--all] [--min-days N]`."""

    every: bool = False
    min_days: int = policy.DEFAULT_MIN_DAYS
    notify: bool = True


@dataclass
class DueResult:
    """What one run did: renewals (old, new), deploys, and one line per failure."""

    renewed: list[tuple[CertRecord, CertRecord]] = field(default_factory=list)
    deployed: list[deploying.DeployResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    renew_failures: dict[str, str] = field(default_factory=dict)
    """Certificate id -> the line saying why its renewal failed (for notifications)."""

    @property
    def ok(self) -> bool:
        return not self.failures


def candidates(store: Store, every: bool) -> list[CertRecord]:
    """The newest certificate of every line with a deploy target (every own leaf with `every`)."""
    heads: dict[str, None] = {}
    for target in upkeep.targets(store):
        heads[upkeep.lineage_head(store, target.cert_id)] = None
    if every:
        for rec in store.records():
            if renewable_by_store(rec) and rec.renewed_by is None:
                heads[rec.id] = None
    return [store.get(cert_id) for cert_id in heads]


def run(
    store: Store,
    req: DueRequest,
    unlock: Callable[[], None],
    now: datetime | None = None,
) -> DueResult:
    """Renew what is due, deploy every target whose line has a certificate it does not have yet
    (or whose last deploy failed), then send the notifications whose state changed.

    `unlock` is called only when a key is needed: a run with nothing to do asks for nothing.
    """
    now = now or utcnow()
    out = DueResult()
    with deploying.upkeep_lock(store):
        _renew(store, req, unlock, now, out)
        _deploy(store, unlock, out)
        if req.notify:
            from certtui.journeys import notify

            sent = notify.evaluate(store, now, renew_failures=out.renew_failures)
            out.notified += sent.sent
            out.failures += sent.failures
        _remember(store, now, out)
    return out


def _renew(store: Store, req: DueRequest, unlock: Callable[[], None], now: datetime, out: DueResult) -> None:
    for rec in candidates(store, req.every):
        if rec.revoked_at:
            out.notes.append(f"skipped {rec.id} ({deploying.label(rec)}): revoked")
            continue
        if not is_due(rec, now, req.min_days):
            continue
        if not renewable_by_store(rec):
            line = (
                f"cannot renew {rec.id} ({deploying.label(rec)}): it was not issued here with its key; "
                "replace it by hand"
            )
            out.failures.append(line)
            out.renew_failures[rec.id] = line
            continue
        try:
            unlock()
            new = renew_certificate(store, rec, now)
        except AlreadyRenewed as exc:
            out.notes.append(f"{rec.id} was renewed meanwhile as {exc.new_id}")
            continue
        except CerttuiError as exc:
            line = f"renewal of {rec.id} ({deploying.label(rec)}) failed: {exc}"
            out.failures.append(line)
            out.renew_failures[rec.id] = line
            for target in upkeep.targets_of_head(store, rec.id):
                upkeep.record_result(
                    store,
                    target,
                    cert_id=rec.id,
                    serial=rec.serial,
                    ok=False,
                    stage="renew",
                    message=str(exc),
                )
            continue
        out.renewed.append((rec, new))


def _deploy(store: Store, unlock: Callable[[], None], out: DueResult) -> None:
    for target in upkeep.targets(store):
        head = store.get(upkeep.lineage_head(store, target.cert_id))
        if head.revoked_at:
            out.notes.append(f"skipped target {target.id}: its newest certificate {head.id} is revoked")
            continue
        if target.deployed_serial == head.serial and target.last_ok:
            continue
        if head.id in out.renew_failures:
            continue
        if deploying.needs_key(target):
            try:
                unlock()
            except CerttuiError as exc:
                out.failures.append(f"deploy of target {target.id} needs the key: {exc}")
                continue
        result = deploying.deploy(store, target)
        out.deployed.append(result)
        if not result.ok:
            out.failures.append(result.line())


def _remember(store: Store, now: datetime, out: DueResult) -> None:
    summary = {
        "at": iso(now),
        "ok": out.ok,
        "renewed": [new.id for _, new in out.renewed],
        "deployed": [r.target.id for r in out.deployed if r.ok],
        "failures": out.failures,
    }
    with store.write():
        store.set_meta(LAST_RUN_META, json.dumps(summary))
        store.event("renew-due", None, f"{len(out.renewed)} renewed, {len(out.failures)} failed")


def last_run(store: Store) -> dict[str, object] | None:
    raw = store.meta(LAST_RUN_META)
    return json.loads(raw) if raw else None
