"""Generate private keys, and seal them at rest with AES-256-GCM under an Argon2id key."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from certtui.core.models import KeySpec
from certtui.errors import CerttuiError, WrongPassphrase

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
# A public key of any type certtui reads (a CSR's, a certificate's): what the key rules judge.
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey

# RSA public exponent: 65537 is what every TLS stack expects (RFC 4871 §3.3.1, NIST SP 800-89).
RSA_EXPONENT = 65537

# RFC 9106 §4 second recommended option (64 MiB, t=3, p=4): about 100-150 ms per guess here.
# The first option needs 2 GiB and took 6 s. OpenSSL's default PEM encryption (PBKDF2 with
# 2,048 rounds) costs an attacker about 1 ms per guess, too cheap for a root key.
ARGON2_ITERATIONS = 3
ARGON2_LANES = 4
ARGON2_MEMORY_KIB = 65536
# RFC 9106 recommends a 128-bit salt.
SALT_BYTES = 16
# AES-GCM's standard 96-bit nonce, fresh from os.urandom for every seal.
NONCE_BYTES = 12
# The check value: a fixed plaintext sealed under the KEK, so a wrong passphrase is found
# before any key is decrypted.
_CHECK_PLAINTEXT = b"certtui passphrase check v1"
_CHECK_AAD = b"certtui-check"
# Sealed-blob format bytes.
_PLAIN = b"\x00"
_AESGCM = b"\x01"


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


@dataclass(frozen=True)
class KdfParams:
    """How the key-encryption key is derived; stored so a later version can raise the cost."""

    salt: str
    iterations: int = ARGON2_ITERATIONS
    lanes: int = ARGON2_LANES
    memory_cost: int = ARGON2_MEMORY_KIB
    alg: str = "argon2id"

    @classmethod
    def fresh(cls) -> KdfParams:
        return cls(salt=os.urandom(SALT_BYTES).hex())

    def to_json(self) -> str:
        # json only for a store with a passphrase: not on every `certtui issue` of a plain one.
        import json

        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> KdfParams:
        import json

        return cls(**json.loads(text))


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


def seal(kek: bytes | None, key_id: str, der: bytes) -> bytes:
    """Encrypt a PKCS#8 DER key with AES-256-GCM, its id as associated data (plain if no KEK)."""
    if kek is None:
        return _PLAIN + der
    nonce = os.urandom(NONCE_BYTES)
    return _AESGCM + nonce + AESGCM(kek).encrypt(nonce, der, key_id.encode())


def unseal(kek: bytes | None, key_id: str, blob: bytes) -> bytes:
    """The PKCS#8 DER key inside a sealed blob."""
    kind, body = blob[:1], blob[1:]
    if kind == _PLAIN:
        return body
    if kind != _AESGCM:
        raise CerttuiError(f"the stored key {key_id} is in an unknown format; restore from a backup")
    if kek is None:
        raise CerttuiError("the store is locked; unlock it with the passphrase first")
    try:
        return AESGCM(kek).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], key_id.encode())
    except InvalidTag:
        raise CerttuiError(
            f"the stored key {key_id} does not decrypt (damaged store?); restore from a backup"
        ) from None
