"""The checklist of a certificate not signed yet: a plan on throwaway keys, or one signed, not stored."""

from __future__ import annotations

from datetime import datetime
from functools import cache, lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certtui.core import keys as keymod
from certtui.core.checks.engine import check
from certtui.core.checks.facts import self_signed
from certtui.core.checks.findings import Finding
from certtui.core.checks.rules_chain import int_sig_hash_of
from certtui.core.issuance import IssuePlan, build_certificate, new_serial
from certtui.core.models import KeySpec
from certtui.core.store import Store
from certtui.core.timefmt import utcnow


@cache
def _throwaway_key(key_type: str) -> keymod.PrivateKey:
    """A key of the type `keys.describe` names (EC P-256 if unknown), never used for anything kept.

    One per type and process: the preview runs on every keystroke and RSA 4096 takes a second.
    """
    if key_type == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if key_type == "EC P-521":
        return ec.generate_private_key(ec.SECP521R1())
    if key_type.startswith("RSA ") and key_type[4:].isdigit():
        return rsa.generate_private_key(public_exponent=keymod.RSA_EXPONENT, key_size=int(key_type[4:]))
    return keymod.generate(keymod.spec_for(key_type) or KeySpec.EC256)


# The mirrors of the last few CA chains: the live preview runs on every keystroke, and every
# plan of a batch shares its CAs, so each chain is re-signed once per process.
@lru_cache(maxsize=8)
def _mirror(
    issuers: tuple[x509.Certificate, ...],
) -> tuple[tuple[x509.Certificate, keymod.PrivateKey], ...]:
    """The issuers (nearest first) re-signed top-down with throwaway keys of the same types.

    Names, serials, validity and extensions (SKI, AKI, constraints, path length) are copied, so
    every structural rule judges the real CAs, and the signatures verify along the mirror.
    """
    out: list[tuple[x509.Certificate, keymod.PrivateKey]] = []
    signer: keymod.PrivateKey | None = None
    for ca in reversed(issuers):
        key = _throwaway_key(keymod.describe(ca.public_key()))
        if signer is None:
            signer = key if self_signed(ca) else _throwaway_key("issuer outside the store")
        builder = (
            x509.CertificateBuilder()
            .subject_name(ca.subject)
            .issuer_name(ca.issuer)
            .public_key(key.public_key())
            .serial_number(ca.serial_number)
            .not_valid_before(ca.not_valid_before_utc)
            .not_valid_after(ca.not_valid_after_utc)
        )
        for ext in ca.extensions:
            builder = builder.add_extension(ext.value, critical=ext.critical)
        out.insert(0, (builder.sign(signer, keymod.signing_hash(signer)), key))  # type: ignore[arg-type]
        signer = key
    return tuple(out)


def _issuers(store: Store, issuer_id: str) -> tuple[x509.Certificate, ...]:
    """The CA that signs a plan, then its own issuers up to the root."""
    return (store.certificate(issuer_id), *store.chain(issuer_id))


def preview_findings(
    store: Store, plan: IssuePlan, now: datetime | None = None, public_key: keymod.PublicKey | None = None
) -> list[Finding]:
    """The findings of the certificate `plan` would issue, signed with throwaway keys.

    No unlock and no write: the CAs above are mirrored (see `_mirror`), the leaf key is
    `public_key` (a CSR's, which the certificate will carry) or a throwaway of the planned
    type, and the findings are those `check` gives a store ID.
    """
    now = now or utcnow()
    issuers = _issuers(store, plan.issuer_id)
    mirrors = _mirror(issuers)
    issuer_cert, issuer_key = mirrors[0]
    leaf_key = public_key if public_key is not None else _throwaway_key(plan.key.label).public_key()
    cert = build_certificate(
        plan, leaf_key, issuer_cert, issuer_key, new_serial(), now, store.meta("crl_url")
    )
    chain = [m for m, _ in mirrors]
    roots = [chain[-1]] if self_signed(chain[-1]) else []
    findings = check(cert, chain, roots=roots, now=now, kind=plan.kind)
    # The mirrors are signed with SHA-2 whatever the real CAs used: judge their hash on the real ones.
    real = int_sig_hash_of([ca for ca in issuers if not self_signed(ca)])
    return [real if f.id == "int.sig-hash" and real is not None else f for f in findings]


def signed_findings(
    store: Store, plan: IssuePlan, cert: x509.Certificate, now: datetime | None = None
) -> list[Finding]:
    """The findings of `cert`, signed for `plan` by its real CA and not stored yet: the same
    rules `preview_findings` applies, on the very certificate `commit` would store."""
    chain = list(_issuers(store, plan.issuer_id))
    roots = [chain[-1]] if self_signed(chain[-1]) else []
    return check(cert, chain, roots=roots, now=now or utcnow(), kind=plan.kind)
