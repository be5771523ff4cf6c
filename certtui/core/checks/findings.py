"""What the checklist says: a `Finding` per rule, its `Severity`, the titles, and the one sort.

Nothing here imports cryptography, so the TUI types its rows with these before any
certificate is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


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


def finding(rule: str, severity: Severity, detail: str, fix: str = "") -> Finding:
    """The finding of `rule` with its registered title; a pass carries no fix."""
    return Finding(rule, severity, TITLES[rule], detail, "" if severity is Severity.PASS else fix)


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Fails first, then warnings, info and passes; rule order within each."""
    return sorted(findings, key=lambda f: f.severity.rank)
