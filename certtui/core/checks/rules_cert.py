"""The rules for every certificate: its critical extensions, their form, and the server that sent it."""

from __future__ import annotations

from certtui.core.checks.facts import Context, Rule
from certtui.core.checks.findings import Finding, Severity, finding

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


def _cert_critical_ext(c: Context) -> Finding:
    critical = [e.oid for e in c.cert.extensions if e.critical]
    unknown = [oid.dotted_string for oid in critical if oid.dotted_string not in KNOWN_CRITICAL]
    if unknown:
        return finding(
            "cert.critical-ext",
            Severity.FAIL,
            f"critical extension(s) iOS does not parse: {', '.join(unknown)}",
            "issue it again without them (certtui marks only standard extensions critical)",
        )
    shown = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in critical)
    return finding("cert.critical-ext", Severity.PASS, f"critical: {shown or 'none'}")


def _cert_ext_wellformed(c: Context) -> Finding:
    if c.ext_error:
        return finding(
            "cert.ext-wellformed",
            Severity.FAIL,
            f"{c.ext_error}: iOS fails it as an unparsable extension (the rules that read "
            "extensions were skipped)",
            "issue it again with certtui, which writes each extension once",
        )
    return finding(
        "cert.ext-wellformed", Severity.PASS, f"{len(c.cert.extensions)} extension(s), each once, all parse"
    )


def _server_tls12(c: Context) -> Finding | None:
    if not c.served:
        return None
    version = c.tls_version or "unknown"
    if version in ("TLSv1.2", "TLSv1.3"):
        return finding("server.tls12", Severity.PASS, f"negotiated {version}")
    return finding(
        "server.tls12",
        Severity.WARN,
        f"a TLS 1.2+ handshake failed; the server only spoke {version}, which iOS 14+ refuses",
        "enable TLS 1.2 or 1.3 in the server's configuration (for nginx: ssl_protocols TLSv1.2 TLSv1.3;)",
    )


CERT_RULES: tuple[Rule, ...] = (_cert_critical_ext, _cert_ext_wellformed, _server_tls12)
READS_EXTENSIONS: frozenset[Rule] = frozenset({_cert_critical_ext})
"""The rules here that read the certificate's parsed extensions (skipped when they do not parse)."""
