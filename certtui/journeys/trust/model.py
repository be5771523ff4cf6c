"""What `certtui trust` works on: the targets, the request, the CA, and what install and status report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from certtui.core import trustplaces as tp
from certtui.core.store import Store
from certtui.errors import CerttuiError


class Target(StrEnum):
    """A kind of place a root can be trusted in."""

    SYSTEM = "system"
    NSS = "nss"
    JAVA = "java"
    FIREFOX_POLICY = "firefox-policy"


# These write system folders: root, unless --root-dir points elsewhere.
ROOT_TARGETS = frozenset({Target.SYSTEM, Target.FIREFOX_POLICY})


DEFAULT_TARGETS = frozenset({Target.SYSTEM, Target.NSS})


@dataclass(frozen=True)
class TrustRequest:
    """What to do, where; `euid` and `home` come from the process so tests can set them."""

    install: bool
    targets: frozenset[Target]
    home: Path
    dry_run: bool = False
    ca: str | None = None
    root_dir: Path | None = None
    java_home: Path | None = None
    keystore: Path | None = None
    euid: int = 0


@dataclass(frozen=True)
class Change:
    """One line of output: a file written or removed, a command run, a database changed."""

    target: Target
    verb: str
    what: str

    def line(self) -> str:
        return f"{self.target.value}: {self.verb} {self.what}"


@dataclass(frozen=True)
class TrustCA:
    """The CA being trusted, as the installer needs it."""

    id: str
    subject: str
    sha256: str
    pem: bytes
    name_constrained: bool


@dataclass
class TrustResult:
    ca: TrustCA
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """One row of `trust status`."""

    target: Target
    label: str
    path: str
    state: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "target": self.target.value}


@dataclass(frozen=True)
class StaleRoot:
    """A certtui root found somewhere that is not the CA in hand."""

    target: Target
    path: str
    sha256: str
    store_id: str | None
    """Its id when this store has it (an earlier root, another CA), None when another store made it."""
    what: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "target": self.target.value}


@dataclass
class TrustStatus:
    ca: TrustCA
    places: list[Place] = field(default_factory=list)
    stale: list[StaleRoot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        honoured = [name for name, ok in tp.NAME_CONSTRAINT_CLIENTS if ok]
        ignored = [name for name, ok in tp.NAME_CONSTRAINT_CLIENTS if not ok]
        return {
            "ca": {
                "id": self.ca.id,
                "subject": self.ca.subject,
                "sha256": self.ca.sha256,
                "name_constrained": self.ca.name_constrained,
            },
            "places": [p.to_json() for p in self.places],
            "stale": [s.to_json() for s in self.stale],
            "name_constraints": {
                "constrained": self.ca.name_constrained,
                "honoured_by": honoured if self.ca.name_constrained else [],
                "ignored_by": ignored if self.ca.name_constrained else [],
            },
            "notes": self.notes,
        }


def load_ca(store: Store, ref: str | None) -> TrustCA:
    """The store's root, or the CA `ref` names; a leaf is refused."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from certtui.core.extensions import extension
    from certtui.core.models import Kind

    if ref is None:
        root_id = store.root_id()
        if root_id is None:
            raise CerttuiError("this store has no root yet; create one with `certtui init`")
        rec = store.get(root_id)
    else:
        rec = store.resolve(ref)
    if rec.kind not in (Kind.ROOT, Kind.INTERMEDIATE):
        raise CerttuiError(
            f"{ref} is a {rec.kind.value} certificate, not a CA; give a root or intermediate to --ca"
        )
    cert = store.certificate(rec.id)
    constrained = extension(cert, x509.NameConstraints, strict=True) is not None
    return TrustCA(
        rec.id, rec.subject, rec.sha256, cert.public_bytes(serialization.Encoding.PEM), constrained
    )


def common_name(ca: TrustCA) -> str:
    for part in ca.subject.split(","):
        key, _, value = part.strip().partition("=")
        if key.upper() == "CN":
            return value
    return ca.subject
