"""The store's certificates: adding one (and its sealed key), DER and chains, resolving an ID."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from certtui.core.models import CertRecord, Kind, Resolved
from certtui.core.store.keys import Keys
from certtui.core.store.records import _COLUMNS, Records
from certtui.core.timefmt import iso, utcnow
from certtui.errors import CerttuiError, NotFound

if TYPE_CHECKING:
    from cryptography import x509

    from certtui.core import keys as keymod

_HEX = re.compile(r"[0-9a-fA-F]{4,}")


def cert_subject_cn(cert: x509.Certificate) -> str:
    from cryptography.x509.oid import NameOID

    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def fingerprint(cert: x509.Certificate) -> str:
    import hashlib

    from cryptography.hazmat.primitives import serialization

    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


class Certificates(Keys, Records):
    """Adding certificates, reading their DER and chains, and finding the one a user means."""

    def id_taken(self, cert_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM certificates WHERE id = ?", (cert_id,)))

    def find_sha256(self, sha256: str) -> str | None:
        """The id of the certificate with this SHA-256 fingerprint, if the store has it."""
        rows = self._query("SELECT id FROM certificates WHERE sha256 = ?", (sha256,))
        return rows[0][0] if rows else None

    def add_certificate(
        self,
        cert: x509.Certificate,
        *,
        kind: Kind,
        names: tuple[str, ...],
        issuer_id: str | None,
        key: keymod.PrivateKey | None = None,
        external: bool = False,
        action: str = "issue",
        detail: str = "",
        origin: str | None = None,
    ) -> str:
        """Insert a certificate (and its sealed key) inside `write()`; returns its id.

        `origin` says who asked for it when not the CLI or the TUI (`acme:<account>`)."""
        import hashlib

        from cryptography.hazmat.primitives import serialization

        from certtui.core import keys as keymod

        der = cert.public_bytes(serialization.Encoding.DER)
        sha = hashlib.sha256(der).hexdigest()
        serial = format(cert.serial_number, "x")
        dup = self._query("SELECT id FROM certificates WHERE sha256 = ?", (sha,))
        if dup:
            raise CerttuiError(f"this certificate is already in the store as {dup[0][0]}")
        cert_id = serial[:12]
        # Short serials (an imported CA's '01') would make short ids: use the fingerprint.
        if len(serial) < 12 or (external and self.id_taken(cert_id)):
            cert_id = sha[:12]
        if self.id_taken(cert_id):
            raise CerttuiError(f"id {cert_id} is already taken in the store")
        key_id = None
        if key is not None:
            # Sealed under the key material this very transaction sees, or not at all.
            self._same_material()
            if self.encrypted and self._kek is None:
                raise CerttuiError("the store is locked; unlock it with the passphrase first")
            if not keymod.matches(key, cert.public_key()):
                raise CerttuiError("the private key is not the certificate's key; nothing was stored")
            key_id = cert_id
            sealed = keymod.seal(
                self._kek, key_id, keymod.to_der(key), keymod.public_key_hash(cert.public_key())
            )
            self._exec(
                "INSERT INTO keys (id, key_type, sealed, created_at) VALUES (?, ?, ?, ?)",
                (key_id, keymod.describe(key), sealed, iso(utcnow())),
            )
        subject = cert_subject_cn(cert)
        self._exec(
            f"INSERT INTO certificates ({_COLUMNS}, der) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?)",
            (
                cert_id,
                serial,
                kind.value,
                subject,
                "\n".join(names),
                issuer_id if issuer_id is not None else (cert_id if kind is Kind.ROOT else None),
                iso(cert.not_valid_before_utc),
                iso(cert.not_valid_after_utc),
                key_id,
                keymod.describe(cert.public_key()),
                int(external),
                sha,
                iso(utcnow()),
                origin,
                der,
            ),
        )
        lookup = {n.lower() for n in names} | ({subject.lower()} if subject else set())
        self._exec_many(
            "INSERT INTO cert_names (cert_id, name) VALUES (?, ?)",
            [(cert_id, n) for n in sorted(lookup)],
        )
        self.event(action, cert_id, detail or subject or ", ".join(names))
        return cert_id

    def mark_renewed(self, old_id: str, new_id: str) -> None:
        """Inside `write()`."""
        self._exec("UPDATE certificates SET renewed_by = ? WHERE id = ?", (new_id, old_id))

    def renewed_by(self, cert_id: str) -> str | None:
        """The id of the certificate that renewed this one (None: not renewed, or no such id)."""
        row = self._row("SELECT renewed_by FROM certificates WHERE id = ?", (cert_id,))
        return None if row is None or row[0] is None else str(row[0])

    def renewal_of(self, cert_id: str) -> str | None:
        """The id of the certificate this one renewed, if it renewed one."""
        row = self._row("SELECT id FROM certificates WHERE renewed_by = ?", (cert_id,))
        return None if row is None else str(row[0])

    def own_certificate_with_serial(self, serial: str) -> str | None:
        """The id of the certificate this store signed with the serial (hex), or None."""
        row = self._row("SELECT id FROM certificates WHERE serial = ? AND external = 0", (serial,))
        return None if row is None else str(row[0])

    def names_never_carried(self, names: list[str]) -> list[str]:
        """Those of `names` (as the lookup table keeps them: lower case) no certificate carried."""
        return [n for n in names if self._row("SELECT 1 FROM cert_names WHERE name = ?", (n,)) is None]

    def der(self, cert_id: str) -> bytes:
        rows = self._query("SELECT der FROM certificates WHERE id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"no certificate with id {cert_id}; run `certtui list` to see the ids")
        return bytes(rows[0][0])

    def certificate(self, cert_id: str) -> x509.Certificate:
        from cryptography import x509

        return x509.load_der_x509_certificate(self.der(cert_id))

    def chain(self, cert_id: str) -> list[x509.Certificate]:
        """The issuers of a certificate in the store, nearest first, ending at its root."""
        out: list[x509.Certificate] = []
        seen = {cert_id}
        issuer = self.get(cert_id).issuer_id
        while issuer and issuer not in seen:
            seen.add(issuer)
            out.append(self.certificate(issuer))
            issuer = self.get(issuer).issuer_id
        return out

    def root_id(self) -> str | None:
        return self.meta("root")

    def default_issuer_id(self) -> str | None:
        return self.meta("default_issuer") or self.meta("root")

    # -- resolving what the user typed ---------------------------------------------------

    def resolve(self, ref: str) -> CertRecord:
        """The certificate an ID the user typed names (see `lookup`), without the note."""
        return self.lookup(ref).record

    def lookup(self, ref: str) -> Resolved:
        """An exact id, else a unique serial prefix (4+ hex digits), else a name; see below.

        A name (case-insensitive; a host name also in its normalised form) means the current
        certificates carrying it: neither revoked nor replaced by a renewal, or, when none is
        current, all of them. The store's own certificates come first: when exactly one own
        certificate is meant, it wins, and the external ones carrying the name are returned as
        `skipped` so the caller can say so. An external certificate is meant only when no own
        one carries the name. A name that means more than one certificate is refused, one line
        listing each candidate's id, kind and whether it is external: an imported certificate
        never stands in for the store's own, and two of the store's own are never guessed between.
        """
        ref = ref.strip()
        exact = self._query("SELECT id FROM certificates WHERE id = ?", (ref.lower(),))
        if exact:
            return Resolved(self.get(exact[0][0]))
        prefix_ids: list[str] = []
        if _HEX.fullmatch(ref):
            prefix_ids = [
                r[0]
                for r in self._query(
                    "SELECT id FROM certificates WHERE serial LIKE ? ORDER BY seq",
                    (ref.lower() + "%",),
                )
            ]
            if len(prefix_ids) == 1:
                return Resolved(self.get(prefix_ids[0]))
        candidates = {ref.lower()}
        try:
            from certtui.core.names import parse_name

            candidates.add(parse_name(ref).value.lower())
        except CerttuiError:
            pass
        marks = ", ".join("?" for _ in candidates)
        rows = self._query(
            "SELECT DISTINCT c.id, c.seq, c.external, c.revoked_at IS NULL AND c.renewed_by IS NULL "
            f"FROM cert_names n JOIN certificates c ON c.id = n.cert_id WHERE n.name IN ({marks}) "
            "ORDER BY c.seq DESC",
            tuple(sorted(candidates)),
        )
        if not rows:
            hint = (
                f"; the serial prefix matches {', '.join(prefix_ids)}, so give more digits"
                if prefix_ids
                else "; run `certtui list` to see the ids"
            )
            raise NotFound(f"no certificate matches {ref!r}{hint}")

        def meant(group: list[tuple[Any, ...]]) -> list[str]:
            current = [r[0] for r in group if r[3]]
            return current or [r[0] for r in group]

        own = [r for r in rows if not r[2]]
        external = [r for r in rows if r[2]]
        chosen = meant(own) if own else meant(external)
        if len(chosen) == 1:
            skipped = tuple(self.get(r[0]) for r in external) if own else ()
            return Resolved(self.get(chosen[0]), skipped)
        listed = [self.get(i) for i in chosen + (meant(external) if own else [])]
        shown = ", ".join(f"{r.id} ({r.kind.value}{', external' if r.external else ''})" for r in listed)
        raise NotFound(f"{ref!r} names {len(listed)} certificates: {shown}; give one of these ids")
