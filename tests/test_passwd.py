"""`certtui passwd`: every key re-sealed in one transaction, to and from a plain store, and kill-safe."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from hardening_support import record
from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import keys
from certtui.core.models import IssueRequest, Kind
from certtui.core.store import Store
from certtui.errors import WrongPassphrase
from certtui.paths import db_path

NEW_PASSPHRASE = "a brand new passphrase"
# Kill moments are drawn from a fixed seed, so a failure names a reproducible schedule.
KILL_SEED = 20261127
KILL_ROUNDS = 10
# Enough keys that re-sealing them is a transaction of many statements, not one.
KILL_KEYS = 60


@pytest.fixture
def new_passphrase_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "new-passphrase"
    path.write_text(NEW_PASSPHRASE + "\n", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(path))
    return path


def all_keys(home: Path, passphrase: str | None) -> dict[str, bytes]:
    """Every private key in the store, as PKCS#8 DER, opened with `passphrase`."""
    with closing(Store.open(db_path(home))) as store:
        if passphrase is not None:
            store.unlock(passphrase)
        return {r.id: keys.to_der(store.private_key(r.id)) for r in store.records() if r.has_key}


def meta(home: Path, key: str) -> str | None:
    with closing(Store.open(db_path(home))) as store:
        return store.meta(key)


def store_files(home: Path) -> bytes:
    """The bytes of the database and its WAL, as someone copying the folder would get them."""
    return b"".join(p.read_bytes() for p in sorted(home.iterdir()) if p.name.startswith("certtui.db"))


def sealed_blobs(home: Path) -> list[bytes]:
    with closing(Store.open(db_path(home))) as store:
        return [bytes(row[0]) for row in store.conn.execute("SELECT sealed FROM keys")]


def test_after_passwd_the_old_passphrase_fails_and_the_new_one_issues(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    new_passphrase_file: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = make_store(passphrase=PASSPHRASE, intermediate=True)
    issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    issue_one(store, IssueRequest(names=("me@home.arpa",), kind=Kind.CLIENT))
    store.close()
    before = all_keys(home, PASSPHRASE)
    old_blobs = sealed_blobs(home)
    old_kdf = meta(home, "kdf")
    assert len(before) == 4
    out = cli.ok("passwd").stdout
    assert out == (
        "changed the passphrase: 4 keys re-sealed; the old passphrase no longer opens the store "
        "(backups made before still open with it)\n"
    )
    assert cli.error("issue", "old.home.arpa") == "wrong passphrase: the store did not open; try again"
    with pytest.raises(WrongPassphrase):
        all_keys(home, PASSPHRASE)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(new_passphrase_file))
    cli.ok("issue", "new.home.arpa")
    after = all_keys(home, NEW_PASSPHRASE)
    assert {k: after[k] for k in before} == before
    # A new salt, and none of the old sealed blobs is left anywhere in the store's files.
    new_kdf = meta(home, "kdf")
    assert new_kdf != old_kdf
    assert keys.KdfParams.from_json(new_kdf or "").salt != keys.KdfParams.from_json(old_kdf or "").salt
    on_disk = store_files(home)
    for blob in old_blobs:
        # Past the format byte and the 12-byte nonce: 32 bytes of the old ciphertext.
        assert blob[13:45] not in on_disk


def test_passwd_encrypts_a_plain_store(
    cli: Cli,
    make_store: Callable[..., Store],
    new_passphrase_file: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_store().close()
    before = all_keys(home, None)
    assert cli.ok("passwd").stdout.startswith("changed the passphrase: 1 key re-sealed;")
    # The key that was stored in the clear is nowhere in the store's files any more.
    assert next(iter(before.values())) not in store_files(home)
    with closing(Store.open(db_path(home))) as store:
        assert store.encrypted
        assert not store.unlocked
    assert "a passphrase is needed but stdin is not a terminal" in cli.error("issue", "x.home.arpa")
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(new_passphrase_file))
    cli.ok("issue", "x.home.arpa")
    assert all_keys(home, NEW_PASSPHRASE)[next(iter(before))] == next(iter(before.values()))


