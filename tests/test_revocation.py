"""Revocation and CRLs through the CLI, checked with openssl, pkilint and a real TLS handshake."""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from support.pki import crl_due_soon

from certtui.cli import cli
from certtui.commands.lifecycle import DEFAULT_CRL_DAYS, REASON_NAMES
from certtui.core import revocation
from certtui.core.models import Kind
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.paths import db_path

# openssl and pkilint are real subprocesses; a minute covers a loaded CI machine.
TIMEOUT_S = 60
# pkilint's console script, installed beside this Python (the venv's bin folder).
LINT_CRL = str(Path(sys.executable).parent / "lint_crl")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def ids_by_name() -> dict[str, str]:
    rows = json.loads(ok("list", "--json").stdout)
    return {(r["names"][0] if r["names"] else r["subject"]): r["id"] for r in rows}


def records() -> dict[str, dict[str, object]]:
    return {r["id"]: r for r in json.loads(ok("list", "--json").stdout)}


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture
def lc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CERTTUI_HOME", str(home))
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE", raising=False)
    return home


@pytest.fixture
def pki(lc_home: Path) -> dict[str, str]:
    """Root, intermediate, and two servers (good, bad) in an unencrypted store; name -> id."""
    ok("init", "--name", "Test Root CA", "--no-passphrase", "--intermediate")
    ok("issue", "good.home.arpa")
    ok("issue", "bad.home.arpa")
    return ids_by_name()


def pem_of(ref: str, path: Path) -> Path:
    path.write_text(ok("show", ref, "--pem").stdout)
    return path


def test_cli_names_match_core() -> None:
    assert REASON_NAMES == tuple(revocation.REASONS)
    assert DEFAULT_CRL_DAYS == revocation.DEFAULT_CRL_DAYS


def test_openssl_crl_check_accepts_valid_and_rejects_revoked(pki: dict[str, str], tmp_path: Path) -> None:
    result = ok("revoke", pki["bad.home.arpa"], "--reason", "keyCompromise")
    # `init` signed number 1, the first CRL of every CA it creates.
    assert "signed CRL number 2 of CA Test Root CA Intermediate" in result.stdout
    crl = tmp_path / "int.crl.pem"
    ok("crl", "--out", str(crl))
    root = pem_of(pki["Test Root CA"], tmp_path / "root.pem")
    inter = pem_of(pki["Test Root CA Intermediate"], tmp_path / "int.pem")
    base = ["verify", "-crl_check", "-CAfile", str(root), "-untrusted", str(inter), "-CRLfile", str(crl)]
    good = openssl(*base, str(pem_of(pki["good.home.arpa"], tmp_path / "good.pem")))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.strip().endswith(": OK")
    bad = openssl(*base, str(pem_of(pki["bad.home.arpa"], tmp_path / "bad.pem")))
    assert bad.returncode != 0
    assert "certificate revoked" in bad.stdout + bad.stderr


def test_revoking_an_intermediate_updates_the_roots_crl(pki: dict[str, str], tmp_path: Path) -> None:
    ok("crl", "--out", str(tmp_path / "int.crl.pem"))
    result = ok("revoke", pki["Test Root CA Intermediate"], "--reason", "cACompromise")
    assert "of CA Test Root CA (" in result.stdout
    crls = tmp_path / "crls.pem"
    ok("crl", "--issuer", pki["Test Root CA"], "--out", str(tmp_path / "root.crl.pem"))
    crls.write_text((tmp_path / "int.crl.pem").read_text() + (tmp_path / "root.crl.pem").read_text())
    root = pem_of(pki["Test Root CA"], tmp_path / "root.pem")
    inter = pem_of(pki["Test Root CA Intermediate"], tmp_path / "int.pem")
    leaf = pem_of(pki["good.home.arpa"], tmp_path / "good.pem")
    out = openssl(
        "verify",
        "-crl_check_all",
        "-CAfile",
        str(root),
        "-untrusted",
        str(inter),
        "-CRLfile",
        str(crls),
        str(leaf),
    )
    assert out.returncode != 0
    assert "certificate revoked" in out.stdout + out.stderr


def test_list_shows_revoked(pki: dict[str, str]) -> None:
    ok("revoke", pki["bad.home.arpa"])
    rows = records()
    assert rows[pki["bad.home.arpa"]]["status"] == "revoked"
    assert rows[pki["bad.home.arpa"]]["revocation_reason"] == "unspecified"
    assert ISO.fullmatch(str(rows[pki["bad.home.arpa"]]["revoked_at"]))
    assert rows[pki["good.home.arpa"]]["status"] == "valid"
    line = next(li for li in ok("list").stdout.splitlines() if li.startswith(pki["bad.home.arpa"]))
    assert line.split()[2] == "revoked"


