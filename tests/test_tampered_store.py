"""Issue 13 §3: a tampered backup or store is refused in one line, never obeyed."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from hardening_support import record
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import keys as keymod
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.paths import db_path

ROOT_CN = "Home Lab Root CA"
ALTERED = "the file was altered; restore a backup you trust"


@pytest.fixture
def victim(make_store: Callable[..., Store], passphrase_file: Path, home: Path, tmp_path: Path) -> Path:
    """A backup of a store with a passphrase: the root and two server certificates."""
    store = make_store(name=ROOT_CN, passphrase=PASSPHRASE)
    issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    issue_one(store, IssueRequest(names=("printer.home.arpa",)))
    path = tmp_path / "victim.db"
    store.backup(path)
    return path


def tamper(db: Path, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        for statement in statements:
            if isinstance(statement, tuple):
                conn.execute(*statement)
            else:
                conn.execute(statement)


def ids(db: Path) -> dict[str, str]:
    """kind or first name -> id."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT id, kind, names FROM certificates").fetchall()
    return {("root" if kind == "root" else names.split("\n")[0]): cid for cid, kind, names in rows}


def refused(cli: Cli, backup: Path, target: Path) -> str:
    """`restore` says one `error:` line and leaves nothing at the target."""
    message = cli.error("--home", str(target), "restore", str(backup))
    assert not target.exists() or list(target.iterdir()) == []
    return message


def attacker_root() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ROOT_CN)])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def test_a_trigger_that_clears_revocations_is_refused(cli: Cli, victim: Path, tmp_path: Path) -> None:
    tamper(
        victim,
        "CREATE TRIGGER forget AFTER UPDATE OF revoked_at ON certificates "
        "BEGIN UPDATE certificates SET revoked_at = NULL, revocation_reason = NULL; END",
    )
    assert refused(cli, victim, tmp_path / "restored") == (
        f"{victim} holds a trigger 'forget', which certtui never makes: {ALTERED}"
    )


def test_a_trigger_that_copies_old_sealed_keys_aside_is_refused(
    cli: Cli, victim: Path, tmp_path: Path
) -> None:
    tamper(
        victim,
        "CREATE TABLE loot (id TEXT, sealed BLOB)",
        "CREATE TRIGGER steal BEFORE UPDATE OF sealed ON keys "
        "BEGIN INSERT INTO loot VALUES (old.id, old.sealed); END",
    )
    assert refused(cli, victim, tmp_path / "restored") == (
        f"{victim} holds a trigger 'steal', which certtui never makes: {ALTERED}"
    )


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("CREATE VIEW peek AS SELECT * FROM keys", "a view 'peek'"),
        ("CREATE VIRTUAL TABLE notes USING fts5(x)", "a virtual table 'notes'"),
        (
            "CREATE INDEX keys_by_blob ON keys (sealed)",
            "tables or indexes that differ from certtui's (keys_by_blob)",
        ),
        ("CREATE TABLE extra (x)", "tables or indexes that differ from certtui's (extra)"),
    ],
)
def test_views_virtual_tables_and_other_schema_changes_are_refused(
    cli: Cli, victim: Path, tmp_path: Path, statement: str, what: str
) -> None:
    tamper(victim, statement)
    assert refused(cli, victim, tmp_path / "restored") == (
        f"{victim} holds {what}, which certtui never makes: {ALTERED}"
    )


