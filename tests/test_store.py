"""The SQLite store: round trip, file modes, sealed keys, concurrency, crashes, damage, backup."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE, store_is_whole

from certtui.core import issuance
from certtui.core import keys as keymod
from certtui.core import store as storemod
from certtui.core.models import IssueRequest, KeySpec, Kind, Status
from certtui.core.store import SCHEMA_VERSION, Store
from certtui.core.store import connection as storeconn
from certtui.core.timefmt import iso, parse, utcnow
from certtui.errors import CerttuiError, NoStore, NotFound, StoreError, WrongPassphrase
from certtui.paths import db_path

MakeStore = Callable[..., Store]

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def spki(key: object) -> bytes:
    return key.public_bytes(*SPKI)  # type: ignore[attr-defined,no-any-return]


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, for comparing a store before and after."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# ---------------------------------------------------------------- round trip


def test_round_trip(make_store: MakeStore, home: Path) -> None:
    store = make_store(intermediate=True)
    root_id = store.root_id() or ""
    inter_id = store.default_issuer_id() or ""
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    client = issue_one(store, IssueRequest(names=("alice@home.arpa",), kind=Kind.CLIENT, key=KeySpec.RSA2048))
    store.close()

    again = Store.open(db_path(home))
    try:
        records = again.records()
        assert [r.id for r in records] == [root_id, inter_id, leaf.id, client.id]
        assert [r.kind for r in records] == [Kind.ROOT, Kind.INTERMEDIATE, Kind.SERVER, Kind.CLIENT]
        assert [r.issuer_id for r in records] == [root_id, root_id, inter_id, inter_id]
        assert records[2] == leaf
        assert records[3] == client
        assert records[2].names == ("nas.home.arpa", "192.168.1.10")
        assert records[3].key_type == "RSA 2048"
        for rec in records:
            cert = again.certificate(rec.id)
            key = again.private_key(rec.id)
            # The stored key is the certificate's key.
            assert spki(key.public_key()) == spki(cert.public_key())
            assert rec.has_key is True
            assert rec.external is False
            assert rec.status is Status.VALID
            assert rec.serial == format(cert.serial_number, "x")
            assert rec.not_before == iso(cert.not_valid_before_utc)
            assert rec.not_after == iso(cert.not_valid_after_utc)
            assert rec.sha256 == storemod.fingerprint(cert)
        assert again.chain(leaf.id) == [again.certificate(inter_id), again.certificate(root_id)]
        assert [e[2:4] for e in again.events()] == [
            ("create", None),
            ("init", root_id),
            # `init` signs a first CRL for every CA it creates (issue 14).
            ("crl", root_id),
            ("init", inter_id),
            ("crl", inter_id),
            ("issue", leaf.id),
            ("issue", client.id),
        ]
        assert again.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert again.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        again.close()


def test_round_trip_encrypted(make_store: MakeStore, home: Path) -> None:
    store = make_store(passphrase=PASSPHRASE)
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    expected = keymod.to_der(store.private_key(leaf.id))
    store.close()

    again = Store.open(db_path(home))
    try:
        assert again.encrypted is True
        assert again.unlocked is False
        # Listing needs no passphrase.
        assert [r.id for r in again.records()] == [again.root_id(), leaf.id]
        with pytest.raises(CerttuiError, match="locked"):
            again.private_key(leaf.id)
        again.unlock(PASSPHRASE)
        assert keymod.to_der(again.private_key(leaf.id)) == expected
    finally:
        again.close()


def test_open_without_a_store(home: Path) -> None:
    with pytest.raises(NoStore, match="certtui init --name NAME"):
        Store.open(db_path(home))
    assert not home.exists()


@pytest.mark.parametrize(
    ("kind", "limit_days"), [(Kind.SERVER, 30), (Kind.INTERMEDIATE, 90), (Kind.ROOT, 90)]
)
def test_status_boundaries(make_store: MakeStore, kind: Kind, limit_days: int) -> None:
    store = make_store(intermediate=True)
    if kind is Kind.SERVER:
        rec = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    else:
        rec = store.records(kind=kind)[0]
    end = parse(rec.not_after)

    def status(at: timedelta) -> Status:
        return store.get(rec.id, now=end + at).status

    # "expiring" when fewer than 30 days remain (90 for a CA); "expired" from not_after on.
    assert status(-timedelta(days=limit_days)) is Status.VALID
    assert status(-timedelta(days=limit_days) + timedelta(seconds=1)) is Status.EXPIRING
    assert status(-timedelta(seconds=1)) is Status.EXPIRING
    assert status(timedelta(0)) is Status.EXPIRED
    assert [r.status for r in store.records(now=end) if r.id == rec.id] == [Status.EXPIRED]
    with store.write() as conn:
        conn.execute("UPDATE certificates SET revoked_at = ? WHERE id = ?", (iso(utcnow()), rec.id))
    assert status(-timedelta(days=400)) is Status.REVOKED
    assert status(timedelta(days=1)) is Status.REVOKED


def test_records_filters(make_store: MakeStore) -> None:
    store = make_store(intermediate=True)
    short = issue_one(store, IssueRequest(names=("short.home.arpa",), days=10))
    long = issue_one(store, IssueRequest(names=("long.home.arpa",)))
    client = issue_one(store, IssueRequest(names=("alice@home.arpa",), kind=Kind.CLIENT))
    ids = lambda rs: [r.id for r in rs]  # noqa: E731
    assert ids(store.records(kind=Kind.SERVER)) == [short.id, long.id]
    assert ids(store.records(kind=Kind.CLIENT)) == [client.id]
    assert ids(store.records(status=Status.EXPIRING)) == [short.id]
    assert ids(store.records(expiring_within=11)) == [short.id]
    assert ids(store.records(expiring_within=9)) == []
    assert ids(store.records(expiring_within=398)) == [short.id, long.id, client.id]


def test_every_change_is_an_audit_event(make_store: MakeStore, tmp_path: Path) -> None:
    store = make_store()
    root_id = store.root_id() or ""
    old = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    new = issuance.execute(store, issuance.plan_renewal(store, old))
    store.backup(tmp_path / "b.db")
    user = storeconn._actor()
    events = store.events()
    assert [e[1:] for e in events] == [
        (user, "create", None, f"schema {SCHEMA_VERSION}"),
        (user, "init", root_id, "Test Root CA"),
        (user, "crl", root_id, "CRL number 1, 0 revoked"),
        (user, "issue", old.id, "nas.home.arpa"),
        (user, "renew", new.id, f"renews {old.id}"),
        (user, "backup", None, str(tmp_path / "b.db")),
    ]
    for at, *_ in events:
        assert timedelta(0) <= utcnow() - parse(at) < timedelta(minutes=1)
    assert store.get(old.id).renewed_by == new.id
    assert store.events(new.id) == [events[4]]


# ---------------------------------------------------------------- file modes


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_modes_whatever_the_umask(make_store: MakeStore, home: Path, tmp_path: Path, mask: int) -> None:
    with umask(mask):
        store = make_store(intermediate=True)
        store.close()
        # A later process (another umask, the same rules) reopens and writes: WAL files appear.
        store = Store.open(db_path(home))
        issue_one(store, IssueRequest(names=("nas.home.arpa",)))
        backup = tmp_path / "backup.db"
        store.backup(backup)
        db = db_path(home)
        assert mode(home) == 0o700
        assert mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            assert Path(f"{db}{suffix}").exists()
            assert mode(f"{db}{suffix}") == 0o600
        assert mode(backup) == 0o600
        for suffix in ("-wal", "-shm", "-journal"):
            if Path(f"{backup}{suffix}").exists():
                assert mode(f"{backup}{suffix}") == 0o600
        store.close()
    assert sorted(p.name for p in home.iterdir()) == ["certtui.db"]


def test_existing_open_folder_is_closed(make_store: MakeStore, home: Path) -> None:
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    make_store()
    assert mode(home) == 0o700


# ---------------------------------------------------------------- sealed keys

LOADERS = (serialization.load_der_private_key, serialization.load_pem_private_key)


def blobs(value: object) -> list[bytes]:
    """The byte strings a stored value could be read as (hex text also decoded)."""
    if isinstance(value, bytes):
        return [value]
    if isinstance(value, str):
        out = [value.encode()]
        try:
            out.append(bytes.fromhex(value))
        except ValueError:
            pass
        return out
    return []


def loads_as_key(data: bytes) -> bool:
    for loader in LOADERS:
        for password in (None, PASSPHRASE.encode()):
            try:
                loader(data, password=password)
            except (ValueError, TypeError):
                continue
            return True
    return False


def test_no_stored_value_is_a_usable_private_key(make_store: MakeStore, home: Path) -> None:
    store = make_store(intermediate=True, passphrase=PASSPHRASE)
    issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    issue_one(store, IssueRequest(names=("rsa.home.arpa",), key=KeySpec.RSA2048))
    issue_one(store, IssueRequest(names=("alice@home.arpa",), kind=Kind.CLIENT))
    ids = [r.id for r in store.records()]
    secrets = [keymod.to_der(store.private_key(i)) for i in ids]
    scalars = [
        k.private_numbers().private_value.to_bytes(32, "big")
        for k in (store.private_key(i) for i in ids)
        if isinstance(k, ec.EllipticCurvePrivateKey)
    ]
    store.close()
    db = db_path(home)

    conn = sqlite3.connect(db)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    checked = 0
    sealed_count = 0
    for table in tables:
        for row in conn.execute(f"SELECT * FROM {table}"):
            for value in row:
                for data in blobs(value):
                    checked += 1
                    assert not loads_as_key(data), (table, value)
                    for secret in secrets + scalars:
                        assert secret not in data, table
        if table == "keys":
            sealed_count = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
    conn.close()
    assert sealed_count == len(ids) == 5
    assert checked > 100
    raw = db.read_bytes()
    for secret in secrets + scalars:
        assert secret not in raw


def test_keys_are_sealed_as_specified(make_store: MakeStore, home: Path) -> None:
    """Argon2id (RFC 9106 option 2) derives the KEK; AES-256-GCM seals PKCS#8 bound to row and certificate."""
    store = make_store(passphrase=PASSPHRASE)
    root_id = store.root_id() or ""
    expected = keymod.to_der(store.private_key(root_id))
    store.close()
    conn = sqlite3.connect(db_path(home))
    kdf = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()[0])
    key_id, sealed = conn.execute("SELECT id, sealed FROM keys").fetchone()
    cert_der = conn.execute("SELECT der FROM certificates WHERE key_id = ?", (key_id,)).fetchone()[0]
    conn.close()
    assert kdf["alg"] == "argon2id"
    assert (kdf["iterations"], kdf["lanes"], kdf["memory_cost"]) == (3, 4, 65536)
    assert len(bytes.fromhex(kdf["salt"])) == 16
    kek = Argon2id(
        salt=bytes.fromhex(kdf["salt"]), length=32, iterations=3, lanes=4, memory_cost=65536
    ).derive(PASSPHRASE.encode())
    assert key_id == root_id
    fmt, nonce, body = sealed[:1], sealed[1:13], sealed[13:]
    # Format 2: the associated data binds the blob to its row (key id) and its certificate
    # (SHA-256 of the certificate's SubjectPublicKeyInfo).
    assert fmt == b"\x02"
    spki = (
        x509.load_der_x509_certificate(cert_der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    aad = b"certtui-key-v2\x00" + key_id.encode() + b"\x00" + hashlib.sha256(spki).digest()
    assert AESGCM(kek).decrypt(nonce, body, aad) == expected
    with pytest.raises(InvalidTag):
        AESGCM(kek).decrypt(nonce, body, b"certtui-key-v2\x00another-id\x00" + hashlib.sha256(spki).digest())
    with pytest.raises(InvalidTag):
        AESGCM(kek).decrypt(nonce, body, b"certtui-key-v2\x00" + key_id.encode() + b"\x00" + bytes(32))


def test_wrong_passphrase_changes_nothing(make_store: MakeStore, home: Path) -> None:
    make_store(passphrase=PASSPHRASE).close()
    before = dump(db_path(home))
    store = Store.open(db_path(home))
    try:
        with pytest.raises(WrongPassphrase, match=r"^wrong passphrase: the store did not open; try again$"):
            store.unlock(PASSPHRASE + "x")
        assert store.unlocked is False
        with pytest.raises(CerttuiError, match="locked"):
            store.private_key(store.root_id() or "")
        with pytest.raises(CerttuiError, match="locked"):
            issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    finally:
        store.close()
    assert dump(db_path(home)) == before


# ---------------------------------------------------------------- ID resolution


def issue_with_serial(store: Store, serial: int, *names: str) -> str:
    """A leaf with a chosen serial, signed like any other (to make prefixes collide)."""
    p = issuance.plan(store, IssueRequest(names=names))
    key = keymod.generate(KeySpec.EC256)
    cert = issuance.build_certificate(
        p,
        key.public_key(),
        store.certificate(p.issuer_id),
        store.private_key(p.issuer_id),
        serial,
        utcnow(),
    )
    with store.write():
        return store.add_certificate(
            cert, kind=p.kind, names=p.names.values(), issuer_id=p.issuer_id, key=key
        )


def test_resolve_order(make_store: MakeStore) -> None:
    store = make_store()
    a = issue_with_serial(store, 0xABCD1111 << 96, "nas.home.arpa")
    b = issue_with_serial(store, 0xABCD2222 << 96, "nas.home.arpa", "192.168.1.10")
    c = issue_with_serial(store, 0xFEDC3333 << 96, "other.home.arpa")
    assert (a, b, c) == ("abcd11110000", "abcd22220000", "fedc33330000")
    # 1. an exact id (either case)
    assert store.resolve(a).id == a
    assert store.resolve(a.upper()).id == a
    # 2. a unique serial prefix, 4+ digits, either case
    assert store.resolve("fedc").id == c
    assert store.resolve("FEDC3").id == c
    assert store.resolve("abcd2").id == b
    assert store.resolve("ABCD1111000000000000").id == a
    # ... three digits are not a prefix
    with pytest.raises(NotFound, match="no certificate matches 'fed'"):
        store.resolve("fed")
    # ... an ambiguous prefix lists what it matched
    with pytest.raises(NotFound, match=f"the serial prefix matches {a}, {b}, so give more digits"):
        store.resolve("abcd")
    # 3. a name, case-insensitive: the one current certificate carrying it
    assert store.resolve("192.168.1.10").id == b
    assert store.resolve("OTHER.Home.ARPA").id == c
    assert store.resolve("Test Root CA").id == store.root_id()
    assert store.resolve("test root ca").id == store.root_id()
    # ... two current ones are refused, not guessed between
    with pytest.raises(
        NotFound, match=re.escape(f"'NAS.Home.ARPA' names 2 certificates: {b} (server), {a} (server)")
    ):
        store.resolve("NAS.Home.ARPA")
    with store.write() as conn:
        conn.execute("UPDATE certificates SET revoked_at = ? WHERE id = ?", (iso(utcnow()), b))
    # ... a revoked one is no longer current
    assert store.resolve("nas.home.arpa").id == a
    # only a revoked one left: that one
    assert store.resolve("192.168.1.10").id == b
    missing = "no certificate matches 'nope.home.arpa'; run `certtui list`"
    with pytest.raises(NotFound, match=re.escape(missing)):
        store.resolve("nope.home.arpa")


def test_resolve_refuses_an_ambiguous_name_and_skips_renewed(make_store: MakeStore) -> None:
    store = make_store()
    first = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    second = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    with pytest.raises(NotFound) as caught:
        store.resolve("nas.home.arpa")
    assert str(caught.value) == (
        f"'nas.home.arpa' names 2 certificates: {second.id} (server), {first.id} (server); "
        "give one of these ids"
    )
    assert store.resolve(first.id).id == first.id
    # A certificate replaced by its renewal is not current: the name means the renewal.
    with store.write():
        store.mark_renewed(first.id, second.id)
    assert store.resolve("nas.home.arpa").id == second.id
    assert store.lookup("nas.home.arpa").skipped == ()


# ---------------------------------------------------------------- backup


def test_backup(make_store: MakeStore, home: Path, tmp_path: Path) -> None:
    store = make_store(intermediate=True, passphrase=PASSPHRASE)
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    key = keymod.to_der(store.private_key(leaf.id))
    dest = tmp_path / "copy.db"
    store.backup(dest)
    assert mode(dest) == 0o600
    assert store.events()[-1][2:] == ("backup", None, str(dest))

    # It refuses an existing path and leaves it alone.
    before = dest.read_bytes()
    with pytest.raises(CerttuiError, match=f"{dest} already exists; choose a new file name"):
        store.backup(dest)
    assert dest.read_bytes() == before
    other = tmp_path / "other"
    other.write_text("keep me")
    with pytest.raises(CerttuiError, match="already exists"):
        store.backup(other)
    assert other.read_text() == "keep me"
    with pytest.raises(CerttuiError, match="cannot write"):
        store.backup(tmp_path / "missing" / "copy.db")
    records = store.records()
    store.close()

    copy = Store.open(dest)
    try:
        assert copy.records() == records
        with pytest.raises(WrongPassphrase):
            copy.unlock("not it")
        copy.unlock(PASSPHRASE)
        assert keymod.to_der(copy.private_key(leaf.id)) == key
    finally:
        copy.close()


# ---------------------------------------------------------------- damaged and newer databases


def corrupt_events_page(db: Path) -> None:
    """Wreck the page of the events table: the store still opens and lists, but writes fail."""
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert not Path(f"{db}-wal").exists()
    with open(db, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)


def not_ours(db: Path) -> None:
    db.unlink()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": lambda db: db.write_bytes(b"this is not an SQLite database\n" * 300),
    "empty": lambda db: db.write_bytes(b""),
    "truncated": lambda db: db.write_bytes(db.read_bytes()[:1000]),
    "not ours": not_ours,
}


@pytest.fixture
def closed_store(make_store: MakeStore, home: Path) -> Path:
    """A store with a leaf, closed (WAL checkpointed into the file); returns the db path."""
    store = make_store()
    issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    store.close()
    return db_path(home)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["list"], ["show", "nas.home.arpa"], ["issue", "x.home.arpa"]])
