"""`certtui check` on IDs, files and live TLS servers on 127.0.0.1; the guardrail of `certtui issue`."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certtui.core import tlsprobe
from certtui.core.store import Store
from certtui.paths import db_path

PEM = serialization.Encoding.PEM
FINDING_KEYS = {"id", "severity", "title", "detail", "fix"}


def certtui(*args: str) -> Result:
    from certtui.cli import cli

    return CliRunner().invoke(cli, list(args), prog_name="certtui")


def user_error(result: Result) -> str:
    """Exit 2 with exactly one `error: ...` line and no traceback; returns the message."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0].removeprefix("error: ")


def checked(result: Result, code: int) -> list[dict[str, Any]]:
    """The `--json` output, after insisting on the exit status."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    out = json.loads(result.stdout)
    assert isinstance(out, list)
    for obj in out:
        assert set(obj) == {"subject", "kind", "findings"}
        for f in obj["findings"]:
            assert set(f) == FINDING_KEYS
    return out


def by_id(obj: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {f["id"]: f for f in obj["findings"]}


def bad(obj: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["severity"] for f in obj["findings"] if f["severity"] in ("fail", "warn")}


@dataclass
class Pki:
    """A no-passphrase store with root, intermediate and a server leaf, plus their PEM files."""

    home: Path
    leaf_id: str
    root_pem: Path
    leaf_pem: Path
    bundle_pem: Path
    key_pem: Path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("CERTTUI_HOME", str(path))
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE", raising=False)
    return path


@pytest.fixture
def pki(home: Path, tmp_path: Path) -> Pki:
    assert certtui("init", "--name", "Check Root", "--no-passphrase", "--intermediate").exit_code == 0
    issued = certtui("issue", "nas.home.arpa", "127.0.0.1", "--json")
    assert issued.exit_code == 0, issued.stderr
    leaf_id = json.loads(issued.stdout)["id"]
    store = Store.open(db_path(home))
    try:
        leaf, (inter, root) = store.certificate(leaf_id), store.chain(leaf_id)
        key = store.private_key(leaf_id)
    finally:
        store.close()
    files = tmp_path / "files"
    files.mkdir()
    (files / "root.pem").write_bytes(root.public_bytes(PEM))
    (files / "leaf.pem").write_bytes(leaf.public_bytes(PEM))
    (files / "bundle.pem").write_bytes(leaf.public_bytes(PEM) + inter.public_bytes(PEM))
    (files / "leaf.key").write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Pki(
        home, leaf_id, files / "root.pem", files / "leaf.pem", files / "bundle.pem", files / "leaf.key"
    )


# -- store IDs and files ----------------------------------------------------------------------------


def test_check_store_ids_of_a_default_store(pki: Pki) -> None:
    out = checked(certtui("check", pki.leaf_id, "nas.home.arpa", "--host", "nas.home.arpa", "--json"), 0)
    assert len(out) == 2
    for obj in out:
        assert obj["subject"] == "CN=nas.home.arpa"
        assert obj["kind"] == "server"
        assert bad(obj) == {}
        findings = by_id(obj)
        assert findings["chain.trusted"]["detail"] == "verifies up to Check Root (3 certificate(s))"
        assert findings["leaf.san-host"]["severity"] == "pass"
        assert findings["int.ca-bc"]["severity"] == "pass"
    store = Store.open(db_path(pki.home))
    root_id, int_id = store.root_id(), store.default_issuer_id()
    store.close()
    roots = checked(certtui("check", root_id or "", int_id or "", "--json"), 0)
    assert [o["kind"] for o in roots] == ["root", "intermediate"]
    assert bad(roots[0]) == {"store.key-unencrypted": "warn"}
    assert bad(roots[1]) == {}


def test_check_a_file_missing_its_intermediate_fails_with_exit_1(pki: Pki) -> None:
    result = certtui("check", str(pki.leaf_pem))
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{pki.leaf_pem}: server certificate nas.home.arpa"
    tags = [
        line.split()[0]
        for line in lines[1:]
        if line.startswith("  ") and line.split()[0] in ("FAIL", "WARN", "INFO", "pass")
    ]
    assert tags[0] == "FAIL" and tags == sorted(tags, key=["FAIL", "WARN", "INFO", "pass"].index)
    assert "  FAIL  chain.complete" in result.stdout
    assert "fix: serve the leaf with its intermediates" in result.stdout
    assert result.stdout.rstrip().endswith("pass")


def test_check_files_needs_no_store_and_trusts_root_files(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTTUI_HOME", str(tmp_path / "nowhere"))
    untrusted = checked(certtui("check", str(pki.bundle_pem), "--json"), 1)
    findings = by_id(untrusted[0])
    # Without a trusted root, nothing says the intermediate is the last certificate needed.
    assert bad(untrusted[0]) == {"chain.complete": "fail", "chain.trusted": "fail"}
    assert findings["chain.trusted"]["detail"] == "no trusted root to judge against: no store and no --root"
    assert findings["chain.complete"]["detail"].startswith(
        "ends at Check Root Intermediate, whose issuer CN=Check Root was not sent"
    )
    assert "chain.revoked" not in findings
    trusted = checked(certtui("check", str(pki.bundle_pem), "--root", str(pki.root_pem), "--json"), 0)
    assert bad(trusted[0]) == {}
    der = tmp_path / "leaf.der"
    der.write_bytes(
        x509.load_pem_x509_certificate(pki.leaf_pem.read_bytes()).public_bytes(serialization.Encoding.DER)
    )
    out = checked(certtui("check", str(der), str(pki.bundle_pem), "--root", str(pki.root_pem), "--json"), 1)
    assert [bad(o) for o in out] == [{"chain.complete": "fail", "chain.trusted": "fail"}, {}]
    assert not (tmp_path / "nowhere").exists()


def test_check_host_the_certificate_does_not_name(pki: Pki) -> None:
    out = checked(certtui("check", str(pki.bundle_pem), "--host", "other.home.arpa", "--json"), 1)
    assert bad(out[0]) == {"leaf.san-host": "fail"}
    assert "certtui issue other.home.arpa" in by_id(out[0])["leaf.san-host"]["fix"]


def _duplicate_extension_pem(path: Path) -> Path:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dup.home.arpa")])
    san = x509.SubjectAlternativeName([x509.DNSName("dup.home.arpa")])
    # A private extension whose OID is as long as the SAN's, renamed into it in the DER below.
    decoy = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), san.public_bytes())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(san, False)
        .add_extension(decoy, False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(private, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    der = der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x11")
    path.write_bytes(x509.load_der_x509_certificate(der).public_bytes(PEM))
    return path


def test_check_a_duplicate_extension_is_a_finding_not_a_crash(home: Path, tmp_path: Path) -> None:
    out = checked(certtui("check", str(_duplicate_extension_pem(tmp_path / "dup.pem")), "--json"), 1)
    findings = by_id(out[0])
    assert findings["cert.ext-wellformed"]["severity"] == "fail"
    assert "subjectAltName (2.5.29.17) appears more than once" in findings["cert.ext-wellformed"]["detail"]
    assert out[0]["subject"] == "CN=dup.home.arpa"


def test_check_usage_errors_exit_2_with_one_line(pki: Pki, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert "is not a certificate (neither PEM nor DER)" in user_error(certtui("check", str(text)))
    key_only = user_error(certtui("check", str(pki.key_pem)))
    assert "holds no CERTIFICATE block" in key_only
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    assert "does not decode" in user_error(certtui("check", str(broken)))
    assert "no certificate matches 'nope.home.arpa'" in user_error(certtui("check", "nope.home.arpa"))
    assert "but not both" in user_error(certtui("check", str(pki.leaf_pem), "--connect", "127.0.0.1"))
    assert "but not both" in user_error(certtui("check"))
    assert "go with --connect" in user_error(certtui("check", str(pki.leaf_pem), "--starttls", "smtp"))
    unknown = user_error(certtui("check", "--connect", "x", "--starttls", "ftp"))
    assert "--starttls ftp is not known" in unknown
    assert "bad name" in user_error(certtui("check", str(pki.leaf_pem), "--host", "a b"))
    assert "is a folder" in user_error(certtui("check", str(tmp_path)))
    missing_root = user_error(certtui("check", str(pki.leaf_pem), "--root", str(tmp_path / "no.pem")))
    assert "does not exist" in missing_root


def test_check_a_missing_file_without_a_store(home: Path, tmp_path: Path) -> None:
    message = user_error(certtui("check", str(tmp_path / "missing.pem")))
    assert message.endswith("is not a file, and there is no store to look it up in; give a PEM or DER file")


# -- live servers on 127.0.0.1 ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TlsServer:
    """A real TLS server on 127.0.0.1 that completes handshakes in a thread until closed."""

    def __init__(self, chain: Path, key: Path, *, legacy: bool = False) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(chain, key)
        if legacy:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self.ctx.minimum_version = ssl.TLSVersion.TLSv1
                self.ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            self.ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        self.names: list[str | None] = []
        self.ctx.sni_callback = lambda _sock, name, _ctx: self.names.append(name)  # type: ignore[assignment,func-returns-value]
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                with self.ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    def __enter__(self) -> TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_connect_leaf_and_intermediate_passes_chain_complete(pki: Pki) -> None:
    with TlsServer(pki.bundle_pem, pki.key_pem) as server:
        out = checked(certtui("check", "--connect", f"127.0.0.1:{server.port}", "--json"), 0)
    assert len(out) == 1
    obj = out[0]
    assert (obj["subject"], obj["kind"]) == ("CN=nas.home.arpa", "server")
    findings = by_id(obj)
    assert bad(obj) == {}
    assert findings["chain.complete"]["detail"] == (
        "2 certificate(s); Check Root Intermediate is issued by the trusted root Check Root"
    )
    assert findings["server.tls12"]["severity"] == "pass"
    assert findings["server.tls12"]["detail"] in ("negotiated TLSv1.3", "negotiated TLSv1.2")
    assert findings["leaf.san-host"]["detail"] == "IP 127.0.0.1 is an iPAddress entry"


def test_connect_leaf_only_fails_chain_complete(pki: Pki) -> None:
    with TlsServer(pki.leaf_pem, pki.key_pem) as server:
        result = certtui("check", "--connect", f"127.0.0.1:{server.port}", "--json")
    out = checked(result, 1)
    findings = by_id(out[0])
    assert findings["chain.complete"]["severity"] == "fail"
    assert "missing intermediate" in findings["chain.complete"]["detail"]
    assert bad(out[0]) == {"chain.complete": "fail", "chain.trusted": "fail"}


def test_connect_sends_servername_and_checks_it(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTTUI_HOME", str(tmp_path / "nowhere"))
    with TlsServer(pki.bundle_pem, pki.key_pem) as server:
        result = certtui(
            "check",
            "--connect",
            f"127.0.0.1:{server.port}",
            "--servername",
            "nas.home.arpa",
            "--root",
            str(pki.root_pem),
            "--json",
        )
    out = checked(result, 0)
    assert server.names == ["nas.home.arpa"]
    assert by_id(out[0])["leaf.san-host"]["detail"] == "nas.home.arpa matches the DNS name nas.home.arpa"


def _legacy_handshake_possible(pki: Pki) -> str | None:
    """Why this machine's OpenSSL cannot do TLS 1.0/1.1 on loopback, or None if it can."""
    try:
        with TlsServer(pki.bundle_pem, pki.key_pem, legacy=True) as server:
            ctx = tlsprobe._context(False)
            with (
                socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
                ctx.wrap_socket(raw, server_hostname="nas.home.arpa") as tls,
            ):
                version = tls.version()
    except (ssl.SSLError, OSError) as exc:
        return f"the local OpenSSL refuses a TLS 1.0/1.1 handshake ({exc})"
    return None if version in ("TLSv1", "TLSv1.1") else f"the legacy handshake negotiated {version}"


