"""Create the root and intermediates, issue, renew: validate first, then sign and store in one go."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certtui.core import keys as keymod
from certtui.core import names as namesmod
from certtui.core import profiles
from certtui.core.constraints import (
    chain_constraint_violations,
    chain_constraints,
    intermediate_constraints,
    root_constraints,
)
from certtui.core.extensions import extension
from certtui.core.models import CertRecord, InitRequest, IssueRequest, KeySpec, Kind, Names
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import AlreadyRenewed, CerttuiError, NamesRefused, PolicyError

# 128-bit random positive serials (RFC 5280 4.1.2.2 allows 20 octets; CA/B BR 7.1 asks for 64
# random bits or more). The top nibble is non-zero so every id is 12 real hex digits.
SERIAL_BITS = 128
# A certificate's validity in days: at least one day, and no more than the root's own
# 100-year horizon (X.509 GeneralizedTime handles it, but nothing sensible needs longer).
MIN_DAYS = 1
MAX_DAYS = 36500


def new_serial() -> int:
    while True:
        # What secrets.randbits does, without importing secrets (and random, hmac) each run.
        n = int.from_bytes(os.urandom(SERIAL_BITS // 8), "big")
        if n >> (SERIAL_BITS - 4):
            return n


def fresh_serial(store: Store, taken: set[str] | None = None) -> int:
    """A serial whose 12-digit id prefix is free in the store and not in `taken` (a batch's
    ids so far, which it joins). `add_certificate` checks again inside its transaction."""
    while True:
        n = new_serial()
        cert_id = format(n, "x")[:12]
        if (taken is None or cert_id not in taken) and not store.id_taken(cert_id):
            if taken is not None:
                taken.add(cert_id)
            return n


def _name(cn: str | None) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])


def _check_days(days: int) -> int:
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise PolicyError(f"--days {days} is out of range; give between {MIN_DAYS} and {MAX_DAYS}")
    return days


def _check_cn(cn: str) -> str:
    cn = cn.strip()
    if not cn:
        raise PolicyError("the CA name is empty; give a name such as 'Home Lab Root CA'")
    # RFC 5280 upper bound ub-common-name: 64 characters.
    if len(cn) > 64:
        raise PolicyError(f"the CA name is {len(cn)} characters long; use at most 64")
    if any(ord(c) < 32 or ord(c) == 127 for c in cn):
        raise PolicyError("the CA name contains control characters; use printable text")
    return cn


def _build(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    signer: keymod.PrivateKey,
    serial: int,
    not_before: datetime,
    days: int,
    extensions: Sequence[profiles.Extension],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_before + timedelta(days=days))
    )
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    # Deterministic ECDSA (RFC 6979): no signature depends on the RNG's nonce quality.
    deterministic = True if isinstance(signer, ec.EllipticCurvePrivateKey) else None
    return builder.sign(
        signer,
        keymod.signing_hash(signer),
        ecdsa_deterministic=deterministic,  # type: ignore[arg-type]
    )


def _path_len_allows_ca(ca: x509.Certificate) -> bool:
    bc = extension(ca, x509.BasicConstraints, strict=True)
    return bc is not None and bc.ca and (bc.path_length is None or bc.path_length > 0)


# -- the root ---------------------------------------------------------------------------


def init_store(
    path: Path, req: InitRequest, passphrase: str | None, now: datetime | None = None
) -> tuple[Store, list[CertRecord]]:
    """Create the store with its root (and intermediate); nothing exists if anything fails."""
    # Only `init` takes a CRL URL and signs CRLs: `issue` does not load the revocation module.
    from certtui.core.revocation import check_crl_url, first_crl

    now = now or utcnow()
    name = _check_cn(req.name)
    root_days = _check_days(profiles.ROOT_DAYS if req.days is None else req.days)
    constraints = root_constraints(req.permit)
    crl_url = check_crl_url(req.crl_url) if req.crl_url else None
    root_key = keymod.generate(req.key)
    int_key = keymod.generate(req.key) if req.intermediate else None
    ids: list[str] = []

    def populate(store: Store) -> None:
        not_before = now - profiles.BACKDATE
        with store.write():
            serial = fresh_serial(store)
            root = _build(
                subject=_name(name),
                issuer=_name(name),
                public_key=root_key.public_key(),
                signer=root_key,
                serial=serial,
                not_before=not_before,
                days=root_days,
                extensions=profiles.root_extensions(root_key.public_key(), constraints),
            )
            root_id = store.add_certificate(
                root, kind=Kind.ROOT, names=(), issuer_id=None, key=root_key, action="init"
            )
            store.set_meta("root", root_id)
            store.set_meta("default_issuer", root_id)
            if crl_url:
                store.set_meta("crl_url", crl_url)
            # A CRL for every CA from the start: clients that check the whole chain
            # (openssl -crl_check_all, curl --crlfile, Java) need the root's too.
            first_crl(store, root_id, root_key, now)
            ids.append(root_id)
            if int_key is not None:
                inter = _build(
                    subject=_name(f"{name} Intermediate"[:64]),
                    issuer=root.subject,
                    public_key=int_key.public_key(),
                    signer=root_key,
                    serial=fresh_serial(store),
                    not_before=not_before,
                    days=min(profiles.INTERMEDIATE_DAYS, root_days),
                    extensions=profiles.intermediate_extensions(
                        int_key.public_key(),
                        root,
                        intermediate_constraints(chain_constraints([root]), ()),
                        profiles.crl_url_for(crl_url, root_id) if crl_url else None,
                    ),
                )
                int_id = store.add_certificate(
                    inter,
                    kind=Kind.INTERMEDIATE,
                    names=(),
                    issuer_id=root_id,
                    key=int_key,
                    action="init",
                )
                store.set_meta("default_issuer", int_id)
                first_crl(store, int_id, int_key, now)
                ids.append(int_id)

    store = Store.create(path, passphrase, populate)
    return store, [store.get(i) for i in ids]


# -- issuing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuePlan:
    """A request that passed every check; `execute` only generates, signs and stores."""

    kind: Kind
    names: Names
    cn: str | None
    days: int
    key: KeySpec
    issuer_id: str
    constraints: x509.NameConstraints | None
    renews: str | None = None


def plan(store: Store, req: IssueRequest) -> IssuePlan:
    """Validate a request (names, issuer, constraints, days) without touching any key."""
    days = _check_days(profiles.DEFAULT_DAYS[req.kind] if req.days is None else req.days)
    if req.kind is Kind.ROOT:
        raise PolicyError("a store has one root; create it with `certtui init`")
    if req.kind is Kind.INTERMEDIATE:
        cn = _check_cn(req.cn or " ".join(req.names))
        issuer = store.resolve(req.issuer) if req.issuer else store.get(store.root_id() or "")
        issuer_cert = _ca_with_key(store, issuer)
        if not _path_len_allows_ca(issuer_cert):
            raise PolicyError(
                f"{issuer.subject or issuer.id} has path length 0, so it cannot have an "
                "intermediate; issue leaves from it directly"
            )
        above = chain_constraints([issuer_cert, *store.chain(issuer.id)])
        constraints = intermediate_constraints(above, req.permit)
        return IssuePlan(Kind.INTERMEDIATE, Names(), cn, days, req.key, issuer.id, constraints)
    if req.permit:
        raise PolicyError("--permit applies to CAs only; use it with --intermediate or init")
    names = namesmod.parse_names(req.names)
    issuer_id = (req.issuer and store.resolve(req.issuer).id) or store.default_issuer_id()
    if issuer_id is None:
        raise CerttuiError("the store has no root yet; create one with `certtui init --name NAME`")
    issuer_rec = store.get(issuer_id)
    issuer_cert = _ca_with_key(store, issuer_rec)
    chain = [issuer_cert] + store.chain(issuer_id)
    # Each violation once: an intermediate now repeats its root's constraints.
    bad = list(dict.fromkeys(chain_constraint_violations(names, chain_constraints(chain))))
    if bad:
        raise NamesRefused(f"{'; '.join(bad)}: the CA's name constraints forbid it; use a name inside them")
    leaf_cn = profiles.leaf_common_name(names.dns)
    return IssuePlan(req.kind, names, leaf_cn, days, req.key, issuer_id, None)


def _ca_with_key(store: Store, rec: CertRecord) -> x509.Certificate:
    if not rec.kind.is_ca:
        raise PolicyError(f"{rec.id} is a {rec.kind.value} certificate, not a CA; pick a CA to issue from")
    if not rec.has_key:
        raise PolicyError(f"CA {rec.id} has no private key in this store, so it cannot sign")
    if rec.status.value in ("revoked", "expired"):
        raise PolicyError(f"CA {rec.id} is {rec.status.value}; issue from a valid CA")
    return store.certificate(rec.id)


def build_certificate(
    p: IssuePlan,
    public_key: object,
    issuer_cert: x509.Certificate,
    issuer_key: keymod.PrivateKey,
    serial: int,
    now: datetime,
    crl_url: str | None = None,
) -> x509.Certificate:
    """Sign the certificate a plan describes (no store access; the issue form previews with it).

    `crl_url` is the store's CRL base URL; the certificate points at its issuer's CRL there.
    """
    crl_url = profiles.crl_url_for(crl_url, p.issuer_id) if crl_url else None
    if p.kind is Kind.INTERMEDIATE:
        exts = profiles.intermediate_extensions(public_key, issuer_cert, p.constraints, crl_url)
    else:
        exts = profiles.leaf_extensions(
            p.kind,
            public_key,
            issuer_cert,
            namesmod.general_names(p.names),
            empty_subject=p.cn is None,
            crl_url=crl_url,
        )
    return _build(
        subject=_name(p.cn),
        issuer=issuer_cert.subject,
        public_key=public_key,
        signer=issuer_key,
        serial=serial,
        not_before=now - profiles.BACKDATE,
        days=p.days,
        extensions=exts,
    )


@dataclass(frozen=True)
class Signed:
    """A planned certificate, signed by its real CA but not stored yet, with its new key."""

    plan: IssuePlan
    cert: x509.Certificate
    key: keymod.PrivateKey


def sign(
    store: Store,
    p: IssuePlan,
    *,
    now: datetime | None = None,
    issuer_key: keymod.PrivateKey | None = None,
    taken: set[str] | None = None,
) -> Signed:
    """Generate the key and sign the certificate, writing nothing: the guardrail judges this
    very certificate (`journeys.issue.guardrail(..., signed=...)`) before `commit` stores it.

    `taken` collects a batch's ids so that no two certificates of one batch share one.
    """
    key = keymod.generate(p.key)
    issuer_key = issuer_key or store.private_key(p.issuer_id)
    cert = build_certificate(
        p,
        key.public_key(),
        store.certificate(p.issuer_id),
        issuer_key,
        fresh_serial(store, taken),
        now or utcnow(),
        store.meta("crl_url"),
    )
    return Signed(p, cert, key)


def commit(store: Store, s: Signed) -> CertRecord:
    """Store a signed certificate and its key in one transaction."""
    p = s.plan
    with store.write():
        if p.renews:
            # Checked inside the transaction: two renewals of one certificate (the timer and a
            # user, two SSH sessions) both plan it, and only the first to commit may store.
            done = store.renewed_by(p.renews)
            if done is not None:
                raise AlreadyRenewed(
                    f"{p.renews} was already renewed as {done} (by another certtui process); use {done}",
                    done,
                )
        cert_id = store.add_certificate(
            s.cert,
            kind=p.kind,
            names=p.names.values(),
            issuer_id=p.issuer_id,
            key=s.key,
            action="renew" if p.renews else "issue",
            detail=f"renews {p.renews}" if p.renews else "",
        )
        if p.renews:
            store.mark_renewed(p.renews, cert_id)
        if p.kind is Kind.INTERMEDIATE:
            from certtui.core.revocation import first_crl

            first_crl(store, cert_id, s.key, s.cert.not_valid_before_utc + profiles.BACKDATE)
    return store.get(cert_id)


def execute(
    store: Store,
    p: IssuePlan,
    *,
    now: datetime | None = None,
    issuer_key: keymod.PrivateKey | None = None,
) -> CertRecord:
    """Generate the key, sign, and store certificate + key in one transaction."""
    return commit(store, sign(store, p, now=now, issuer_key=issuer_key))


# -- renewing ---------------------------------------------------------------------------


def plan_renewal(store: Store, rec: CertRecord) -> IssuePlan:
    """Same names, kind, key type and issuer; the default lifetime; a new key."""
    if rec.kind not in (Kind.SERVER, Kind.CLIENT):
        raise PolicyError(f"{rec.id} is a {rec.kind.value}; renew works on leaves only")
    if rec.external or rec.issuer_id is None:
        raise PolicyError(f"{rec.id} was not issued by this store, so it cannot renew it")
    if not rec.has_key:
        raise PolicyError(
            f"{rec.id} was signed from a device's own request, so its key lives on the device; "
            "have the device make a new CSR and sign it with `certtui sign`"
        )
    spec = keymod.spec_for(rec.key_type) or KeySpec.EC256
    p = plan(store, IssueRequest(names=rec.names, kind=rec.kind, key=spec, issuer=rec.issuer_id))
    return IssuePlan(p.kind, p.names, p.cn, p.days, p.key, p.issuer_id, None, renews=rec.id)


def renewable(store: Store, within_days: int, now: datetime | None = None) -> list[CertRecord]:
    """Leaves of this store expiring within the window, not revoked and not yet renewed."""
    return [
        r
        for r in store.records(expiring_within=within_days, now=now)
        if r.kind in (Kind.SERVER, Kind.CLIENT) and not r.external and r.renewed_by is None
    ]
