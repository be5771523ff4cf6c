"""Facts about certificates that the rules read: names, keys, kinds, issuers, and the rules' context."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certtui.core import keys as keymod
from certtui.core import names as namesmod
from certtui.core import policy
from certtui.core.checks.findings import Finding, Severity, finding
from certtui.core.extensions import extension
from certtui.core.models import CertRecord, Kind, Names
from certtui.core.store import Store, fingerprint
from certtui.core.timefmt import iso
from certtui.errors import CerttuiError

# Apple's TLS key-size table (HT210176, SecPolicy.c) has RSA and EC entries only: RSA from 2048
# bits, EC from P-256. P-521 passes that table but iOS TLS support for it is unconfirmed.
MIN_RSA_BITS = 2048
GOOD_CURVES = frozenset({"secp256r1", "secp384r1"})
DOUBTFUL_CURVES = frozenset({"secp521r1"})
# HT210176: SHA-1 (and MD5) signatures are no longer trusted for TLS; SHA-2 only.
GOOD_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
# The backdate a phone with a slow clock needs: core/policy.py, with its reason.
MIN_BACKDATE = policy.MIN_BACKDATE
# OpenSSL's cn2dnsid checks a CN against DNS constraints when it looks like a host name:
# labels of letters, digits, '-' and '_', two or more of them (an IPv4 literal qualifies).
HOST_LIKE_CN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?")


# -- small facts about certificates -------------------------------------------------------


def label(cert: x509.Certificate) -> str:
    """The common name, else the RFC 4514 subject: how a finding names a certificate."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs and str(attrs[0].value).strip():
        return str(attrs[0].value)
    return cert.subject.rfc4514_string() or "(empty subject)"


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Whether `parent`'s name and key signed `child`."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


# A signature check costs about 0.15 ms and dominates a check; a certificate's answer never
# changes, so recent answers are kept (a batch judges thousands of leaves below one root).
@lru_cache(maxsize=64)
def self_signed(cert: x509.Certificate) -> bool:
    """Whether `cert` names itself as its issuer and its own key verifies it."""
    return cert.subject == cert.issuer and issued_by(cert, cert)


def is_ca(cert: x509.Certificate) -> bool:
    """Whether basicConstraints says CA:TRUE."""
    bc = extension(cert, x509.BasicConstraints)
    return bool(bc and bc.ca)


def day_count(span: timedelta) -> str:
    """A lifetime in days: whole when it is (to the minute), else to one decimal."""
    days = span.total_seconds() / 86400
    return str(round(days)) if abs(days - round(days)) < 1 / 1440 else f"{days:.1f}"


