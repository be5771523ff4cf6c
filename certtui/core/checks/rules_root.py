"""The root rules: what makes iOS offer full trust for a root, and the constraints it passes down."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from cryptography.x509.oid import NameOID

from certtui.core import policy
from certtui.core.checks.facts import (
    Context,
    Rule,
    is_ca,
    key_strength,
    label,
    names_of,
    subtrees,
    validity,
)
from certtui.core.checks.findings import Finding, Severity, finding
from certtui.core.constraints import chain_constraint_violations
from certtui.core.details import colon_hex
from certtui.core.extensions import critical, extension
from certtui.core.models import Kind

# How long before a root expires it warns: core/policy.py, with its reason.
ROOT_WARN_LEFT = timedelta(days=policy.CA_EXPIRING_DAYS)
# nameconstraints.c `SecNameConstraintsAreSubtreesSupported`: the subtree forms Apple evaluates.
NC_SUPPORTED = (
    x509.DNSName,
    x509.IPAddress,
    x509.RFC822Name,
    x509.DirectoryName,
    x509.UniformResourceIdentifier,
)

_NEW_ROOT = "make a proper root with `certtui init` (or import one) and enroll it on the phone"


def _root_ca_bc(c: Context) -> Finding:
    bc = extension(c.cert, x509.BasicConstraints)
    if c.cert.version is not x509.Version.v3:
        return finding(
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
        return finding("root.ca-bc", Severity.FAIL, f"{what}: iOS 10.3+ never offers full trust for it", fix)
    if not critical(c.cert, x509.BasicConstraints):
        return finding(
            "root.ca-bc",
            Severity.WARN,
            "CA:TRUE, but basicConstraints is not critical",
            "roots from `certtui init` mark it critical; prefer one of those",
        )
    return finding("root.ca-bc", Severity.PASS, "CA:TRUE, critical")


def _root_self_signed(c: Context) -> Finding:
    if c.is_self_signed:
        return finding("root.self-signed", Severity.PASS, "subject = issuer, and its own key verifies it")
    if c.cert.subject != c.cert.issuer:
        detail = (
            f"issued by {c.cert.issuer.rfc4514_string() or '(empty)'}, not by itself; only a "
            "self-signed root gets the trust switch"
        )
    else:
        detail = "subject = issuer, but its own key does not verify its signature"
    return finding(
        "root.self-signed",
        Severity.FAIL,
        detail,
        "install the self-signed root at the top of this chain on the phone, not this certificate",
    )


def _root_subject_cn(c: Context) -> Finding:
    cns = [str(a.value).strip() for a in c.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if cns and cns[0]:
        return finding("root.subject-cn", Severity.PASS, f"CN={cns[0]}")
    return finding(
        "root.subject-cn",
        Severity.FAIL,
        "no commonName: iOS did not list such roots under Certificate Trust Settings",
        "make a root with a name: `certtui init --name 'Home Lab Root CA'`",
    )


def _root_android_user_ca(c: Context) -> Finding | None:
    # docs/trust-rules.md, root.android-user-ca: Android's network security config defaults.
    if c.kind is not Kind.ROOT:
        return None
    return finding(
        "root.android-user-ca",
        Severity.INFO,
        "on Android, apps that target API 24+ ignore user-installed CAs unless their network "
        'security config opts in (<certificates src="user"/>); browsers (Chrome, and Firefox '
        "120+) honour them",
        'for an app you build, add <certificates src="user"/> to its network security config; '
        "other apps cannot be made to trust a user-installed root",
    )


def _root_key_usage(c: Context) -> Finding:
    ku = extension(c.cert, x509.KeyUsage)
    if ku is None:
        return finding("root.key-usage", Severity.PASS, "no keyUsage extension, so signing is not restricted")
    if not ku.key_cert_sign:
        return finding(
            "root.key-usage",
            Severity.FAIL,
            "keyUsage lacks keyCertSign: it may not sign certificates",
            _NEW_ROOT,
        )
    problems = []
    if not ku.crl_sign:
        problems.append("keyUsage lacks cRLSign, so it cannot sign a CRL")
    if not critical(c.cert, x509.KeyUsage):
        problems.append("keyUsage is not critical")
    if problems:
        return finding(
            "root.key-usage",
            Severity.WARN,
            "keyCertSign set, but " + "; ".join(problems),
            "roots from `certtui init` have keyCertSign + cRLSign, critical",
        )
    return finding("root.key-usage", Severity.PASS, "keyCertSign and cRLSign, critical")


def _root_validity(c: Context) -> Finding:
    return validity(
        "root.validity",
        c,
        ROOT_WARN_LEFT,
        "make a new root with `certtui init` and enroll it on every phone before this one ends",
    )


def _root_path_len(c: Context) -> Finding | None:
    """Each CA's pathLen against the CA levels below it: on the path, and in the store for a root."""
    rows: list[tuple[x509.Certificate, int]] = []
    if c.kind is Kind.ROOT:
        rows.append((c.cert, _store_ca_depth(c)))
    # An intermediate being checked is itself one of the levels below the CAs above it.
    start = 0 if c.kind is Kind.INTERMEDIATE else 1
    for i in range(1, len(c.path)):
        below = sum(1 for cert in c.path[start:i] if is_ca(cert))
        if below:
            rows.append((c.path[i], below))
    if not rows:
        return None
    bad, good = [], []
    for ca, below in rows:
        bc = extension(ca, x509.BasicConstraints)
        limit = None if bc is None else bc.path_length
        if limit is not None and limit < below:
            bad.append(f"{label(ca)} has pathLen {limit} but {below} intermediate level(s) below it")
        shown = "no pathLen limit" if limit is None else f"pathLen {limit}"
        good.append(f"{label(ca)}: {shown}, {below} intermediate level(s) below")
    if bad:
        return finding(
            "root.path-len",
            Severity.FAIL,
            "; ".join(bad),
            "issue leaves directly from that CA, or use a root without the limit "
            "(`certtui init` roots have none)",
        )
    return finding("root.path-len", Severity.PASS, "; ".join(good))


