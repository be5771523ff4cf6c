"""Adopt what users already have (CAs, certificates, CSRs) and administer the store (passwd, restore)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from certtui.core import checks, issuance, revocation
from certtui.core import keys as keymod
from certtui.core import names as namesmod
from certtui.core.models import CertRecord, IssueRequest, KeySpec, Kind
from certtui.core.store import Store, cert_subject_cn, fingerprint
from certtui.core.timefmt import iso, utcnow
from certtui.errors import BadName, CerttuiError, PolicyError

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_CERT_LABELS = (b"CERTIFICATE",)
_CSR_LABELS = (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")
# PKCS#8 (plain and encrypted), PKCS#1 and SEC1; legacy OpenSSL encryption sits inside the block.
_KEY_LABELS = (b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY")
# The key types certtui seals (keys.from_der loads exactly these).
_SEALABLE = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)
# The key types a TLS certificate can carry (RFC 8446 signature schemes); a CSR with any other
# (DSA, X25519...) is refused.
_SIGNABLE = (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)


class KeyPassphraseNeeded(CerttuiError):
    """The private key file is encrypted and no passphrase was given for it."""


# -- reading what users bring ------------------------------------------------------------


def _pems(data: bytes, source: str, labels: tuple[bytes, ...], what: str, give: str) -> list[bytes] | None:
    """The PEM blocks labelled one of `labels` (text around them is ignored); None when the
    file holds no PEM at all, so it is read as DER; refused when it holds only other blocks."""
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if not blocks:
        return None
    pems = [block for label, block in blocks if label in labels]
    if not pems:
        found = ", ".join(sorted({label.decode() for label, _ in blocks}))
        raise CerttuiError(f"{source} holds a {found}, not {what}; give {give}")
    return pems


def readable(obj: x509.Certificate | x509.CertificateSigningRequest) -> bool:
    """Whether the parts cryptography decodes only when asked (names, key, signature algorithm)
    decode; a certificate failing this would crash whatever reads it later. Extensions are
    left to the checklist's cert.ext-wellformed rule."""
    try:
        obj.subject.rfc4514_string()
        if isinstance(obj, x509.Certificate):
            obj.issuer.rfc4514_string()
        obj.public_key()
        obj.signature_hash_algorithm  # noqa: B018 - decoding it is the point
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def _unreadable(source: str) -> CerttuiError:
    return CerttuiError(
        f"{source} holds a certificate whose name, key or signature algorithm does not decode "
        "(damaged, or a type certtui cannot read); get a fresh copy"
    )


def load_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a bundle, text around it allowed) or a DER file."""
    pems = _pems(data, source, _CERT_LABELS, "a certificate", "a certificate file")
    if pems is not None:
        out = []
        for number, pem in enumerate(pems, 1):
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except (ValueError, x509.InvalidVersion):
                raise CerttuiError(
                    f"{source}: certificate {number} is damaged and does not decode; get a fresh copy"
                ) from None
            if not readable(cert):
                raise _unreadable(source)
            out.append(cert)
        return out
    try:
        cert = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        raise CerttuiError(
            f"{source} holds no certificate (neither PEM nor DER); give a certificate file"
        ) from None
    if not readable(cert):
        raise _unreadable(source)
    return [cert]


def load_private_key(data: bytes, source: str, password: bytes | None = None) -> keymod.PrivateKey:
    """A PKCS#1, PKCS#8 or SEC1 private key, PEM or DER, encrypted or not."""
    pems = _pems(data, source, _KEY_LABELS, "a private key", "the key file")
    if pems is not None:
        if len(pems) > 1:
            raise CerttuiError(
                f"{source} holds {len(pems)} private keys; give a file with the CA's key alone"
            )
        data, loader = pems[0], serialization.load_pem_private_key
    else:
        loader = serialization.load_der_private_key
    try:
        try:
            key = loader(data, password=password)
        except TypeError:
            # Either encrypted with no passphrase given, or a passphrase given for a plain key.
            if password is not None:
                key = loader(data, password=None)
            else:
                raise KeyPassphraseNeeded(
                    f"{source} is encrypted; give its passphrase with --key-passphrase-file FILE"
                ) from None
    except ValueError:
        if password is not None:
            raise CerttuiError(
                f"{source} did not decrypt: the key passphrase is wrong (or the file is damaged); "
                "check the passphrase"
            ) from None
        raise CerttuiError(f"{source} holds no readable private key; give the CA's key file") from None
    except UnsupportedAlgorithm:
        raise CerttuiError(
            f"{source} uses an encryption or key type this system cannot read; convert it with "
            "`openssl pkcs8 -topk8`"
        ) from None
    if not isinstance(key, _SEALABLE):
        raise CerttuiError(
            f"{source} holds a {keymod.describe(key)} key; certtui keeps EC, RSA and Ed25519 CA keys only"
        )
    return key