def test_second_revocation_raises_the_crl_number(pki: dict[str, str], lc_home: Path) -> None:
    ok("revoke", pki["bad.home.arpa"], "--reason", "superseded")
    ok("revoke", pki["good.home.arpa"])
    store = Store.open(db_path())
    # Number 1 is the empty CRL `init` signed.
    empty, first, second = (
        x509.load_der_x509_crl(row[0])
        for row in store.conn.execute(
            "SELECT der FROM crls WHERE issuer_id = ? ORDER BY number", (pki["Test Root CA Intermediate"],)
        )
    )
    number = lambda crl: crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert (number(empty), number(first), number(second)) == (1, 2, 3)
    assert len(empty) == 0
    # A certificate's id is the first 12 hex digits of its serial.
    assert [format(r.serial_number, "x")[:12] for r in first] == [pki["bad.home.arpa"]]
    assert sorted(format(r.serial_number, "x")[:12] for r in second) == sorted(
        [pki["bad.home.arpa"], pki["good.home.arpa"]]
    )
    latest = revocation.latest_crl(store, pki["Test Root CA Intermediate"])
    assert latest is not None and latest.number == 3
    third = run("crl")
    assert third.exit_code == 0
    crl = x509.load_pem_x509_crl(third.stdout.encode())
    assert number(crl) == 4
    store.close()


def test_crl_fields(pki: dict[str, str], lc_home: Path) -> None:
    ok("revoke", pki["bad.home.arpa"], "--reason", "keyCompromise")
    ok("revoke", pki["good.home.arpa"])
    crl = x509.load_pem_x509_crl(ok("crl", "--days", "10").stdout.encode())
    store = Store.open(db_path())
    inter = store.certificate(pki["Test Root CA Intermediate"])
    assert crl.issuer == inter.subject
    assert crl.is_signature_valid(inter.public_key())  # type: ignore[arg-type]
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA256)
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.value.key_identifier == ski.digest and not aki.critical
    assert not crl.extensions.get_extension_for_class(x509.CRLNumber).critical
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=10)
    assert abs(crl.last_update_utc - utcnow()) < timedelta(minutes=1)
    entries = {format(r.serial_number, "x")[:12]: r for r in crl}
    bad = entries[pki["bad.home.arpa"]].extensions.get_extension_for_class(x509.CRLReason)
    assert bad.value.reason is x509.ReasonFlags.key_compromise and not bad.critical
    # unspecified: the reasonCode extension is left out (RFC 5280 5.3.1).
    assert len(entries[pki["good.home.arpa"]].extensions) == 0
    stored = revocation.latest_crl(store, pki["Test Root CA Intermediate"])
    assert stored is not None and stored.next_update == crl.next_update_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    store.close()


def test_p384_ca_signs_its_crl_with_sha384(lc_home: Path) -> None:
    ok("init", "--name", "P384 Root", "--no-passphrase", "--key", "ec384")
    crl = x509.load_pem_x509_crl(ok("crl").stdout.encode())
    assert isinstance(crl.signature_hash_algorithm, hashes.SHA384)


def test_pkilint_reports_nothing(pki: dict[str, str], tmp_path: Path) -> None:
    ok("revoke", pki["bad.home.arpa"], "--reason", "keyCompromise")
    ok("revoke", pki["good.home.arpa"])
    for args, name in (((), "int.crl"), (("--issuer", pki["Test Root CA"]), "root.crl")):
        path = tmp_path / name
        ok("crl", *args, "--der", "--out", str(path))
        lint = subprocess.run(
            [LINT_CRL, "lint", "-t", "CRL", "-p", "PKIX", "-s", "WARNING", str(path)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
        assert lint.stdout.strip() == ""


def test_revoking_the_root_is_refused(pki: dict[str, str]) -> None:
    result = run("revoke", pki["Test Root CA"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {pki['Test Root CA']} is the root CA, which no CRL can revoke; remove its trust "
        "on the devices instead\n"
    )
    assert records()[pki["Test Root CA"]]["status"] == "valid"


def test_already_revoked_says_when_and_why(pki: dict[str, str]) -> None:
    ok("revoke", pki["bad.home.arpa"], "--reason", "cessationOfOperation")
    when = records()[pki["bad.home.arpa"]]["revoked_at"]
    result = run("revoke", "bad.home.arpa")
    assert result.exit_code == 0
    assert result.stdout == f"{pki['bad.home.arpa']} was already revoked on {when} (cessationOfOperation)\n"
    store = Store.open(db_path())
    inter = pki["Test Root CA Intermediate"]
    assert [n for (n,) in store.conn.execute("SELECT number FROM crls WHERE issuer_id = ?", (inter,))] == [
        1,
        2,
    ]
    assert [e[2] for e in store.events(pki["bad.home.arpa"])] == ["issue", "revoke"]
    store.close()


def test_revoke_needs_the_passphrase_and_writes_nothing_without_it(
    lc_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("a long store passphrase\n")
    secret.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(secret))
    ok("init", "--name", "Locked Root")
    ok("issue", "x.home.arpa")
    x_id = ids_by_name()["x.home.arpa"]
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    result = run("revoke", x_id)
    assert result.exit_code == 2
    assert "a passphrase is needed" in result.stderr
    assert records()[x_id]["status"] == "valid"
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(secret))
    assert "signed CRL number 2" in ok("revoke", x_id).stdout


def _ca_without_crl_sign(store: Store, root_id: str) -> str:
    """An mkcert-like intermediate whose keyUsage has keyCertSign but not cRLSign."""
    root = store.certificate(root_id)
    root_key = store.private_key(root_id)
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "No CRL CA")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=10))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    with store.write():
        return store.add_certificate(cert, kind=Kind.INTERMEDIATE, names=(), issuer_id=root_id, key=key)


