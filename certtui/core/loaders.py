"""Read the certificates, private keys and CSRs users bring: PEM or DER, refused in one line."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certtui.core import keys as keymod
from certtui.core.extensions import extension
from certtui.errors import CerttuiError

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_CERT_LABELS = (b"CERTIFICATE",)
_CSR_LABELS = (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST")
# PKCS#8 (plain and encrypted), PKCS#1 and SEC1; legacy OpenSSL encryption sits inside the block.
_KEY_LABELS = (b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY")
# The key types certtui seals (keys.from_der loads exactly these).
_SEALABLE = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


class KeyPassphraseNeeded(CerttuiError):
    """The private key file is encrypted and no passphrase was given for it."""


@dataclass(frozen=True)
class CertificateRefusals:
    """How a command words the refusals of `load_certificates` (the defaults are `import`'s and
    `import-ca`'s). `{source}` is the file; `{found}` the PEM labels it holds instead; `{number}`
    and `{error}` the block that does not decode and why."""

    other_blocks: str = "{source} holds a {found}, not a certificate; give a certificate file"
    damaged: str = "{source}: certificate {number} is damaged and does not decode; get a fresh copy"
    neither: str = "{source} holds no certificate (neither PEM nor DER); give a certificate file"


def _pems(data: bytes, source: str, labels: tuple[bytes, ...], refusal: str) -> list[bytes] | None:
    """The PEM blocks labelled one of `labels` (text around them is ignored); None when the
    file holds no PEM at all, so it is read as DER; `refusal` (with `{source}` and `{found}`)
    when it holds only other blocks."""
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(data)]
    if not blocks:
        return None
    pems = [block for label, block in blocks if label in labels]
    if not pems:
        found = ", ".join(sorted({label.decode() for label, _ in blocks}))
        raise CerttuiError(refusal.format(source=source, found=found))
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


_IMPORT_REFUSALS = CertificateRefusals()


def load_certificates(
    data: bytes, source: str, refusals: CertificateRefusals = _IMPORT_REFUSALS
) -> list[x509.Certificate]:
    """Every certificate in a PEM file (a bundle: leaf first, text around it allowed) or the
    one in a DER file."""
    pems = _pems(data, source, _CERT_LABELS, refusals.other_blocks)
    if pems is not None:
        out = []
        for number, pem in enumerate(pems, 1):
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except (ValueError, x509.InvalidVersion) as exc:
                raise CerttuiError(refusals.damaged.format(source=source, number=number, error=exc)) from None
            if not readable(cert):
                raise _unreadable(source)
            out.append(cert)
        return out
    try:
        cert = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        raise CerttuiError(refusals.neither.format(source=source)) from None
    if not readable(cert):
        raise _unreadable(source)
    return [cert]


def load_private_key(data: bytes, source: str, password: bytes | None = None) -> keymod.PrivateKey:
    """A PKCS#1, PKCS#8 or SEC1 private key, PEM or DER, encrypted or not."""
    pems = _pems(data, source, _KEY_LABELS, "{source} holds a {found}, not a private key; give the key file")
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
    pems = _pems(
        data, source, _CSR_LABELS, "{source} holds a {found}, not a CSR; give the certificate request"
    )
    if pems is not None and len(pems) > 1:
        raise CerttuiError(f"{source} holds {len(pems)} CSRs; give one request per `sign`")
    try:
        csr = x509.load_pem_x509_csr(pems[0]) if pems is not None else x509.load_der_x509_csr(data)
    except (ValueError, x509.InvalidVersion):
        csr = None
    if csr is None or not readable(csr):
        raise CerttuiError(f"{source} holds no readable CSR (PEM or DER); give the certificate request")
    return csr


# -- the names in what was read -------------------------------------------------------------


def subject_alt_name(
    obj: x509.Certificate | x509.CertificateSigningRequest,
) -> x509.SubjectAlternativeName | None:
    return extension(obj, x509.SubjectAlternativeName)


def name_text(name: x509.GeneralName) -> str | None:
    """A DNS, IP, email or URI entry as `issue` would take it; None for any other type."""
    if isinstance(name, x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier):
        return name.value
    if isinstance(name, x509.IPAddress):
        return str(name.value)
    return None


def names_of(cert: x509.Certificate) -> tuple[str, ...]:
    """A foreign certificate's names for `list`: its SAN entries of the four types, as written."""
    san = subject_alt_name(cert)
    return tuple(t for t in (name_text(n) for n in san or ()) if t is not None)