def test_damaged_database_is_one_error_line(
    closed_store: Path, cli: Cli, damage: str, command: list[str]
) -> None:
    size = closed_store.stat().st_size
    DAMAGE[damage](closed_store)
    message = cli.error(*command)
    if damage == "truncated":
        # The header says how long the file should be: a cut-off file is named as such.
        assert message == (
            f"{closed_store} is cut short: its header counts {size:,} bytes but the file holds "
            "1,000 (an interrupted copy or a full disk); move it aside and restore a backup"
        )
        return
    assert message == (
        f"{closed_store} is not a readable certtui database (damaged or not ours); "
        "move it aside and restore a backup"
    )


@pytest.mark.parametrize("command", ["issue", "backup"])
def test_damaged_page_met_while_writing_is_one_error_line(
    closed_store: Path, cli: Cli, tmp_path: Path, command: str
) -> None:
    corrupt_events_page(closed_store)
    cli.ok("list")
    args = ["issue", "x.home.arpa"] if command == "issue" else ["backup", str(tmp_path / "b.db")]
    message = cli.error(*args)
    assert message == (
        f"{closed_store} is not a readable certtui database (damaged or not ours); "
        "move it aside and restore a backup"
    )


def test_newer_schema_is_one_error_line(closed_store: Path, cli: Cli) -> None:
    conn = sqlite3.connect(closed_store)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for command in (["list"], ["issue", "x.home.arpa"]):
        assert cli.error(*command) == (
            f"{closed_store} was written by a newer certtui (schema {SCHEMA_VERSION + 1}, this one "
            f"knows {SCHEMA_VERSION}); upgrade certtui to use it"
        )
    with pytest.raises(StoreError):
        Store.open(closed_store)


