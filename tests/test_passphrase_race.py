"""Issue 13 §1: passwd racing another certtui process loses no key and leaves none in the clear."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from hardening_support import record
from support.cli import Proc
from support.pki import issue_one
from support.store import PASSPHRASE, store_is_whole

from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.errors import PassphraseChanged
from certtui.paths import db_path

NEW_PASSPHRASE = "a brand new passphrase"
# The issue's figures: a batch of 3,000 names, and at least five runs of each race.
BATCH_NAMES = 3000
RACE_RUNS = 5
CHANGED = "the passphrase changed in another certtui session; unlock again"
# A process that never ends would stall the suite: a batch of 3,000 takes about 15 s here.
PROCESS_TIMEOUT_S = 120


def secret_file(path: Path, secret: str) -> Path:
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def blob_formats(home: Path) -> dict[str, int]:
    """How many stored keys each format byte has (0: in the clear; 1 and 2: sealed)."""
    with closing(sqlite3.connect(db_path(home))) as conn:
        rows = conn.execute("SELECT substr(sealed, 1, 1), count(*) FROM keys GROUP BY 1").fetchall()
    return {str(bytes(b)[0]): n for b, n in rows}


def every_key_opens(home: Path, passphrase: str | None) -> int:
    """Open every stored key under `passphrase`; returns how many there are."""
    with closing(Store.open(db_path(home))) as store:
        if passphrase is not None:
            store.unlock(passphrase)
        opened = 0
        for rec in store.records():
            if rec.has_key:
                store.private_key(rec.id)
                opened += 1
        return opened


def race(proc: Proc, tmp_path: Path, home: Path, old: str | None) -> tuple[int, list[str], str]:
    """`issue --from` 3,000 names; `passwd` to NEW_PASSPHRASE once the first `issued` line is out.

    Returns the batch's exit status, its stdout lines and its stderr.

    The batch's stdout is not read while passwd runs. The batch prints each `issued` line after
    that certificate's transaction has committed, so once the pipe is full it waits outside any
    transaction: passwd gets in between two of the batch's transactions on every run, even on a
    loaded machine where back-to-back commits would otherwise keep passwd waiting on the lock
    until the batch is done (a CI run saw that once in five).
    """
    names = tmp_path / "names.txt"
    names.write_text("".join(f"h{n}.home.arpa\n" for n in range(BATCH_NAMES)), encoding="utf-8")
    env: dict[str, str] = {}
    if old is not None:
        env["CERTTUI_PASSPHRASE_FILE"] = str(secret_file(tmp_path / "old", old))
    batch = proc.popen("issue", "--from", str(names), env=proc.env(**env))
    assert batch.stdout is not None and batch.stderr is not None
    first = batch.stdout.readline()
    assert first.startswith("issued "), (first, batch.stderr.read())
    rest: list[str] = []
    errors: list[str] = []
    # stderr is drained from the start: a full stderr pipe would hold the batch for another reason.
    err_reader = threading.Thread(target=lambda: errors.append(batch.stderr.read()))  # type: ignore[union-attr]
    err_reader.start()
    new = secret_file(tmp_path / "new", NEW_PASSPHRASE)
    changed = proc("passwd", env=proc.env(CERTTUI_NEW_PASSPHRASE_FILE=str(new), **env))
    assert changed.returncode == 0, changed.stderr
    rest.extend(batch.stdout.readlines())
    code = batch.wait(timeout=PROCESS_TIMEOUT_S)
    err_reader.join()
    return code, [first, *rest], errors[0]


def judge(code: int, out: list[str], err: str, home: Path) -> bool:
    """Every stored key opens under the new passphrase, none is in the clear, and the batch
    either finished or stopped with the one clear line; True when it stopped."""
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err == f"error: {CHANGED}\n", err
    else:
        assert err == ""
    certs, stored = store_is_whole(db_path(home))
    # The root and every certificate the batch reported, nothing more and nothing less.
    assert certs == 1 + sum(1 for line in out if line.startswith("issued "))
    assert every_key_opens(home, NEW_PASSPHRASE) == stored
    assert "0" not in blob_formats(home), blob_formats(home)
    return code == 2


@pytest.mark.slow
@pytest.mark.parametrize("encrypted", [True, False], ids=["passphrase-changed", "passphrase-added"])
def test_passwd_during_a_batch_loses_no_key(
    encrypted: bool,
    make_store: Callable[..., Store],
    proc: Proc,
    tmp_path: Path,
    home: Path,
) -> None:
    stopped = 0
    for run in range(RACE_RUNS):
        for leftover in home.glob("certtui.db*"):
            leftover.unlink()
        make_store(passphrase=PASSPHRASE if encrypted else None).close()
        where = tmp_path / f"run{run}"
        where.mkdir()
        code, out, err = race(proc, where, home, PASSPHRASE if encrypted else None)
        stopped += judge(code, out, err, home)
    # passwd gets in between two of the batch's transactions: the batch stops each time.
    assert stopped == RACE_RUNS
    record(f"passphrase_race_{'changed' if encrypted else 'added'}_runs", RACE_RUNS)


def test_a_long_lived_session_is_told_to_unlock_again_and_stores_nothing(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, home: Path
) -> None:
    session = make_store(passphrase=PASSPHRASE)
    issue_one(session, IssueRequest(names=("before.home.arpa",)))
    reader = Store.open(db_path(home))
    reader.unlock(PASSPHRASE)
    env = proc.env(
        CERTTUI_PASSPHRASE_FILE=str(secret_file(tmp_path / "old", PASSPHRASE)),
        CERTTUI_NEW_PASSPHRASE_FILE=str(secret_file(tmp_path / "new", NEW_PASSPHRASE)),
    )
    proc.ok("passwd", env=env)
    count = len(session.records())
    with pytest.raises(PassphraseChanged) as caught:
        issue_one(session, IssueRequest(names=("after.home.arpa",)))
    assert str(caught.value) == CHANGED
    assert len(session.records()) == count
    # Reading a key says the same, not "damaged store? restore from a backup".
    root = reader.root_id() or ""
    with pytest.raises(PassphraseChanged):
        reader.private_key(root)
    reader.close()
    # The session now asks for the passphrase again, and the new one works.
    assert not session.unlocked
    session.unlock(NEW_PASSPHRASE)
    issue_one(session, IssueRequest(names=("after.home.arpa",)))
    session.close()
    assert every_key_opens(home, NEW_PASSPHRASE) == 3


def test_a_plain_session_stores_no_key_in_the_clear_once_a_passphrase_is_added(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, home: Path
) -> None:
    session = make_store()
    env = proc.env(CERTTUI_NEW_PASSPHRASE_FILE=str(secret_file(tmp_path / "new", NEW_PASSPHRASE)))
    proc.ok("passwd", env=env)
    with pytest.raises(PassphraseChanged):
        issue_one(session, IssueRequest(names=("plain.home.arpa",)))
    assert blob_formats(home) == {"1": 1} or blob_formats(home) == {"2": 1}
    assert session.encrypted and not session.unlocked
    session.unlock(NEW_PASSPHRASE)
    issue_one(session, IssueRequest(names=("plain.home.arpa",)))
    session.close()
    assert "0" not in blob_formats(home)
    assert every_key_opens(home, NEW_PASSPHRASE) == 2


def test_passwd_waits_for_a_reader_then_says_old_copies_remain(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, home: Path
) -> None:
    """`certtui list --json | less` holds a read snapshot; passwd must not claim the old keys are gone."""
    make_store(passphrase=PASSPHRASE).close()
    with closing(sqlite3.connect(db_path(home))) as conn:
        old_blobs = [bytes(r[0]) for r in conn.execute("SELECT sealed FROM keys")]
    reader = sqlite3.connect(db_path(home), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM certificates").fetchall()
    env = proc.env(
        CERTTUI_PASSPHRASE_FILE=str(secret_file(tmp_path / "old", PASSPHRASE)),
        CERTTUI_NEW_PASSPHRASE_FILE=str(secret_file(tmp_path / "new", NEW_PASSPHRASE)),
    )
    try:
        done = proc("passwd", env=env)
        # The warning is true: the old sealed blobs are still in the store's files.
        on_disk = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("certtui.db"))
        assert any(blob[13:45] in on_disk for blob in old_blobs)
    finally:
        reader.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("changed the passphrase: 1 key re-sealed")
    assert done.stderr == (
        "warning: another certtui process is reading the store, so the old sealed keys remain in "
        "its files until that process ends (waited 5 s)\n"
    )
    assert every_key_opens(home, NEW_PASSPHRASE) == 1


def test_passwd_that_outwaits_a_reader_leaves_no_old_copy(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, home: Path
) -> None:
    make_store(passphrase=PASSPHRASE).close()
    with closing(sqlite3.connect(db_path(home))) as conn:
        old_blobs = [bytes(r[0]) for r in conn.execute("SELECT sealed FROM keys")]
        old_kdf = conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()[0]
    reader = sqlite3.connect(db_path(home), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM certificates").fetchall()
    env = proc.env(
        CERTTUI_PASSPHRASE_FILE=str(secret_file(tmp_path / "old", PASSPHRASE)),
        CERTTUI_NEW_PASSPHRASE_FILE=str(secret_file(tmp_path / "new", NEW_PASSPHRASE)),
    )
    changing = proc.popen("passwd", env=env)
    try:
        # Once passwd has committed (a fresh connection sees the new salt), the reader ends.
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while time.monotonic() < deadline:
            with closing(sqlite3.connect(db_path(home))) as conn:
                kdf = conn.execute("SELECT value FROM meta WHERE key = 'kdf'").fetchone()[0]
            if kdf != old_kdf:
                break
            time.sleep(0.02)
    finally:
        reader.close()
    _out, err = changing.communicate(timeout=PROCESS_TIMEOUT_S)
    assert changing.returncode == 0, err
    assert err == ""
    on_disk = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("certtui.db"))
    for blob in old_blobs:
        assert blob[13:45] not in on_disk


async def test_the_tui_asks_for_the_passphrase_again_and_retries_once(
    make_store: Callable[..., Store], proc: Proc, tmp_path: Path, home: Path
) -> None:
    from support.tui import settle

    from certtui.tui import actions
    from certtui.tui.app import make_app
    from certtui.tui.screens.unlock import UnlockScreen

    make_store(passphrase=PASSPHRASE).close()
    store = Store.open(db_path(home))
    store.unlock(PASSPHRASE)
    env = proc.env(
        CERTTUI_PASSPHRASE_FILE=str(secret_file(tmp_path / "old", PASSPHRASE)),
        CERTTUI_NEW_PASSPHRASE_FILE=str(secret_file(tmp_path / "new", NEW_PASSPHRASE)),
    )
    app = make_app(store)
    issued: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        proc.ok("passwd", env=env)
        req = IssueRequest(names=("retried.home.arpa",))
        app.jobs.require_unlock(
            lambda: app.jobs.run_job(
                lambda: actions.issue(store, req, app.clock()),
                lambda rec: issued.append(rec.id),
                description="Issuing",
                write=True,
            )
        )
        await settle(app, pilot)
        assert isinstance(app.screen, UnlockScreen)
        assert not issued
        await pilot.press(*NEW_PASSPHRASE, "enter")
        await settle(app, pilot)
        assert len(issued) == 1
        messages = [n.message for n in app._notifications]
        assert "The passphrase changed in another certtui session; enter it again." in messages
    store.close()
    assert every_key_opens(home, NEW_PASSPHRASE) == 2
