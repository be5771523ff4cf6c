"""Adopt what users already have: CAs with their keys (import-ca) and certificates to watch (import)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certtui.core import checks, revocation
from certtui.core import keys as keymod
from certtui.core.extensions import extension
from certtui.core.loaders import names_of
from certtui.core.models import CertRecord, Kind
from certtui.core.store import Store, cert_subject_cn, fingerprint
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, PolicyError

# -- import-ca ---------------------------------------------------------------------------


def dead_ends(cert: x509.Certificate, now: datetime | None = None) -> list[str]:
    """Why nothing this CA issues can ever be trusted by an iPhone, one line each (none: fine).

    The key (iOS takes RSA 2048+ and EC P-256/P-384 in a chain), a notBefore still to come,
    and a critical extension that no client knows (RFC 5280 4.2: it must then reject the chain).
    """
    name = checks.label(cert)
    out = []
    severity, evidence = checks.key_verdict(cert)
    if severity is checks.Severity.FAIL:
        out.append(f"{name}'s key is {evidence}, so every chain through it is refused")
    now = now or utcnow()
    if cert.not_valid_before_utc > now:
        out.append(
            f"{name} is not valid until {iso(cert.not_valid_before_utc)}, so until then every "
            "chain through it is refused"
        )
    try:
        extensions = list(cert.extensions)
    except (x509.DuplicateExtension, ValueError):
        extensions = []
        out.append(f"{name}'s extensions do not decode, so clients refuse every chain through it")
    for ext in extensions:
        if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
            out.append(
                f"{name} has a critical extension no client knows ({ext.oid.dotted_string}), so "
                "clients must refuse every chain through it"
            )
    return out


def validate_ca(
    cert: x509.Certificate, key: keymod.PrivateKey, root: x509.Certificate | None, *, force: bool = False
) -> list[str]:
    """Refuse a CA that cannot be imported (into an empty store when `root` is None, else under
    that root), or that is a dead end for iPhones unless `force`; return the one-line notes
    about what it cannot do."""
    name = checks.label(cert)
    if not checks.classify(cert).is_ca:
        raise PolicyError(
            f"{name} is not a CA (no basicConstraints CA:TRUE); import-ca takes a CA, "
            "use `certtui import` to watch other certificates"
        )
    ku = extension(cert, x509.KeyUsage)
    if isinstance(ku, x509.KeyUsage) and not ku.key_cert_sign:
        raise PolicyError(
            f"{name}'s key usage lacks keyCertSign, so it cannot sign certificates; import a CA that can"
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise PolicyError(
            f"the key does not match {name}'s certificate; give the key file that belongs to it"
        )
    if root is None:
        if not checks.self_signed(cert):
            raise PolicyError(
                f"{name} is not a self-signed root; a new store starts from its root, so import "
                "the root first, then this intermediate"
            )
    elif checks.self_signed(cert):
        raise PolicyError(
            f"the store already has a root ({checks.label(root)}); import-ca adds only an intermediate "
            "issued by it (use --home for a second store)"
        )
    elif not checks.issued_by(cert, root):
        raise PolicyError(
            f"{name} was not issued by this store's root ({checks.label(root)}); import-ca adds only "
            "intermediates issued by it (use --home for a second store)"
        )
    notes = []
    blocked = dead_ends(cert)
    if blocked and not force:
        raise PolicyError(
            f"{'; '.join(blocked)}: no certificate it issues would be trusted by an iPhone; import "
            "a CA that can, or add --force to import it anyway"
        )
    notes += [f"imported anyway (--force): {line}" for line in blocked]
    bc = extension(cert, x509.BasicConstraints)
    if root is None and isinstance(bc, x509.BasicConstraints) and bc.path_length == 0:
        notes.append(
            f"{name} has path length 0, so it cannot have an intermediate; leaves are issued from it directly"
        )
    if cert.not_valid_after_utc <= utcnow():
        notes.append(f"{name} expired on {iso(cert.not_valid_after_utc)}; nothing it issues will be trusted")
    return notes


@dataclass(frozen=True)
class CaImported:
    """An imported CA's record, and the one-line notes on what it cannot do."""

    record: CertRecord
    notes: tuple[str, ...]