def test_ca_without_crl_sign(lc_home: Path) -> None:
    ok("init", "--name", "Test Root CA", "--no-passphrase")
    store = Store.open(db_path())
    ca_id = _ca_without_crl_sign(store, ids_by_name()["Test Root CA"])
    ok("issue", "leaf.home.arpa", "--issuer", ca_id)
    leaf_id = ids_by_name()["leaf.home.arpa"]
    sentence = (
        f"no CRL can be published for CA No CRL CA ({ca_id}): its keyUsage lacks cRLSign; "
        "issue new certificates from a CA that has it, such as one made by `certtui init`"
    )
    result = run("revoke", leaf_id, "--reason", "keyCompromise")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"warning: {sentence}\n"
    assert result.stdout.startswith(f"revoked server leaf.home.arpa (id {leaf_id}")
    assert records()[leaf_id]["status"] == "revoked"
    assert store.conn.execute("SELECT COUNT(*) FROM crls WHERE issuer_id = ?", (ca_id,)).fetchone()[0] == 0
    crl = run("crl", "--issuer", ca_id)
    assert crl.exit_code == 2
    assert crl.stderr == f"error: {sentence}\n"
    assert crl.stdout == ""
    store.close()


def test_crl_url_goes_into_later_certificates(lc_home: Path) -> None:
    url = "http://nas.home.arpa/crl/"
    assert url in ok("init", "--name", "Test Root CA", "--no-passphrase", "--crl-url", url).stdout
    ok("issue", "web.home.arpa")
    ok("issue", "--client", "me@home.arpa")
    ids = ids_by_name()
    store = Store.open(db_path())
    assert store.meta("crl_url") == url
    for name in ("web.home.arpa", "me@home.arpa"):
        cdp = store.certificate(ids[name]).extensions.get_extension_for_class(x509.CRLDistributionPoints)
        assert not cdp.critical
        # Each certificate points at its own issuer's CRL (docs/trust-rules.md, Revocation).
        own = x509.UniformResourceIdentifier(f"{url}{ids['Test Root CA']}.crl")
        assert [p.full_name for p in cdp.value] == [[own]]
    with pytest.raises(x509.ExtensionNotFound):
        store.certificate(ids["Test Root CA"]).extensions.get_extension_for_class(x509.CRLDistributionPoints)
    store.close()


@pytest.mark.parametrize("url", ["ftp://nas/crl", "nas.home.arpa/crl", "http:///crl", "http://nas/ä.crl"])
def test_bad_crl_url_is_refused_before_anything_is_made(lc_home: Path, url: str) -> None:
    result = run("init", "--name", "Test Root CA", "--no-passphrase", "--crl-url", url)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --crl-url {url!r} is not an http:// URL;")
    assert not db_path().exists()