def days_left(span: timedelta) -> int:
    """Whole days in `span`, rounded down."""
    return int(span.total_seconds() // 86400)


def key_verdict(cert: x509.Certificate) -> tuple[Severity, str]:
    """FAIL/WARN/PASS for the key type and size, with the evidence."""
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return Severity.FAIL, "a key type cryptography cannot read; Apple's table has RSA and EC only"
    name = keymod.describe(key)
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= MIN_RSA_BITS:
            return Severity.PASS, name
        return Severity.FAIL, f"{name} bits; Apple requires at least {MIN_RSA_BITS}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in GOOD_CURVES:
            return Severity.PASS, name
        if key.curve.name in DOUBTFUL_CURVES:
            return Severity.WARN, f"{name}: passes Apple's key-size table, but iOS TLS support is unconfirmed"
        return Severity.FAIL, f"{name}: not a curve Apple's TLS policy accepts (P-256, P-384)"
    return Severity.FAIL, f"{name}: Apple's TLS key-size table only has RSA and EC keys"


def hash_verdict(cert: x509.Certificate) -> tuple[bool, str]:
    """Whether the signature uses SHA-2, with the algorithm as evidence."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", oid.dotted_string)
    if algorithm is None:
        return False, f"{name}, without a SHA-2 hash"
    shown = (
        name
        if algorithm.name.upper().replace("-", "") in name.upper().replace("-", "")
        else (f"{name} ({algorithm.name.upper()})")
    )
    return isinstance(algorithm, GOOD_HASHES), shown


def names_of(cert: x509.Certificate) -> Names:
    """The DNS, IP, email and URI names of the subjectAltName (none without one)."""
    san = extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return Names()
    return Names(
        dns=tuple(san.get_values_for_type(x509.DNSName)),
        ip=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
        email=tuple(san.get_values_for_type(x509.RFC822Name)),
        uri=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
    )


def store_record(store: Store, cert: x509.Certificate) -> CertRecord | None:
    """The store's record of exactly this certificate (same SHA-256), if it holds it."""
    sha = fingerprint(cert)
    for cert_id in dict.fromkeys((format(cert.serial_number, "x")[:12], sha[:12])):
        try:
            rec = store.get(cert_id)
        except CerttuiError:
            continue
        if rec.sha256 == sha:
            return rec
    return None


def store_roots(store: Store) -> list[x509.Certificate]:
    """The store's roots: the trust anchors `chain.trusted` judges against."""
    return [store.certificate(r.id) for r in store.records(kind=Kind.ROOT)]


def classify(cert: x509.Certificate, *, store: Store | None = None, host_given: bool = False) -> Kind:
    """The kind a certificate is checked as.

    With a host (`--host`, or a certificate a server presented), it is a server certificate
    whatever kind the store records: a phone judges what the server sends as one
    (docs/trust-rules.md, "Which rules apply"). A self-signed one also meets the root rules.
    """
    if host_given:
        return Kind.SERVER
    rec = store_record(store, cert) if store is not None else None
    if rec is not None:
        return rec.kind
    if is_ca(cert):
        return Kind.ROOT if self_signed(cert) else Kind.INTERMEDIATE
    eku = extension(cert, x509.ExtendedKeyUsage)
    usages = list(eku) if eku is not None else []
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages and ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        return Kind.CLIENT
    return Kind.SERVER


def inspected_kind(rec: CertRecord, cert: x509.Certificate) -> Kind:
    """The kind the TUI judges a stored certificate as: the recorded one, except that an
    imported certificate that could be a TLS server's (its EKU allows serverAuth, or it has
    none) is judged as the server certificate it is.

    An imported self-signed CA counts as a server's when it names a host (a SAN, or a CN that
    is a host name), as a router's `openssl req -x509 -subj /CN=router.home.arpa` does; a root
    named like "Home Lab Root CA" stays a root.
    """
    if not rec.external or rec.kind in (Kind.SERVER, Kind.CLIENT, Kind.INTERMEDIATE):
        return rec.kind
    eku = extension(cert, x509.ExtendedKeyUsage)
    if eku is not None and not {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    } & set(eku):
        return rec.kind
    if extension(cert, x509.SubjectAlternativeName) is not None:
        return Kind.SERVER
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    # A dotted host name or an IP: a root called "HomeCA" or "Home Lab Root CA" stays a root.
    try:
        parsed = namesmod.parse_name(cn) if HOST_LIKE_CN.fullmatch(cn) or ":" in cn else None
    except CerttuiError:
        parsed = None
    if parsed is not None and parsed.type.value in ("dns", "ip"):
        return Kind.SERVER
    return rec.kind


# -- the context every rule reads ---------------------------------------------------------


@dataclass
class Context:
    """One certificate to judge, the chain that came with it and what the rules derive from them."""

    cert: x509.Certificate
    chain: list[x509.Certificate]
    kind: Kind
    now: datetime
    host: str | None
    store: Store | None
    roots: list[x509.Certificate]
    served: bool
    tls_version: str | None
    ext_error: str | None = None
    record: CertRecord | None = None
    is_self_signed: bool = False
    anchor: x509.Certificate | None = None
    path: list[x509.Certificate] = field(default_factory=list)
    intermediates: list[x509.Certificate] = field(default_factory=list)
    """The CAs between this certificate and its root that the int.* rules judge."""

    def __post_init__(self) -> None:
        try:
            list(self.cert.extensions)
        except x509.DuplicateExtension as exc:
            name = getattr(exc.oid, "_name", "an extension")
            self.ext_error = f"{name} ({exc.oid.dotted_string}) appears more than once"
        except ValueError as exc:
            self.ext_error = f"an extension does not parse ({exc})"
        self.is_self_signed = self_signed(self.cert)
        self.record = store_record(self.store, self.cert) if self.store is not None else None
        self.path = [self.cert, *self.chain]
        last = self.path[-1]
        if not self_signed(last):
            self.anchor = next((r for r in self.roots if issued_by(last, r)), None)
            if self.anchor is not None:
                self.path.append(self.anchor)
        own = [self.cert] if self.kind is Kind.INTERMEDIATE else []
        self.intermediates = own + [c for c in self.chain if not self_signed(c)]


Rule = Callable[[Context], Finding | None]
"""A rule: its finding for the context, or None when it does not apply."""


# -- verdicts more than one area gives ------------------------------------------------------


def key_strength(rule: str, certs: Sequence[x509.Certificate], fix: str, *, named: bool) -> Finding:
    """The worst key verdict over `certs`; `named` puts each certificate's name before its evidence."""
    verdicts = [(cert, *key_verdict(cert)) for cert in certs]
    worst = min((v[1] for v in verdicts), key=lambda s: s.rank)
    detail = "; ".join(f"{label(cert)}: {text}" if named else text for cert, _, text in verdicts)
    return finding(rule, worst, detail, fix)


def validity(rule: str, c: Context, warn_left: timedelta, fix: str, *, backdate: bool = False) -> Finding:
    """Inside the validity window, with `warn_left` to spare (and, for `backdate`, a backdated start)."""
    nb, na = c.cert.not_valid_before_utc, c.cert.not_valid_after_utc
    if c.now < nb:
        return finding(
            rule, Severity.FAIL, f"not valid until {iso(nb)}, {days_left(nb - c.now)} days from now", fix
        )
    if c.now >= na:
        return finding(rule, Severity.FAIL, f"expired on {iso(na)}", fix)
    left = na - c.now
    if left < warn_left:
        return finding(
            rule,
            Severity.WARN,
            f"expires on {iso(na)}, in {days_left(left)} days (warning under {warn_left.days})",
            fix,
        )
    if backdate and c.now - nb < MIN_BACKDATE:
        return finding(
            rule,
            Severity.WARN,
            f"notBefore {iso(nb)} is under {MIN_BACKDATE.seconds // 60} minutes ago; phones "
            "with a slow clock see it as not yet valid",
            "issue it with notBefore a few minutes in the past (certtui backdates by 10 minutes)",
        )
    return finding(rule, Severity.PASS, f"valid until {iso(na)} ({days_left(left)} days left)")


def subtrees(nc: x509.NameConstraints) -> str:
    """A NameConstraints extension as evidence: its permitted and excluded subtrees."""

    def show(names: Iterable[x509.GeneralName] | None) -> str:
        return ", ".join(str(getattr(n, "value", n)) for n in names or ()) or "none"

    return f"permitted: {show(nc.permitted_subtrees)}; excluded: {show(nc.excluded_subtrees)}"
