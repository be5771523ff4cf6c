"""The store's key derivation settings and their bounds; stdlib only, so `list` needs no cryptography."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from certtui.errors import StoreError

# RFC 9106 §4 second recommended option (64 MiB, t=3, p=4): about 100-150 ms per guess here.
# The first option needs 2 GiB and took 6 s. OpenSSL's default PEM encryption (PBKDF2 with
# 2,048 rounds) costs an attacker about 1 ms per guess, too cheap for a root key.
ARGON2_ITERATIONS = 3
ARGON2_LANES = 4
ARGON2_MEMORY_KIB = 65536
# RFC 9106 recommends a 128-bit salt.
SALT_BYTES = 16

# -- the bounds a store's KDF parameters must keep (the one policy place) ---------------
# Below the weakest Argon2id option of OWASP's Password Storage Cheat Sheet (19 MiB, t=2,
# p=1, about a third of certtui's own cost) a guess is cheap enough to make a stolen backup a
# dictionary attack: such a store is refused at restore and fails the root's checklist.
KDF_MIN_MEMORY_KIB = 19456
KDF_MIN_ITERATIONS = 2
# At most the work of RFC 9106's first, most expensive recommended option (2 GiB, t=1: about
# 6 s here): more is no standard's choice, and a file that asks for it hangs or exhausts the
# machine (1e6 passes, 16 GiB) instead of opening.
KDF_MAX_MEMORY_KIB = 2 * 1024 * 1024
KDF_MAX_WORK_KIB = 2 * 1024 * 1024
# Argon2 lanes are threads; more than any home server has buys nothing, and each needs 8 KiB.
KDF_MAX_LANES = 64
# RFC 9106 recommends 128-bit salts; 64 bytes is more than any tool writes.
KDF_MIN_SALT_BYTES = 16
KDF_MAX_SALT_BYTES = 64


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
        """Parse and bound the stored parameters; StoreError (one line) for anything else."""
        import json

        try:
            raw = json.loads(text)
        except ValueError:
            raw = None
        fields = {"salt", "iterations", "lanes", "memory_cost", "alg"}
        if not isinstance(raw, dict) or set(raw) != fields:
            raise StoreError(_kdf_refusal("its key derivation parameters are not readable"))
        if raw["alg"] != "argon2id":
            raise StoreError(_kdf_refusal(f"it names an unknown key derivation {str(raw['alg'])[:40]!r}"))
        numbers = [raw[k] for k in ("iterations", "lanes", "memory_cost")]
        if not all(type(n) is int for n in numbers) or not isinstance(raw["salt"], str):
            raise StoreError(_kdf_refusal("its key derivation parameters are not numbers"))
        params = cls(**raw)
        params.check_bounds()
        return params

    def check_bounds(self) -> None:
        """Refuse parameters that would hang, exhaust memory or not derive at all."""
        try:
            salt = bytes.fromhex(self.salt)
        except ValueError:
            salt = b""
        if not KDF_MIN_SALT_BYTES <= len(salt) <= KDF_MAX_SALT_BYTES:
            raise StoreError(_kdf_refusal("its key derivation salt is not 16 to 64 bytes of hex"))
        if not 1 <= self.lanes <= KDF_MAX_LANES:
            raise StoreError(_kdf_refusal(f"it asks for {self.lanes} Argon2 lanes (1 to {KDF_MAX_LANES})"))
        if not 1 <= self.iterations or not 8 * self.lanes <= self.memory_cost <= KDF_MAX_MEMORY_KIB:
            raise StoreError(
                _kdf_refusal(
                    f"it asks for {self.memory_cost} KiB and {self.iterations} passes of Argon2 "
                    f"(at most {KDF_MAX_MEMORY_KIB} KiB)"
                )
            )
        if self.iterations * self.memory_cost > KDF_MAX_WORK_KIB:
            raise StoreError(
                _kdf_refusal(
                    f"it asks for {self.iterations} passes over {self.memory_cost} KiB, more work than "
                    "any standard Argon2 setting"
                )
            )

    @property
    def weak(self) -> str | None:
        """Why guessing this store's passphrase is cheap, or None when the cost is adequate."""
        if self.memory_cost < KDF_MIN_MEMORY_KIB or self.iterations < KDF_MIN_ITERATIONS:
            return (
                f"the passphrase is stretched with {self.memory_cost} KiB and {self.iterations} "
                f"pass{'' if self.iterations == 1 else 'es'} of Argon2id, below the minimum of "
                f"{KDF_MIN_MEMORY_KIB} KiB and {KDF_MIN_ITERATIONS} passes: a stolen copy can be "
                "guessed fast"
            )
        return None


def _kdf_refusal(why: str) -> str:
    return f"the store's passphrase settings were altered ({why}); restore a backup you trust"