def test_crl_defaults_and_bad_options(pki: dict[str, str], tmp_path: Path) -> None:
    crl = x509.load_pem_x509_crl(ok("crl").stdout.encode())
    assert crl.issuer.rfc4514_string() == "CN=Test Root CA Intermediate"
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=30)
    out = run("crl", "--der")
    assert out.exit_code == 2 and "add --out PATH" in out.stderr
    out = run("crl", "--days", "0")
    assert out.exit_code == 2 and "--days 0 is out of range for a CRL" in out.stderr
    out = run("crl", "--issuer", pki["good.home.arpa"])
    assert out.exit_code == 2 and "is a server certificate, not a CA" in out.stderr
    folder = tmp_path / "crls"
    folder.mkdir()
    written = ok("crl", "--der", "--out", str(folder)).stdout
    path = folder / "Test-Root-CA-Intermediate.crl"
    assert written.startswith(f"wrote {path} (CRL number ")
    assert x509.load_der_x509_crl(path.read_bytes()).issuer == crl.issuer
    assert path.stat().st_mode & 0o777 == 0o644


def test_list_warns_when_the_crl_is_about_to_lapse(pki: dict[str, str], lc_home: Path) -> None:
    ok("crl", "--days", "30")
    assert "warning" not in ok("list").stderr
    ok("crl", "--days", "6")
    result = ok("list", "--json")
    json.loads(result.stdout)
    ca = pki["Test Root CA Intermediate"]
    assert re.fullmatch(
        rf"warning: the CRL of CA Test Root CA Intermediate \({ca}\) has its next update at \S+Z, "
        rf"under 7 days away; sign a fresh one with `certtui crl --issuer {ca}`\n",
        result.stderr,
    )
    store = Store.open(db_path())
    assert crl_due_soon(store, ca)
    assert not crl_due_soon(store, pki["Test Root CA"])
    assert revocation.crl_warnings(store, utcnow() + timedelta(days=7))[0].startswith(
        f"the CRL of CA Test Root CA Intermediate ({ca}) has passed its next update ("
    )
    store.close()
    # `check` warns the same way, on stderr, without changing its verdict
    leaf = pki["good.home.arpa"]
    checked = run("check", leaf)
    assert f"warning: the CRL of CA Test Root CA Intermediate ({ca})" in checked.stderr
    ok("crl")
    assert ok("list").stderr == ""
    assert "warning: the CRL" not in run("check", leaf).stderr


def test_tls_handshake_fails_for_the_revoked_leaf(pki: dict[str, str], tmp_path: Path) -> None:
    """A real handshake on 127.0.0.1 with CRL checking: the good leaf passes, the revoked one fails."""
    ok("revoke", pki["bad.home.arpa"], "--reason", "keyCompromise")
    password = tmp_path / "pw"
    password.write_text("pw\n")
    trust = tmp_path / "trust.pem"
    trust.write_text(ok("show", pki["Test Root CA"], "--pem").stdout + ok("crl").stdout)

    def handshake(name: str) -> str | None:
        chain, key = tmp_path / f"{name}.chain.pem", tmp_path / f"{name}.key.pem"
        ok("export", name, "--format", "fullchain", "--out", str(chain))
        ok("export", name, "--format", "key", "--out", str(key), "--password-file", str(password))
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(chain, key, password="pw")
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server_ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client_ctx = ssl.create_default_context(cafile=str(trust))
        client_ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client_ctx.wrap_socket(raw, server_hostname=name),
            ):
                return None
        except ssl.SSLCertVerificationError as exc:
            return str(exc.verify_message)
        finally:
            thread.join(timeout=10)
            listener.close()

    assert handshake("good.home.arpa") is None
    assert handshake("bad.home.arpa") == "certificate revoked"


def test_a_failed_signing_leaves_nothing_revoked(
    pki: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> x509.CertificateRevocationList:
        raise RuntimeError("signing failed")

    monkeypatch.setattr(revocation, "build_crl", broken)
    store = Store.open(db_path())
    with pytest.raises(RuntimeError):
        revocation.revoke(store, pki["bad.home.arpa"], "keyCompromise")
    assert store.get(pki["bad.home.arpa"]).revoked_at is None
    assert [e[2] for e in store.events(pki["bad.home.arpa"])] == ["issue"]
    # Only the empty CRLs `init` signed.
    assert [n for (n,) in store.conn.execute("SELECT number FROM crls")] == [1, 1]
    store.close()


def test_concurrent_revocations_get_distinct_crl_numbers(pki: dict[str, str]) -> None:
    """Two connections (as two SSH sessions would have) revoke at once; numbers never collide."""
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        store = Store.open(db_path())
        try:
            crl = revocation.revoke(store, pki[name]).crl
            assert crl is not None
            results[name] = crl.number
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("good.home.arpa", "bad.home.arpa")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(results.values()) == [2, 3]
    store = Store.open(db_path())
    latest = revocation.latest_crl(store, pki["Test Root CA Intermediate"])
    assert latest is not None and latest.number == 3 and len(list(latest.crl())) == 2
    store.close()