def test_connect_tls_1_0_1_1_only_server_warns_server_tls12(pki: Pki) -> None:
    reason = _legacy_handshake_possible(pki)
    if reason:
        pytest.skip(reason)
    with TlsServer(pki.bundle_pem, pki.key_pem, legacy=True) as server:
        out = checked(certtui("check", "--connect", f"127.0.0.1:{server.port}", "--json"), 0)
    findings = by_id(out[0])
    assert bad(out[0]) == {"server.tls12": "warn"}
    assert "the server only spoke TLSv1" in findings["server.tls12"]["detail"]
    assert findings["chain.complete"]["severity"] == "pass"
    assert findings["chain.trusted"]["severity"] == "pass"


def test_connect_to_a_closed_port_is_a_usage_error(home: Path) -> None:
    port = free_port()
    message = user_error(certtui("check", "--connect", f"127.0.0.1:{port}"))
    assert message.startswith(f"cannot talk to 127.0.0.1:{port} (")
    assert message.endswith("check the host and port")


@pytest.fixture
def smtp_server(pki: Pki) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1, offering STARTTLS with the leaf and its intermediate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.bundle_pem, pki.key_pem)
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=False)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_connect_starttls_smtp_sees_the_served_chain(pki: Pki, smtp_server: int) -> None:
    out = checked(
        certtui(
            "check",
            "--connect",
            f"127.0.0.1:{smtp_server}",
            "--starttls",
            "smtp",
            "--host",
            "nas.home.arpa",
            "--json",
        ),
        0,
    )
    obj = out[0]
    assert obj["subject"] == "CN=nas.home.arpa"
    findings = by_id(obj)
    assert bad(obj) == {}
    assert findings["chain.complete"]["detail"].startswith("2 certificate(s)")
    assert findings["int.ca-bc"]["detail"] == "Check Root Intermediate: CA:TRUE, may sign certificates"
    assert findings["leaf.san-host"]["severity"] == "pass"