def _add_ca(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    kind: Kind,
    issuer_id: str | None,
    crl_url: str | None,
    notes: list[str],
) -> str:
    """Inside `write()`: add the CA with its key, make it the default issuer, note its CRL ability."""
    cert_id = store.add_certificate(
        cert, kind=kind, names=(), issuer_id=issuer_id, key=key, action="import-ca"
    )
    if kind is Kind.ROOT:
        store.set_meta("root", cert_id)
    store.set_meta("default_issuer", cert_id)
    blocker = revocation.crl_blocker(store, store.get(cert_id))
    if blocker and crl_url:
        raise PolicyError(f"--crl-url cannot be used: {blocker}")
    if blocker:
        notes.append(blocker)
    if crl_url:
        store.set_meta("crl_url", revocation.check_crl_url(crl_url))
    return cert_id


def import_root(
    path: Path,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    passphrase: str | None,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> tuple[Store, CaImported]:
    """Create a store around a self-signed root and its key; nothing exists if anything fails."""
    notes = validate_ca(cert, key, None, force=force)
    ids: list[str] = []

    def populate(store: Store) -> None:
        with store.write():
            ids.append(_add_ca(store, cert, key, Kind.ROOT, None, crl_url, notes))

    store = Store.create(path, passphrase, populate)
    return store, CaImported(store.get(ids[0]), tuple(notes))


def import_intermediate(
    store: Store,
    cert: x509.Certificate,
    key: keymod.PrivateKey,
    crl_url: str | None = None,
    *,
    force: bool = False,
) -> CaImported:
    """Add an intermediate issued by the store's root, with its key; it becomes the default issuer."""
    root_id = store.root_id()
    if root_id is None:
        raise CerttuiError("the store has no root; import a root into an empty store first")
    notes = validate_ca(cert, key, store.certificate(root_id), force=force)
    with store.write():
        cert_id = _add_ca(store, cert, key, Kind.INTERMEDIATE, root_id, crl_url, notes)
    return CaImported(store.get(cert_id), tuple(notes))


# -- import (watch certificates from elsewhere) ------------------------------------------


@dataclass(frozen=True)
class Imported:
    """What `import_certificates` did: the records added, one note per certificate skipped, and
    one warning per certificate added that goes by the name of one of the store's own CAs."""

    added: tuple[CertRecord, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def _lookup_names(cert: x509.Certificate) -> set[str]:
    """The names `Store.resolve` finds a certificate by: its CN and SAN entries, lower-case."""
    cn = cert_subject_cn(cert)
    return {n.lower() for n in names_of(cert)} | ({cn.lower()} if cn else set())


def _clash(
    cert: x509.Certificate, cert_id: str, own_cas: Sequence[tuple[CertRecord, x509.Certificate]]
) -> str | None:
    """The warning for a foreign certificate named like one of the store's own CAs, or None."""
    mine = _lookup_names(cert)
    for rec, ca in own_cas:
        if cert.subject == ca.subject or mine & _lookup_names(ca):
            return (
                f"imported {cert_id} goes by the name of this store's own {rec.kind.value} "
                f"{rec.subject or rec.id} ({rec.id}); that name still means the store's own, and the "
                f"imported one is marked external (if you did not expect it, remove it: it is not yours)"
            )
    return None


def import_certificates(store: Store, certs: Sequence[x509.Certificate]) -> Imported:
    """Add foreign certificates, with no key, as external; skip those already in the store.

    All are added in one transaction. Each is linked to its issuer when that is in the store
    (or in the same batch) and its signature verifies; CAs go first so leaves find them.
    """
    rank = {Kind.ROOT: 0, Kind.INTERMEDIATE: 1}
    order = sorted(((checks.classify(c), c) for c in certs), key=lambda kc: rank.get(kc[0], 2))
    cas = [
        (r.id, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
    ]
    own_cas = [
        (r, store.certificate(r.id))
        for kind in (Kind.ROOT, Kind.INTERMEDIATE)
        for r in store.records(kind=kind)
        if not r.external
    ]
    added: list[str] = []
    notes: list[str] = []
    warnings: list[str] = []
    with store.write():
        for kind, cert in order:
            existing = store.find_sha256(fingerprint(cert))
            if existing is not None:
                shown = ", ".join(names_of(cert)) or checks.label(cert)
                notes.append(f"skipped {shown}: already in the store as {existing}")
                continue
            issuer_id = None
            if kind is not Kind.ROOT:
                issuer_id = next((cid for cid, ca in cas if checks.issued_by(cert, ca)), None)
            cert_id = store.add_certificate(
                cert,
                kind=kind,
                names=names_of(cert),
                issuer_id=issuer_id,
                external=True,
                action="import",
            )
            added.append(cert_id)
            if (clash := _clash(cert, cert_id, own_cas)) is not None:
                warnings.append(clash)
            if kind.is_ca:
                cas.append((cert_id, cert))
    return Imported(tuple(store.get(i) for i in added), tuple(notes), tuple(warnings))
