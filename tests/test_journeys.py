"""The journeys as the front ends call them: what each asks for, when, and what it refuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certtui.core.models import IssueRequest, Kind
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import CerttuiError, PolicyError
from certtui.journeys import adopt, enroll, inspect, renew, revoke
from certtui.journeys import issue as journey
from certtui.paths import db_path

SECRET = "journey passphrase"


@pytest.fixture
def locked(make_store: Callable[..., Store], home: Path) -> Store:
    """A store with a passphrase, opened again and not unlocked (as `certtui issue` finds it)."""
    make_store(passphrase=SECRET, permit=("home.arpa",)).close()
    store = Store.open(db_path(home))
    yield store
    store.close()


class Calls:
    """Records, in order, the warnings, the unlock and the stored records a journey reports."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.log: list[str] = []

    def unlock(self) -> Store:
        self.log.append("unlock")
        self.store.unlock(SECRET)
        return self.store

    def warn(self, line: str) -> None:
        self.log.append(f"warn {line}")

    def issued(self, rec: object) -> None:
        self.log.append("issued")


def test_a_locked_batch_is_judged_before_the_unlock_then_committed_in_order(locked: Store) -> None:
    calls = Calls(locked)
    batch = journey.BatchRequest(
        (IssueRequest(names=("a.home.arpa",)), IssueRequest(names=("b.home.arpa",), days=10))
    )
    records = journey.issue_batch(locked, batch, unlock=calls.unlock, warn=calls.warn, issued=calls.issued)
    assert [r.names for r in records] == [("a.home.arpa",), ("b.home.arpa",)]
    # The 10-day leaf is issued with a warning (under 30 days left), said before the passphrase
    # is asked.
    first_unlock = calls.log.index("unlock")
    warned = [line for line in calls.log[:first_unlock] if line.startswith("warn b.home.arpa: ")]
    assert len(warned) == 1 and "(warning under 30)" in warned[0]
    assert calls.log[first_unlock + 1 :] == ["issued", "issued"]
    assert calls.log.count("unlock") == 1


def test_a_failing_request_refuses_the_whole_batch_before_any_unlock(locked: Store) -> None:
    calls = Calls(locked)
    before = locked.records()
    batch = journey.BatchRequest(
        (IssueRequest(names=("ok.home.arpa",)), IssueRequest(names=("long.home.arpa",), days=900))
    )
    with pytest.raises(PolicyError, match=r"long\.home\.arpa would fail leaf\.lifetime-825"):
        journey.issue_batch(locked, batch, unlock=calls.unlock, warn=calls.warn, issued=calls.issued)
    assert "unlock" not in calls.log and "issued" not in calls.log
    assert locked.records() == before


def test_force_issues_it_and_reports_the_fail(make_store: Callable[..., Store]) -> None:
    store = make_store()
    calls = Calls(store)
    batch = journey.BatchRequest((IssueRequest(names=("long.home.arpa",), days=900),), force=True)
    [rec] = journey.issue_batch(store, batch, warn=calls.warn)
    assert rec.names == ("long.home.arpa",)
    assert any("leaf.lifetime-825" in line for line in calls.log)


def test_a_request_that_cannot_be_planned_is_named_by_where_it_came_from(locked: Store) -> None:
    calls = Calls(locked)
    batch = journey.BatchRequest(
        (IssueRequest(names=("a.home.arpa",)), IssueRequest(names=("example.com",))),
        where=("names.txt:1", "names.txt:4"),
    )
    with pytest.raises(CerttuiError, match=r"^names\.txt:4: .*example\.com"):
        journey.issue_batch(locked, batch, unlock=calls.unlock)
    assert calls.log == []


def test_a_locked_store_without_a_way_to_unlock_is_one_error(locked: Store) -> None:
    with pytest.raises(CerttuiError, match="the store is locked"):
        journey.issue_one(locked, IssueRequest(names=("a.home.arpa",)))
    assert [r.kind for r in locked.records()] == [Kind.ROOT]


def _csr(*names: str) -> x509.CertificateSigningRequest:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )


