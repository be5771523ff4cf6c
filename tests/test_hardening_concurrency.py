"""Six sessions at once (four issuers, a lister, a revoker), and a lock held too long."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hardening_support import made_ca, record
from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core.models import IssueRequest, Kind
from certtui.core.store import Store
from certtui.core.store import connection as storemod
from certtui.core.timefmt import utcnow
from certtui.paths import db_path

WRITERS = 4
PER_WRITER = 50
# Certificates issued beforehand for the revoker; it revokes them one by one while the
# writers run, and always at least this many.
TO_REVOKE = 12
MIN_REVOKED = 3
# Every process is a real `python -m certtui`; none may take longer than this.
PROCESS_TIMEOUT_S = 180
# A CRL counts as freshly signed when its thisUpdate is this close to the revocation.
FRESH = timedelta(minutes=2)
_SIGNED = re.compile(r"^signed CRL number (\d+) of CA .* \(([0-9a-f]{12})\), next update ", re.M)


def latest_crl(db: Path, ca_id: str) -> tuple[int, bytes]:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        number, der = conn.execute(
            "SELECT number, der FROM crls WHERE issuer_id = ? ORDER BY number DESC LIMIT 1", (ca_id,)
        ).fetchall()[0]
    return number, bytes(der)


def crl_number(db: Path, ca_id: str, number: int) -> bytes:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT der FROM crls WHERE issuer_id = ? AND number = ?", (ca_id, number)
        ).fetchall()
    assert len(rows) == 1, (ca_id, number)
    return bytes(rows[0][0])


@pytest.mark.slow
def test_four_issuers_a_lister_and_a_revoker_at_once(
    make_store: Callable[..., Store], home: Path, tmp_path: Path, proc: Proc, passphrase_file: Path
) -> None:
    store = make_store(passphrase=PASSPHRASE, intermediate=True)
    store.unlock(PASSPHRASE)
    victims = [issue_one(store, IssueRequest(names=(f"old{n}.home.arpa",))) for n in range(TO_REVOKE)]
    ca_id = store.default_issuer_id() or ""
    ca_cert = store.certificate(ca_id)
    before = {r.serial for r in store.records()}
    store.close()
    db = db_path(home)
    files = []
    for w in range(WRITERS):
        path = tmp_path / f"writer{w}.txt"
        path.write_text("".join(f"w{w}-{i}.home.arpa\n" for i in range(PER_WRITER)), encoding="utf-8")
        files.append(path)

    writers_done = threading.Event()
    problems: list[str] = []
    listed: list[int] = []
    revoked: list[tuple[str, int]] = []

    def lister() -> None:
        while not writers_done.is_set():
            done = proc("list", "--json")
            if done.returncode != 0 or done.stderr:
                problems.append(f"list: {done.returncode} {done.stderr!r}")
                return
            rows = len(json.loads(done.stdout))
            if listed and rows < listed[-1]:
                problems.append(f"list went back from {listed[-1]} to {rows} rows")
            listed.append(rows)

    def revoker() -> None:
        for victim in victims:
            if writers_done.is_set() and len(revoked) >= MIN_REVOKED:
                return
            done = proc("revoke", victim.id, "--reason", "keyCompromise")
            match = _SIGNED.search(done.stdout)
            if done.returncode != 0 or done.stderr or match is None:
                problems.append(f"revoke: {done.returncode} {done.stdout!r} {done.stderr!r}")
                return
            assert match.group(2) == ca_id
            revoked.append((victim.id, int(match.group(1))))

    threads = [threading.Thread(target=lister), threading.Thread(target=revoker)]
    for t in threads:
        t.start()
    issuers = [proc.popen("issue", "--from", str(f)) for f in files]
    try:
        outputs = [p.communicate(timeout=PROCESS_TIMEOUT_S) for p in issuers]
    finally:
        writers_done.set()
        for t in threads:
            t.join(PROCESS_TIMEOUT_S)
    for p, (out, err) in zip(issuers, outputs, strict=True):
        assert p.returncode == 0 and err == "", (p.returncode, err)
        assert len(out.splitlines()) == PER_WRITER
    assert problems == []
    assert len(revoked) >= MIN_REVOKED and len(listed) > 1

    with closing(Store.open(db)) as store:
        records = store.records()
        new = [r for r in records if r.serial not in before]
        assert len(new) == WRITERS * PER_WRITER
        assert {n for r in new for n in r.names} == {
            f"w{w}-{i}.home.arpa" for w in range(WRITERS) for i in range(PER_WRITER)
        }
        assert all(r.kind is Kind.SERVER and r.has_key for r in new)
        assert len({r.serial for r in records}) == len(records)
        assert len({r.id for r in records}) == len(records)
    # Each revocation is in the CRL its own `revoke` signed, numbered one after the other,
    # signed by the CA and fresh; the last CRL holds them all.
    numbers = [n for _, n in revoked]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    serial_of = {v.id: int(v.serial, 16) for v in victims}
    for cert_id, number in revoked:
        crl = x509.load_der_x509_crl(crl_number(db, ca_id, number))
        public = ca_cert.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        assert crl.is_signature_valid(public)
        assert crl.get_revoked_certificate_by_serial_number(serial_of[cert_id]) is not None
        assert abs(crl.last_update_utc - utcnow()) < FRESH
    last_number, last = latest_crl(db, ca_id)
    assert last_number == numbers[-1]
    final = x509.load_der_x509_crl(last)
    assert {serial_of[c] for c, _ in revoked} == {r.serial_number for r in final}
    record("concurrent_writers", WRITERS)
    record("concurrent_certificates", WRITERS * PER_WRITER)
    record("concurrent_lists", len(listed))
    record("concurrent_revocations", len(revoked))
    record("concurrent_errors", len(problems))


# ---------------------------------------------------------------- a lock held too long

BUSY = (
    "the store is busy: another certtui process has held it for over 0 s; wait for it to finish and try again"
)


@pytest.fixture
def held(
    make_store: Callable[..., Store],
    home: Path,
    tmp_path: Path,
    passphrase_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A store whose write lock another connection holds; certtui waits 0.2 s for it."""
    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    issue_one(store, IssueRequest(names=("old.home.arpa",)))
    (tmp_path / "leaf.pem").write_bytes(store.der(store.resolve("nas.home.arpa").id))
    store.close()
    monkeypatch.setattr(storemod, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(passphrase_file))
    return db_path(home)


def test_a_lock_held_too_long_is_one_clear_line_for_every_writing_command(
    cli: Cli, held: Path, tmp_path: Path
) -> None:
    imported = tmp_path / "elsewhere.pem"
    cert, _ = made_ca("Elsewhere Root CA")
    imported.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    commands = [
        ["issue", "x.home.arpa"],
        ["revoke", "old.home.arpa"],
        ["crl"],
        ["renew", "nas.home.arpa"],
        ["passwd"],
        ["import", str(imported)],
        ["backup", str(tmp_path / "b.db")],
    ]
    holder = sqlite3.connect(held, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        cli.ok("list")  # readers go on beside a writer (WAL)
        for command in commands:
            message = cli.error(*command)
            assert message == BUSY, (command, message)
            assert "database is locked" not in message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    cli.ok("issue", "x.home.arpa")
    record("busy_commands_with_a_clear_message", len(commands))
