"""The SQLite store, split by table and concern; this is its API for the rest of certtui.

The ACME and upkeep tables load on first use (`Store.acme`, `Store.upkeep`): their records are
imported from `certtui.core.store.acme_records` and `certtui.core.store.upkeep`. passwd and
restore (`certtui.core.store.admin`) are imported by the commands that run them.
"""

from certtui.core.store.certificates import cert_subject_cn, fingerprint
from certtui.core.store.keys import CHECKPOINT_WAIT_S
from certtui.core.store.schema import MIGRATIONS, SCHEMA_VERSION
from certtui.core.store.store import Store
from certtui.errors import StoreError

__all__ = [
    "CHECKPOINT_WAIT_S",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "cert_subject_cn",
    "fingerprint",
]