def test_a_csr_goes_through_the_same_guardrail_and_keeps_its_key(locked: Store) -> None:
    calls = Calls(locked)
    with pytest.raises(PolicyError, match=r"leaf\.lifetime-825"):
        adopt.sign_csr(locked, adopt.CsrRequest(_csr("nas.home.arpa"), days=900), unlock=calls.unlock)
    assert calls.log == []
    csr = _csr("nas.home.arpa", "nas2.home.arpa")
    rec = adopt.sign_csr(locked, adopt.CsrRequest(csr, kind=Kind.CLIENT), unlock=calls.unlock)
    assert calls.log == ["unlock"]
    assert rec.kind is Kind.CLIENT and not rec.has_key
    assert rec.names == ("nas.home.arpa", "nas2.home.arpa")
    assert locked.certificate(rec.id).public_key() == csr.public_key()


@pytest.mark.parametrize(("ref", "within"), [(None, None), ("abc", 30)])
def test_renew_takes_an_id_or_a_window_not_both(ref: str | None, within: int | None) -> None:
    with pytest.raises(CerttuiError, match="give an ID to renew, or --expiring-within DAYS"):
        renew.RenewRequest(ref, within)


def test_renew_one_replaces_the_leaf_and_marks_the_old_one(make_store: Callable[..., Store]) -> None:
    store = make_store()
    old = journey.issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    planned = renew.plan(store, renew.RenewRequest(old.id))
    assert [o.id for o, _ in planned] == [old.id]
    new = renew.renew_one(store, old)
    assert new.names == old.names and new.id != old.id
    assert store.get(old.id).renewed_by == new.id
    assert new.id in [o.id for o, _ in renew.plan(store, renew.RenewRequest(expiring_within=10_000))]
    assert old.id not in [o.id for o, _ in renew.plan(store, renew.RenewRequest(expiring_within=10_000))]


def test_revoke_needs_the_key_once_and_says_what_it_did(make_store: Callable[..., Store]) -> None:
    store = make_store(intermediate=True)
    leaf = journey.issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    rec, ca = revoke.target(store, leaf.id)
    assert ca.id == leaf.issuer_id and revoke.needs_key(store, rec)
    done = revoke.revoke(store, revoke.RevokeRequest(leaf.id, "superseded"))
    # init signed CRL number 1 for the intermediate; the revocation signs number 2.
    assert revoke.sentence(done) == "Revoked nas.home.arpa; the CRL is re-signed (CRL number 2)."
    again = store.get(leaf.id)
    assert not revoke.needs_key(store, again)
    assert "was already revoked" in revoke.sentence(revoke.revoke(store, revoke.RevokeRequest(leaf.id)))
    with pytest.raises(PolicyError, match="root CA"):
        revoke.target(store, store.root_id() or "")


def test_show_and_the_screen_read_one_inspection(make_store: Callable[..., Store]) -> None:
    store = make_store()
    leaf = journey.issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    found = inspect.inspect(store, leaf, utcnow())
    show, screen = dict(found.show_rows()), dict(found.screen_rows())
    for key in ("ID", "Kind", "Status", "Names", "Subject", "Not after", "SHA-256"):
        assert show[key] == screen[key], key
    assert show["Private key"] == "in the store, unencrypted"
    assert screen["Private key"] == "in the store, UNENCRYPTED"
    assert screen["Expires"].startswith(leaf.not_after + " (in ")
    assert "subjectAltName" in show and "subjectAltName" not in screen
    assert {f.id for f in found.findings} >= {"leaf.san-present", "leaf.lifetime-825"}
    assert inspect.inspect(store, leaf, utcnow(), checklist=False).findings == []


def test_enrollment_plans_the_address_and_listens_where_asked(make_store: Callable[..., Store]) -> None:
    store = make_store()
    planned = enroll.plan(store, "127.0.0.1", "127.0.0.1")
    assert planned.host == "127.0.0.1" and planned.test_plan is not None
    test = enroll.sign_trust_test(store, planned)
    assert test is not None
    session = enroll.new_session(store, planned, test, enroll.EnrollOptions("127.0.0.1", 0, 0), 5)
    assert (session.bind, session.timeout, session.trust) == ("127.0.0.1", 5, test)
