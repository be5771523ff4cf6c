"""The store rules, on its own root: keys sealed, the passphrase stretched, the root constrained."""

from __future__ import annotations

from cryptography import x509

from certtui.core import keys as keymod
from certtui.core.checks.facts import Context, Rule, subtrees
from certtui.core.checks.findings import Finding, Severity, finding
from certtui.core.extensions import extension


def _is_store_root(c: Context) -> bool:
    return c.store is not None and c.record is not None and c.record.id == c.store.root_id()


def _store_key_unencrypted(c: Context) -> Finding | None:
    if c.store is None or not _is_store_root(c):
        return None
    if c.store.encrypted:
        return finding("store.key-unencrypted", Severity.PASS, "keys are sealed under the store passphrase")
    return finding(
        "store.key-unencrypted",
        Severity.WARN,
        "the store was made with --no-passphrase: anyone who can read it can mint "
        "certificates your phones trust for any site",
        "give the store a passphrase: `certtui passwd`",
    )


def _store_no_nc(c: Context) -> Finding | None:
    if not _is_store_root(c):
        return None
    nc = extension(c.cert, x509.NameConstraints)
    if nc is not None:
        return finding("store.no-name-constraints", Severity.PASS, subtrees(nc))
    return finding(
        "store.no-name-constraints",
        Severity.INFO,
        "the root has no name constraints, so a stolen root key can impersonate any site",
        "for the next root: `certtui init --permit home.arpa --permit lan --permit "
        "192.168.0.0/16 --permit 10.0.0.0/8 --permit fd00::/8` (and your own domain)",
    )


# -- a store whose passphrase is cheap to guess (docs/trust-rules.md, store.kdf-weak) -----


def _store_kdf_weak(c: Context) -> Finding | None:
    """Argon2 costs below keys.KDF_MIN_*: a copy of the store can be guessed fast."""
    if c.store is None or not _is_store_root(c) or not c.store.encrypted:
        return None
    why = keymod.KdfParams.from_json(c.store.meta("kdf") or "").weak
    if why is None:
        return finding("store.kdf-weak", Severity.PASS, "Argon2id at or above the minimum cost")
    return finding(
        "store.kdf-weak",
        Severity.FAIL,
        why,
        "re-seal every key at certtui's own cost: `certtui passwd`",
    )


STORE_RULES: tuple[Rule, ...] = (_store_key_unencrypted, _store_no_nc, _store_kdf_weak)
