"""The iOS trust checklist: each rule of docs/trust-rules.md as a finding with evidence and a fix."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from itertools import pairwise
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import verification as xv
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certtui.core import keys as keymod
from certtui.core import names as namesmod
from certtui.core import policy
from certtui.core.constraints import chain_constraint_violations
from certtui.core.details import colon_hex
from certtui.core.issuance import IssuePlan, build_certificate, new_serial
from certtui.core.models import CertRecord, KeySpec, Kind, Names
from certtui.core.name_syntax import wildcard_ok
from certtui.core.store import Store, fingerprint
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, PolicyError

# Apple's TLS key-size table (HT210176, SecPolicy.c) has RSA and EC entries only: RSA from 2048
# bits, EC from P-256. P-521 passes that table but iOS TLS support for it is unconfirmed.
MIN_RSA_BITS = 2048
GOOD_CURVES = frozenset({"secp256r1", "secp384r1"})
DOUBTFUL_CURVES = frozenset({"secp521r1"})
# HT210176: SHA-1 (and MD5) signatures are no longer trusted for TLS; SHA-2 only.
GOOD_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)
# The 825/398-day limits, the expiry windows and the backdate: core/policy.py, with reasons
# (docs/trust-rules.md, leaf.lifetime-398, with the CA/B Forum's SC-081v3 steps below it).
MAX_LEAF_DAYS = policy.MAX_LEAF_DAYS
PUBLIC_LEAF_DAYS = policy.PUBLIC_LEAF_DAYS
LEAF_WARN_LEFT = timedelta(days=policy.LEAF_EXPIRING_DAYS)
ROOT_WARN_LEFT = timedelta(days=policy.CA_EXPIRING_DAYS)
MIN_BACKDATE = policy.MIN_BACKDATE
# Chromium 156 rejects `*.home.arpa` in the real-client matrix (tests/test_interop_clients.py)
# while accepting `*.lab.home.arpa`: it treats home.arpa like a registry.
CHROMIUM_NO_WILDCARD = "home.arpa"
# OpenSSL's cn2dnsid checks a CN against DNS constraints when it looks like a host name:
# labels of letters, digits, '-' and '_', two or more of them (an IPv4 literal qualifies).
_HOST_LIKE_CN = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?")
# The extensions Apple's SecCertificate.c parses (SecCertificateInitializeExtensionParsers);
# any other extension marked critical makes iOS reject the certificate.
KNOWN_CRITICAL = frozenset(
    {
        "2.5.29.14",
        "2.5.29.15",
        "2.5.29.16",
        "2.5.29.17",
        "2.5.29.18",
        "2.5.29.19",
        "2.5.29.30",
        "2.5.29.31",
        "2.5.29.32",
        "2.5.29.33",
        "2.5.29.35",
        "2.5.29.36",
        "2.5.29.37",
        "2.5.29.54",
        "1.3.6.1.5.5.7.1.1",
        "1.3.6.1.5.5.7.1.11",
    }
)
# nameconstraints.c `SecNameConstraintsAreSubtreesSupported`: the subtree forms Apple evaluates.
NC_SUPPORTED = (
    x509.DNSName,
    x509.IPAddress,
    x509.RFC822Name,
    x509.DirectoryName,
    x509.UniformResourceIdentifier,
)


class Severity(StrEnum):
    """A finding's outcome: `pass` when its rule holds, else the rule's own severity."""

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"
    PASS = "pass"

    @property
    def rank(self) -> int:
        """Sort key: fails first."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one certificate (and the chain that came with it)."""

    id: str
    severity: Severity
    title: str
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
        }


TITLES: dict[str, str] = {
    "root.ca-bc": "Root is a CA (basicConstraints CA:TRUE, critical)",
    "root.self-signed": "Root is self-signed",
    "root.subject-cn": "Root has a common name",
    "root.key-usage": "Root key usage allows signing certificates",
    "root.key-strength": "Root key is RSA 2048+ or EC P-256/P-384",
    "root.validity": "Root is within its validity period",
    "root.path-len": "Path length allows the intermediates below",
    "root.ski": "Root has a subject key identifier",
    "root.name-constraints": "Name constraints",
    "root.android-user-ca": "Android apps and user-installed roots",
    "int.ca-bc": "Intermediate is a CA that may sign certificates",
    "int.key-strength": "Intermediate key is RSA 2048+ or EC P-256/P-384",
    "int.sig-hash": "Intermediate is signed with SHA-2",
    "chain.complete": "Chain is complete up to a root",
    "chain.aki-link": "Each authority key id matches its issuer's key id",
    "chain.trusted": "Chain ends at a trusted root",
    "chain.revoked": "Not revoked",
    "leaf.san-present": "Subject alternative names are present",
    "leaf.san-host": "The host name is in the subject alternative names",
    "leaf.wildcard": "Wildcards are well-formed",
    "leaf.eku-serverauth": "Extended key usage includes serverAuth",
    "leaf.lifetime-825": "Lifetime is at most 825 days",
    "leaf.lifetime-398": "Lifetime is at most 398 days (binds public CAs only)",
    "leaf.cn-not-dns": "Common name passes the DNS name constraints (OpenSSL, GnuTLS)",
    "leaf.key-strength": "Key is RSA 2048+ or EC P-256/P-384",
    "leaf.sig-hash": "Signed with SHA-2",
    "leaf.validity": "Within its validity period",
    "leaf.not-ca": "Marked as an end entity (CA:FALSE)",
    "cert.critical-ext": "Every critical extension is one iOS knows",
    "cert.ext-wellformed": "Extensions are well-formed",
    "server.tls12": "Server speaks TLS 1.2 or later",
    "client.eku": "Extended key usage includes clientAuth",
    "store.key-unencrypted": "Store keys are encrypted with a passphrase",
    "store.no-name-constraints": "Root has name constraints",
    "store.kdf-weak": "Store passphrase is stretched enough to resist guessing",
}
"""Every rule id the engine can emit, with the title shown beside it (docs/trust-rules.md)."""