def _store_ca_depth(c: Context) -> int:
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


def _root_ski(c: Context) -> Finding:
    ski = extension(c.cert, x509.SubjectKeyIdentifier)
    if ski is None:
        return finding(
            "root.ski",
            Severity.WARN,
            "no subjectKeyIdentifier (RFC 5280 requires one on a CA)",
            "roots from `certtui init` carry one; prefer one of those",
        )
    return finding("root.ski", Severity.PASS, f"SKI {colon_hex(ski.digest)}")


def _root_name_constraints(c: Context) -> Finding | None:
    """On a root: show its own constraints. On anything below: its names against every CA's."""
    if c.kind is Kind.ROOT or c.is_self_signed:
        nc = extension(c.cert, x509.NameConstraints)
        if nc is None:
            return None
        odd = [
            type(n).__name__
            for n in (nc.permitted_subtrees or []) + (nc.excluded_subtrees or [])
            if not isinstance(n, NC_SUPPORTED)
        ]
        if odd and critical(c.cert, x509.NameConstraints):
            return finding(
                "root.name-constraints",
                Severity.FAIL,
                f"critical name constraints of a form iOS does not evaluate: {', '.join(odd)}",
                "make a root whose constraints are DNS names and IP networks (`certtui init --permit`)",
            )
        return finding("root.name-constraints", Severity.INFO, subtrees(nc))
    constrained = [(ca, nc) for ca in c.path[1:] if (nc := extension(ca, x509.NameConstraints)) is not None]
    if not constrained:
        return None
    names = names_of(c.cert)
    bad = chain_constraint_violations(names, [nc for _, nc in constrained])
    where = ", ".join(label(ca) for ca, _ in constrained)
    if bad:
        return finding(
            "root.name-constraints",
            Severity.FAIL,
            f"{'; '.join(bad)} ({where})",
            "issue the certificate for names inside the CA's constraints",
        )
    if not names:
        return finding(
            "root.name-constraints",
            Severity.PASS,
            f"no subjectAltName names to hold against the constraints of {where}",
        )
    return finding(
        "root.name-constraints", Severity.PASS, f"{', '.join(names.values())} fit the constraints of {where}"
    )


def _root_key_strength(c: Context) -> Finding:
    return key_strength(
        "root.key-strength",
        [c.cert],
        named=False,
        fix="make a new root with `certtui init --key ec256` and enroll it",
    )


ROOT_RULES: tuple[Rule, ...] = (
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
DESCENDANT_RULES: tuple[Rule, ...] = (_root_path_len, _root_name_constraints)
READS_EXTENSIONS: frozenset[Rule] = frozenset(
    {_root_ca_bc, _root_key_usage, _root_path_len, _root_ski, _root_name_constraints}
)
"""The rules here that read the certificate's parsed extensions (skipped when they do not parse)."""