def test_a_swapped_root_with_a_key_in_the_clear_is_refused(cli: Cli, victim: Path, tmp_path: Path) -> None:
    cert, key = attacker_root()
    der = cert.public_bytes(serialization.Encoding.DER)
    root = ids(victim)["root"]
    tamper(
        victim,
        (
            "UPDATE certificates SET der = ?, sha256 = ? WHERE id = ?",
            (der, hashlib.sha256(der).hexdigest(), root),
        ),
        ("UPDATE keys SET sealed = ? WHERE id = ?", (b"\x00" + keymod.to_der(key), root)),
    )
    assert refused(cli, victim, tmp_path / "restored") == (
        f"{victim} holds the key {root} in the clear though the store has a passphrase: {ALTERED}"
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"iterations": 1_000_000}, "it asks for 1000000 passes over 65536 KiB"),
        ({"memory_cost": 16 * 1024 * 1024}, "it asks for 16777216 KiB and 3 passes of Argon2"),
        ({"lanes": 0}, "it asks for 0 Argon2 lanes (1 to 64)"),
        ({"iterations": "3"}, "its key derivation parameters are not numbers"),
        ({"iterations": True}, "its key derivation parameters are not numbers"),
        ({"salt": "zz"}, "its key derivation salt is not 16 to 64 bytes of hex"),
        ({"alg": "pbkdf2"}, "it names an unknown key derivation 'pbkdf2'"),
        ({"extra": 1}, "its key derivation parameters are not readable"),
    ],
)
def test_absurd_kdf_parameters_are_refused_at_restore_and_at_open(
    cli: Cli, victim: Path, tmp_path: Path, home: Path, change: dict[str, object], why: str
) -> None:
    with closing(sqlite3.connect(victim)) as conn:
        kdf = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()[0])
    kdf.update(change)
    tamper(victim, ("UPDATE meta SET value = ? WHERE key = 'kdf'", (json.dumps(kdf),)))
    message = f"the store's passphrase settings were altered ({why}"
    assert refused(cli, victim, tmp_path / "restored").startswith(f"{victim}: {message}")
    # The same file as the live store: every command refuses it before deriving anything.
    tamper(db_path(home), ("UPDATE meta SET value = ? WHERE key = 'kdf'", (json.dumps(kdf),)))
    assert cli.error("list").startswith(message)
    assert cli.error("issue", "x.home.arpa").startswith(message)


def test_a_store_with_a_weak_kdf_is_refused_at_restore_and_fails_the_checklist(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = make_store(name=ROOT_CN, passphrase=PASSPHRASE)
    weak = keymod.KdfParams(salt="00" * 16, iterations=1, lanes=1, memory_cost=8)
    store.reseal_all(keymod.derive_kek(PASSPHRASE, weak), weak.to_json())
    root = store.root_id() or ""
    store.backup(tmp_path / "weak.db")
    store.close()
    why = (
        "the passphrase is stretched with 8 KiB and 1 pass of Argon2id, below the minimum of 19456 KiB "
        "and 2 passes: a stolen copy can be guessed fast"
    )
    assert refused(cli, tmp_path / "weak.db", tmp_path / "restored") == (
        f"{tmp_path / 'weak.db'} was not made by certtui at its own cost: {why}; "
        "restore a backup certtui made"
    )
    done = cli("check", root, "--json")
    findings = {f["id"]: f for f in json.loads(done.stdout)[0]["findings"]}
    assert findings["store.kdf-weak"]["severity"] == "fail"
    assert findings["store.kdf-weak"]["detail"] == why
    assert done.exit_code == 1
    # `passwd` re-seals at certtui's own cost, and the rule passes again.
    new = tmp_path / "new"
    new.write_text("a stronger passphrase\n")
    new.chmod(0o600)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(new))
    cli.ok("passwd")
    passphrase_file.write_text("a stronger passphrase\n")
    findings = {f["id"]: f for f in json.loads(cli("check", root, "--json").stdout)[0]["findings"]}
    assert findings["store.kdf-weak"]["severity"] == "pass"


