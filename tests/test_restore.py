"""`certtui backup` -> `certtui restore`: the round trip keeps everything; bad backups are refused."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import keys
from certtui.core.models import IssueRequest, Kind
from certtui.core.store import MIGRATIONS, SCHEMA_VERSION, Store
from certtui.errors import WrongPassphrase
from certtui.paths import db_path


def snapshot(home: Path, passphrase: str) -> dict[str, tuple[dict[str, object], bytes, bytes | None]]:
    """Every certificate's record, DER and private key (PKCS#8 DER), by id."""
    with closing(Store.open(db_path(home))) as store:
        store.unlock(passphrase)
        return {
            r.id: (r.to_json(), store.der(r.id), keys.to_der(store.private_key(r.id)) if r.has_key else None)
            for r in store.records()
        }


@pytest.fixture
def backup(cli: Cli, make_store: Callable[..., Store], passphrase_file: Path, tmp_path: Path) -> Path:
    """A backup of a store with root, intermediate, a server, a client and an external certificate."""
    store = make_store(passphrase=PASSPHRASE, intermediate=True, key=keys.KeySpec.EC384)
    issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    issue_one(store, IssueRequest(names=("me@home.arpa",), kind=Kind.CLIENT))
    other = make_store(where=tmp_path / "other")
    external = tmp_path / "external.pem"
    external.write_text(
        cli.ok("--home", str(tmp_path / "other"), "show", other.root_id() or "", "--pem").stdout
    )
    cli.ok("import", str(external))
    path = tmp_path / "backup.db"
    cli.ok("backup", str(path))
    return path


def test_backup_restore_round_trip_keeps_every_certificate_and_key(
    cli: Cli, backup: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = snapshot(home, PASSPHRASE)
    assert len(original) == 5
    assert sum(1 for _, _, key in original.values() if key is not None) == 4
    target = tmp_path / "restored"
    monkeypatch.setenv("CERTTUI_HOME", str(target))
    out = cli.ok("restore", str(backup)).stdout
    assert out == f"restored {backup} to {target} (5 certificates); it opens with the passphrase it had\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE(db_path(target).stat().st_mode) == 0o600
    assert snapshot(target, PASSPHRASE) == original
    with pytest.raises(WrongPassphrase):
        snapshot(target, "not the passphrase")
    # The restored store works: it issues from the restored intermediate.
    leaf = cli.json("issue", "new.home.arpa", "--json")
    with closing(Store.open(db_path(target))) as store:
        assert leaf["issuer"] == store.default_issuer_id()
        assert store.events()[-2][2:4] == ("restore", None)


def test_restore_refuses_a_home_that_holds_a_store(cli: Cli, backup: Path, home: Path) -> None:
    before = db_path(home).read_bytes()
    assert cli.error("restore", str(backup)) == (
        f"a store already exists at {home}; restore never overwrites one, so move it aside or restore "
        "with --home into an empty folder"
    )
    assert db_path(home).read_bytes() == before


def test_restore_refuses_damaged_foreign_and_newer_files(
    cli: Cli, backup: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "restored"
    monkeypatch.setenv("CERTTUI_HOME", str(target))
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    assert cli.error("restore", str(text)) == (
        f"{text} is not an SQLite database; give a file `certtui backup` wrote"
    )
    missing = tmp_path / "missing.db"
    assert cli.error("restore", str(missing)).startswith(f"cannot read {missing} (No such file")
    # Damage the certificates table's pages: the header still says SQLite.
    damaged = tmp_path / "damaged.db"
    data = bytearray(backup.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):
        data[offset + 8 : offset + 64] = b"\xa5" * 56
    damaged.write_bytes(bytes(data))
    assert cli.error("restore", str(damaged)) == (
        f"{damaged} fails SQLite's integrity check (damaged); restore an older backup"
    )
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    assert cli.error("restore", str(foreign)) == (
        f"{foreign} is not a certtui store; give a file `certtui backup` wrote"
    )
    newer = tmp_path / "newer.db"
    newer.write_bytes(backup.read_bytes())
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert cli.error("restore", str(newer)) == (
        f"{newer} was written by a newer certtui (schema {SCHEMA_VERSION + 1}, this one knows "
        f"{SCHEMA_VERSION}); upgrade certtui to restore it"
    )
    assert not target.exists()


def test_an_older_schema_is_restored_and_migrated_on_first_open(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store at schema 1 (the first release) restores, and opening it migrates it."""
    old = tmp_path / "schema1.db"
    with closing(sqlite3.connect(old, isolation_level=None)) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO meta (key, value) VALUES ('kdf', 'none')")
        conn.execute("PRAGMA user_version = 1")
    target = tmp_path / "restored"
    monkeypatch.setenv("CERTTUI_HOME", str(target))
    assert "(0 certificates)" in cli.ok("restore", str(old)).stdout
    with closing(sqlite3.connect(db_path(target))) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
