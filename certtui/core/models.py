"""Frozen dataclasses and enums shared by core, the CLI and the TUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a certificate is for."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    SERVER = "server"
    CLIENT = "client"

    @property
    def is_ca(self) -> bool:
        return self in (Kind.ROOT, Kind.INTERMEDIATE)


class Status(StrEnum):
    """Where a certificate is in its life, as `list` shows it."""

    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"


class KeySpec(StrEnum):
    """The key types certtui generates."""

    EC256 = "ec256"
    EC384 = "ec384"
    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    RSA4096 = "rsa4096"

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa")

    @property
    def bits(self) -> int:
        return int(self.value[3:]) if self.is_rsa else {"ec256": 256, "ec384": 384}[self.value]

    @property
    def label(self) -> str:
        return f"RSA {self.bits}" if self.is_rsa else f"EC P-{self.bits}"


class NameType(StrEnum):
    """The SAN types certtui writes, in the order the SAN lists them."""

    DNS = "dns"
    IP = "ip"
    EMAIL = "email"
    URI = "uri"


@dataclass(frozen=True)
class SubjectName:
    """One parsed name: DNS as an A-label, IP compressed, email with an A-label domain, URI."""

    type: NameType
    value: str


@dataclass(frozen=True)
class Names:
    """Names grouped DNS, IP, email, URI; each group in the order typed."""

    dns: tuple[str, ...] = ()
    ip: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    uri: tuple[str, ...] = ()

    def all(self) -> tuple[SubjectName, ...]:
        return (
            tuple(SubjectName(NameType.DNS, v) for v in self.dns)
            + tuple(SubjectName(NameType.IP, v) for v in self.ip)
            + tuple(SubjectName(NameType.EMAIL, v) for v in self.email)
            + tuple(SubjectName(NameType.URI, v) for v in self.uri)
        )

    def values(self) -> tuple[str, ...]:
        return self.dns + self.ip + self.email + self.uri

    def __bool__(self) -> bool:
        return bool(self.values())


@dataclass(frozen=True)
class Constraint:
    """A permitted (or excluded) subtree: a DNS suffix as an A-label, or an IP network in CIDR."""

    type: NameType
    value: str


@dataclass(frozen=True)
class InitRequest:
    """Create the store's root (and, optionally, an issuing intermediate)."""

    name: str
    key: KeySpec = KeySpec.EC256
    days: int | None = None
    permit: tuple[str, ...] = ()
    intermediate: bool = False
    crl_url: str | None = None


@dataclass(frozen=True)
class IssueRequest:
    """Issue one certificate: a leaf with `names`, or an intermediate named `cn`."""

    names: tuple[str, ...] = ()
    kind: Kind = Kind.SERVER
    days: int | None = None
    key: KeySpec = KeySpec.EC256
    issuer: str | None = None
    cn: str | None = None
    permit: tuple[str, ...] = ()
    force: bool = False


@dataclass(frozen=True)
class CertRecord:
    """One certificate as the store lists it; built from columns, no certificate parsing."""

    id: str
    serial: str
    kind: Kind
    subject: str
    names: tuple[str, ...]
    issuer_id: str | None
    not_before: str
    not_after: str
    status: Status
    has_key: bool
    external: bool
    key_type: str
    sha256: str
    revoked_at: str | None = None
    revocation_reason: str | None = None
    renewed_by: str | None = None
    created_at: str = ""
    # Who asked for it, when not the CLI or the TUI: `acme:<account name>`.
    origin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The object `list --json` and `issue --json` print."""
        return {
            "id": self.id,
            "serial": self.serial,
            "kind": self.kind.value,
            "subject": self.subject,
            "names": list(self.names),
            "issuer": self.issuer_id,
            "not_before": self.not_before,
            "not_after": self.not_after,
            "status": self.status.value,
            "has_key": self.has_key,
            "external": self.external,
            "key_type": self.key_type,
            "sha256": self.sha256,
            "revoked_at": self.revoked_at,
            "revocation_reason": self.revocation_reason,
            "renewed_by": self.renewed_by,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Resolved:
    """What an ID the user typed named: the certificate, and the external certificates with the
    same name that the store's own one won over (the caller says they were skipped)."""

    record: CertRecord
    skipped: tuple[CertRecord, ...] = ()

    @property
    def note(self) -> str | None:
        """One line saying which external certificates were skipped, or None."""
        if not self.skipped:
            return None
        others = ", ".join(f"{r.id} ({r.kind.value}, external)" for r in self.skipped)
        return (
            f"took the store's own {self.record.kind.value} {self.record.id}; skipped {others} "
            "with the same name, imported from elsewhere (give its id to use it)"
        )
