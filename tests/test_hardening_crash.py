"""Twenty SIGKILLs in the middle of `issue --from` with 3,000 names: nothing half-written, ever."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hardening_support import record
from support.cli import Proc
from support.store import PASSPHRASE, store_is_whole

from certtui.core import export
from certtui.core.models import Kind
from certtui.core.store import Store
from certtui.paths import db_path

# Enough names that `issue --from` cannot finish before it is killed (it issues about 1,000
# a second here, after planning them all).
NAMES = 3000
KILLS = 20
# The kill comes this long (a random moment, seconds) after the process has started to
# commit certificates: planning 3,000 names comes first and writes nothing, so a moment
# counted from its launch would kill it before it ever wrote.
KILL_AFTER_S = (0.3, 1.5)
# Seeded, so that a failure names a reproducible schedule.
KILL_SEED = 20261127
# The moment the first commit shows is polled this often.
POLL_S = 0.005
# How long planning may take before the test gives up on a round (a loaded CI machine).
START_TIMEOUT_S = 60
# Leaves exported through the real CLI too (all of them are exported in-process).
CLI_EXPORTS = 3

SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def count(db: Path) -> int:
    """Committed certificates, read through a fresh connection (no snapshot kept)."""
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM certificates").fetchall()[0][0])


def wait_for_first_commit(db: Path, before: int, child: object) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while count(db) == before:
        assert child.poll() is None, child.communicate()  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "issue --from never started to commit"
        time.sleep(POLL_S)


@pytest.mark.slow
def test_twenty_kills_during_issue_from_leave_a_whole_store_that_goes_on(
    make_store: Callable[..., Store], home: Path, tmp_path: Path, proc: Proc, passphrase_file: Path
) -> None:
    make_store(passphrase=PASSPHRASE, intermediate=True).close()
    db = db_path(home)
    names = tmp_path / "names.txt"
    names.write_text("".join(f"host{i}.home.arpa\n" for i in range(NAMES)), encoding="utf-8")
    rng = random.Random(KILL_SEED)
    certs, _ = store_is_whole(db)
    interrupted = 0
    for _ in range(KILLS):
        child = proc.popen("issue", "--from", str(names))
        wait_for_first_commit(db, certs, child)
        time.sleep(rng.uniform(*KILL_AFTER_S))
        assert child.poll() is None, "issue --from finished before the kill; give it more names"
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        after, keys = store_is_whole(db)
        assert keys == after
        # Whatever was committed stays; the round wrote something, and not all of it.
        assert certs < after < certs + NAMES
        interrupted += 1
        certs = after

    # A new run with the same file goes through to the end.
    done = proc.ok("issue", "--from", str(names))
    assert len(done.stdout.splitlines()) == NAMES
    final, keys = store_is_whole(db)
    assert final == certs + NAMES and keys == final

    # Every leaf exports with its key, and the two belong together.
    with closing(Store.open(db)) as store:
        store.unlock(PASSPHRASE)
        leaves = store.records(kind=Kind.SERVER)
        assert len(leaves) == final - 2
        for rec in leaves:
            cert = x509.load_pem_x509_certificate(export.render(store, rec, export.Format.PEM).data)
            key = serialization.load_pem_private_key(
                export.render(store, rec, export.Format.KEY, unencrypted_key=True).data, None
            )
            assert key.public_key().public_bytes(*SPKI) == cert.public_key().public_bytes(*SPKI)
        sample = [rec.id for rec in rng.sample(leaves[: certs - 2], CLI_EXPORTS)]
    for cert_id in sample:
        pem, key_file = tmp_path / f"{cert_id}.pem", tmp_path / f"{cert_id}-key.pem"
        proc.ok("export", cert_id, "--format", "pem", "--out", str(pem))
        proc.ok("export", cert_id, "--format", "key", "--unencrypted-key", "--out", str(key_file))
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
        assert key.public_key().public_bytes(*SPKI) == cert.public_key().public_bytes(*SPKI)
    record("kills_survived", interrupted)
    record("kill_names_per_run", NAMES)
    record("kill_certificates_committed_before_kills", certs - 2)
    record("kill_leaves_exported_with_key", len(leaves))