def test_damaged_database_in_a_real_process(closed_store: Path, proc: Proc) -> None:
    DAMAGE["garbage"](closed_store)
    assert "is not a readable certtui database" in proc.error("list")


def test_busy_store_is_one_error_line(closed_store: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storeconn, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(closed_store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        # Reading goes on beside a writer (WAL) ...
        cli.ok("list")
        # ... writing waits, then says what to do.
        assert cli.error("issue", "x.home.arpa") == (
            "the store is busy: another certtui process has held it for over 0 s; "
            "wait for it to finish and try again"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    cli.ok("issue", "x.home.arpa")


# ---------------------------------------------------------------- processes


def names_file(path: Path, prefix: str, count: int) -> Path:
    path.write_text("".join(f"{prefix}{i}.home.arpa\n" for i in range(count)), encoding="utf-8")
    return path


@pytest.mark.slow
def test_two_processes_issue_at_once(make_store: MakeStore, home: Path, tmp_path: Path, proc: Proc) -> None:
    make_store().close()
    a = names_file(tmp_path / "a.txt", "a", 60)
    b = names_file(tmp_path / "b.txt", "b", 60)
    procs = [proc.popen("issue", "--from", str(a)), proc.popen("issue", "--from", str(b))]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert err == ""
        assert len(out.splitlines()) == 60
    store = Store.open(db_path(home))
    try:
        leaves = store.records(kind=Kind.SERVER)
        assert len(leaves) == 120
        assert len({r.serial for r in leaves}) == 120
        assert len({r.id for r in leaves}) == 120
        assert sorted(n for r in leaves for n in r.names) == sorted(
            [f"a{i}.home.arpa" for i in range(60)] + [f"b{i}.home.arpa" for i in range(60)]
        )
        for r in leaves:
            assert spki(store.private_key(r.id).public_key()) == spki(store.certificate(r.id).public_key())
        assert [e[2] for e in store.events()].count("issue") == 120
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_during_issue_from_leaves_a_whole_store(
    make_store: MakeStore, home: Path, tmp_path: Path, proc: Proc
) -> None:
    make_store().close()
    db = db_path(home)
    lines = names_file(tmp_path / "many.txt", "host", 3000)
    child = proc.popen("issue", "--from", str(lines))
    watcher = sqlite3.connect(db)
    try:
        # Wait until it is well into issuing (40 certificates committed; planning 3,000 lines
        # comes first), then kill it mid-run.
        deadline = time.monotonic() + 120
        seen = 0
        while seen < 40:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
            seen = watcher.execute("SELECT count(*) FROM certificates").fetchone()[0]
    finally:
        watcher.close()
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL

    certs, keys = store_is_whole(db)
    # Whatever committed before the kill stays; the one in flight is wholly there or wholly not.
    assert seen <= certs < 3001
    assert keys == certs
    # The store goes on working.
    store = Store.open(db)
    try:
        issue_one(store, IssueRequest(names=("after.home.arpa",)))
    finally:
        store.close()
    assert store_is_whole(db) == (certs + 1, keys + 1)
