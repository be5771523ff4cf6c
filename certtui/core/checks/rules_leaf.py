"""The leaf rules: names, key usage, lifetime, key and signature of a server or client certificate."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certtui.core import names as namesmod
from certtui.core import policy
from certtui.core.checks.facts import (
    HOST_LIKE_CN,
    Context,
    Rule,
    day_count,
    hash_verdict,
    key_strength,
    label,
    names_of,
    validity,
)
from certtui.core.checks.findings import Finding, Severity, finding
from certtui.core.constraints import chain_constraint_violations
from certtui.core.extensions import extension
from certtui.core.models import Names
from certtui.core.name_syntax import wildcard_ok
from certtui.errors import CerttuiError

# The 825/398-day limits and the expiry window: core/policy.py, with reasons
# (docs/trust-rules.md, leaf.lifetime-398, with the CA/B Forum's SC-081v3 steps below it).
MAX_LEAF_DAYS = policy.MAX_LEAF_DAYS
PUBLIC_LEAF_DAYS = policy.PUBLIC_LEAF_DAYS
LEAF_WARN_LEFT = timedelta(days=policy.LEAF_EXPIRING_DAYS)
# Chromium 156 rejects `*.home.arpa` in the real-client matrix (tests/test_interop_clients.py)
# while accepting `*.lab.home.arpa`: it treats home.arpa like a registry.
CHROMIUM_NO_WILDCARD = "home.arpa"


def _leaf_san_present(c: Context) -> Finding:
    san = extension(c.cert, x509.SubjectAlternativeName)
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
        return finding("leaf.san-present", Severity.FAIL, f"{what}: iOS never matches the common name", fix)
    return finding("leaf.san-present", Severity.PASS, ", ".join(_san_entries(san)))


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


def _leaf_san_host(c: Context) -> Finding | None:
    if not c.host:
        return None
    try:
        parsed = namesmod.parse_name(c.host)
        host, is_ip = parsed.value, parsed.type.value == "ip"
    except CerttuiError:
        host, is_ip = c.host.strip().lower(), False
    names = names_of(c.cert)
    fix = f"issue a certificate that names it: `certtui issue {host} ...` (with the other names too)"
    if is_ip:
        address = ipaddress.ip_address(host)
        if any(ipaddress.ip_address(v) == address for v in names.ip):
            return finding("leaf.san-host", Severity.PASS, f"IP {host} is an iPAddress entry")
        if host in (d.lower() for d in names.dns):
            return finding(
                "leaf.san-host",
                Severity.FAIL,
                f"{host} is written as a DNS name; an IP only matches an iPAddress entry",
                fix,
            )
        return finding(
            "leaf.san-host",
            Severity.FAIL,
            f"no iPAddress entry {host} among {', '.join(names.values()) or 'no names'}",
            fix,
        )
    match = next((d for d in names.dns if _dns_matches(d, host)), None)
    if match is not None:
        return finding("leaf.san-host", Severity.PASS, f"{host} matches the DNS name {match}")
    cn = label(c.cert).lower()
    extra = "; only the common name holds it, which iOS ignores" if cn == host else ""
    return finding(
        "leaf.san-host",
        Severity.FAIL,
        f"{host} is not among the DNS names ({', '.join(names.dns) or 'none'}){extra}",
        fix,
    )


def _leaf_wildcard(c: Context) -> Finding:
    wild = [d for d in names_of(c.cert).dns if "*" in d]
    bad = [d for d in wild if not wildcard_ok(d)]
    if bad:
        return finding(
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
        return finding(
            "leaf.wildcard",
            Severity.WARN,
            f"{', '.join(shallow)}: Chromium (Chrome, Edge, Android WebView) refuses a wildcard "
            f"directly under {CHROMIUM_NO_WILDCARD}",
            "put the wildcard one level deeper, `certtui issue '*.lab.home.arpa'`, or name the hosts",
        )
    if not wild:
        return finding("leaf.wildcard", Severity.PASS, "no wildcard names")
    return finding(
        "leaf.wildcard", Severity.PASS, "; ".join(f"{d} matches one label under {d[2:]}" for d in wild)
    )


def _eku_has(
    c: Context, rule: str, oid: x509.ObjectIdentifier, what: str, fix: str, bad: Severity
) -> Finding:
    eku = extension(c.cert, x509.ExtendedKeyUsage)
    if eku is None:
        return finding(rule, bad, "no extendedKeyUsage extension", fix)
    shown = ", ".join(getattr(o, "_name", o.dotted_string) for o in eku)
    if oid in eku:
        return finding(rule, Severity.PASS, shown)
    return finding(rule, bad, f"{shown}, without {what}", fix)


def _leaf_eku(c: Context) -> Finding:
    return _eku_has(
        c,
        "leaf.eku-serverauth",
        ExtendedKeyUsageOID.SERVER_AUTH,
        "serverAuth",
        "issue a server certificate: `certtui issue NAME...` (without --client)",
        Severity.FAIL,
    )


def _client_eku(c: Context) -> Finding:
    return _eku_has(
        c,
        "client.eku",
        ExtendedKeyUsageOID.CLIENT_AUTH,
        "clientAuth",
        "issue a client certificate: `certtui issue --client NAME`",
        Severity.WARN,
    )


def _lifetime(c: Context) -> timedelta:
    return c.cert.not_valid_after_utc - c.cert.not_valid_before_utc


# Apple's SecPolicyCheckValidityPeriodMaximums (SecPolicyServer.c) skips "user-anchored
# leafs": a certificate that is itself the trusted anchor has no lifetime limit; every other
# leaf meets SecPolicyCheckOtherTrustValidityPeriodMaximums (docs/trust-rules.md).
_ANCHOR_EXEMPT = (
    "; exempt as its own trust anchor (a self-signed certificate the phone trusts directly "
    "has no lifetime limit: Apple's SecPolicyCheckOtherTrustValidityPeriod skips it)"
)


def _leaf_lifetime_825(c: Context) -> Finding:
    span = _lifetime(c)
    detail = f"valid for {day_count(span)} days; limit {MAX_LEAF_DAYS}"
    if c.is_self_signed:
        return finding("leaf.lifetime-825", Severity.PASS, detail + _ANCHOR_EXEMPT)
    if span > timedelta(days=MAX_LEAF_DAYS):
        return finding(
            "leaf.lifetime-825",
            Severity.FAIL,
            detail + ", backdating included",
            f"issue it again for {policy.LEAF_DAYS} days: `certtui renew ID`, "
            f"or `certtui issue NAME... --days {policy.LEAF_DAYS}`",
        )
    return finding("leaf.lifetime-825", Severity.PASS, detail)


def _leaf_lifetime_398(c: Context) -> Finding:
    span = _lifetime(c)
    if c.is_self_signed:
        return finding(
            "leaf.lifetime-398", Severity.PASS, f"valid for {day_count(span)} days" + _ANCHOR_EXEMPT
        )
    if span > timedelta(days=PUBLIC_LEAF_DAYS):
        # docs/trust-rules.md, leaf.lifetime-398: the public limits as of December 2026.
        return finding(
            "leaf.lifetime-398",
            Severity.INFO,
            f"valid for {day_count(span)} days. Public CAs are capped by CA/Browser Forum ballot "
            "SC-081v3: 200 days for certificates issued from 2026-03-15, 100 days from "
            "2027-03-15, 47 days from 2029-03-15. Those limits do not bind a root you install: "
            f"Apple's trust evaluator applies {PUBLIC_LEAF_DAYS} days to its own roots and "
            f"{MAX_LEAF_DAYS} to user-installed ones, and Chrome's root policy does not cover "
            "locally trusted CAs",
            f"nothing to do for a private root; --days {policy.LEAF_DAYS} if you want to be safe",
        )
    return finding("leaf.lifetime-398", Severity.PASS, f"valid for {day_count(span)} days")


def _leaf_cn_not_dns(c: Context) -> Finding:
    """docs/trust-rules.md, leaf.cn-not-dns: measured against the clients of tests/test_interop_clients.py."""
    cns = [str(a.value) for a in c.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not cns:
        return finding("leaf.cn-not-dns", Severity.PASS, "no common name")
    names = names_of(c.cert)
    if names.dns:
        return finding("leaf.cn-not-dns", Severity.PASS, "the SAN has a DNS name, so no client checks the CN")
    if not HOST_LIKE_CN.fullmatch(cns[0]):
        return finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]} does not look like a host name")
    ncs = [
        (ca, nc)
        for ca in c.path[1:]
        if (nc := extension(ca, x509.NameConstraints)) is not None
        and any(
            isinstance(n, x509.DNSName) for n in (nc.permitted_subtrees or []) + (nc.excluded_subtrees or [])
        )
    ]
    if not ncs:
        return finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]}, and no DNS name constraints above")
    bad = chain_constraint_violations(Names(dns=(cns[0],)), [nc for _, nc in ncs])
    if not bad:
        return finding("leaf.cn-not-dns", Severity.PASS, f"CN={cns[0]} fits the DNS name constraints")
    where = ", ".join(label(ca) for ca, _ in ncs)
    return finding(
        "leaf.cn-not-dns",
        Severity.WARN,
        f"CN={cns[0]} and no DNS name in the SAN, under the DNS name constraints of {where}: "
        "OpenSSL checks such a CN against the DNS subtrees and GnuTLS checks every CN, so curl, "
        'Python, wget and other OpenSSL or GnuTLS clients reject it ("permitted subtree '
        'violation"); NSS, Go, Java, Chromium, Firefox and iPhones accept it',
        "renew it (`certtui renew ID`): certtui now issues leaves without a DNS name with no "
        "CN; for a device's CSR, sign a new one (`certtui sign device.csr`)",
    )


def _leaf_key_strength(c: Context) -> Finding:
    return key_strength(
        "leaf.key-strength",
        [c.cert],
        named=False,
        fix="issue it again with an EC P-256 key: `certtui issue NAME... --key ec256`",
    )


def _leaf_sig_hash(c: Context) -> Finding:
    ok, text = hash_verdict(c.cert)
    if ok:
        return finding("leaf.sig-hash", Severity.PASS, text)
    return finding(
        "leaf.sig-hash",
        Severity.FAIL,
        text + "; iOS rejects SHA-1 and MD5 for TLS",
        "issue it again from certtui, which signs with SHA-256: `certtui issue NAME...`",
    )


def _leaf_validity(c: Context) -> Finding:
    return validity("leaf.validity", c, LEAF_WARN_LEFT, "renew it: `certtui renew ID`", backdate=True)


def _leaf_not_ca(c: Context) -> Finding:
    bc = extension(c.cert, x509.BasicConstraints)
    if bc is not None and not bc.ca:
        return finding("leaf.not-ca", Severity.PASS, "CA:FALSE")
    what = "no basicConstraints extension" if bc is None else "CA:TRUE on an end-entity certificate"
    return finding(
        "leaf.not-ca",
        Severity.WARN,
        what,
        "issue it from certtui, which writes CA:FALSE: `certtui issue NAME...`",
    )


LEAF_RULES: tuple[Rule, ...] = (
    _leaf_key_strength,
    _leaf_sig_hash,
    _leaf_validity,
    _leaf_not_ca,
    _leaf_cn_not_dns,
)
SERVER_RULES: tuple[Rule, ...] = (
    _leaf_san_present,
    _leaf_san_host,
    _leaf_wildcard,
    _leaf_eku,
    _leaf_lifetime_825,
    _leaf_lifetime_398,
)
CLIENT_RULES: tuple[Rule, ...] = (_client_eku,)
READS_EXTENSIONS: frozenset[Rule] = frozenset(
    {
        _leaf_san_present,
        _leaf_san_host,
        _leaf_wildcard,
        _leaf_eku,
        _leaf_not_ca,
        _leaf_cn_not_dns,
        _client_eku,
    }
)
"""The rules here that read the certificate's parsed extensions (skipped when they do not parse)."""