def test_a_plain_backup_whose_key_is_not_its_certificates_is_refused(
    cli: Cli, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    store = make_store(name=ROOT_CN)
    issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    store.backup(tmp_path / "plain.db")
    store.close()
    _, key = attacker_root()
    root = ids(tmp_path / "plain.db")["root"]
    tamper(
        tmp_path / "plain.db",
        ("UPDATE keys SET sealed = ? WHERE id = ?", (b"\x00" + keymod.to_der(key), root)),
    )
    assert refused(cli, tmp_path / "plain.db", tmp_path / "restored") == (
        f"{tmp_path / 'plain.db'} holds the key {root}, which is not its certificate's key: {ALTERED}"
    )


def test_a_good_backup_still_restores(cli: Cli, victim: Path, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "restored"
    out = cli.ok("--home", str(target), "restore", str(victim)).stdout
    assert "(3 certificates)" in out
    assert (tmp_path / "deep").stat().st_mode & 0o777 == 0o700


# -- a store tampered in place --------------------------------------------------------------


def test_a_trigger_added_to_the_live_store_is_refused_by_every_command(
    cli: Cli, victim: Path, home: Path
) -> None:
    tamper(
        db_path(home),
        "CREATE TRIGGER forget AFTER UPDATE OF revoked_at ON certificates "
        "BEGIN UPDATE certificates SET revoked_at = NULL; END",
    )
    expected = f"{db_path(home)} holds a trigger 'forget', which certtui never makes: {ALTERED}"
    for args in (
        ("list",),
        ("revoke", "nas.home.arpa"),
        ("issue", "x.home.arpa"),
        ("backup", "/nonexistent/b"),
    ):
        assert cli.error(*args) == expected


def test_a_root_certificate_swapped_in_place_is_refused_at_unlock(cli: Cli, victim: Path, home: Path) -> None:
    cert, _ = attacker_root()
    der = cert.public_bytes(serialization.Encoding.DER)
    root = ids(db_path(home))["root"]
    tamper(
        db_path(home),
        (
            "UPDATE certificates SET der = ?, sha256 = ? WHERE id = ?",
            (der, hashlib.sha256(der).hexdigest(), root),
        ),
    )
    message = (
        f"the stored key {root} does not open for its certificate (moved, swapped or damaged); "
        "restore a backup you trust"
    )
    assert cli.error("issue", "x.home.arpa") == message


def test_a_sealed_key_moved_to_another_row_does_not_open(
    cli: Cli, victim: Path, home: Path, tmp_path: Path
) -> None:
    found = ids(db_path(home))
    nas, printer = found["nas.home.arpa"], found["printer.home.arpa"]
    tamper(
        db_path(home),
        ("UPDATE keys SET sealed = (SELECT sealed FROM keys WHERE id = ?) WHERE id = ?", (nas, printer)),
    )
    password = tmp_path / "pw"
    password.write_text("export password\n")
    message = cli.error(
        "export",
        printer,
        "--format",
        "key",
        "--out",
        str(tmp_path / "k.pem"),
        "--password-file",
        str(password),
    )
    assert message == (
        f"the stored key {printer} does not open for its certificate (moved, swapped or damaged); "
        "restore a backup you trust"
    )
    assert not (tmp_path / "k.pem").exists()


def to_format_1(home: Path, passphrase: str) -> dict[str, bytes]:
    """Re-seal every key as certtui before issue 13 did (AAD = key id only); the keys' DER."""
    with closing(Store.open(db_path(home))) as store:
        store.unlock(passphrase)
        keys = {r.id: keymod.to_der(store.private_key(r.id)) for r in store.records() if r.has_key}
        kek = store._kek
    assert kek is not None
    with closing(sqlite3.connect(db_path(home))) as conn:
        for key_id, der in keys.items():
            nonce = b"\x07" * 12
            blob = b"\x01" + nonce + AESGCM(kek).encrypt(nonce, der, key_id.encode())
            conn.execute("UPDATE keys SET sealed = ? WHERE id = ?", (blob, key_id))
        conn.commit()
    return keys


def formats(home: Path) -> set[int]:
    with closing(sqlite3.connect(db_path(home))) as conn:
        return {bytes(r[0])[0] for r in conn.execute("SELECT sealed FROM keys")}


def test_keys_sealed_before_binding_are_re_sealed_at_the_next_unlock(victim: Path, home: Path) -> None:
    keys = to_format_1(home, PASSPHRASE)
    assert formats(home) == {1}
    with closing(Store.open(db_path(home))) as store:
        store.unlock(PASSPHRASE)
        assert formats(home) == {2}
        assert {k: keymod.to_der(store.private_key(k)) for k in keys} == keys
        assert store.events()[-1][2:] == ("reseal", None, "3 keys bound to their certificates")
    record("format_1_keys_migrated", len(keys))


def test_a_format_1_ca_key_under_a_swapped_certificate_is_refused_at_unlock(victim: Path, home: Path) -> None:
    to_format_1(home, PASSPHRASE)
    cert, _ = attacker_root()
    der = cert.public_bytes(serialization.Encoding.DER)
    root = ids(db_path(home))["root"]
    tamper(db_path(home), ("UPDATE certificates SET der = ? WHERE id = ?", (der, root)))
    with closing(Store.open(db_path(home))) as store:
        with pytest.raises(Exception) as caught:
            store.unlock(PASSPHRASE)
        assert str(caught.value) == (
            f"the stored key {root} is not the key of its certificate (the store was altered); "
            "restore a backup you trust"
        )
        assert not store.unlocked
    assert formats(home) == {1}
