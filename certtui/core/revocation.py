"""Revoke certificates and sign, store and look up each CA's CRL (RFC 5280 section 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certtui.core import keys as keymod
from certtui.core import policy, profiles
from certtui.core.extensions import extension

# The CRL warning lives in core/inventory.py, which `certtui list` loads without cryptography.
from certtui.core.inventory import CRL_WARN_DAYS as CRL_WARN_DAYS
from certtui.core.inventory import crl_warnings as crl_warnings
from certtui.core.models import CertRecord, Kind
from certtui.core.store import Store
from certtui.core.timefmt import iso, parse, utcnow
from certtui.errors import PolicyError

# A CRL's default lifetime: core/policy.py, with its reason.
DEFAULT_CRL_DAYS = policy.CRL_DAYS
# A CRL's nextUpdate bounds how long a client may keep using it; past a year a revocation
# could go unnoticed for that long, so refuse more.
MIN_CRL_DAYS = 1
MAX_CRL_DAYS = 365

# The reasons `revoke --reason` accepts, as RFC 5280 5.3.1 spells them. `unspecified` is
# written by leaving the reasonCode extension out, as 5.3.1 advises.
REASONS: dict[str, x509.ReasonFlags] = {
    flag.value: flag
    for flag in (
        x509.ReasonFlags.unspecified,
        x509.ReasonFlags.key_compromise,
        x509.ReasonFlags.ca_compromise,
        x509.ReasonFlags.affiliation_changed,
        x509.ReasonFlags.superseded,
        x509.ReasonFlags.cessation_of_operation,
    )
}
DEFAULT_REASON = "unspecified"
_DER = serialization.Encoding.DER


@dataclass(frozen=True)
class StoredCrl:
    """One signed CRL as the store keeps it."""

    issuer_id: str
    number: int
    this_update: str
    next_update: str
    der: bytes

    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.der)


@dataclass(frozen=True)
class Revocation:
    """What `revoke` did: the record afterwards, and the CRL signed or why none could be."""

    record: CertRecord
    already: bool
    crl: StoredCrl | None = None
    no_crl: str | None = None


def check_crl_url(url: str) -> str:
    """The base URL of `init --crl-url`: an ASCII http(s) URL with a host. Each certificate's
    CRLDP is its issuer's file under it (`profiles.crl_url_for`)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    # A CRLDP URI is an IA5String, so ASCII only (RFC 5280 4.2.1.13).
    if not ok or not url.isascii() or any(c.isspace() for c in url):
        raise PolicyError(
            f"--crl-url {url!r} is not an http:// URL; give the folder the CRLs will be served "
            "from, such as http://nas.home.arpa/crl/"
        )
    return url


def check_days(days: int) -> int:
    if not MIN_CRL_DAYS <= days <= MAX_CRL_DAYS:
        raise PolicyError(
            f"--days {days} is out of range for a CRL; give between {MIN_CRL_DAYS} and {MAX_CRL_DAYS}"
        )
    return days


def check_reason(reason: str) -> x509.ReasonFlags:
    try:
        return REASONS[reason]
    except KeyError:
        raise PolicyError(f"unknown revocation reason {reason!r}; use one of {', '.join(REASONS)}") from None


def check_revocable(store: Store, rec: CertRecord) -> CertRecord:
    """The issuing CA's record; refuses roots and certificates no CA of this store issued."""
    if rec.kind is Kind.ROOT:
        raise PolicyError(
            f"{rec.id} is the root CA, which no CRL can revoke; remove its trust on the devices instead"
        )
    issuer_id = rec.issuer_id
    if issuer_id is None or issuer_id == rec.id or not store.id_taken(issuer_id):
        raise PolicyError(
            f"{rec.id} was not issued by a CA in this store, so no CRL here can revoke it; "
            "ask its issuer to revoke it"
        )
    return store.get(issuer_id)


def crl_blocker(store: Store, ca: CertRecord) -> str | None:
    """The one sentence saying why this CA cannot publish a CRL, or None if it can."""
    label = f"CA {ca.subject or ca.id} ({ca.id})"
    if not ca.kind.is_ca:
        return f"{ca.id} is a {ca.kind.value} certificate, not a CA; give a CA's id"
    usage = extension(store.certificate(ca.id), x509.KeyUsage, strict=True)
    # RFC 5280 4.2.1.3: without keyUsage the key may be used for anything, CRLs included.
    crl_sign = usage is None or usage.crl_sign
    if not crl_sign:
        return (
            f"no CRL can be published for {label}: its keyUsage lacks cRLSign; "
            "issue new certificates from a CA that has it, such as one made by `certtui init`"
        )
    if not ca.has_key:
        return (
            f"no CRL can be published for {label}: its private key is not in this store; "
            "sign the CRL where that key lives"
        )
    return None


