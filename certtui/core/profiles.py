"""The extension sets of root, intermediate, server and client certificates, every flag spelled out."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from certtui.core import policy
from certtui.core.extensions import extension
from certtui.core.models import Kind

# Lifetimes and the backdate: core/policy.py, where their reasons are.
ROOT_DAYS = policy.ROOT_DAYS
INTERMEDIATE_DAYS = policy.INTERMEDIATE_DAYS
LEAF_DAYS = policy.LEAF_DAYS
BACKDATE = policy.BACKDATE

DEFAULT_DAYS = {
    Kind.ROOT: ROOT_DAYS,
    Kind.INTERMEDIATE: INTERMEDIATE_DAYS,
    Kind.SERVER: LEAF_DAYS,
    Kind.CLIENT: LEAF_DAYS,
}

Extension = tuple[x509.ExtensionType, bool]


def leaf_common_name(dns_names: Sequence[str]) -> str | None:
    """A leaf's CN: its first DNS name of at most 64 characters, else no CN at all.

    OpenSSL checks a CN that looks like a host name against the DNS name constraints when the
    leaf has no DNS SAN, and GnuTLS checks every CN, so `CN=192.168.1.50` under a `home.arpa`
    root is a "permitted subtree violation" to curl, Python and wget (docs/trust-rules.md,
    leaf.cn-not-dns). Of the two ways out we take the empty subject with a critical SAN
    (RFC 5280 4.2.1.6), not a subject of some other attribute: it invents no name, and every
    client tested (docs/trust-rules.md, "Verified clients") and pkilint accept it.
    """
    # RFC 5280 upper bound ub-common-name: 64 characters.
    return next((name for name in dns_names if len(name) <= 64), None)


def _ca_key_usage() -> x509.KeyUsage:
    # keyCertSign to sign certificates, cRLSign to sign CRLs, digitalSignature for OCSP-style
    # signing; critical, as RFC 5280 4.2.1.3 recommends for CAs.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The AKI pointing at the issuer's SKI (or, if it has none, its key's hash)."""
    ski = extension(issuer, x509.SubjectKeyIdentifier, strict=True)
    if ski is not None:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]


def crl_file_name(ca_id: str) -> str:
    """The file name of a CA's CRL in the published folder: its 12-hex id, which never changes."""
    return f"{ca_id}.crl"


def crl_url_for(base: str, ca_id: str) -> str:
    """Where the CRL of the CA `ca_id` is published: the base URL's folder plus `<ca id>.crl`.

    `init --crl-url http://nas.home.arpa/crl/` makes every certificate point at its own
    issuer's CRL, `http://nas.home.arpa/crl/<issuer id>.crl`, the names `certtui crl --all
    --out DIR` writes. A base that names a file (the form of earlier versions) keeps its folder.
    """
    parts = urlsplit(base)
    folder = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, folder + crl_file_name(ca_id), "", ""))


def _crl_dp(crl_url: str | None) -> list[Extension]:
    if not crl_url:
        return []
    point = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(crl_url)],
        relative_name=None,
        reasons=None,
        crl_issuer=None,
    )
    return [(x509.CRLDistributionPoints([point]), False)]


def root_extensions(public_key: object, constraints: x509.NameConstraints | None = None) -> list[Extension]:
    # CA:TRUE critical: iOS 10.3+ only offers "full trust" for a CA:TRUE root (SE283348).
    # No path length: the root may sign an intermediate.
    exts: list[Extension] = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (_ca_key_usage(), True),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),  # type: ignore[arg-type]
    ]
    if constraints is not None:
        # Critical, as RFC 5280 4.2.1.10 requires; iOS 13+ enforces it on the root itself.
        exts.append((constraints, True))
    return exts


def intermediate_extensions(
    public_key: object,
    issuer: x509.Certificate,
    constraints: x509.NameConstraints | None = None,
    crl_url: str | None = None,
) -> list[Extension]:
    # pathlen 0: an intermediate signs leaves only; one level is all a home lab needs.
    exts: list[Extension] = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_ca_key_usage(), True),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),  # type: ignore[arg-type]
        (authority_key_identifier(issuer), False),
    ]
    if constraints is not None:
        exts.append((constraints, True))
    return exts + _crl_dp(crl_url)


def leaf_extensions(
    kind: Kind,
    public_key: object,
    issuer: x509.Certificate,
    san: Sequence[x509.GeneralName],
    *,
    empty_subject: bool,
    crl_url: str | None = None,
) -> list[Extension]:
    if kind not in (Kind.SERVER, Kind.CLIENT):
        raise ValueError(f"not a leaf kind: {kind}")
    # keyEncipherment only for RSA (RSA key transport); EC keys never encipher.
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    # Apple requires serverAuth in a TLS server certificate (HT210176); clientAuth for mTLS.
    eku = ExtendedKeyUsageOID.SERVER_AUTH if kind is Kind.SERVER else ExtendedKeyUsageOID.CLIENT_AUTH
    return [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (usage, True),
        (x509.ExtendedKeyUsage([eku]), False),
        # The SAN is critical exactly when the subject is empty (RFC 5280 4.2.1.6).
        (x509.SubjectAlternativeName(list(san)), empty_subject),
        (x509.SubjectKeyIdentifier.from_public_key(public_key), False),  # type: ignore[arg-type]
        (authority_key_identifier(issuer), False),
    ] + _crl_dp(crl_url)
