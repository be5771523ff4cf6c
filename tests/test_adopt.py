"""import-ca and import with the real mkcert and easy-rsa, and the parsers behind them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from support.cli import Cli

from certtui.core import adopt, loaders
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.errors import CerttuiError
from certtui.paths import db_path

OPENSSL = shutil.which("openssl")
MKCERT = shutil.which("mkcert")
EASYRSA = shutil.which("easyrsa") or "/usr/share/easy-rsa/easyrsa"
# Each tool run makes a key or signs one certificate; a minute only stops a hang.
TOOL_TIMEOUT_S = 60
# The passphrase easy-rsa encrypts its CA key with in the encrypted-PKI tests.
EASYRSA_KEY_PASSPHRASE = "easy-rsa key secret"

needs_tools = pytest.mark.skipif(
    OPENSSL is None or MKCERT is None or not Path(EASYRSA).exists(),
    reason="needs openssl, mkcert and easy-rsa (apt-get install openssl mkcert easy-rsa)",
)


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        list(args),
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def openssl_verify(ca_file: Path, leaf: Path, untrusted: Path | None = None) -> str:
    assert OPENSSL is not None
    extra = ["-untrusted", str(untrusted)] if untrusted else []
    return run(OPENSSL, "verify", "-CAfile", str(ca_file), *extra, "-purpose", "sslserver", str(leaf))


@dataclass(frozen=True)
class Mkcert:
    """A mkcert CAROOT and one leaf it issued."""

    root: Path
    root_key: Path
    leaf: Path
    leaf_key: Path


@dataclass(frozen=True)
class EasyRsa:
    """An easy-rsa PKI folder."""

    pki: Path

    @property
    def ca(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.pki / "private" / "ca.key"

    def easyrsa(self, *args: str, **env: str) -> str:
        base = {"EASYRSA_BATCH": "1", "EASYRSA_PKI": str(self.pki)}
        return run(EASYRSA, *args, env=base | env, cwd=self.pki.parent)


@pytest.fixture(scope="module")
def mkcert(tmp_path_factory: pytest.TempPathFactory) -> Mkcert:
    """The real mkcert with CAROOT in a temp folder (never `mkcert -install`)."""
    assert MKCERT is not None
    where = tmp_path_factory.mktemp("mkcert")
    env = {"CAROOT": str(where / "caroot")}
    run(
        MKCERT,
        "-cert-file",
        "leaf.pem",
        "-key-file",
        "leaf-key.pem",
        "mkleaf.home.arpa",
        "192.168.1.20",
        env=env,
        cwd=where,
    )
    return Mkcert(
        where / "caroot" / "rootCA.pem",
        where / "caroot" / "rootCA-key.pem",
        where / "leaf.pem",
        where / "leaf-key.pem",
    )


def make_easyrsa(where: Path, cn: str, passphrase: str | None = None, *extra: str) -> EasyRsa:
    where.mkdir(parents=True, exist_ok=True)
    pki = EasyRsa(where / "pki")
    pki.easyrsa("init-pki")
    env = {"EASYRSA_REQ_CN": cn}
    if passphrase is None:
        pki.easyrsa("build-ca", "nopass", *extra, **env)
    else:
        secret = f"pass:{passphrase}"
        pki.easyrsa("build-ca", *extra, EASYRSA_PASSOUT=secret, EASYRSA_PASSIN=secret, **env)
    return pki


@pytest.fixture(scope="module")
def easyrsa(tmp_path_factory: pytest.TempPathFactory) -> EasyRsa:
    """A real easy-rsa PKI (EASYRSA_BATCH=1) whose CA key is unencrypted, plus one server."""
    pki = make_easyrsa(tmp_path_factory.mktemp("easyrsa"), "Easy-RSA Test CA")
    pki.easyrsa("build-server-full", "srv.home.arpa", "nopass")
    return pki


@pytest.fixture(scope="module")
def easyrsa_encrypted(tmp_path_factory: pytest.TempPathFactory) -> EasyRsa:
    """A real easy-rsa PKI whose CA key is encrypted (easy-rsa's default)."""
    return make_easyrsa(
        tmp_path_factory.mktemp("easyrsa-enc"), "Easy-RSA Encrypted CA", EASYRSA_KEY_PASSPHRASE
    )


def issue_leaf(cli: Cli, tmp_path: Path, name: str) -> Path:
    """Issue `name` under the store's issuing CA and write it as PEM."""
    cli.ok("issue", name)
    leaf = tmp_path / f"{name}.pem"
    leaf.write_text(cli.ok("show", name, "--pem").stdout)
    return leaf


def fingerprint(path: Path) -> bytes:
    return loaders.load_certificates(path.read_bytes(), str(path))[0].fingerprint(hashes.SHA256())


# ---------------------------------------------------------------- real CAs


@needs_tools
def test_mkcert_root_imports_issues_and_openssl_verifies(
    cli: Cli, passphrase_file: Path, mkcert: Mkcert, tmp_path: Path, home: Path
) -> None:
    out = cli.ok("import-ca", str(mkcert.root), str(mkcert.root_key)).stdout
    assert out.startswith("imported root mkcert ")
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2, out
    assert "path length 0, so it cannot have an intermediate" in notes[0]
    assert "no CRL can be published" in notes[1] and "cRLSign" in notes[1]
    root = cli.json("list", "--json")[0]
    assert (root["kind"], root["has_key"], root["external"]) == ("root", True, False)
    assert root["key_type"] == "RSA 3072"
    assert bytes.fromhex(root["sha256"]) == fingerprint(mkcert.root)
    # The imported CA keeps its own extensions: the store holds mkcert's bytes, unchanged.
    original = x509.load_pem_x509_certificate(mkcert.root.read_bytes())
    with closing(Store.open(db_path(home))) as store:
        assert store.der(root["id"]) == original.public_bytes(serialization.Encoding.DER)
        assert store.encrypted
    leaf = issue_leaf(cli, tmp_path, "nas.home.arpa")
    assert openssl_verify(mkcert.root, leaf) == f"{leaf}: OK\n"
    # What the note says holds: pathlen 0 leaves no room for an intermediate.
    assert "path length 0" in cli.error("issue", "--intermediate", "Sub CA")


@needs_tools
def test_easyrsa_root_imports_issues_and_openssl_verifies(
    cli: Cli, passphrase_file: Path, easyrsa: EasyRsa, tmp_path: Path
) -> None:
    out = cli.ok("import-ca", str(easyrsa.ca), str(easyrsa.ca_key)).stdout
    assert out.startswith("imported root Easy-RSA Test CA ")
    # easy-rsa's CA has cRLSign and no path length: nothing to note.
    assert "note:" not in out
    leaf = issue_leaf(cli, tmp_path, "nas.home.arpa")
    assert openssl_verify(easyrsa.ca, leaf) == f"{leaf}: OK\n"


@needs_tools
def test_easyrsa_encrypted_key_needs_its_passphrase(
    cli: Cli, passphrase_file: Path, easyrsa_encrypted: EasyRsa, tmp_path: Path, home: Path
) -> None:
    pki = easyrsa_encrypted
    assert pki.ca_key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    message = cli.error("import-ca", str(pki.ca), str(pki.ca_key))
    assert message == f"{pki.ca_key} is encrypted; give its passphrase with --key-passphrase-file FILE"
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n")
    message = cli.error("import-ca", str(pki.ca), str(pki.ca_key), "--key-passphrase-file", str(wrong))
    assert "the key passphrase is wrong" in message
    assert not home.exists()
    good = tmp_path / "good"
    good.write_text(EASYRSA_KEY_PASSPHRASE + "\r\n")
    cli.ok("import-ca", str(pki.ca), str(pki.ca_key), "--key-passphrase-file", str(good))
    leaf = issue_leaf(cli, tmp_path, "enc.home.arpa")
    assert openssl_verify(pki.ca, leaf) == f"{leaf}: OK\n"


@needs_tools
def test_easyrsa_ca_with_an_openssl_text_preamble(
    cli: Cli, passphrase_file: Path, easyrsa: EasyRsa, tmp_path: Path
) -> None:
    assert OPENSSL is not None
    text = tmp_path / "ca-text.crt"
    text.write_text(run(OPENSSL, "x509", "-in", str(easyrsa.ca), "-text"))
    assert text.read_text().startswith("Certificate:\n")
    cli.ok("import-ca", str(text), str(easyrsa.ca_key))
    root = cli.json("list", "--json")[0]
    assert bytes.fromhex(root["sha256"]) == fingerprint(easyrsa.ca)
    leaf = issue_leaf(cli, tmp_path, "text.home.arpa")
    assert openssl_verify(easyrsa.ca, leaf) == f"{leaf}: OK\n"


@needs_tools
def test_easyrsa_sub_ca_becomes_the_default_issuer(cli: Cli, passphrase_file: Path, tmp_path: Path) -> None:
    """easy-rsa's own sub-CA flow: build-ca subca, import-req, sign-req ca."""
    root = make_easyrsa(tmp_path / "root", "Easy-RSA Root")
    sub = make_easyrsa(tmp_path / "sub", "Easy-RSA Sub", None, "subca")
    root.easyrsa("import-req", str(sub.pki / "reqs" / "ca.req"), "sub")
    root.easyrsa("sign-req", "ca", "sub")
    sub_crt = root.pki / "issued" / "sub.crt"
    cli.ok("import-ca", str(root.ca), str(root.ca_key))
    # A root for a store that has one is refused; so is an intermediate of another root.
    assert "already has a root" in cli.error("import-ca", str(root.ca), str(root.ca_key))
    other = make_easyrsa(tmp_path / "other", "Other Root")
    other.easyrsa("import-req", str(sub.pki / "reqs" / "ca.req"), "sub")
    other.easyrsa("sign-req", "ca", "sub")
    message = cli.error("import-ca", str(other.pki / "issued" / "sub.crt"), str(sub.ca_key))
    assert message.startswith("Easy-RSA Sub was not issued by this store's root (Easy-RSA Root)")
    out = cli.ok("import-ca", str(sub_crt), str(sub.ca_key)).stdout
    assert out.startswith("imported intermediate Easy-RSA Sub ")
    records = cli.json("list", "--json")
    assert [r["kind"] for r in records] == ["root", "intermediate"]
    assert records[1]["issuer"] == records[0]["id"]
    leaf = issue_leaf(cli, tmp_path, "sub.home.arpa")
    assert cli.json("list", "--json")[-1]["issuer"] == records[1]["id"]
    assert openssl_verify(root.ca, leaf, untrusted=sub_crt) == f"{leaf}: OK\n"


# ---------------------------------------------------------------- refusals


@needs_tools
def test_a_mismatched_key_is_refused_and_no_store_is_left(
    cli: Cli, passphrase_file: Path, mkcert: Mkcert, easyrsa: EasyRsa, home: Path
) -> None:
    message = cli.error("import-ca", str(mkcert.root), str(easyrsa.ca_key))
    assert message.startswith("the key does not match mkcert ")
    assert not db_path(home).exists()
    assert not home.exists()


@needs_tools
def test_a_non_ca_certificate_is_refused_and_no_store_is_left(
    cli: Cli, passphrase_file: Path, mkcert: Mkcert, home: Path
) -> None:
    message = cli.error("import-ca", str(mkcert.leaf), str(mkcert.leaf_key))
    assert "is not a CA (no basicConstraints CA:TRUE)" in message
    assert not home.exists()


@needs_tools
def test_an_intermediate_cannot_start_a_store(
    cli: Cli, passphrase_file: Path, tmp_path: Path, home: Path
) -> None:
    root = make_easyrsa(tmp_path / "root", "Easy-RSA Root")
    sub = make_easyrsa(tmp_path / "sub", "Easy-RSA Sub", None, "subca")
    root.easyrsa("import-req", str(sub.pki / "reqs" / "ca.req"), "sub")
    root.easyrsa("sign-req", "ca", "sub")
    message = cli.error("import-ca", str(root.pki / "issued" / "sub.crt"), str(sub.ca_key))
    assert "is not a self-signed root" in message
    assert not home.exists()


def test_unreadable_inputs_are_clear_errors(
    cli: Cli, passphrase_file: Path, tmp_path: Path, home: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert cli.error("import-ca", str(tmp_path / "missing.pem"), str(text)) == (
        f"{tmp_path / 'missing.pem'} does not exist; give the path of the CA certificate"
    )
    assert cli.error("import-ca", str(text), str(text)) == (
        f"{text} holds no certificate (neither PEM nor DER); give a certificate file"
    )
    assert not home.exists()


# ---------------------------------------------------------------- the parsers


def _self_signed_ca(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parser CA")])
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


_PEM, _DER = serialization.Encoding.PEM, serialization.Encoding.DER
_PKCS8, _TRAD = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
_SECRET = b"key secret"


@pytest.mark.parametrize(
    ("curve", "encoding", "fmt", "encrypted", "label"),
    [
        (False, _PEM, _TRAD, False, b"-----BEGIN RSA PRIVATE KEY-----"),  # PKCS#1
        (False, _PEM, _TRAD, True, b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED"),
        (False, _PEM, _PKCS8, False, b"-----BEGIN PRIVATE KEY-----"),
        (False, _PEM, _PKCS8, True, b"-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        (False, _DER, _TRAD, False, b"0\x82"),
        (True, _PEM, _TRAD, False, b"-----BEGIN EC PRIVATE KEY-----"),  # SEC1
        (True, _PEM, _TRAD, True, b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED"),
        (True, _DER, _PKCS8, False, b"0"),
        (True, _DER, _PKCS8, True, b"0"),
    ],
)
def test_every_key_format_loads(
    curve: bool,
    encoding: serialization.Encoding,
    fmt: serialization.PrivateFormat,
    encrypted: bool,
    label: bytes,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()) if curve else rsa.generate_private_key(65537, 2048)
    algorithm = serialization.BestAvailableEncryption(_SECRET) if encrypted else serialization.NoEncryption()
    data = key.private_bytes(encoding, fmt, algorithm)
    assert data.startswith(label)
    if encrypted:
        with pytest.raises(loaders.KeyPassphraseNeeded):
            loaders.load_private_key(data, "k")
        with pytest.raises(CerttuiError, match="the key passphrase is wrong"):
            loaders.load_private_key(data, "k", b"wrong")
    loaded = loaders.load_private_key(
        b"some words before\n" + data if encoding is _PEM else data, "k", _SECRET if encrypted else None
    )
    assert loaded.private_numbers() == key.private_numbers()  # type: ignore[union-attr]
    # The certificate beside it, PEM with text around it or DER, matches it.
    cert = _self_signed_ca(key)
    assert adopt.validate_ca(cert, loaded, None) == []
    with_text = b"Certificate:\n  stuff\n" + cert.public_bytes(_PEM) + b"trailer\n"
    for blob in (with_text, cert.public_bytes(_DER)):
        assert loaders.load_certificates(blob, "c") == [cert]


def test_a_key_file_given_as_certificate_says_what_it_holds() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(_PEM, _PKCS8, serialization.NoEncryption())
    with pytest.raises(CerttuiError, match=r"^k holds a PRIVATE KEY, not a certificate; give a certificate"):
        loaders.load_certificates(data, "k")
    with pytest.raises(CerttuiError, match=r"^c holds a CERTIFICATE, not a private key; give the key file"):
        loaders.load_private_key(_self_signed_ca(key).public_bytes(_PEM), "c")


# ---------------------------------------------------------------- import (watch)


@needs_tools
def test_import_lists_a_mkcert_leaf_as_external_and_check_works(
    cli: Cli, passphrase_file: Path, mkcert: Mkcert, easyrsa: EasyRsa
) -> None:
    cli.ok("import-ca", str(easyrsa.ca), str(easyrsa.ca_key))
    out = cli.ok("import", str(mkcert.leaf)).stdout
    assert out.startswith("imported server mkleaf.home.arpa, 192.168.1.20 (id ")
    assert out.endswith(" as external\n")
    leaf = cli.json("list", "--json")[-1]
    assert (leaf["kind"], leaf["external"], leaf["has_key"]) == ("server", True, False)
    assert leaf["names"] == ["mkleaf.home.arpa", "192.168.1.20"]
    # Its issuer, mkcert's root, is not in the store.
    assert leaf["issuer"] is None
    assert leaf["id"] in cli.ok("list").stdout
    assert "(external)" in cli.ok("show", leaf["id"]).stdout
    done = cli("check", leaf["id"], "--json")
    assert done.exit_code in (0, 1), (done.stdout, done.stderr)
    report = json.loads(done.stdout)
    assert report[0]["kind"] == "server"
    assert {f["id"] for f in report[0]["findings"]} >= {"leaf.san-present", "chain.trusted"}


@needs_tools
def test_import_skips_duplicates_reads_der_and_bundles_and_links_issuers(
    cli: Cli, passphrase_file: Path, mkcert: Mkcert, easyrsa: EasyRsa, tmp_path: Path
) -> None:
    cli.ok("import-ca", str(easyrsa.ca), str(easyrsa.ca_key))
    root_id = cli.json("list", "--json")[0]["id"]
    # easy-rsa's issued certificate has a text preamble; its issuer is the store's root.
    cli.ok("import", str(easyrsa.pki / "issued" / "srv.home.arpa.crt"))
    srv = cli.json("list", "--json")[-1]
    assert (srv["names"], srv["issuer"], srv["external"]) == (["srv.home.arpa"], root_id, True)
    # A bundle (leaf first, then its root) and a DER copy of the leaf in the same call.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(mkcert.leaf.read_bytes() + mkcert.root.read_bytes())
    der = tmp_path / "leaf.der"
    der.write_bytes(x509.load_pem_x509_certificate(mkcert.leaf.read_bytes()).public_bytes(_DER))
    done = cli.ok("import", str(bundle), str(der))
    assert done.exit_code == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("imported root mkcert ")
    assert lines[1].startswith("imported server mkleaf.home.arpa")
    assert lines[2].startswith("note: skipped mkleaf.home.arpa, 192.168.1.20: already in the store as ")
    records = cli.json("list", "--json")
    mk_root, mk_leaf = records[-2], records[-1]
    assert mk_root["kind"] == "root" and mk_root["external"] and not mk_root["has_key"]
    assert mk_leaf["issuer"] == mk_root["id"]
    # Again: everything is skipped, and that is not an error.
    again = cli.ok("import", str(bundle))
    assert again.stdout.count("note: skipped") == 2
    assert len(cli.json("list", "--json")) == len(records)


def test_import_of_a_file_without_certificates_changes_nothing(
    cli: Cli, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    make_store()
    before = cli.json("list", "--json")
    good = tmp_path / "good.pem"
    good.write_text(cli.ok("show", before[0]["id"], "--pem").stdout)
    empty = tmp_path / "empty.txt"
    empty.write_text("no certificate here\n")
    assert cli.error("import", str(good), str(empty)) == (
        f"{empty} holds no certificate (neither PEM nor DER); give a certificate file"
    )
    assert cli.json("list", "--json") == before


def test_import_keeps_a_certificate_whose_extensions_do_not_decode(
    cli: Cli, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    """Two SAN extensions (a private OID renamed in the DER): imported, and `check` judges it."""
    make_store()
    key = ec.generate_private_key(ec.SECP256R1())
    general = x509.SubjectAlternativeName([x509.DNSName("evil.home.arpa")]).public_bytes()
    decoy = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), general)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dup.home.arpa")])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("dup.home.arpa")]), critical=False)
        .add_extension(decoy, critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(_DER)
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    path = tmp_path / "dup.der"
    path.write_bytes(der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x11"))
    assert cli.ok("import", str(path)).stdout.startswith("imported server dup.home.arpa (id ")
    record = cli.json("list", "--json")[-1]
    assert (record["external"], record["names"]) == (True, [])
    done = cli("check", record["id"], "--json")
    assert done.exit_code == 1, (done.stdout, done.stderr)
    findings = {f["id"]: f["severity"] for f in json.loads(done.stdout)[0]["findings"]}
    assert findings["cert.ext-wellformed"] == "fail"