SEVERITIES: dict[str, str] = {
    "root.ca-bc": "fail / warn",
    "root.self-signed": "fail",
    "root.subject-cn": "fail",
    "root.key-usage": "fail / warn",
    "root.key-strength": "fail / warn",
    "root.validity": "fail / warn",
    "root.path-len": "fail",
    "root.ski": "warn",
    "root.name-constraints": "info / fail",
    "root.android-user-ca": "info",
    "int.ca-bc": "fail",
    "int.key-strength": "fail / warn",
    "int.sig-hash": "fail",
    "chain.complete": "fail",
    "chain.aki-link": "fail",
    "chain.trusted": "fail",
    "chain.revoked": "fail",
    "leaf.san-present": "fail",
    "leaf.san-host": "fail",
    "leaf.wildcard": "fail / warn",
    "leaf.eku-serverauth": "fail",
    "leaf.lifetime-825": "fail",
    "leaf.lifetime-398": "info",
    "leaf.cn-not-dns": "warn",
    "leaf.key-strength": "fail / warn",
    "leaf.sig-hash": "fail",
    "leaf.validity": "fail / warn",
    "leaf.not-ca": "warn",
    "cert.critical-ext": "fail",
    "cert.ext-wellformed": "fail",
    "server.tls12": "warn",
    "client.eku": "warn",
    "store.key-unencrypted": "warn",
    "store.no-name-constraints": "info",
    "store.kdf-weak": "fail",
}
"""Each rule's severity when it does not hold, as docs/trust-rules.md gives it (a test keeps
the two in step)."""


def _finding(rule: str, severity: Severity, detail: str, fix: str = "") -> Finding:
    return Finding(rule, severity, TITLES[rule], detail, "" if severity is Severity.PASS else fix)


# -- small facts about certificates -------------------------------------------------------


def label(cert: x509.Certificate) -> str:
    """The common name, else the RFC 4514 subject: how a finding names a certificate."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if attrs and str(attrs[0].value).strip():
        return str(attrs[0].value)
    return cert.subject.rfc4514_string() or "(empty subject)"


def _ext(cert: x509.Certificate, cls: type[Any]) -> Any:
    """An extension's value, or None when absent or when the extensions do not parse."""
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return None


def _ext_critical(cert: x509.Certificate, cls: type[Any]) -> bool:
    try:
        return cert.extensions.get_extension_for_class(cls).critical
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        return False


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
    return cert.subject == cert.issuer and issued_by(cert, cert)


def _is_ca(cert: x509.Certificate) -> bool:
    bc = _ext(cert, x509.BasicConstraints)
    return bool(bc and bc.ca)


def _days(span: timedelta) -> str:
    """A lifetime in days: whole when it is (to the minute), else to one decimal."""
    days = span.total_seconds() / 86400
    return str(round(days)) if abs(days - round(days)) < 1 / 1440 else f"{days:.1f}"


