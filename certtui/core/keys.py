"""Generate private keys, and seal them at rest with AES-256-GCM under an Argon2id key."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from certtui.core.kdf import (  # noqa: F401 (re-exported: the KDF's policy lives in kdf.py)
    ARGON2_ITERATIONS,
    ARGON2_LANES,
    ARGON2_MEMORY_KIB,
    KDF_MIN_ITERATIONS,
    KDF_MIN_MEMORY_KIB,
    SALT_BYTES,
    KdfParams,
)
from certtui.core.models import KeySpec
from certtui.errors import CerttuiError, StoreError, WrongPassphrase

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
# A public key of any type certtui reads (a CSR's, a certificate's): what the key rules judge.
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

# RSA public exponent: 65537 is what every TLS stack expects (RFC 4871 §3.3.1, NIST SP 800-89).
RSA_EXPONENT = 65537

# AES-GCM's standard 96-bit nonce, fresh from os.urandom for every seal.
NONCE_BYTES = 12
# The check value: a fixed plaintext sealed under the KEK, so a wrong passphrase is found
# before any key is decrypted.
_CHECK_PLAINTEXT = b"certtui passphrase check v1"
_CHECK_AAD = b"certtui-check"
# Sealed-blob format bytes. v1 bound a blob to its key id only; v2 also to the SHA-256 of the
# certificate's public key, so a certificate whose key was swapped does not open. v1 blobs
# still open (checked against the certificate) and are re-sealed as v2 at the next unlock.
_PLAIN = b"\x00"
_AESGCM = b"\x01"
_AESGCM_BOUND = b"\x02"
_BOUND_AAD = b"certtui-key-v2\x00"


def generate(spec: KeySpec) -> PrivateKey:
    """A fresh private key of the given type."""
    if spec.is_rsa:
        return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=spec.bits)
    curve: ec.EllipticCurve = ec.SECP384R1() if spec is KeySpec.EC384 else ec.SECP256R1()
    return ec.generate_private_key(curve)


def describe(key: object) -> str:
    """A short human name for a public or private key's type: 'EC P-256', 'RSA 2048'."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"EC {names.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def spec_for(description: str) -> KeySpec | None:
    """The KeySpec that generates keys like `describe` reports, if certtui generates that type."""
    for spec in KeySpec:
        if spec.label == description:
            return spec
    return None


def signing_hash(issuer_key: object) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None:
    """The signature hash for a CA key: SHA-384 for P-384, SHA-512 for P-521, else SHA-256.

    Apple rejects SHA-1; matching the hash to the curve strength is what CAs do (CA/B BR 7.1.3).
    Ed25519/Ed448 sign without a separate hash, so None.
    """
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        if issuer_key.curve.key_size >= 521:
            return hashes.SHA512()
        if issuer_key.curve.key_size >= 384:
            return hashes.SHA384()
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return None
    return hashes.SHA256()


def to_der(key: PrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER; only ever sealed before it is stored."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def from_der(der: bytes) -> PrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise CerttuiError(f"stored key has an unsupported type ({describe(key)})")
    return key


def derive_kek(passphrase: str, params: KdfParams) -> bytes:
    """The 256-bit key-encryption key for a passphrase (Argon2id, about 100 ms or more)."""
    if params.alg != "argon2id":
        raise CerttuiError(f"the store uses an unknown key derivation {params.alg!r}; upgrade certtui")
    kdf = Argon2id(
        salt=bytes.fromhex(params.salt),
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost,
    )
    return kdf.derive(passphrase.encode("utf-8"))


def make_check(kek: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, _CHECK_PLAINTEXT, _CHECK_AAD)


def verify_check(kek: bytes, check: bytes) -> None:
    """Raise WrongPassphrase unless the KEK opens the stored check value."""
    try:
        ok = AESGCM(kek).decrypt(check[:NONCE_BYTES], check[NONCE_BYTES:], _CHECK_AAD)
    except InvalidTag:
        ok = b""
    if ok != _CHECK_PLAINTEXT:
        raise WrongPassphrase("wrong passphrase: the store did not open; try again")


def public_key_hash(public_key: CertificatePublicKeyTypes) -> bytes:
    """SHA-256 of a public key's SubjectPublicKeyInfo: what a sealed key is bound to."""
    import hashlib

    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _bound_aad(key_id: str, public_hash: bytes) -> bytes:
    return _BOUND_AAD + key_id.encode() + b"\x00" + public_hash


def seal(kek: bytes | None, key_id: str, der: bytes, public_hash: bytes) -> bytes:
    """Encrypt a PKCS#8 DER key with AES-256-GCM (plain if no KEK); the associated data binds
    it to its row (key id) and its certificate (the public key's hash)."""
    if kek is None:
        return _PLAIN + der
    nonce = os.urandom(NONCE_BYTES)
    return _AESGCM_BOUND + nonce + AESGCM(kek).encrypt(nonce, der, _bound_aad(key_id, public_hash))


def is_current(blob: bytes, encrypted: bool) -> bool:
    """The blob is in the format this store seals today (v2 when encrypted)."""
    return blob[:1] == (_AESGCM_BOUND if encrypted else _PLAIN)


def unseal(kek: bytes | None, key_id: str, blob: bytes, public_hash: bytes, *, encrypted: bool) -> bytes:
    """The PKCS#8 DER key inside a sealed blob; `encrypted` is whether the store has a passphrase.

    A key in the clear in a store with a passphrase, or a sealed one in a store without, was
    put there by something other than certtui: refused.
    """
    kind, body = blob[:1], blob[1:]
    tampered = (
        f"the stored key {key_id} was altered (a key in the clear in a store with a passphrase, "
        "or the reverse); restore a backup you trust"
    )
    if kind == _PLAIN:
        if encrypted:
            raise StoreError(tampered)
        return body
    if kind not in (_AESGCM, _AESGCM_BOUND):
        raise StoreError(f"the stored key {key_id} is in an unknown format; restore from a backup")
    if not encrypted:
        raise StoreError(tampered)
    if kek is None:
        raise CerttuiError("the store is locked; unlock it with the passphrase first")
    aad = key_id.encode() if kind == _AESGCM else _bound_aad(key_id, public_hash)
    try:
        return AESGCM(kek).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], aad)
    except InvalidTag:
        raise StoreError(
            f"the stored key {key_id} does not open for its certificate (moved, swapped or damaged); "
            "restore a backup you trust"
        ) from None


def matches(key: PrivateKey, public_key: CertificatePublicKeyTypes) -> bool:
    """The private key is the one for this public key."""
    return public_key_hash(key.public_key()) == public_key_hash(public_key)
