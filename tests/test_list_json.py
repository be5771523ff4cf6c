"""`list --json` is written by SQLite: byte for byte what json.dumps of the records would print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certtui.core import issuance, policy
from certtui.core.models import IssueRequest, Kind, Status
from certtui.core.revocation import revoke
from certtui.core.store import Store
from certtui.core.store import records as store_records
from certtui.core.timefmt import parse, utcnow
from certtui.journeys.renew import renew_one

# Names an imported certificate may carry that JSON has to escape, or that look like an
# escape already: a backslash before an n is not a line break, a bare newline cannot occur
# (it separates the names column), control characters, quotes, non-ASCII and astral text.
ODD_NAMES = (
    "back\\nslash.home.arpa",
    "ends-in-a-backslash\\",
    "\\\\double",
    'quote"d',
    "tab\there",
    "ctl\x01\x1f\x7f",
    "zürich.home.arpa",
    "\u2028line-separator",
    "emoji-\U0001f600",
    "",
)


def _external(subject: str | None, not_before: datetime, not_after: datetime) -> x509.Certificate:
    """A self-signed certificate; `subject` None leaves the CN out (the store's subject is "")."""
    key = ec.generate_private_key(ec.SECP256R1())
    attribute = (
        (NameOID.COMMON_NAME, subject) if subject is not None else (NameOID.ORGANIZATION_NAME, "No CN")
    )
    name = x509.Name([x509.NameAttribute(*attribute)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def _issue(store: Store, req: IssueRequest) -> str:
    return issuance.execute(store, issuance.plan(store, req)).id


@pytest.fixture
def varied(make_store: Callable[..., Store]) -> Store:
    """A store with every status, kind and column shape `list --json` prints."""
    store = make_store(name='Zürich "Lab" \\ Root', intermediate=True)
    _issue(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10", "fd00::1")))
    gone = _issue(store, IssueRequest(names=("old.home.arpa",)))
    revoke(store, gone, "superseded")
    _issue(store, IssueRequest(names=("me@home.arpa",), kind=Kind.CLIENT, days=10))
    _issue(store, IssueRequest(names=("bücher.home.arpa",), days=60))
    _issue(store, IssueRequest(kind=Kind.INTERMEDIATE, cn="Second Issuing CA"))
    renew_one(store, store.resolve(_issue(store, IssueRequest(names=("renewed.home.arpa",)))))
    now = utcnow()
    with store.write():
        store.add_certificate(
            _external(
                'CN with \\n, "quotes", \x01 and ✓', now - timedelta(days=400), now - timedelta(days=1)
            ),
            kind=Kind.SERVER,
            names=ODD_NAMES,
            issuer_id=None,
            external=True,
            origin="acme:bøb\\",
        )
        no_cn = store.add_certificate(
            _external(None, now - timedelta(days=1), now + timedelta(days=3650)),
            kind=Kind.ROOT,
            names=(),
            issuer_id=None,
            external=True,
        )
        # Not revoked, as the Python listing reads an empty revoked_at (certtui writes NULL).
        store.conn.execute("UPDATE certificates SET revoked_at = '' WHERE id = ?", (no_cn,))
    return store


def _dumped(store: Store, **filters: object) -> bytes:
    """What `list --json` printed when Python wrote it: json.dumps of the records, in UTF-8."""
    records = store.records(**filters)  # type: ignore[arg-type]
    return (json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False) + "\n").encode()


def test_the_varied_store_has_what_the_comparison_needs(varied: Store) -> None:
    records = varied.records()
    assert {r.status for r in records} == set(Status)
    assert {r.kind for r in records} == set(Kind)
    assert any(r.external for r in records) and any(r.renewed_by for r in records)
    assert any(r.names == () for r in records) and any(r.origin for r in records)
    assert any(r.names == ODD_NAMES for r in records)


@pytest.mark.parametrize("later", [0, 20, 80, 400, 20 * 365])
def test_list_json_is_json_dumps_of_the_records_under_every_filter(varied: Store, later: int) -> None:
    now = utcnow() + timedelta(days=later)
    for kind in (None, *Kind):
        for status in (None, *Status):
            for expiring_within in (None, 0, 15, 100):
                filters = {"kind": kind, "status": status, "expiring_within": expiring_within, "now": now}
                assert b"".join(varied.list_json(**filters)) == _dumped(varied, **filters), filters  # type: ignore[arg-type]


def test_list_json_judges_the_status_boundaries_as_the_records_do(varied: Store) -> None:
    """At the instant a certificate expires, and where it starts expiring as a leaf and a CA."""
    for rec in varied.records():
        for before in (0, policy.LEAF_EXPIRING_DAYS, policy.CA_EXPIRING_DAYS):
            now = parse(rec.not_after) - timedelta(days=before)
            for status in (None, *Status):
                assert b"".join(varied.list_json(status=status, now=now)) == _dumped(
                    varied, status=status, now=now
                ), (rec.id, before, status)


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_list_json_joins_its_batches_into_one_list(
    varied: Store, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(store_records, "LIST_BATCH", batch)
    pieces = list(varied.list_json())
    assert len(pieces) == -(-len(varied.records()) // batch) + 1
    assert b"".join(pieces) == _dumped(varied)


def test_an_empty_listing_is_an_empty_list(varied: Store) -> None:
    assert b"".join(varied.list_json(status=Status.REVOKED, kind=Kind.ROOT)) == b"[]\n"


_PROBE = """
import json, runpy, sys
sys.argv = ["certtui", "list", "--json"]
try:
    runpy.run_module("certtui", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stderr.write("PROBE " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def test_list_json_loads_no_crypto_no_hashing_and_no_acme_or_upkeep_tables(varied: Store) -> None:
    """What the comments in core/store say is left out of `certtui list` (keys.py, store.py)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("PROBE ")]
    assert done.returncode == 0 and line, done.stderr
    modules = set(json.loads(line[0].removeprefix("PROBE ")))
    assert json.loads(done.stdout) == [r.to_json() for r in varied.records()]
    for absent in (
        "cryptography",
        "_hashlib",
        "getpass",
        "textual",
        "certtui.core.keys",
        "certtui.core.kdf",
        "certtui.core.store.acme_records",
        "certtui.core.store.upkeep",
    ):
        assert absent not in modules, absent
