"""A corrupt or foreign store: every command says so in one line and writes nothing, anywhere."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hardening_support import record
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core.models import IssueRequest
from certtui.core.store import SCHEMA_VERSION, Store, StoreError
from certtui.paths import db_path

# Every command that opens the store, with arguments that would otherwise work.
COMMANDS: list[list[str]] = [
    ["list"],
    ["list", "--json"],
    ["show", "nas.home.arpa"],
    ["issue", "new.home.arpa"],
    ["revoke", "nas.home.arpa"],
    ["crl"],
    ["renew", "nas.home.arpa"],
    ["export", "nas.home.arpa", "--format", "pem", "--out", "{tmp}/out.pem"],
    ["backup", "{tmp}/backup.db"],
    ["passwd"],
    ["check", "nas.home.arpa"],
    ["import", "{tmp}/leaf.pem"],
    ["init", "--name", "Second Root"],
    ["restore", "{tmp}/leaf.pem"],
    ["enroll", "--bind", "127.0.0.1", "--port", "0", "--tls-port", "0", "--timeout", "1"],
]


def cut_in_half(db: Path) -> None:
    """A copy interrupted halfway, at a page boundary: SQLite alone would open it."""
    data = db.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    db.write_bytes(data[: (len(data) // page // 2) * page])


def newer_schema(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (cut_in_half, "is cut short: its header counts "),
    "not SQLite": (
        lambda db: db.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 64),
        "is not a readable certtui database (damaged or not ours)",
    ),
    "newer schema": (newer_schema, "was written by a newer certtui (schema "),
}


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def damaged_store(
    make_store: Callable[..., Store], home: Path, passphrase_file: Path, tmp_path: Path
) -> Path:
    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    for n in range(40):
        issue_one(store, IssueRequest(names=(f"host{n}.home.arpa",)))
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    (tmp_path / "leaf.pem").write_bytes(store.der(leaf.id))
    store.close()
    return db_path(home)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_every_command_refuses_a_damaged_store_and_overwrites_nothing(
    cli: Cli,
    damaged_store: Path,
    home: Path,
    tmp_path: Path,
    damage: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spoil, expected = DAMAGE[damage]
    spoil(damaged_store)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(tmp_path / "passphrase"))
    before = fingerprint(home)
    outside = sorted(p.name for p in tmp_path.iterdir())
    for command in COMMANDS:
        args = [a.replace("{tmp}", str(tmp_path)) for a in command]
        message = cli.error(*args)
        if command[0] in ("init", "restore"):
            # Those never open an existing store: they refuse to replace it.
            assert "a store already exists" in message, (command, message)
        else:
            assert message.startswith(f"{damaged_store} "), (command, message)
            assert expected in message, (command, message)
            ends = ("move it aside and restore a backup", "upgrade certtui to use it")
            assert message.endswith(ends), message
        assert "database is locked" not in message and "Traceback" not in message
        # Not a byte changed, and no WAL or journal appeared beside it.
        assert fingerprint(home) == before, command
        assert sorted(p.name for p in tmp_path.iterdir()) == outside, command
    record(f"corrupt_store_{damage.replace(' ', '_')}_commands_refused", len(COMMANDS))


def test_a_truncated_store_is_named_before_sqlite_opens_it(damaged_store: Path, home: Path) -> None:
    size = damaged_store.stat().st_size
    cut_in_half(damaged_store)
    # Named with both sizes, before SQLite opens the file (which would make a WAL beside it).
    with pytest.raises(StoreError) as info:
        Store.open(damaged_store)
    assert str(info.value) == (
        f"{damaged_store} is cut short: its header counts {size:,} bytes but the file holds "
        f"{damaged_store.stat().st_size:,} (an interrupted copy or a full disk); move it aside and "
        "restore a backup"
    )
    assert sorted(p.name for p in home.iterdir()) == ["certtui.db"]
