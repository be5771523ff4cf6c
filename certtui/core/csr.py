"""Sign a device's CSR: its names and key checked, planned like `issue`, stored without a key."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from certtui.core import issuance
from certtui.core import keys as keymod
from certtui.core import names as namesmod
from certtui.core.loaders import name_text, subject_alt_name
from certtui.core.models import CertRecord, IssueRequest, KeySpec, Kind
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import BadName, PolicyError

# The key types a TLS certificate can carry (RFC 8446 signature schemes); a CSR with any other
# (DSA, X25519...) is refused.
_SIGNABLE = (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


def csr_names(csr: x509.CertificateSigningRequest) -> tuple[str, ...]:
    """The names to certify: the CSR's SANs, else its CN as the single name, else refuse."""
    try:
        list(csr.extensions)
    except (x509.DuplicateExtension, ValueError):
        raise PolicyError(
            "the CSR's extensions do not decode (one is malformed or repeated); make a new CSR on the device"
        ) from None
    texts = []
    for name in subject_alt_name(csr) or ():
        text = name_text(name)
        if text is None:
            raise PolicyError(
                f"the CSR's subjectAltName holds a {type(name).__name__} entry, which certtui does "
                "not sign; make the CSR with DNS names, IPs, emails or URIs only"
            )
        try:
            namesmod.parse_name(text)
        except BadName as exc:
            raise BadName(f"the CSR's subjectAltName has a {exc}") from None
        texts.append(text)
    if texts:
        return tuple(texts)
    attrs = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = attrs[0].value if attrs else ""
    cn = cn if isinstance(cn, str) else cn.decode("utf-8", "replace")
    if not cn.strip():
        raise PolicyError(
            "the CSR names no host: it has neither a subjectAltName nor a common name; make it "
            "again with the device's host name"
        )
    try:
        namesmod.parse_name(cn)
    except BadName:
        raise BadName(
            f"the CSR has no subjectAltName, and its common name {cn[:64]!r} is not a host name, IP, "
            "email or URI; make the CSR again with the device's host name"
        ) from None
    return (cn,)


def csr_key(csr: x509.CertificateSigningRequest) -> keymod.PublicKey:
    """The CSR's public key, one a TLS certificate can carry; refused otherwise."""
    public_key = csr.public_key()
    if not isinstance(public_key, _SIGNABLE):
        raise PolicyError(
            f"the CSR's key is {keymod.describe(public_key)}, which TLS clients do not accept; make the "
            "CSR with an EC or RSA key"
        )
    return public_key


def plan_csr(
    store: Store,
    csr: x509.CertificateSigningRequest,
    *,
    kind: Kind = Kind.SERVER,
    days: int | None = None,
    issuer: str | None = None,
) -> issuance.IssuePlan:
    """Check the CSR (self-signature, key type, names) and plan it like `issue` plans NAMEs."""
    if not csr.is_signature_valid:
        raise PolicyError(
            "the CSR's signature does not match its key (damaged or tampered with); make a new "
            "CSR on the device"
        )
    public_key = csr_key(csr)
    # The plan's key type is only a label here: the guardrail judges the CSR's own key
    # (`guardrail(..., public_keys=[csr_key(csr)])` before unlocking, the signed one after).
    spec = keymod.spec_for(keymod.describe(public_key)) or KeySpec.EC256
    req = IssueRequest(names=csr_names(csr), kind=kind, days=days, issuer=issuer, key=spec)
    return issuance.plan(store, req)


def csr_certificate(
    store: Store,
    p: issuance.IssuePlan,
    csr: x509.CertificateSigningRequest,
    *,
    now: datetime | None = None,
) -> x509.Certificate:
    """The planned certificate for the CSR's key, signed but not stored: the guardrail judges
    this very certificate (`journeys.issue.guardrail(..., signed=...)`) before `store_signed_csr`."""
    return issuance.build_certificate(
        p,
        csr.public_key(),
        store.certificate(p.issuer_id),
        store.private_key(p.issuer_id),
        issuance.fresh_serial(store),
        now or utcnow(),
        store.meta("crl_url"),
    )


def store_signed_csr(store: Store, p: issuance.IssuePlan, cert: x509.Certificate) -> CertRecord:
    """Store a certificate signed from a CSR, without a key: that stays with the device."""
    with store.write():
        cert_id = store.add_certificate(
            cert,
            kind=p.kind,
            names=p.names.values(),
            issuer_id=p.issuer_id,
            action="sign",
            detail=f"from a CSR: {', '.join(p.names.values())}",
        )
    return store.get(cert_id)
