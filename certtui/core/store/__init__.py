"""The SQLite store, split by table and concern; this is its API for the rest of certtui."""

from certtui.core.store.acme_records import Account, Approval, Authorization, Challenge, Order, Registration
from certtui.core.store.admin import change_passphrase, restore
from certtui.core.store.certificates import cert_subject_cn, fingerprint
from certtui.core.store.keys import CHECKPOINT_WAIT_S
from certtui.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from certtui.core.store.store import Store
from certtui.core.store.upkeep import Channel, DeployTarget, Scan
from certtui.errors import StoreError

__all__ = [
    "CHECKPOINT_WAIT_S",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Account",
    "Approval",
    "Authorization",
    "Challenge",
    "Channel",
    "DeployTarget",
    "Order",
    "Registration",
    "Scan",
    "Store",
    "StoreError",
    "cert_subject_cn",
    "change_passphrase",
    "fingerprint",
    "restore",
]
