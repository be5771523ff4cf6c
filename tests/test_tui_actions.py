"""Pilot flows for the TUI's actions: issue with the live checklist, revoke, export, renew."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from support.tui import settle, wait_preview

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.core.store import Store
from certtui.demo import DEMO_PASSPHRASE, build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui.app import make_app
from certtui.tui.screens.cert_list import CertListScreen
from certtui.tui.screens.export import ExportedScreen, ExportScreen
from certtui.tui.screens.issue import IssueScreen
from certtui.tui.screens.revoke import RevokeScreen
from certtui.tui.screens.unlock import UnlockScreen
from certtui.tui.widgets.cert_table import CertTable
from certtui.tui.widgets.checklist import ChecklistPanel


@pytest.fixture
def plain(home: Path) -> Store:
    store, _ = init_store(db_path(home), InitRequest(name="Plain Root", intermediate=True), None)
    yield store
    store.close()


async def type_into(pilot, selector: str, text: str) -> None:  # type: ignore[no-untyped-def]
    field = pilot.app.screen.query_one(selector)
    field.value = text
    await pilot.pause()


async def test_issue_server_and_see_its_row_selected(plain: Store) -> None:
    app = make_app(plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        assert isinstance(app.screen, IssueScreen)
        await type_into(pilot, "#names", "nas.home.arpa, 192.168.1.10")
        await wait_preview(app, pilot)
        findings = {f.id: f.severity for f in app.screen.query_one(ChecklistPanel).findings}
        assert findings["leaf.lifetime-825"] == "pass" and "fail" not in findings.values()
        assert not app.screen.query_one("#force").display
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
        table = app.screen.query_one(CertTable)
        assert table.current is not None and table.current.names == ("nas.home.arpa", "192.168.1.10")
    [leaf] = [r for r in plain.records() if r.kind.value == "server"]
    assert leaf.issuer_id == plain.default_issuer_id()


async def test_preview_fails_900_days_and_submit_needs_force(plain: Store) -> None:
    app = make_app(plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#names", "cam.home.arpa")
        await type_into(pilot, "#days", "900")
        await wait_preview(app, pilot)
        screen = app.screen
        findings = {f.id: f.severity for f in screen.query_one(ChecklistPanel).findings}
        assert findings["leaf.lifetime-825"] == "fail"
        force = screen.query_one("#force")
        assert force.display and not force.value
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, IssueScreen)
        assert "leaf.lifetime-825" in str(screen.query_one("#form-error").render())
        assert [r for r in plain.records() if r.kind.value == "server"] == []
        force.value = True
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
    [leaf] = [r for r in plain.records() if r.kind.value == "server"]
    cert = plain.certificate(leaf.id)
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 900


async def test_issue_form_shows_field_errors_inline(plain: Store) -> None:
    app = make_app(plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#names", "bad_name!")
        await type_into(pilot, "#days", "0")
        await wait_preview(app, pilot)
        names_error = app.screen.query_one("#names-error")
        assert names_error.display and "bad_name!" in str(names_error.render())
        assert "above 0" in str(app.screen.query_one("#days-error").render())
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, IssueScreen)


async def test_issue_asks_for_the_passphrase_on_a_locked_store(home: Path) -> None:
    store = build_demo_store(db_path(home))
    store.close()
    store = Store.open(db_path(home))
    app = make_app(store, clock=demo_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("n")
        await type_into(pilot, "#names", "new.home.arpa")
        await wait_preview(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, UnlockScreen)
        await type_into(pilot, "#passphrase", DEMO_PASSPHRASE)
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one(CertTable).current.names == ("new.home.arpa",)


async def test_revoke_changes_status_and_crl_lists_serial(plain: Store, tmp_path: Path) -> None:
    from support.pki import issue_one

    from certtui.core.models import IssueRequest

    leaf = issue_one(plain, IssueRequest(names=("old.home.arpa",)))
    app = make_app(plain)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(CertTable)
        table.select_id(leaf.id)
        await pilot.press("r")
        assert isinstance(app.screen, RevokeScreen)
        app.screen.query_one("#reason").value = "keyCompromise"
        await pilot.click("#confirm")
        await settle(app, pilot)
        assert table.current is not None and table.current.status.value == "revoked"
    from certtui.core.revocation import latest_crl

    crl = x509.load_der_x509_crl(latest_crl(plain, leaf.issuer_id).der)
    revoked = crl.get_revoked_certificate_by_serial_number(int(leaf.serial, 16))
    assert revoked is not None
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.key_compromise
    )


async def test_revoke_on_root_opens_no_modal(plain: Store) -> None:
    app = make_app(plain)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, CertListScreen)
        assert any("cannot be revoked" in n.message for n in app._notifications)


async def test_export_writes_chosen_files_with_key_0600(plain: Store, tmp_path: Path) -> None:
    from support.pki import issue_one

    from certtui.core.models import IssueRequest

    leaf = issue_one(plain, IssueRequest(names=("web.home.arpa",)))
    out = tmp_path / "out"
    out.mkdir()
    app = make_app(plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.screen.query_one(CertTable).select_id(leaf.id)
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, ExportScreen)
        assert screen.formats == ["fullchain", "key"]  # the nginx / Caddy pair by default
        await type_into(pilot, "#directory", str(out))
        screen.query_one("#unencrypted").value = True
        await pilot.pause()
        assert not screen.query_one("#password").display
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ExportedScreen)
        shown = " ".join(str(s.render()) for s in app.screen.query(".exported-path"))
    chain, key = out / "web.home.arpa-fullchain.pem", out / "web.home.arpa-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"0600  {key}" in shown and str(chain) in shown
    verify = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-in", str(chain)], capture_output=True, text=True
    )
    assert "web.home.arpa" in verify.stdout
    assert "BEGIN PRIVATE KEY" in key.read_text()


async def test_export_p12_needs_a_password(plain: Store, tmp_path: Path) -> None:
    from support.pki import issue_one

    from certtui.core.models import IssueRequest

    leaf = issue_one(
        plain,
        IssueRequest(
            names=("phone@home.arpa",), kind=__import__("certtui.core.models", fromlist=["Kind"]).Kind.CLIENT
        ),
    )
    app = make_app(plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.screen.query_one(CertTable).select_id(leaf.id)
        await pilot.press("e")
        screen = app.screen
        assert screen.formats == ["p12-legacy"]
        await type_into(pilot, "#directory", str(tmp_path))
        assert screen.query_one("#password").display
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "password" in str(screen.query_one("#password-error").render())
        await type_into(pilot, "#password", "pw1")
        await type_into(pilot, "#password2", "pw1")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ExportedScreen)
    p12 = tmp_path / "phone@home.arpa-legacy.p12"
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    ok = subprocess.run(
        ["openssl", "pkcs12", "-legacy", "-in", str(p12), "-passin", "pass:pw1", "-noout"],
        capture_output=True,
    )
    assert ok.returncode == 0