def load_csr(data: bytes, source: str) -> x509.CertificateSigningRequest:
    """A PKCS#10 request, PEM (text around it allowed) or DER."""
    pems = _pems(data, source, _CSR_LABELS, "a CSR", "the certificate request")
    if pems is not None and len(pems) > 1:
        raise CerttuiError(f"{source} holds {len(pems)} CSRs; give one request per `sign`")
    try:
        csr = x509.load_pem_x509_csr(pems[0]) if pems is not None else x509.load_der_x509_csr(data)
    except (ValueError, x509.InvalidVersion):
        csr = None
    if csr is None or not readable(csr):
        raise CerttuiError(f"{source} holds no readable CSR (PEM or DER); give the certificate request")
    return csr


# -- what a certificate is ---------------------------------------------------------------


def _ext(
    obj: x509.Certificate | x509.CertificateSigningRequest, cls: type[x509.ExtensionType]
) -> x509.ExtensionType | None:
    """An extension's value; None when absent or when the extensions do not decode."""
    try:
        return obj.extensions.get_extension_for_class(cls).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None


def _san(obj: x509.Certificate | x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    san = _ext(obj, x509.SubjectAlternativeName)
    return san if isinstance(san, x509.SubjectAlternativeName) else None


def _name_text(name: x509.GeneralName) -> str | None:
    """A DNS, IP, email or URI entry as `issue` would take it; None for any other type."""
    if isinstance(name, x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier):
        return name.value
    if isinstance(name, x509.IPAddress):
        return str(name.value)
    return None


def _names_of(cert: x509.Certificate) -> tuple[str, ...]:
    """A foreign certificate's names for `list`: its SAN entries of the four types, as written."""
    san = _san(cert)
    return tuple(t for t in (_name_text(n) for n in san or ()) if t is not None)


# -- import-ca ---------------------------------------------------------------------------


def dead_ends(cert: x509.Certificate, now: datetime | None = None) -> list[str]:
    """Why nothing this CA issues can ever be trusted by an iPhone, one line each (none: fine).

    The key (iOS takes RSA 2048+ and EC P-256/P-384 in a chain), a notBefore still to come,
    and a critical extension that no client knows (RFC 5280 4.2: it must then reject the chain).
    """
    name = checks.label(cert)
    out = []
    severity, evidence = checks._key_verdict(cert)
    if severity is checks.Severity.FAIL:
        out.append(f"{name}'s key is {evidence}, so every chain through it is refused")
    now = now or utcnow()
    if cert.not_valid_before_utc > now:
        out.append(
            f"{name} is not valid until {iso(cert.not_valid_before_utc)}, so until then every "
            "chain through it is refused"
        )
    try:
        extensions = list(cert.extensions)
    except (x509.DuplicateExtension, ValueError):
        extensions = []
        out.append(f"{name}'s extensions do not decode, so clients refuse every chain through it")
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            out.append(
                f"{name} has a critical extension no client knows ({ext.oid.dotted_string}), so "
                "clients must refuse every chain through it"
            )
    return out


def validate_ca(
    cert: x509.Certificate, key: keymod.PrivateKey, root: x509.Certificate | None, *, force: bool = False
) -> list[str]:
    """Refuse a CA that cannot be imported (into an empty store when `root` is None, else under
    that root), or that is a dead end for iPhones unless `force`; return the one-line notes
    about what it cannot do."""
    name = checks.label(cert)
    if not checks.classify(cert).is_ca:
        raise PolicyError(
            f"{name} is not a CA (no basicConstraints CA:TRUE); import-ca takes a CA, "
            "use `certtui import` to watch other certificates"
        )
    ku = _ext(cert, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        raise PolicyError(
            f"{name}'s key usage lacks keyCertSign, so it cannot sign certificates; import a CA that can"
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise PolicyError(
            f"the key does not match {name}'s certificate; give the key file that belongs to it"
        )
    if root is None:
        if not checks.self_signed(cert):
            raise PolicyError(
                f"{name} is not a self-signed root; a new store starts from its root, so import "
                "the root first, then this intermediate"
            )
    elif checks.self_signed(cert):
        raise PolicyError(
            f"the store already has a root ({checks.label(root)}); import-ca adds only an intermediate "
            "issued by it (use --home for a second store)"
        )
    elif not checks.issued_by(cert, root):
        raise PolicyError(
            f"{name} was not issued by this store's root ({checks.label(root)}); import-ca adds only "
            "intermediates issued by it (use --home for a second store)"
        )
    notes = []
    blocked = dead_ends(cert)
    if blocked and not force:
        raise PolicyError(
            f"{'; '.join(blocked)}: no certificate it issues would be trusted by an iPhone; import "
            "a CA that can, or add --force to import it anyway"
        )
    notes += [f"imported anyway (--force): {line}" for line in blocked]
    bc = _ext(cert, x509.BasicConstraints)
    if root is None and isinstance(bc, x509.BasicConstraints) and bc.path_length == 0:
        notes.append(
            f"{name} has path length 0, so it cannot have an intermediate; leaves are issued from it directly"
        )
    if cert.not_valid_after_utc <= utcnow():
        notes.append(f"{name} expired on {iso(cert.not_valid_after_utc)}; nothing it issues will be trusted")
    return notes


@dataclass(frozen=True)
class CaImported:
    """An imported CA's record, and the one-line notes on what it cannot do."""

    record: CertRecord
    notes: tuple[str, ...]


def _add_ca(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    kind: Kind,
    issuer_id: str | None,
    crl_url: str | None,
    notes: list[str],
) -> str:
    """Inside `write()`: add the CA with its key, make it the default issuer, note its CRL ability."""
    cert_id = store.add_certificate(
        cert, kind=kind, names=(), issuer_id=issuer_id, key=key, action="import-ca"
    )
    if kind is Kind.ROOT:
        store.set_meta("root", cert_id)
    store.set_meta("default_issuer", cert_id)
    blocker = revocation.crl_blocker(store, store.get(cert_id))
    if blocker and crl_url:
        raise PolicyError(f"--crl-url cannot be used: {blocker}")
    if blocker:
        notes.append(blocker)
    if crl_url:
        store.set_meta("crl_url", revocation.check_crl_url(crl_url))
    return cert_id


def import_root(
    path: Path,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    passphrase: str | None,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> tuple[Store, CaImported]:
    """Create a store around a self-signed root and its key; nothing exists if anything fails."""
    notes = validate_ca(cert, key, None, force=force)
    ids: list[str] = []

    def populate(store: Store) -> None:
        with store.write():
            ids.append(_add_ca(store, cert, key, Kind.ROOT, None, crl_url, notes))

    store = Store.create(path, passphrase, populate)
    return store, CaImported(store.get(ids[0]), tuple(notes))


def import_intermediate(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> CaImported:
    """Add an intermediate issued by the store's root, with its key; it becomes the default issuer."""
    root_id = store.root_id()
    if root_id is None:
        raise CerttuiError("the store has no root; import a root into an empty store first")
    notes = validate_ca(cert, key, store.certificate(root_id), force=force)
    with store.write():
        cert_id = _add_ca(store, cert, key, Kind.INTERMEDIATE, root_id, crl_url, notes)
    return CaImported(store.get(cert_id), tuple(notes))


# -- import (watch certificates from elsewhere) ------------------------------------------


@dataclass(frozen=True)
class Imported:
    """What `import_certificates` did: the records added, one note per certificate skipped, and
    one warning per certificate added that goes by the name of one of the store's own CAs."""

    added: tuple[CertRecord, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def _lookup_names(cert: x509.Certificate) -> set[str]:
    """The names `Store.resolve` finds a certificate by: its CN and SAN entries, lower-case."""
    cn = cert_subject_cn(cert)
    return {n.lower() for n in _names_of(cert)} | ({cn.lower()} if cn else set())


def _clash(
    cert: x509.Certificate, cert_id: str, own_cas: Sequence[tuple[CertRecord, x509.Certificate]]
) -> str | None:
    """The warning for a foreign certificate named like one of the store's own CAs, or None."""
    mine = _lookup_names(cert)
    for rec, ca in own_cas:
        if cert.subject == ca.subject or mine & _lookup_names(ca):
            return (
                f"imported {cert_id} goes by the name of this store's own {rec.kind.value} "
                f"{rec.subject or rec.id} ({rec.id}); that name still means the store's own, and the "
                f"imported one is marked external (if you did not expect it, remove it: it is not yours)"
            )
    return None


def import_certificates(store: Store, certs: Sequence[x509.Certificate]) -> Imported:
    """Add foreign certificates, with no key, as external; skip those already in the store.

    All are added in one transaction. Each is linked to its issuer when that is in the store
    (or in the same batch) and its signature verifies; CAs go first so leaves find them.
    """
    rank = {Kind.ROOT: 0, Kind.INTERMEDIATE: 1}
    order = sorted(((checks.classify(c), c) for c in certs), key=lambda kc: rank.get(kc[0], 2))
    cas = [
        (r.id, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
    ]
    own_cas = [
        (r, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
        if not r.external
    ]
    added: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    with store.write():
        for kind, cert in order:
            existing = store.find_sha256(fingerprint(cert))
            if existing is not None:
                shown = ", ".join(_names_of(cert)) or checks.label(cert)
                notes.append(f"skipped {shown}: already in the store as {existing}")
                continue
            issuer_id = None
            if kind is not Kind.ROOT:
                issuer_id = next((cid for cid, ca in cas if checks.issued_by(cert, ca)), None)
            cert_id = store.add_certificate(
                cert,
                kind=kind,
                names=_names_of(cert),
                issuer_id=issuer_id,
                external=True,
                action="import",
            )
            added.append(cert_id)
            if (clash := _clash(cert, cert_id, own_cas)) is not None:
                warnings.append(clash)
            if kind.is_ca:
                cas.append((cert_id, cert))
    return Imported(tuple(store.get(i) for i in added), tuple(notes), tuple(warnings))


# -- sign a CSR --------------------------------------------------------------------------


def csr_names(csr: x509.CertificateSigningRequest) -> tuple[str, ...]:
    """The names to certify: the CSR's SANs, else its CN as the single name, else refuse."""
    try:
        list(csr.extensions)
    except (x509.DuplicateExtension, ValueError):
        raise PolicyError(
            "the CSR's extensions do not decode (one is malformed or repeated); make a new CSR on the device"
        ) from None
    texts = []
    for name in _san(csr) or ():
        text = _name_text(name)
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
    this very certificate (`checks.guardrail(..., signed=...)`) before `store_signed_csr`."""
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
