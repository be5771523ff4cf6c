"""Sealed keys in the store: unlocking, opening a key against its certificate, re-sealing (passwd)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from certtui.core.store.connection import Connected
from certtui.errors import CerttuiError, NotFound, PassphraseChanged, StoreError

if TYPE_CHECKING:
    from certtui.core import keys as keymod

# cryptography (and keys, which imports it) and hashlib (which loads libcrypto, about 3 ms) are
# imported where a method needs them: `certtui list` of an encrypted store reads only columns.

# After `passwd`, how long the checkpoint that overwrites the old sealed keys waits for another
# process's read snapshot (`certtui list --json | less`) to end: long enough for a listing to
# finish printing, short enough that passwd does not look hung.
CHECKPOINT_WAIT_S = 5.0


class Keys(Connected):
    """Sealed keys and secrets: the KEK a passphrase derives, and the key material it checks."""

    # The key-encryption key once unlocked (None: locked, or a store without a passphrase).
    _kek: bytes | None
    # The KDF parameters and check value this session seals under (meta 'kdf', 'check').
    _material: tuple[str | None, str | None]
    encrypted: bool

    @property
    def unlocked(self) -> bool:
        return not self.encrypted or self._kek is not None

    def _read_material(self) -> tuple[str | None, str | None]:
        rows: dict[str, str] = dict(self._query("SELECT key, value FROM meta WHERE key IN ('kdf', 'check')"))
        return rows.get("kdf"), rows.get("check")

    def _forget_key(self, material: tuple[str | None, str | None]) -> PassphraseChanged:
        """Drop the KEK of a passphrase that no longer opens the store; the session asks again."""
        self._kek = None
        self._material = material
        self.encrypted = bool(material[0]) and material[0] != "none"
        return PassphraseChanged("the passphrase changed in another certtui session; unlock again")

    def _same_material(self) -> None:
        """Inside `write()`: raise PassphraseChanged if another process changed the passphrase."""
        now = self._read_material()
        if now != self._material:
            raise self._forget_key(now)

    def unlock(self, passphrase: str) -> None:
        """Derive the KEK (Argon2id) and check it before any key is touched; then check every
        CA's certificate against its key, and re-seal keys of an older format (once)."""
        material = self._read_material()
        self._material = material
        self.encrypted = bool(material[0]) and material[0] != "none"
        if not self.encrypted:
            return
        from certtui.core import keys as keymod

        params = keymod.KdfParams.from_json(material[0] or "")
        kek = keymod.derive_kek(passphrase, params)
        try:
            check = bytes.fromhex(material[1] or "")
        except ValueError:
            check = b""
        keymod.verify_check(kek, check)
        self._kek = kek
        try:
            self.check_ca_keys()
            self._upgrade_seals()
        except BaseException:
            self._kek = None
            raise

    def _sealed_rows(self, where: str = "", args: tuple[object, ...] = ()) -> list[tuple[str, bytes, bytes]]:
        """(key id, sealed blob, certificate DER) of keys, with the key material in one snapshot."""
        rows = self._query(
            "SELECT k.id, k.sealed, c.der, (SELECT value FROM meta WHERE key = 'kdf'), "
            "(SELECT value FROM meta WHERE key = 'check') "
            f"FROM keys k JOIN certificates c ON c.key_id = k.id {where} ORDER BY k.id",
            args,
        )
        if rows and (rows[0][3], rows[0][4]) != self._material:
            raise self._forget_key((rows[0][3], rows[0][4]))
        return [(r[0], bytes(r[1]), bytes(r[2])) for r in rows]

    def _open_key(self, key_id: str, sealed: bytes, der: bytes) -> keymod.PrivateKey:
        """Unseal a key bound to its certificate, and insist that it is that certificate's key."""
        from cryptography import x509

        from certtui.core import keys as keymod

        public = x509.load_der_x509_certificate(der).public_key()
        key = keymod.from_der(
            keymod.unseal(self._kek, key_id, sealed, keymod.public_key_hash(public), encrypted=self.encrypted)
        )
        if not keymod.matches(key, public):
            raise StoreError(
                f"the stored key {key_id} is not the key of its certificate (the store was altered); "
                "restore a backup you trust"
            )
        return key

    def check_ca_keys(self) -> None:
        """Every CA certificate with a key in the store is checked against that key."""
        for key_id, sealed, der in self._sealed_rows("WHERE c.kind IN ('root', 'intermediate')"):
            self._open_key(key_id, sealed, der)

    def _upgrade_seals(self) -> None:
        """Re-seal keys sealed before they were bound to their certificate (format v1), once."""
        from certtui.core import keys as keymod

        old = self._query("SELECT count(*) FROM keys WHERE substr(sealed, 1, 1) = x'01'")[0][0]
        if not old:
            return
        with self.write():
            self._same_material()
            for key_id, sealed, der in self._sealed_rows("WHERE substr(k.sealed, 1, 1) = x'01'"):
                key = self._open_key(key_id, sealed, der)
                blob = keymod.seal(
                    self._kek, key_id, keymod.to_der(key), keymod.public_key_hash(key.public_key())
                )
                self._exec("UPDATE keys SET sealed = ? WHERE id = ?", (blob, key_id))
            self.event("reseal", None, f"{old} keys bound to their certificates")

    def reseal_all(self, new_kek: bytes | None, kdf_meta: str) -> tuple[int, bool]:
        """Re-seal every key under `new_kek` (None: unencrypted) and switch the KDF meta and
        check value, all in one transaction; returns the number of keys, and whether the old
        sealed copies are gone from the store's files.

        The old sealed blobs are zeroed (secure_delete) and the WAL is checkpointed and
        truncated afterwards. Another process's read snapshot keeps the old pages until it
        ends: the checkpoint waits CHECKPOINT_WAIT_S for it, then the caller says so.
        """
        if not self.unlocked:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        from certtui.core import keys as keymod

        self._exec("PRAGMA secure_delete = ON")
        with self.write():
            self._same_material()
            rows = self._sealed_rows()
            for key_id, sealed, der in rows:
                key = self._open_key(key_id, sealed, der)
                blob = keymod.seal(
                    new_kek, key_id, keymod.to_der(key), keymod.public_key_hash(key.public_key())
                )
                self._exec("UPDATE keys SET sealed = ? WHERE id = ?", (blob, key_id))
            # The ACME accounts' EAB keys are sealed the same way, under the same KEK.
            eab = self._query("SELECT name, hmac FROM acme_accounts WHERE hmac IS NOT NULL")
            for name, sealed in eab:
                label = f"acme-eab:{name}"
                secret = self._unseal_label(self._kek, label, bytes(sealed))
                self._exec(
                    "UPDATE acme_accounts SET hmac = ? WHERE name = ?",
                    (self._seal_label(new_kek, label, secret), name),
                )
            self.set_meta("kdf", kdf_meta)
            if new_kek is None:
                self._exec("DELETE FROM meta WHERE key = 'check'")
            else:
                self.set_meta("check", keymod.make_check(new_kek).hex())
            self.event(
                "passwd", None, f"{len(rows)} keys re-sealed, " + ("encrypted" if new_kek else "unencrypted")
            )
            material = self._read_material()
        self._kek = new_kek
        self._material = material
        self.encrypted = new_kek is not None
        return len(rows), self._checkpoint()

    def _checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; False if a reader kept it busy."""
        usual = self.conn.execute("PRAGMA busy_timeout").fetchone()[0]
        self.conn.execute(f"PRAGMA busy_timeout = {int(CHECKPOINT_WAIT_S * 1000)}")
        try:
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError:
            busy = 1
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(usual)}")
        return busy == 0

    def seal_secret(self, label: str, secret: bytes) -> bytes:
        """A secret other than a key (an ACME EAB key) sealed as keys are, inside `write()`;
        `label` (the row it belongs to) is bound into the associated data."""
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        self._same_material()
        return self._seal_label(self._kek, label, secret)

    def unseal_secret(self, label: str, sealed: bytes) -> bytes:
        """A secret `seal_secret` sealed; PassphraseChanged if another session changed it."""
        self._same_material()
        return self._unseal_label(self._kek, label, sealed)

    @staticmethod
    def _label_hash(label: str) -> bytes:
        import hashlib

        return hashlib.sha256(label.encode()).digest()

    def _seal_label(self, kek: bytes | None, label: str, secret: bytes) -> bytes:
        from certtui.core import keys as keymod

        return keymod.seal(kek, label, secret, self._label_hash(label))

    def _unseal_label(self, kek: bytes | None, label: str, sealed: bytes) -> bytes:
        from certtui.core import keys as keymod

        return keymod.unseal(kek, label, sealed, self._label_hash(label), encrypted=self.encrypted)

    def private_key(self, cert_id: str) -> keymod.PrivateKey:
        """The certificate's private key; the store must be unlocked if it is encrypted."""
        if not self._query("SELECT 1 FROM certificates WHERE id = ? AND key_id IS NOT NULL", (cert_id,)):
            raise NotFound(f"certificate {cert_id} has no private key in the store")
        if self.encrypted and self._kek is None:
            raise CerttuiError("the store is locked; unlock it with the passphrase first")
        # One statement: the blob and the key material it was sealed under, from one snapshot.
        rows = self._sealed_rows("WHERE c.id = ?", (cert_id,))
        if not rows:
            raise NotFound(f"certificate {cert_id} has no private key in the store")
        return self._open_key(*rows[0])
