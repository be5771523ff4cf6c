"""`scan`: what each endpoint really serves, matched to the store (current, superseded, expiring...)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from certtui.core import upkeep
from certtui.core.printable import printable
from certtui.core.store import Store
from certtui.core.timefmt import iso, utcnow
from certtui.core.upkeep import Scan
from certtui.errors import CerttuiError

# The verdicts, from good to bad; `scan` exits 1 on anything but "current".
CURRENT = "current"
SUPERSEDED = "superseded"
EXPIRING = "expiring"
EXPIRED = "expired"
REVOKED = "revoked"
UNKNOWN = "unknown"
FAILING = "failing"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Endpoint:
    """One thing to connect to, with the SNI name and STARTTLS protocol to use."""

    address: str
    servername: str | None = None
    starttls: str | None = None


def endpoints_from_targets(store: Store) -> list[Endpoint]:
    """Every deploy target's --verify endpoint (scanned when no endpoint is given)."""
    seen: dict[str, Endpoint] = {}
    for t in upkeep.targets(store):
        if t.verify:
            seen.setdefault(t.verify, Endpoint(t.verify, t.servername, t.starttls))
    return list(seen.values())


def endpoints_from_file(text: str, servername: str | None, starttls: str | None) -> list[Endpoint]:
    """One HOST:PORT per line; `#` starts a comment."""
    out = []
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            out.append(Endpoint(word, servername, starttls))
    return out


def scan_one(store: Store, endpoint: Endpoint, now: datetime | None = None) -> Scan:
    """Connect, read the leaf, judge it against the store and the checklist; remember the result."""
    from cryptography.hazmat.primitives import serialization

    from certtui.core import checks, tlsprobe

    now = now or utcnow()
    host, port = tlsprobe.parse_target(endpoint.address)
    try:
        probe = tlsprobe.fetch(host, port, servername=endpoint.servername, starttls=endpoint.starttls)
    except CerttuiError as exc:
        result = Scan(endpoint.address, iso(now), None, None, UNREACHABLE, str(exc))
        upkeep.record_scan(store, result)
        return result
    leaf = probe.chain[0]
    sha = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    cert_id = store.find_sha256(sha)
    findings = checks.check(
        leaf,
        probe.chain[1:],
        host=endpoint.servername or host,
        store=store,
        now=now,
        served=True,
        tls_version=probe.version,
    )
    fails = [f.id for f in findings if f.severity is checks.Severity.FAIL]
    verdict, detail = _verdict(store, cert_id, fails, now)
    result = Scan(endpoint.address, iso(now), sha, cert_id, verdict, detail)
    upkeep.record_scan(store, result)
    return result


def _verdict(store: Store, cert_id: str | None, fails: list[str], now: datetime) -> tuple[str, str]:
    if cert_id is None:
        return UNKNOWN, "serves a certificate that is not from this store" + (
            f" (and fails {', '.join(fails)})" if fails else ""
        )
    rec = store.get(cert_id, now=now)
    name = printable(", ".join(rec.names) or rec.subject or rec.id)
    if rec.revoked_at:
        return REVOKED, f"serves {cert_id} ({name}), revoked on {rec.revoked_at}; deploy its replacement"
    head = upkeep.lineage_head(store, cert_id)
    if head != cert_id:
        return SUPERSEDED, (
            f"serves {cert_id} ({name}), but the store renewed it as {head}; "
            f"deploy that one (`certtui deploy run {head}`)"
        )
    if fails:
        return (
            FAILING,
            f"serves {cert_id} ({name}), which fails {', '.join(fails)}; run `certtui check --connect`",
        )
    if rec.status.value == EXPIRED:
        return EXPIRED, f"serves {cert_id} ({name}), expired on {rec.not_after}; renew and deploy it"
    if rec.status.value == EXPIRING:
        return EXPIRING, f"serves {cert_id} ({name}), which expires on {rec.not_after}; renew it"
    return CURRENT, f"serves {cert_id} ({name}), the newest, until {rec.not_after}"


def scan(store: Store, endpoints: list[Endpoint], now: datetime | None = None) -> list[Scan]:
    return [scan_one(store, e, now) for e in endpoints]
