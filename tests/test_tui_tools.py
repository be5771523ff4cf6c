"""Issue 16: everything the CLI can do, from the TUI's palette, through the CLI's own core calls."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from support.pki import issue_one
from support.tui import palette_shows, settle, wait_until
from textual.widgets import Input

from certtui.core.models import IssueRequest
from certtui.core.revocation import latest_crl
from certtui.core.store import Store
from certtui.demo import DEMO_PASSPHRASE, build_demo_store, demo_clock
from certtui.paths import db_path
from certtui.tui import tools
from certtui.tui.app import CerttuiApp, make_app
from certtui.tui.screens.ask import AskScreen, ResultScreen

TOOLS = (
    "store: backup",
    "store: change passphrase",
    "import: certificate files",
    "crl: sign now",
    "crl: status",
    "check: live server",
)


async def until(pilot: Any, predicate: Any) -> None:
    for _ in range(300):
        if predicate():
            return
        await settle(pilot.app, pilot)
        await pilot.pause(0.05)
    raise AssertionError(
        f"never; screen {pilot.app.screen}, notes {[n.message for n in pilot.app._notifications]}"
    )


@pytest.fixture
def demo(home: Path) -> Any:
    store = build_demo_store(db_path(home))
    yield store
    store.close()


async def run_tool(pilot: Any, title: str) -> None:
    """Open a palette row by typing its name, as a user does."""
    await pilot.press("ctrl+p")
    await pilot.press(*title)
    await wait_until(pilot, lambda: palette_shows(pilot.app, title), f"the palette to offer {title}")
    await pilot.press("enter")
    await settle(pilot.app, pilot)


async def test_the_palette_offers_every_tool(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in TOOLS:
            assert title in titles, titles


async def test_backup_from_the_palette_writes_a_store_that_opens(demo: Store, tmp_path: Path) -> None:
    app = make_app(demo, clock=demo_clock, start_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "store: backup")
        assert isinstance(app.screen, AskScreen)
        target = tmp_path / "copy.db"
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
    copy = Store.open(target)
    assert len(copy.records()) == len(demo.records())
    copy.unlock(DEMO_PASSPHRASE)
    copy.close()


async def test_a_failed_backup_keeps_the_dialog_and_says_why(demo: Store, tmp_path: Path) -> None:
    app = make_app(demo, clock=demo_clock, start_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "store: backup")
        form = app.screen
        form.query_one("#path", Input).value = str(tmp_path / "missing" / "copy.db")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        error = form.query_one("#ask-error")
        assert error.display and "Not done" in str(error.render())


async def test_change_passphrase_from_the_palette(demo: Store) -> None:
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "store: change passphrase")
        app.screen.query_one("#new", Input).value = "a brand new one"
        app.screen.query_one("#again", Input).value = "a brand new one"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert "re-sealed" in str(app.screen.query_one("#result-text").render())
    again = Store.open(demo.path)
    again.unlock("a brand new one")
    again.close()


async def test_import_files_from_the_palette(demo: Store, tmp_path: Path, make_store: Any) -> None:
    other = make_store(name="Somebody Else", where=tmp_path / "other")
    pem = other.certificate(other.root_id()).public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "their-root.pem"
    path.write_bytes(pem)
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "import: certificate files")
        app.screen.query_one("#paths", Input).value = str(path)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
    assert any(r.external and r.subject == "Somebody Else" for r in demo.records())


async def test_sign_a_crl_now_from_the_palette(demo: Store) -> None:
    ca = demo.default_issuer_id()
    before = latest_crl(demo, ca)
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "crl: sign now")
        assert "CRL number" in str(app.screen.query_one(".hint").render())
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
    after = latest_crl(demo, ca)
    assert after is not None and (before is None or after.number > before.number)


async def test_check_a_live_server_from_the_palette(make_store: Any, tmp_path: Path) -> None:
    from certtui.core.export import Format, render

    demo = make_store()
    rec = issue_one(demo, IssueRequest(names=("localhost", "127.0.0.1")))
    chain = render(demo, rec, Format.FULLCHAIN).data
    key = render(demo, rec, Format.KEY, unencrypted_key=True).data
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "chain.pem", tmp_path / "key.pem")
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    app = make_app(demo)  # the real clock: the certificate was issued just now
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "check: live server")
        assert app.screen.query_one("#starttls")  # STARTTLS can be chosen
        app.screen.query_one("#target", Input).value = f"127.0.0.1:{port}"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
        ids = {f.id for f in app.screen.findings}
        assert "chain.trusted" in ids and "leaf.san-host" in ids
    listener.close()
    thread.join(5)


def _csr(tmp_path: Path, name: str, key: Any) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / f"{name}.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


async def _sign(app: CerttuiApp, pilot: Any, csr: Path, out: Path) -> Any:
    await settle(app, pilot)
    await run_tool(pilot, "cert: sign a CSR")
    form = app.screen
    assert isinstance(form, AskScreen)
    form.query_one("#csr", Input).value = str(csr)
    form.query_one("#out", Input).value = str(out)
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    return form


async def test_sign_a_csr_from_the_palette_and_refuse_a_weak_key(demo: Store, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    good = _csr(tmp_path, "printer2.home.arpa", ec.generate_private_key(ec.SECP256R1()))
    weak = _csr(tmp_path, "weak.home.arpa", rsa.generate_private_key(public_exponent=65537, key_size=1024))
    app = make_app(demo)
    async with app.run_test(size=(100, 40)) as pilot:
        await _sign(app, pilot, good, tmp_path)
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert "Signed printer2.home.arpa" in str(app.screen.query_one("#result-text").render())
        await pilot.press("escape")
        # The CSR's own RSA-1024 key is judged, and refused: the form stays, with the reason.
        form = await _sign(app, pilot, weak, tmp_path)
        await until(pilot, lambda: form.query_one("#ask-error").display)
        assert app.screen is form
        assert "Not done" in str(form.query_one("#ask-error").render())
    subjects = [r.subject for r in demo.records()]
    assert "printer2.home.arpa" in subjects and "weak.home.arpa" not in subjects
    assert (tmp_path / "printer2.home.arpa.pem").exists()


async def test_setup_wizard_adopts_an_existing_root(home: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mkcert development CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "rootCA.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "rootCA-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.click("#import-root")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, AskScreen)
        form.query_one("#cert", Input).value = str(tmp_path / "rootCA.pem")
        form.query_one("#key", Input).value = str(tmp_path / "rootCA-key.pem")
        form.query_one("#passphrase", Input).value = "store secret"
        form.query_one("#again", Input).value = "store secret"
        await pilot.press("ctrl+s")
        from certtui.tui.screens.cert_list import CertListScreen

        await until(pilot, lambda: isinstance(app.screen, CertListScreen))
        assert app.store is not None and app.store.encrypted
        assert [r.subject for r in app.store.records()] == ["mkcert development CA"]


async def test_a_result_of_several_lines_shows_them_as_lines(demo: Store) -> None:
    # Found by the CRL status snapshot: the line breaks between the CAs showed as "\x0a".
    app = make_app(demo, clock=demo_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "crl: status")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
        shown = str(app.screen.query_one("#result-text").render())
        assert "\\x0a" not in shown
        assert shown.splitlines()[:2] == [
            "Home Lab Root CA: no CRL yet (sign one now)",
            "Home Lab Intermediate: CRL number 1, next update 2026-12-27T09:00:00Z",
        ]


def _mkcert_root(where: Path) -> tuple[Path, Path]:
    """A CA made by mkcert itself (CAROOT in the test's folder; nothing installed anywhere)."""
    import os
    import shutil
    import subprocess

    mkcert = shutil.which("mkcert")
    assert mkcert, "mkcert is needed (README's apt-get line)"
    where.mkdir()
    env = {**os.environ, "CAROOT": str(where), "TRUST_STORES": "none"}
    subprocess.run(
        [mkcert, "-cert-file", str(where / "leaf.pem"), "-key-file", str(where / "leaf-key.pem"), "x.test"],
        env=env,
        check=True,
        capture_output=True,
    )
    return where / "rootCA.pem", where / "rootCA-key.pem"


def _openssl_intermediate(root: Path, root_key: Path, where: Path) -> tuple[Path, Path]:
    """An intermediate under that root, made and signed by openssl."""
    import subprocess

    key, csr, cert, ext = (where / n for n in ("int-key.pem", "int.csr", "int.pem", "int.ext"))
    ext.write_text(
        "basicConstraints=critical,CA:TRUE,pathlen:0\n"
        "keyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    run("req", "-new", "-key", str(key), "-subj", "/CN=Workshop Intermediate", "-out", str(csr))
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(root), "-CAkey", str(root_key),
        "-CAcreateserial", "-days", "1825", "-sha256", "-extfile", str(ext), "-out", str(cert),
    )  # fmt: skip
    return cert, key


async def test_import_an_existing_ca_from_the_palette(home: Path, tmp_path: Path) -> None:
    from cryptography import x509

    from certtui.core.models import Kind

    # The store is made around a real mkcert root; openssl makes an intermediate under it,
    # which the palette imports, with its key.
    root, root_key = _mkcert_root(tmp_path / "caroot")
    store, _ = tools.import_root(db_path(home), root, root_key, "", None)
    cert, key = _openssl_intermediate(root, root_key, tmp_path)
    garbage = tmp_path / "not-a-ca.pem"
    garbage.write_text("this is not a certificate\n")
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await run_tool(pilot, "import: existing CA")
        form = app.screen
        assert isinstance(form, AskScreen) and form.dialog_id == "import-ca-dialog"
        # A bad file: one sentence in the dialog, which stays open with what was typed.
        form.query_one("#cert", Input).value = str(garbage)
        form.query_one("#key", Input).value = str(key)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: form.query_one("#ask-error").display)
        assert app.screen is form
        said = str(form.query_one("#ask-error").render())
        assert said.startswith("Not done: ") and str(garbage) in said, said
        assert "\n" not in said.strip() and "Traceback" not in said
        assert form.query_one("#cert", Input).value == str(garbage)
        assert form.query_one("#key", Input).value == str(key)
        assert len(store.records()) == 1  # the root alone: nothing half-imported
        # The real file, typed over the bad one, is imported.
        form.query_one("#cert", Input).value = str(cert)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ResultScreen))
        assert "Imported Workshop Intermediate" in str(app.screen.query_one("#result-text").render())
    found = [r for r in store.records() if r.subject == "Workshop Intermediate"]
    assert len(found) == 1 and found[0].kind is Kind.INTERMEDIATE and found[0].has_key
    # "It issues from now on": new certificates come from it, signed with the imported key.
    assert store.default_issuer_id() == found[0].id
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa",)))
    assert leaf.issuer_id == found[0].id
    store.certificate(leaf.id).verify_directly_issued_by(x509.load_pem_x509_certificate(cert.read_bytes()))
    store.close()