def _readline(conn: socket.socket) -> str:
    line = b""
    while not line.endswith(b"\n"):
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return line.decode().strip()


class MailServer(TlsServer):
    """Just enough IMAP4 or POP3 on 127.0.0.1 to greet, offer STARTTLS/STLS and upgrade to TLS."""

    def __init__(self, chain: Path, key: Path, protocol: str) -> None:
        super().__init__(chain, key)
        self.protocol = protocol

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                self._session(conn)
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        imap = self.protocol == "imap"
        conn.sendall(b"* OK IMAP4rev1 ready\r\n" if imap else b"+OK POP3 ready\r\n")
        while line := _readline(conn):
            tag, _, command = line.partition(" ") if imap else ("", "", line)
            command = command.upper()
            if command == "CAPABILITY":
                conn.sendall(f"* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n".encode())
            elif command == "CAPA":
                conn.sendall(b"+OK\r\nSTLS\r\n.\r\n")
            elif command in ("STARTTLS", "STLS"):
                conn.sendall(f"{tag} OK begin TLS\r\n".encode() if imap else b"+OK begin TLS\r\n")
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    if imap:  # imaplib asks for the capabilities again over TLS
                        tag = _readline(tls).partition(" ")[0]
                        tls.sendall(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
                        _readline(tls)
                return
            else:
                conn.sendall(f"{tag} BAD unknown\r\n".encode() if imap else b"-ERR unknown\r\n")


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_connect_starttls_imap_and_pop3(pki: Pki, protocol: str) -> None:
    with MailServer(pki.bundle_pem, pki.key_pem, protocol) as server:
        out = checked(
            certtui("check", "--connect", f"127.0.0.1:{server.port}", "--starttls", protocol, "--json"), 0
        )
    findings = by_id(out[0])
    assert bad(out[0]) == {}
    assert findings["chain.complete"]["detail"].startswith("2 certificate(s)")
    assert findings["server.tls12"]["severity"] == "pass"


def test_starttls_default_ports_and_targets() -> None:
    assert tlsprobe.DEFAULT_PORTS == {None: 443, "smtp": 587, "imap": 143, "pop3": 110}
    assert tlsprobe.parse_target("nas.home.arpa") == ("nas.home.arpa", None)
    assert tlsprobe.parse_target("mail.home.arpa:465") == ("mail.home.arpa", 465)
    assert tlsprobe.parse_target("[fd00::1]:8443") == ("fd00::1", 8443)
    assert tlsprobe.parse_target("fd00::1") == ("fd00::1", None)
    with pytest.raises(tlsprobe.CerttuiError, match="not a number from 1 to 65535"):
        tlsprobe.parse_target("nas:99999")


def test_get_unverified_chain_reads_the_chain_as_sent(pki: Pki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        TlsServer(pki.bundle_pem, pki.key_pem) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        ctx.wrap_socket(raw) as tls,
    ):
        chain = tlsprobe.get_unverified_chain(tls)
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=nas.home.arpa", "CN=Check Root Intermediate"]

    class Public:
        """Python 3.13+: the public method returns DER bytes, and `_sslobj` is not touched."""

        def get_unverified_chain(self) -> list[bytes]:
            return [c.public_bytes(serialization.Encoding.DER) for c in chain]

    assert tlsprobe.get_unverified_chain(Public()) == chain  # type: ignore[arg-type]


# -- the issue-time guardrail ------------------------------------------------------------------------


def _names_in_store(home: Path) -> list[str]:
    store = Store.open(db_path(home))
    try:
        return [n for r in store.records() for n in r.names]
    finally:
        store.close()


def test_issue_refuses_a_900_day_server_certificate_and_stores_nothing(pki: Pki) -> None:
    before = _names_in_store(pki.home)
    message = user_error(certtui("issue", "x.home.arpa", "--days", "900"))
    assert "leaf.lifetime-825" in message
    assert "valid for 900 days; limit 825" in message
    assert "--force" in message
    assert _names_in_store(pki.home) == before
    forced = certtui("issue", "x.home.arpa", "--days", "900", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert forced.stdout.startswith("issued server x.home.arpa")
    assert "warning: x.home.arpa: leaf.lifetime-825: valid for 900 days" in forced.stderr
    assert _names_in_store(pki.home) == [*before, "x.home.arpa"]


def test_issue_prints_warnings_and_issues(pki: Pki) -> None:
    result = certtui("issue", "soon.home.arpa", "--days", "10")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("warning: soon.home.arpa: leaf.validity: expires on ")
    assert "soon.home.arpa" in _names_in_store(pki.home)
    quiet = certtui("issue", "fine.home.arpa")
    assert (quiet.exit_code, quiet.stderr) == (0, "")


def test_issue_guardrail_is_for_server_certificates_only(pki: Pki) -> None:
    result = certtui("issue", "--client", "me@home.arpa", "--days", "900")
    assert result.exit_code == 0, result.stderr


def test_issue_from_file_refuses_the_whole_batch(pki: Pki, tmp_path: Path) -> None:
    batch = tmp_path / "batch.txt"
    batch.write_text("a.home.arpa\nb.home.arpa\n")
    before = _names_in_store(pki.home)
    message = user_error(certtui("issue", "--from", str(batch), "--days", "826"))
    assert "a.home.arpa would fail leaf.lifetime-825" in message
    assert "b.home.arpa would fail leaf.lifetime-825" in message
    assert _names_in_store(pki.home) == before


def test_issue_guardrail_runs_before_the_passphrase_is_asked(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pass"
    secret.write_text("correct horse battery staple\n")
    secret.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(secret))
    assert certtui("init", "--name", "Locked Root").exit_code == 0
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    message = user_error(certtui("issue", "x.home.arpa", "--days", "900"))
    assert "leaf.lifetime-825" in message