def build_crl(
    ca_cert: x509.Certificate,
    ca_key: keymod.PrivateKey,
    number: int,
    revoked: list[tuple[int, datetime, str]],
    now: datetime,
    days: int = DEFAULT_CRL_DAYS,
) -> x509.CertificateRevocationList:
    """Sign a v2 CRL: AKI, CRL number, thisUpdate now, nextUpdate now + days; no store access.

    `revoked` holds (serial, revocation date, reason name) per entry.
    """
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
        # Both non-critical, as RFC 5280 5.2.1 and 5.2.3 require.
        .add_extension(profiles.authority_key_identifier(ca_cert), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial, when, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        flag = check_reason(reason)
        if flag is not x509.ReasonFlags.unspecified:
            entry = entry.add_extension(x509.CRLReason(flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    # Deterministic ECDSA (RFC 6979), as for certificates: no signature depends on nonce quality.
    deterministic = True if isinstance(ca_key, ec.EllipticCurvePrivateKey) else None
    return builder.sign(
        ca_key,
        keymod.signing_hash(ca_key),
        ecdsa_deterministic=deterministic,  # type: ignore[arg-type]
    )


def _sign_and_store(
    store: Store, ca: CertRecord, ca_key: keymod.PrivateKey, now: datetime, days: int
) -> StoredCrl:
    """Inside `write()`: allocate the next CRL number, sign, and insert the CRL."""
    number = store.next_crl_number(ca.id)
    revoked = [
        (int(serial, 16), parse(at), reason)
        for serial, at, reason in store.revoked_under(ca.id, DEFAULT_REASON)
    ]
    crl = build_crl(store.certificate(ca.id), ca_key, number, revoked, now, days)
    stored = StoredCrl(ca.id, number, iso(now), iso(now + timedelta(days=days)), crl.public_bytes(_DER))
    store.add_crl(stored.issuer_id, stored.number, stored.this_update, stored.next_update, stored.der)
    store.event("crl", ca.id, f"CRL number {number}, {len(revoked)} revoked")
    return stored


def first_crl(store: Store, ca_id: str, ca_key: keymod.PrivateKey, now: datetime) -> StoredCrl:
    """Inside `write()`: the first, empty CRL of a CA just created (`init`, a new intermediate)."""
    return _sign_and_store(store, store.get(ca_id), ca_key, now, DEFAULT_CRL_DAYS)


def sign_crl(
    store: Store, ca_id: str, *, days: int = DEFAULT_CRL_DAYS, now: datetime | None = None
) -> StoredCrl:
    """Sign and store a fresh CRL for a CA (the store must be unlocked)."""
    check_days(days)
    ca = store.get(ca_id)
    blocker = crl_blocker(store, ca)
    if blocker:
        raise PolicyError(blocker)
    ca_key = store.private_key(ca.id)
    with store.write():
        return _sign_and_store(store, ca, ca_key, now or utcnow(), days)


def revoke(
    store: Store,
    cert_id: str,
    reason: str = DEFAULT_REASON,
    *,
    days: int = DEFAULT_CRL_DAYS,
    now: datetime | None = None,
) -> Revocation:
    """Mark revoked, audit it and re-sign the issuer's CRL, all in one transaction.

    The store must be unlocked unless the certificate is already revoked or its CA cannot
    sign CRLs (then the revocation is recorded and `no_crl` says why).
    """
    check_reason(reason)
    check_days(days)
    rec = store.get(cert_id)
    ca = check_revocable(store, rec)
    if rec.revoked_at:
        return Revocation(rec, already=True)
    blocker = crl_blocker(store, ca)
    ca_key = store.private_key(ca.id) if blocker is None else None
    now = now or utcnow()
    crl = None
    with store.write():
        changed = store.mark_revoked(rec.id, iso(now), reason)
        if changed:
            store.event("revoke", rec.id, reason)
            if ca_key is not None:
                crl = _sign_and_store(store, ca, ca_key, now, days)
    if not changed:
        # Another certtui process revoked it between our read and our write.
        return Revocation(store.get(rec.id), already=True)
    return Revocation(store.get(rec.id), already=False, crl=crl, no_crl=blocker)


def latest_crl(store: Store, ca_id: str) -> StoredCrl | None:
    """The CA's most recently signed CRL, or None if it has none yet."""
    row = store.latest_crl(ca_id)
    return None if row is None else StoredCrl(*row)