def test_no_passphrase_needs_yes_without_a_terminal(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_store(passphrase=PASSPHRASE).close()
    before = all_keys(home, PASSPHRASE)
    assert cli.error("passwd", "--no-passphrase") == (
        "removing the passphrase needs a confirmation and stdin is not a terminal; add --yes to confirm"
    )
    assert meta(home, "kdf") != "none"
    done = cli.ok("passwd", "--no-passphrase", "--yes")
    assert done.stdout == "removed the passphrase: 1 key now stored unencrypted\n"
    assert done.stderr.startswith("warning: the store has no passphrase")
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    assert all_keys(home, None) == before
    cli.ok("issue", "plain.home.arpa")
    with closing(Store.open(db_path(home))) as store:
        assert not store.encrypted
        assert store.meta("check") is None
    assert cli.error("passwd", "--no-passphrase", "--yes") == (
        "the store has no passphrase already; nothing to remove"
    )


def test_bad_new_passphrases_change_nothing(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    tmp_path: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_store(passphrase=PASSPHRASE).close()
    blobs = sealed_blobs(home)
    assert cli.error("passwd") == (
        "a passphrase is needed but stdin is not a terminal; set $CERTTUI_NEW_PASSPHRASE_FILE to a "
        "file holding it"
    )
    empty = tmp_path / "empty"
    empty.write_text("\nsecond line\n")
    empty.chmod(0o600)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(empty))
    assert cli.error("passwd") == (
        f"$CERTTUI_NEW_PASSPHRASE_FILE ({empty}) holds an empty passphrase; put it on the file's first line"
    )
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    wrong.chmod(0o600)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(wrong))
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(wrong))
    assert cli.error("passwd") == "wrong passphrase: the store did not open; try again"
    assert sealed_blobs(home) == blobs


@pytest.mark.slow
def test_a_process_killed_during_passwd_leaves_exactly_one_passphrase_working(
    make_store: Callable[..., Store],
    passphrase_file: Path,
    new_passphrase_file: Path,
    proc: Proc,
    home: Path,
    tmp_path: Path,
) -> None:
    store = make_store(passphrase=PASSPHRASE)
    for n in range(KILL_KEYS - 1):
        issue_one(store, IssueRequest(names=(f"host{n}.home.arpa",)))
    store.close()
    expected = all_keys(home, PASSPHRASE)
    assert len(expected) == KILL_KEYS
    template = tmp_path / "template.db"
    shutil.copyfile(db_path(home), template)

    def fresh() -> None:
        for leftover in home.glob("certtui.db*"):
            leftover.unlink()
        shutil.copyfile(template, db_path(home))

    # One uninterrupted run gives the window to kill within.
    start = time.monotonic()
    proc.ok("passwd")
    window = time.monotonic() - start
    rng = random.Random(KILL_SEED)
    won = {PASSPHRASE: 0, NEW_PASSPHRASE: 0}
    for _ in range(KILL_ROUNDS):
        fresh()
        child = proc.popen("passwd")
        # Mostly late in the run, where the keys are being re-sealed and committed.
        time.sleep(rng.uniform(0.5 * window, 1.05 * window))
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        opened = []
        for passphrase in (PASSPHRASE, NEW_PASSPHRASE):
            try:
                got = all_keys(home, passphrase)
            except WrongPassphrase:
                continue
            assert got == expected
            opened.append(passphrase)
        # Either passphrase may have won, depending on the moment; never both, never neither.
        assert len(opened) == 1, (child.returncode, opened)
        won[opened[0]] += 1
    record("passwd_kills_survived", KILL_ROUNDS)
    record("passwd_kills_old_passphrase_won", won[PASSPHRASE])
