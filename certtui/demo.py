"""A deterministic demo store (fixed keys, serials and clock) for screenshots and snapshot tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certtui.core import constraints, profiles
from certtui.core import names as namesmod
from certtui.core.issuance import IssuePlan, _build, build_certificate
from certtui.core.models import KeySpec, Kind, Names
from certtui.core.store import Store

# The demo's frozen "now"; screenshots and snapshots show times relative to it.
DEMO_NOW = datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC)
DEMO_PASSPHRASE = "demo passphrase"
DEMO_CONSTRAINTS = ("home.arpa", "lan", "192.168.0.0/16", "fd00::/8")


def demo_clock() -> datetime:
    return DEMO_NOW


def _key(n: int) -> ec.EllipticCurvePrivateKey:
    # A fixed scalar per certificate: the same key, the same SKI, the same signature every run.
    return ec.derive_private_key(0xC0FFEE_0000 + n, ec.SECP256R1())


def _serial(n: int) -> int:
    return int(hashlib.sha256(f"certtui demo {n}".encode()).hexdigest()[:32], 16) | (1 << 127)


# (names, kind, days, issued this many days before DEMO_NOW)
LEAVES: list[tuple[tuple[str, ...], Kind, int, int]] = [
    (("nas.home.arpa", "192.168.1.10"), Kind.SERVER, 397, 20),
    (("router.lan",), Kind.SERVER, 397, 90),
    (("printer.home.arpa", "192.168.1.30"), Kind.SERVER, 397, 385),
    (("grafana.home.arpa", "*.grafana.home.arpa"), Kind.SERVER, 397, 3),
    (("legacy-camera.home.arpa",), Kind.SERVER, 900, 60),
    (("alice@home.arpa",), Kind.CLIENT, 397, 10),
    (("old-nas.home.arpa",), Kind.SERVER, 397, 200),
]
REVOKED = "old-nas.home.arpa"


def build_demo_store(path: Path, *, leaves: int | None = None) -> Store:
    """The demo: a constrained root, an intermediate, servers, a client, one revoked, one foreign."""
    from certtui.core.revocation import revoke

    root_key, int_key = _key(1), _key(2)
    nc = constraints.name_constraints_extension([constraints.parse_constraint(c) for c in DEMO_CONSTRAINTS])
    ids: dict[str, str] = {}

    def populate(store: Store) -> None:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Home Lab Root CA")])
        start = DEMO_NOW - timedelta(days=400)
        with store.write():
            root = _build(
                subject=name,
                issuer=name,
                public_key=root_key.public_key(),
                signer=root_key,
                serial=_serial(1),
                not_before=start,
                days=profiles.ROOT_DAYS,
                extensions=profiles.root_extensions(root_key.public_key(), nc),
            )
            ids["root"] = store.add_certificate(
                root, kind=Kind.ROOT, names=(), issuer_id=None, key=root_key, action="init"
            )
            store.set_meta("root", ids["root"])
            plan = IssuePlan(
                Kind.INTERMEDIATE,
                Names(),
                "Home Lab Intermediate",
                profiles.INTERMEDIATE_DAYS,
                KeySpec.EC256,
                ids["root"],
                None,
            )
            inter = build_certificate(plan, int_key.public_key(), root, root_key, _serial(2), start)
            ids["int"] = store.add_certificate(
                inter, kind=Kind.INTERMEDIATE, names=(), issuer_id=ids["root"], key=int_key, action="init"
            )
            store.set_meta("default_issuer", ids["int"])
        for n, (names, kind, days, age) in enumerate(LEAVES[:leaves], start=10):
            parsed = namesmod.parse_names(names)
            p = IssuePlan(
                kind, parsed, profiles.leaf_common_name(parsed.dns), days, KeySpec.EC256, ids["int"], None
            )
            key = _key(n)
            cert = build_certificate(
                p, key.public_key(), inter, int_key, _serial(n), DEMO_NOW - timedelta(days=age)
            )
            with store.write():
                ids[names[0]] = store.add_certificate(
                    cert, kind=kind, names=parsed.values(), issuer_id=ids["int"], key=key
                )
        # A certificate from elsewhere, watched without its key: a router's own self-signed one.
        other_key = _key(99)
        other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fritz.box")])
        foreign = _build(
            subject=other,
            issuer=other,
            public_key=other_key.public_key(),
            signer=other_key,
            serial=4242,
            not_before=DEMO_NOW - timedelta(days=700),
            days=7300,
            extensions=[(x509.SubjectAlternativeName([x509.DNSName("fritz.box")]), False)],
        )
        with store.write():
            store.add_certificate(
                foreign,
                kind=Kind.SERVER,
                names=("fritz.box",),
                issuer_id=None,
                external=True,
                action="import",
            )

    store = Store.create(path, DEMO_PASSPHRASE, populate)
    store.unlock(DEMO_PASSPHRASE)
    if REVOKED in ids:
        revoke(store, ids[REVOKED], "superseded", days=60, now=DEMO_NOW - timedelta(days=30))
    return store