def _days_left(span: timedelta) -> int:
    return int(span.total_seconds() // 86400)


def _key_verdict(cert: x509.Certificate) -> tuple[Severity, str]:
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


def _hash_verdict(cert: x509.Certificate) -> tuple[bool, str]:
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


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    return _ext(cert, x509.SubjectAlternativeName)


def _names_of(cert: x509.Certificate) -> Names:
    san = _san(cert)
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
    if _is_ca(cert):
        return Kind.ROOT if self_signed(cert) else Kind.INTERMEDIATE
    eku = _ext(cert, x509.ExtendedKeyUsage)
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
    eku = _ext(cert, x509.ExtendedKeyUsage)
    if eku is not None and not {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    } & set(eku):
        return rec.kind
    if _san(cert) is not None:
        return Kind.SERVER
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    # A dotted host name or an IP: a root called "HomeCA" or "Home Lab Root CA" stays a root.
    try:
        parsed = namesmod.parse_name(cn) if _HOST_LIKE_CN.fullmatch(cn) or ":" in cn else None
    except CerttuiError:
        parsed = None
    if parsed is not None and parsed.type.value in ("dns", "ip"):
        return Kind.SERVER
    return rec.kind


# -- the context every rule reads ---------------------------------------------------------


@dataclass
class _Ctx:
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


Rule = Callable[[_Ctx], Finding | None]


# -- root rules ----------------------------------------------------------------------------

_NEW_ROOT = "make a proper root with `certtui init` (or import one) and enroll it on the phone"


def _root_ca_bc(c: _Ctx) -> Finding:
    bc = _ext(c.cert, x509.BasicConstraints)
    if c.cert.version is not x509.Version.v3:
        return _finding(
            "root.ca-bc", Severity.FAIL, "an X.509 v1 certificate: no extensions, so no CA:TRUE", _NEW_ROOT
        )
    if bc is None or not bc.ca:
        what = "no basicConstraints extension" if bc is None else "basicConstraints CA:FALSE"
        fix = _NEW_ROOT
        if c.kind is not Kind.ROOT:
            fix = (
                "a self-signed server certificate never gets iOS's full-trust switch; issue it "
                "from a certtui root instead (`certtui init`, then `certtui issue NAME`) and "
                "enroll that root"
            )
        return _finding("root.ca-bc", Severity.FAIL, f"{what}: iOS 10.3+ never offers full trust for it", fix)
    if not _ext_critical(c.cert, x509.BasicConstraints):
        return _finding(
            "root.ca-bc",
            Severity.WARN,
            "CA:TRUE, but basicConstraints is not critical",
            "roots from `certtui init` mark it critical; prefer one of those",
        )
    return _finding("root.ca-bc", Severity.PASS, "CA:TRUE, critical")


def _root_self_signed(c: _Ctx) -> Finding:
    if c.is_self_signed:
        return _finding("root.self-signed", Severity.PASS, "subject = issuer, and its own key verifies it")
    if c.cert.subject != c.cert.issuer:
        detail = (
            f"issued by {c.cert.issuer.rfc4514_string() or '(empty)'}, not by itself; only a "
            "self-signed root gets the trust switch"
        )
    else:
        detail = "subject = issuer, but its own key does not verify its signature"
    return _finding(
        "root.self-signed",
        Severity.FAIL,
        detail,
        "install the self-signed root at the top of this chain on the phone, not this certificate",
    )


def _root_subject_cn(c: _Ctx) -> Finding:
    cns = [str(a.value).strip() for a in c.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if cns and cns[0]:
        return _finding("root.subject-cn", Severity.PASS, f"CN={cns[0]}")
    return _finding(
        "root.subject-cn",
        Severity.FAIL,
        "no commonName: iOS did not list such roots under Certificate Trust Settings",
        "make a root with a name: `certtui init --name 'Home Lab Root CA'`",
    )


def _root_android_user_ca(c: _Ctx) -> Finding | None:
    # docs/trust-rules.md, root.android-user-ca: Android's network security config defaults.
    if c.kind is not Kind.ROOT:
        return None
    return _finding(
        "root.android-user-ca",
        Severity.INFO,
        "on Android, apps that target API 24+ ignore user-installed CAs unless their network "
        'security config opts in (<certificates src="user"/>); browsers (Chrome, and Firefox '
        "120+) honour them",
        'for an app you build, add <certificates src="user"/> to its network security config; '
        "other apps cannot be made to trust a user-installed root",
    )


def _root_key_usage(c: _Ctx) -> Finding:
    ku = _ext(c.cert, x509.KeyUsage)
    if ku is None:
        return _finding(
            "root.key-usage", Severity.PASS, "no keyUsage extension, so signing is not restricted"
        )
    if not ku.key_cert_sign:
        return _finding(
            "root.key-usage",
            Severity.FAIL,
            "keyUsage lacks keyCertSign: it may not sign certificates",
            _NEW_ROOT,
        )
    problems = []
    if not ku.crl_sign:
        problems.append("keyUsage lacks cRLSign, so it cannot sign a CRL")
    if not _ext_critical(c.cert, x509.KeyUsage):
        problems.append("keyUsage is not critical")
    if problems:
        return _finding(
            "root.key-usage",
            Severity.WARN,
            "keyCertSign set, but " + "; ".join(problems),
            "roots from `certtui init` have keyCertSign + cRLSign, critical",
        )
    return _finding("root.key-usage", Severity.PASS, "keyCertSign and cRLSign, critical")


def _key_strength(rule: str, certs: Sequence[x509.Certificate], fix: str, *, named: bool) -> Finding:
    """The worst key verdict over `certs`; `named` puts each certificate's name before its evidence."""
    verdicts = [(cert, *_key_verdict(cert)) for cert in certs]
    worst = min((v[1] for v in verdicts), key=lambda s: s.rank)
    detail = "; ".join(f"{label(cert)}: {text}" if named else text for cert, _, text in verdicts)
    return _finding(rule, worst, detail, fix)


def _validity(rule: str, c: _Ctx, warn_left: timedelta, fix: str, *, backdate: bool = False) -> Finding:
    """Inside the validity window, with `warn_left` to spare (and, for `backdate`, a backdated start)."""
    nb, na = c.cert.not_valid_before_utc, c.cert.not_valid_after_utc
    if c.now < nb:
        return _finding(
            rule, Severity.FAIL, f"not valid until {iso(nb)}, {_days_left(nb - c.now)} days from now", fix
        )
    if c.now >= na:
        return _finding(rule, Severity.FAIL, f"expired on {iso(na)}", fix)
    left = na - c.now
    if left < warn_left:
        return _finding(
            rule,
            Severity.WARN,
            f"expires on {iso(na)}, in {_days_left(left)} days (warning under {warn_left.days})",
            fix,
        )
    if backdate and c.now - nb < MIN_BACKDATE:
        return _finding(
            rule,
            Severity.WARN,
            f"notBefore {iso(nb)} is under {MIN_BACKDATE.seconds // 60} minutes ago; phones "
            "with a slow clock see it as not yet valid",
            "issue it with notBefore a few minutes in the past (certtui backdates by 10 minutes)",
        )
    return _finding(rule, Severity.PASS, f"valid until {iso(na)} ({_days_left(left)} days left)")


def _root_validity(c: _Ctx) -> Finding:
    return _validity(
        "root.validity",
        c,
        ROOT_WARN_LEFT,
        "make a new root with `certtui init` and enroll it on every phone before this one ends",
    )


def _root_path_len(c: _Ctx) -> Finding | None:
    """Each CA's pathLen against the CA levels below it: on the path, and in the store for a root."""
    rows: list[tuple[x509.Certificate, int]] = []
    if c.kind is Kind.ROOT:
        rows.append((c.cert, _store_ca_depth(c)))
    # An intermediate being checked is itself one of the levels below the CAs above it.
    start = 0 if c.kind is Kind.INTERMEDIATE else 1
    for i in range(1, len(c.path)):
        below = sum(1 for cert in c.path[start:i] if _is_ca(cert))
        if below:
            rows.append((c.path[i], below))
    if not rows:
        return None
    bad, good = [], []
    for ca, below in rows:
        bc = _ext(ca, x509.BasicConstraints)
        limit = None if bc is None else bc.path_length
        if limit is not None and limit < below:
            bad.append(f"{label(ca)} has pathLen {limit} but {below} intermediate level(s) below it")
        shown = "no pathLen limit" if limit is None else f"pathLen {limit}"
        good.append(f"{label(ca)}: {shown}, {below} intermediate level(s) below")
    if bad:
        return _finding(
            "root.path-len",
            Severity.FAIL,
            "; ".join(bad),
            "issue leaves directly from that CA, or use a root without the limit "
            "(`certtui init` roots have none)",
        )
    return _finding("root.path-len", Severity.PASS, "; ".join(good))


def _store_ca_depth(c: _Ctx) -> int:
    """How many intermediate levels sit below the checked root in the store (0 if not in it)."""
    if c.store is None or c.record is None:
        return 0
    cas = c.store.records(kind=Kind.INTERMEDIATE)
    depth, level, seen = 0, {c.record.id}, {c.record.id}
    while True:
        level = {r.id for r in cas if r.issuer_id in level and r.id not in seen}
        if not level:
            return depth
        seen |= level
        depth += 1


def _root_ski(c: _Ctx) -> Finding:
    ski = _ext(c.cert, x509.SubjectKeyIdentifier)
    if ski is None:
        return _finding(
            "root.ski",
            Severity.WARN,
            "no subjectKeyIdentifier (RFC 5280 requires one on a CA)",
            "roots from `certtui init` carry one; prefer one of those",
        )
    return _finding("root.ski", Severity.PASS, f"SKI {colon_hex(ski.digest)}")


def _subtrees(nc: x509.NameConstraints) -> str:
    def show(names: Iterable[x509.GeneralName] | None) -> str:
        return ", ".join(str(getattr(n, "value", n)) for n in names or ()) or "none"

    return f"permitted: {show(nc.permitted_subtrees)}; excluded: {show(nc.excluded_subtrees)}"


def _root_name_constraints(c: _Ctx) -> Finding | None:
    """On a root: show its own constraints. On anything below: its names against every CA's."""
    if c.kind is Kind.ROOT or c.is_self_signed:
        nc = _ext(c.cert, x509.NameConstraints)
        if nc is None:
            return None
        odd = [
            type(n).__name__
            for n in (nc.permitted_subtrees or []) + (nc.excluded_subtrees or [])
            if not isinstance(n, NC_SUPPORTED)
        ]
        if odd and _ext_critical(c.cert, x509.NameConstraints):
            return _finding(
                "root.name-constraints",
                Severity.FAIL,
                f"critical name constraints of a form iOS does not evaluate: {', '.join(odd)}",
                "make a root whose constraints are DNS names and IP networks (`certtui init --permit`)",
            )
        return _finding("root.name-constraints", Severity.INFO, _subtrees(nc))
    constrained = [(ca, _ext(ca, x509.NameConstraints)) for ca in c.path[1:]]
    constrained = [(ca, nc) for ca, nc in constrained if nc is not None]
    if not constrained:
        return None
    names = _names_of(c.cert)
    bad = chain_constraint_violations(names, [nc for _, nc in constrained])
    where = ", ".join(label(ca) for ca, _ in constrained)
    if bad:
        return _finding(
            "root.name-constraints",
            Severity.FAIL,
            f"{'; '.join(bad)} ({where})",
            "issue the certificate for names inside the CA's constraints",
        )
    if not names:
        return _finding(
            "root.name-constraints",
            Severity.PASS,
            f"no subjectAltName names to hold against the constraints of {where}",
        )
    return _finding(
        "root.name-constraints", Severity.PASS, f"{', '.join(names.values())} fit the constraints of {where}"
    )


# -- intermediate and chain rules -----------------------------------------------------------


def _int_ca_bc(c: _Ctx) -> Finding | None:
    if not c.intermediates:
        return None
    bad = []
    for ca in c.intermediates:
        bc = _ext(ca, x509.BasicConstraints)
        ku = _ext(ca, x509.KeyUsage)
        if bc is None or not bc.ca:
            bad.append(f"{label(ca)}: no basicConstraints CA:TRUE")
        elif ku is not None and not ku.key_cert_sign:
            bad.append(f"{label(ca)}: keyUsage lacks keyCertSign")
    if bad:
        return _finding(
            "int.ca-bc",
            Severity.FAIL,
            "; ".join(bad),
            "only a CA may sign: issue intermediates with `certtui issue --intermediate`, "
            "and serve only real intermediates after the leaf",
        )
    return _finding(
        "int.ca-bc",
        Severity.PASS,
        "; ".join(f"{label(ca)}: CA:TRUE, may sign certificates" for ca in c.intermediates),
    )


def _int_key_strength(c: _Ctx) -> Finding | None:
    if not c.intermediates:
        return None
    return _key_strength(
        "int.key-strength",
        c.intermediates,
        named=True,
        fix="replace the intermediate with one on RSA 2048+ or EC P-256/P-384 "
        "(`certtui issue --intermediate --key ec256`)",
    )


def _int_sig_hash(c: _Ctx) -> Finding | None:
    return _int_sig_hash_of(c.intermediates)


def _int_sig_hash_of(intermediates: Sequence[x509.Certificate]) -> Finding | None:
    if not intermediates:
        return None
    verdicts = [(ca, *_hash_verdict(ca)) for ca in intermediates]
    detail = "; ".join(f"{label(ca)}: {text}" for ca, _, text in verdicts)
    if all(ok for _, ok, _ in verdicts):
        return _finding("int.sig-hash", Severity.PASS, detail)
    return _finding(
        "int.sig-hash",
        Severity.FAIL,
        detail + "; iOS rejects SHA-1 and MD5 for TLS",
        "have the root sign a new intermediate with SHA-256 (`certtui issue --intermediate`)",
    )


def _chain_complete(c: _Ctx) -> Finding:
    given = [c.cert, *c.chain]
    for child, parent in pairwise(given):
        if not issued_by(child, parent):
            return _finding(
                "chain.complete",
                Severity.FAIL,
                f"{label(child)} is not issued by {label(parent)}, the next certificate given",
                "put the chain in order: the leaf first, then each issuer "
                "(`certtui export ID --format fullchain` writes it so)",
            )
    last = given[-1]
    if self_signed(last):
        return _finding(
            "chain.complete", Severity.PASS, f"{len(given)} certificate(s), ending at the root {label(last)}"
        )
    if c.anchor is not None:
        return _finding(
            "chain.complete",
            Severity.PASS,
            f"{len(given)} certificate(s); {label(last)} is issued by the trusted root {label(c.anchor)}",
        )
    return _finding(
        "chain.complete",
        Severity.FAIL,
        f"ends at {label(last)}, whose issuer {last.issuer.rfc4514_string() or '(empty)'} "
        "was not sent and is not a trusted root: iOS reports a missing intermediate",
        "serve the leaf with its intermediates (`certtui export ID --format fullchain`); for "
        "a file, append the intermediate(s), or pass the root with --root",
    )


def _chain_aki_link(c: _Ctx) -> Finding:
    links = 0
    for child, parent in pairwise(c.path):
        aki = _ext(child, x509.AuthorityKeyIdentifier)
        ski = _ext(parent, x509.SubjectKeyIdentifier)
        if aki is None or aki.key_identifier is None or ski is None:
            continue
        links += 1
        if aki.key_identifier != ski.digest:
            return _finding(
                "chain.aki-link",
                Severity.FAIL,
                f"{label(child)}'s AKI {colon_hex(aki.key_identifier)} differs from "
                f"{label(parent)}'s SKI {colon_hex(ski.digest)}",
                "issue the certificate again from its real issuer (`certtui renew ID`)",
            )
    if not links:
        return _finding("chain.aki-link", Severity.PASS, "no AKI/SKI pair to compare")
    return _finding("chain.aki-link", Severity.PASS, f"AKI matches the issuer's SKI on {links} link(s)")


def _chain_trusted(c: _Ctx) -> Finding:
    fix = "give the root your phone trusts with --root FILE, or issue the certificate from this store"
    if not c.roots:
        return _finding(
            "chain.trusted", Severity.FAIL, "no trusted root to judge against: no store and no --root", fix
        )
    try:
        verifier = (
            xv.PolicyBuilder()
            .store(xv.Store(c.roots))
            .time(c.now)
            .extension_policies(
                ca_policy=xv.ExtensionPolicy.permit_all().require_present(
                    x509.BasicConstraints, xv.Criticality.AGNOSTIC, None
                ),
                ee_policy=xv.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        verified = verifier.verify(c.cert, c.chain)
    except (xv.VerificationError, ValueError, TypeError) as exc:
        anchors = ", ".join(label(r) for r in c.roots)
        return _finding(
            "chain.trusted",
            Severity.FAIL,
            f"no valid path to a trusted root ({anchors}) through the certificates given: {exc}",
            fix,
        )
    return _finding(
        "chain.trusted",
        Severity.PASS,
        f"verifies up to {label(verified.chain[-1])} ({len(verified.chain)} certificate(s))",
    )


def _chain_revoked(c: _Ctx) -> Finding | None:
    if c.store is None:
        return None
    records = [(cert, store_record(c.store, cert)) for cert in c.path]
    known = [(cert, rec) for cert, rec in records if rec is not None]
    if not known:
        return None
    revoked = [
        f"{label(cert)} was revoked on {rec.revoked_at} ({rec.revocation_reason or 'unspecified'})"
        for cert, rec in known
        if rec.revoked_at
    ]
    if revoked:
        return _finding(
            "chain.revoked",
            Severity.FAIL,
            "; ".join(revoked),
            "issue a new certificate (`certtui issue NAME...`) and install it on the server",
        )
    return _finding(
        "chain.revoked",
        Severity.PASS,
        f"none of the {len(known)} certificate(s) this store knows on the chain is revoked",
    )


# -- leaf rules -----------------------------------------------------------------------------


def _leaf_san_present(c: _Ctx) -> Finding:
    san = _san(c.cert)
    if san is None or not len(san):
        what = "no subjectAltName extension" if san is None else "an empty subjectAltName"
        fix = "issue it with the names the phone uses: `certtui issue NAME...`"
        if c.is_self_signed or c.record is None or c.record.external:
            # A device's own certificate (a router's self-signed one, say): it cannot be
            # renewed here, but the device can use one this store signs.
            fix = (
                "have the device make a certificate request (CSR) with its names and sign it: "
                "`certtui sign device.csr`; or issue one for it (`certtui issue NAME...`) and "
                "upload the full chain and key (`certtui export ID --format fullchain`, "
                "`--format key`) in the device's certificate settings"
            )
        return _finding("leaf.san-present", Severity.FAIL, f"{what}: iOS never matches the common name", fix)
    return _finding("leaf.san-present", Severity.PASS, ", ".join(_san_entries(san)))


def _san_entries(san: x509.SubjectAlternativeName) -> list[str]:
    """The SAN entries as `DNS:x`, `IP:y`, ... for evidence."""
    kinds: dict[type, str] = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }
    return [f"{kinds.get(type(n), type(n).__name__)}:{getattr(n, 'value', n)}" for n in san]


def _dns_matches(pattern: str, host: str) -> bool:
    """SecDNSMatch: exact, or a well-formed `*.` wildcard standing for exactly one label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if not pattern.startswith("*.") or not wildcard_ok(pattern):
        return False
    head, _, rest = host.partition(".")
    return bool(head) and rest == pattern[2:]


def _leaf_san_host(c: _Ctx) -> Finding | None:
    if not c.host:
        return None
    try:
        parsed = namesmod.parse_name(c.host)
        host, is_ip = parsed.value, parsed.type.value == "ip"
    except CerttuiError:
        host, is_ip = c.host.strip().lower(), False
    names = _names_of(c.cert)
    fix = f"issue a certificate that names it: `certtui issue {host} ...` (with the other names too)"
    if is_ip:
        address = ipaddress.ip_address(host)
        if any(ipaddress.ip_address(v) == address for v in names.ip):
            return _finding("leaf.san-host", Severity.PASS, f"IP {host} is an iPAddress entry")
        if host in (d.lower() for d in names.dns):
            return _finding(
                "leaf.san-host",
                Severity.FAIL,
                f"{host} is written as a DNS name; an IP only matches an iPAddress entry",
                fix,
            )
        return _finding(
            "leaf.san-host",
            Severity.FAIL,
            f"no iPAddress entry {host} among {', '.join(names.values()) or 'no names'}",
            fix,
        )
    match = next((d for d in names.dns if _dns_matches(d, host)), None)
    if match is not None:
        return _finding("leaf.san-host", Severity.PASS, f"{host} matches the DNS name {match}")
    cn = label(c.cert).lower()
    extra = "; only the common name holds it, which iOS ignores" if cn == host else ""
    return _finding(
        "leaf.san-host",
        Severity.FAIL,
        f"{host} is not among the DNS names ({', '.join(names.dns) or 'none'}){extra}",
        fix,
    )


def _leaf_wildcard(c: _Ctx) -> Finding:
    wild = [d for d in _names_of(c.cert).dns if "*" in d]
    bad = [d for d in wild if not wildcard_ok(d)]
    if bad:
        return _finding(
            "leaf.wildcard",
            Severity.FAIL,
            f"{', '.join(bad)}: '*' must be the whole left-most label with two or more "
            "labels after it (*.lan or *.local never match)",
            "name the hosts, or put the wildcard deeper: `certtui issue '*.lab.home.arpa'`",
        )
    # Measured (docs/trust-rules.md, leaf.wildcard): Chromium refuses `*.home.arpa`, as it
    # refuses a wildcard right above a registry such as `*.com`; iOS, OpenSSL and Go take it.
    shallow = [d for d in wild if d.lower().rstrip(".") == "*." + CHROMIUM_NO_WILDCARD]
    if shallow:
        return _finding(
            "leaf.wildcard",
            Severity.WARN,
            f"{', '.join(shallow)}: Chromium (Chrome, Edge, Android WebView) refuses a wildcard "
            f"directly under {CHROMIUM_NO_WILDCARD}",
            "put the wildcard one level deeper, `certtui issue '*.lab.home.arpa'`, or name the hosts",
        )
    if not wild:
        return _finding("leaf.wildcard", Severity.PASS, "no wildcard names")
    return _finding(
        "leaf.wildcard", Severity.PASS, "; ".join(f"{d} matches one label under {d[2:]}" for d in wild)
    )


def _eku_has(c: _Ctx, rule: str, oid: x509.ObjectIdentifier, what: str, fix: str, bad: Severity) -> Finding:
    eku = _ext(c.cert, x509.ExtendedKeyUsage)
    if eku is None:
        return _finding(rule, bad, "no extendedKeyUsage extension", fix)
    shown = ", ".join(getattr(o, "_name", o.dotted_string) for o in eku)
    if oid in eku:
        return _finding(rule, Severity.PASS, shown)
    return _finding(rule, bad, f"{shown}, without {what}", fix)


def _leaf_eku(c: _Ctx) -> Finding:
    return _eku_has(
        c,
        "leaf.eku-serverauth",
        ExtendedKeyUsageOID.SERVER_AUTH,
        "serverAuth",
        "issue a server certificate: `certtui issue NAME...` (without --client)",
        Severity.FAIL,
    )


def _client_eku(c: _Ctx) -> Finding:
    return _eku_has(
        c,
        "client.eku",
        ExtendedKeyUsageOID.CLIENT_AUTH,
        "clientAuth",
        "issue a client certificate: `certtui issue --client NAME`",
        Severity.WARN,
    )


def _lifetime(c: _Ctx) -> timedelta:
    return c.cert.not_valid_after_utc - c.cert.not_valid_before_utc


# Apple's SecPolicyCheckValidityPeriodMaximums (SecPolicyServer.c) skips "user-anchored
# leafs": a certificate that is itself the trusted anchor has no lifetime limit; every other
# leaf meets SecPolicyCheckOtherTrustValidityPeriodMaximums (docs/trust-rules.md).
_ANCHOR_EXEMPT = (
    "; exempt as its own trust anchor (a self-signed certificate the phone trusts directly "
    "has no lifetime limit: Apple's SecPolicyCheckOtherTrustValidityPeriod skips it)"
)


def _leaf_lifetime_825(c: _Ctx) -> Finding:
    span = _lifetime(c)
    detail = f"valid for {_days(span)} days; limit {MAX_LEAF_DAYS}"
    if c.is_self_signed:
        return _finding("leaf.lifetime-825", Severity.PASS, detail + _ANCHOR_EXEMPT)
    if span > timedelta(days=MAX_LEAF_DAYS):
        return _finding(
            "leaf.lifetime-825",
            Severity.FAIL,
            detail + ", backdating included",
            f"issue it again for {policy.LEAF_DAYS} days: `certtui renew ID`, "
            f"or `certtui issue NAME... --days {policy.LEAF_DAYS}`",
        )
    return _finding("leaf.lifetime-825", Severity.PASS, detail)


def _leaf_lifetime_398(c: _Ctx) -> Finding:
    span = _lifetime(c)
    if c.is_self_signed:
        return _finding("leaf.lifetime-398", Severity.PASS, f"valid for {_days(span)} days" + _ANCHOR_EXEMPT)
    if span > timedelta(days=PUBLIC_LEAF_DAYS):
        # docs/trust-rules.md, leaf.lifetime-398: the public limits as of December 2026.
        return _finding(
            "leaf.lifetime-398",
            Severity.INFO,
            f"valid for {_days(span)} days. Public CAs are capped by CA/Browser Forum ballot "
            "SC-081v3: 200 days for certificates issued from 2026-03-15, 100 days from "
            "2027-03-15, 47 days from 2029-03-15. Those limits do not bind a root you install: "
            f"Apple's trust evaluator applies {PUBLIC_LEAF_DAYS} days to its own roots and "
            f"{MAX_LEAF_DAYS} to user-installed ones, and Chrome's root policy does not cover "
            "locally trusted CAs",
            f"nothing to do for a private root; --days {policy.LEAF_DAYS} if you want to be safe",
        )
    return _finding("leaf.lifetime-398", Severity.PASS, f"valid for {_days(span)} days")


def _leaf_cn_not_dns(c: _Ctx) -> Finding:
    """docs/trust-rules.md, leaf.cn-not-dns: measured against the clients of tests/test_interop_clients.py."""
    cns = [str(a.value) for a in c.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not cns:
        return _finding("leaf.cn-not-dns", Severity.PASS, "no common name")
    names = _names_of(c.cert)
    if names.dns:
        return _finding(
            "leaf.cn-not-dns", Severity.PASS, "the SAN has a DNS name, so no client checks the CN"
        )
    if not _HOST_LIKE_CN.fullmatch(cns[0]):
        return _finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]} does not look like a host name")
    ncs = [
        (ca, nc)
        for ca in c.path[1:]
        if (nc := _ext(ca, x509.NameConstraints)) is not None
        and any(
            isinstance(n, x509.DNSName) for n in (nc.permitted_subtrees or []) + (nc.excluded_subtrees or [])
        )
    ]
    if not ncs:
        return _finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]}, and no DNS name constraints above")
    bad = chain_constraint_violations(Names(dns=(cns[0],)), [nc for _, nc in ncs])
    if not bad:
        return _finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]} fits the DNS name constraints")
    where = ", ".join(label(ca) for ca, _ in ncs)
    return _finding(
        "leaf.cn-not-dns",
        Severity.WARN,
        f"CN={cns[0]} and no DNS name in the SAN, under the DNS name constraints of {where}: "
        "OpenSSL checks such a CN against the DNS subtrees and GnuTLS checks every CN, so curl, "
        'Python, wget and other OpenSSL or GnuTLS clients reject it ("permitted subtree '
        'violation"); NSS, Go, Java, Chromium, Firefox and iPhones accept it',
        "renew it (`certtui renew ID`): certtui now issues leaves without a DNS name with no "
        "CN; for a device's CSR, sign a new one (`certtui sign device.csr`)",
    )


def _leaf_key_strength(c: _Ctx) -> Finding:
    return _key_strength(
        "leaf.key-strength",
        [c.cert],
        named=False,
        fix="issue it again with an EC P-256 key: `certtui issue NAME... --key ec256`",
    )


def _leaf_sig_hash(c: _Ctx) -> Finding:
    ok, text = _hash_verdict(c.cert)
    if ok:
        return _finding("leaf.sig-hash", Severity.PASS, text)
    return _finding(
        "leaf.sig-hash",
        Severity.FAIL,
        text + "; iOS rejects SHA-1 and MD5 for TLS",
        "issue it again from certtui, which signs with SHA-256: `certtui issue NAME...`",
    )


def _leaf_validity(c: _Ctx) -> Finding:
    return _validity("leaf.validity", c, LEAF_WARN_LEFT, "renew it: `certtui renew ID`", backdate=True)


def _leaf_not_ca(c: _Ctx) -> Finding:
    bc = _ext(c.cert, x509.BasicConstraints)
    if bc is not None and not bc.ca:
        return _finding("leaf.not-ca", Severity.PASS, "CA:FALSE")
    what = "no basicConstraints extension" if bc is None else "CA:TRUE on an end-entity certificate"
    return _finding(
        "leaf.not-ca",
        Severity.WARN,
        what,
        "issue it from certtui, which writes CA:FALSE: `certtui issue NAME...`",
    )


# -- every certificate, the server, the store -------------------------------------------------


def _cert_critical_ext(c: _Ctx) -> Finding:
    critical = [e.oid for e in c.cert.extensions if e.critical]
    unknown = [oid.dotted_string for oid in critical if oid.dotted_string not in KNOWN_CRITICAL]
    if unknown:
        return _finding(
            "cert.critical-ext",
            Severity.FAIL,
            f"critical extension(s) iOS does not parse: {', '.join(unknown)}",
            "issue it again without them (certtui marks only standard extensions critical)",
        )
    shown = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in critical)
    return _finding("cert.critical-ext", Severity.PASS, f"critical: {shown or 'none'}")


def _cert_ext_wellformed(c: _Ctx) -> Finding:
    if c.ext_error:
        return _finding(
            "cert.ext-wellformed",
            Severity.FAIL,
            f"{c.ext_error}: iOS fails it as an unparsable extension (the rules that read "
            "extensions were skipped)",
            "issue it again with certtui, which writes each extension once",
        )
    return _finding(
        "cert.ext-wellformed", Severity.PASS, f"{len(c.cert.extensions)} extension(s), each once, all parse"
    )


def _server_tls12(c: _Ctx) -> Finding | None:
    if not c.served:
        return None
    version = c.tls_version or "unknown"
    if version in ("TLSv1.2", "TLSv1.3"):
        return _finding("server.tls12", Severity.PASS, f"negotiated {version}")
    return _finding(
        "server.tls12",
        Severity.WARN,
        f"a TLS 1.2+ handshake failed; the server only spoke {version}, which iOS 14+ refuses",
        "enable TLS 1.2 or 1.3 in the server's configuration (for nginx: ssl_protocols TLSv1.2 TLSv1.3;)",
    )


def _is_store_root(c: _Ctx) -> bool:
    return c.store is not None and c.record is not None and c.record.id == c.store.root_id()


def _store_key_unencrypted(c: _Ctx) -> Finding | None:
    if c.store is None or not _is_store_root(c):
        return None
    if c.store.encrypted:
        return _finding("store.key-unencrypted", Severity.PASS, "keys are sealed under the store passphrase")
    return _finding(
        "store.key-unencrypted",
        Severity.WARN,
        "the store was made with --no-passphrase: anyone who can read it can mint "
        "certificates your phones trust for any site",
        "give the store a passphrase: `certtui passwd`",
    )


def _store_no_nc(c: _Ctx) -> Finding | None:
    if not _is_store_root(c):
        return None
    nc = _ext(c.cert, x509.NameConstraints)
    if nc is not None:
        return _finding("store.no-name-constraints", Severity.PASS, _subtrees(nc))
    return _finding(
        "store.no-name-constraints",
        Severity.INFO,
        "the root has no name constraints, so a stolen root key can impersonate any site",
        "for the next root: `certtui init --permit home.arpa --permit lan --permit "
        "192.168.0.0/16 --permit 10.0.0.0/8 --permit fd00::/8` (and your own domain)",
    )


# -- a store whose passphrase is cheap to guess (docs/trust-rules.md, store.kdf-weak) -----


def _store_kdf_weak(c: _Ctx) -> Finding | None:
    """Argon2 costs below keys.KDF_MIN_*: a copy of the store can be guessed fast."""
    if c.store is None or not _is_store_root(c) or not c.store.encrypted:
        return None
    from certtui.core import keys as keymod

    why = keymod.KdfParams.from_json(c.store.meta("kdf") or "").weak
    if why is None:
        return _finding("store.kdf-weak", Severity.PASS, "Argon2id at or above the minimum cost")
    return _finding(
        "store.kdf-weak",
        Severity.FAIL,
        why,
        "re-seal every key at certtui's own cost: `certtui passwd`",
    )


def _root_key_strength(c: _Ctx) -> Finding:
    return _key_strength(
        "root.key-strength",
        [c.cert],
        named=False,
        fix="make a new root with `certtui init --key ec256` and enroll it",
    )


# Rules that read the certificate's parsed extensions; skipped when cert.ext-wellformed fails.
_NEEDS_EXTENSIONS = frozenset(
    {
        _root_ca_bc,
        _root_key_usage,
        _root_path_len,
        _root_ski,
        _root_name_constraints,
        _leaf_san_present,
        _leaf_san_host,
        _leaf_wildcard,
        _leaf_eku,
        _leaf_not_ca,
        _leaf_cn_not_dns,
        _client_eku,
        _cert_critical_ext,
        _chain_aki_link,
    }
)
_ROOT_RULES: tuple[Rule, ...] = (
    _root_ca_bc,
    _root_self_signed,
    _root_subject_cn,
    _root_key_usage,
    _root_key_strength,
    _root_validity,
    _root_path_len,
    _root_ski,
    _root_name_constraints,
    _root_android_user_ca,
)
# Below a root, the root's path-length and name-constraint rules judge the path above.
_DESCENDANT_RULES: tuple[Rule, ...] = (_root_path_len, _root_name_constraints)
_CHAIN_RULES: tuple[Rule, ...] = (
    _int_ca_bc,
    _int_key_strength,
    _int_sig_hash,
    _chain_complete,
    _chain_aki_link,
    _chain_trusted,
    _chain_revoked,
)
_LEAF_RULES: tuple[Rule, ...] = (
    _leaf_key_strength,
    _leaf_sig_hash,
    _leaf_validity,
    _leaf_not_ca,
    _leaf_cn_not_dns,
)
_SERVER_RULES: tuple[Rule, ...] = (
    _leaf_san_present,
    _leaf_san_host,
    _leaf_wildcard,
    _leaf_eku,
    _leaf_lifetime_825,
    _leaf_lifetime_398,
)
_CLIENT_RULES: tuple[Rule, ...] = (_client_eku,)
_EVERY_CERT_RULES: tuple[Rule, ...] = (
    _cert_critical_ext,
    _cert_ext_wellformed,
    _server_tls12,
    _store_key_unencrypted,
    _store_no_nc,
    _store_kdf_weak,
)


def _rules_for(c: _Ctx) -> list[Rule]:
    # Any self-signed certificate is held to the root rules: a phone can only trust it as a root.
    as_root = c.kind is Kind.ROOT or c.is_self_signed
    rules = list(_ROOT_RULES if as_root else _DESCENDANT_RULES)
    if c.kind is not Kind.ROOT:
        rules += _CHAIN_RULES
    if c.kind in (Kind.SERVER, Kind.CLIENT):
        rules += _LEAF_RULES
    rules += {Kind.SERVER: _SERVER_RULES, Kind.CLIENT: _CLIENT_RULES}.get(c.kind, ())
    return rules + list(_EVERY_CERT_RULES)


def check(
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    *,
    host: str | None = None,
    store: Store | None = None,
    roots: Sequence[x509.Certificate] = (),
    now: datetime | None = None,
    kind: Kind | None = None,
    served: bool = False,
    tls_version: str | None = None,
) -> list[Finding]:
    """Every applicable rule's finding for `cert` and the chain that came with it (leaf first).

    Trust is judged against the store's roots plus `roots`. `kind` overrides `classify`.
    `served` says the chain came from a live server (`tls_version` is what it negotiated).
    """
    trusted = list(roots) + (store_roots(store) if store is not None else [])
    ctx = _Ctx(
        cert=cert,
        chain=list(chain),
        kind=kind or classify(cert, store=store, host_given=bool(host) or served),
        now=now or utcnow(),
        host=host,
        store=store,
        roots=trusted,
        served=served,
        tls_version=tls_version,
    )
    findings = []
    for rule in _rules_for(ctx):
        if ctx.ext_error and rule in _NEEDS_EXTENSIONS:
            continue
        finding = rule(ctx)
        if finding is not None:
            findings.append(finding)
    return findings


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Fails first, then warnings, info and passes; rule order within each."""
    return sorted(findings, key=lambda f: f.severity.rank)


# -- the issue form's live preview ------------------------------------------------------------


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
    real = _int_sig_hash_of([ca for ca in issuers if not self_signed(ca)])
    return [real if f.id == "int.sig-hash" and real is not None else f for f in findings]


def signed_findings(
    store: Store, plan: IssuePlan, cert: x509.Certificate, now: datetime | None = None
) -> list[Finding]:
    """The findings of `cert`, signed for `plan` by its real CA and not stored yet: the same
    rules `preview_findings` applies, on the very certificate `commit` would store."""
    chain = list(_issuers(store, plan.issuer_id))
    roots = [chain[-1]] if self_signed(chain[-1]) else []
    return check(cert, chain, roots=roots, now=now or utcnow(), kind=plan.kind)


def guardrail(
    store: Store,
    plans: Sequence[IssuePlan],
    *,
    force: bool,
    now: datetime | None = None,
    signed: Sequence[x509.Certificate] | None = None,
    public_keys: Sequence[keymod.PublicKey] | None = None,
) -> list[str]:
    """Issue-time guardrail for server certificates (`issue`, `sign`, the TUI form).

    Refuses, with PolicyError naming the failing rule ids, any server plan the checklist
    fails, unless `force`. Returns the lines to show as warnings (and, when forced, the fails).

    `signed` holds, plan by plan, the certificates about to be stored, signed by the real CAs
    (an unlocked store signs first): they are judged as they are, so nothing is signed twice.
    Without it (a locked store, before the passphrase is asked) each plan is previewed, with
    `public_keys` (plan by plan: the CSR's key `sign` will certify) when given.
    """
    if signed is not None and len(signed) != len(plans):
        raise ValueError("guardrail: one signed certificate per plan")
    warnings: list[str] = []
    refused: list[str] = []
    for i, p in enumerate(plans):
        if p.kind is not Kind.SERVER:
            continue
        name = ", ".join(p.names.values())
        findings = (
            preview_findings(store, p, now, public_keys[i] if public_keys is not None else None)
            if signed is None
            else signed_findings(store, p, signed[i], now)
        )
        fails = [f for f in findings if f.severity is Severity.FAIL]
        warnings += [
            f"{name}: {f.id}: {f.detail}"
            for f in findings
            if f.severity is Severity.WARN or (force and f in fails)
        ]
        if fails:
            refused.append(f"{name} would fail " + ", ".join(f"{f.id} ({f.detail})" for f in fails))
    if refused and not force:
        raise PolicyError(
            f"refused: {'; '.join(refused)}; change the request, or add --force to issue it anyway"
        )
    return warnings
