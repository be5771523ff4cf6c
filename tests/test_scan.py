"""`certtui scan`: each endpoint's certificate matched to the store (current, superseded, expiring,
revoked, unknown, failing the checklist, unreachable), deploy targets by default, the list's marker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from support.cli import Cli
from support.pki import issue_one
from upkeep_support import free_port, tls_server

from certtui.core import export, issuance, revocation
from certtui.core.models import CertRecord, IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow


def _serve(store: Store, rec: CertRecord, folder: Path, *, with_chain: bool = True) -> tuple[Path, Path]:
    chain = [c for c in store.chain(rec.id) if c.subject != c.issuer] if with_chain else []
    folder.mkdir(exist_ok=True)
    cert_path, key_path = folder / "chain.pem", folder / "key.pem"
    cert_path.write_bytes(export.fullchain_pem(store.certificate(rec.id), chain))
    key_path.write_bytes(export.key_pem(store.private_key(rec.id), None, unencrypted=True))
    return cert_path, key_path


def test_scan_tells_current_from_superseded_and_marks_the_list(
    make_store: Callable[..., Store], cli: Cli, tmp_path: Path
) -> None:
    store = make_store(intermediate=True)
    old = issue_one(store, IssueRequest(names=("nas.home.arpa", "127.0.0.1")))
    chain, key = _serve(store, old, tmp_path / "srv")
    with tls_server(chain, key) as port:
        where = f"127.0.0.1:{port}"
        done = cli.ok("scan", where, "--servername", "nas.home.arpa")
        assert done.stdout.startswith(
            f"{where}  CURRENT  serves {old.id} (nas.home.arpa, 127.0.0.1), the newest"
        )
        listed = cli.ok("list").stdout
        assert f"[deployed at {where}]" in next(
            line for line in listed.splitlines() if line.startswith(old.id)
        )
        new = issuance.execute(store, issuance.plan_renewal(store, old))
        done = cli("scan", where)
        assert done.exit_code == 1
        assert f"SUPERSEDED  serves {old.id}" in done.stdout and f"renewed it as {new.id}" in done.stdout
        assert f"certtui deploy run {new.id}" in done.stdout
        # A deploy target with --verify is scanned when no endpoint is given.
        cli.ok("deploy", "add", new.id, "--fullchain", str(chain), "--key", str(key), "--verify", where)
        cli.ok("deploy", "run", "1")
        done = cli.ok("scan")
        assert f"{where}  CURRENT  serves {new.id}" in done.stdout
        marked = [line for line in cli.ok("list").stdout.splitlines() if "[deployed at" in line]
        assert len(marked) == 1 and marked[0].startswith(new.id)


def test_scan_reports_unknown_expiring_revoked_failing_and_unreachable(
    make_store: Callable[..., Store], cli: Cli, tmp_path: Path
) -> None:
    other = make_store(name="Someone Else", where=tmp_path / "other")
    stranger = issue_one(other, IssueRequest(names=("127.0.0.1",)))
    store = make_store(intermediate=True)
    ending = issue_one(store, IssueRequest(names=("127.0.0.1",)), now=utcnow() - timedelta(days=380))
    revoked = issue_one(store, IssueRequest(names=("127.0.0.1",)))
    revocation.revoke(store, revoked.id, "keyCompromise")
    leaf_only = issue_one(store, IssueRequest(names=("127.0.0.1",)))
    cases = [
        (other, stranger, True, "UNKNOWN  serves a certificate that is not from this store"),
        (store, ending, True, f"EXPIRING  serves {ending.id}"),
        (store, revoked, True, f"REVOKED  serves {revoked.id}"),
        # Without its intermediate, a phone cannot build the chain: the checklist fails it.
        (store, leaf_only, False, f"FAILING  serves {leaf_only.id} (127.0.0.1), which fails chain.complete"),
    ]
    for i, (owner, rec, with_chain, expected) in enumerate(cases):
        chain, key = _serve(owner, rec, tmp_path / f"srv{i}", with_chain=with_chain)
        with tls_server(chain, key) as port:
            done = cli("scan", f"127.0.0.1:{port}")
            assert done.exit_code == 1 and expected in done.stdout, (expected, done.stdout)
    closed = free_port()
    listing = tmp_path / "endpoints.txt"
    listing.write_text(f"# my servers\n127.0.0.1:{closed}  # the NAS\n")
    done = cli("scan", "--from", str(listing))
    assert done.exit_code == 1 and f"127.0.0.1:{closed}  UNREACHABLE  cannot talk to" in done.stdout


def test_scan_needs_something_to_scan(make_store: Callable[..., Store], cli: Cli) -> None:
    make_store()
    assert "nothing to scan" in cli.error("scan")
    assert "not a number from 1 to 65535" in cli.error("scan", "nas:0")
