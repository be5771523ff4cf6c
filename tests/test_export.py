"""Every export format, read back with openssl, cryptography and plistlib; names, modes, errors."""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from certtui.cli import cli
from certtui.commands.lifecycle import FORMAT_NAMES
from certtui.core import export
from certtui.core.models import CertRecord, Kind, Status
from certtui.core.store import Store
from certtui.paths import db_path

# openssl runs as a real subprocess; a minute covers a loaded CI machine.
TIMEOUT_S = 60
PASSWORD = "export pass 1"
SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def pems(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Root, intermediate, a server, a wildcard server and a client, unencrypted; name -> id."""
    monkeypatch.setenv("CERTTUI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE", raising=False)
    ok("init", "--name", "Test Root CA", "--no-passphrase", "--intermediate")
    ok("issue", "nas.home.arpa", "192.168.1.10")
    ok("issue", "*.home.arpa")
    ok("issue", "--client", "me@home.arpa")
    rows = json.loads(ok("list", "--json").stdout)
    return {(r["names"][0] if r["names"] else r["subject"]): r["id"] for r in rows}


@pytest.fixture
def store(pki: dict[str, str]) -> Iterator[Store]:
    opened = Store.open(db_path())
    yield opened
    opened.close()


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\r\n")
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_cli_formats_match_core() -> None:
    assert FORMAT_NAMES == tuple(f.value for f in export.Format)


def test_pem_and_der_are_the_certificate(pki: dict[str, str], store: Store, out: Path) -> None:
    assert ok("export", "nas.home.arpa", "--format", "pem", "--out", str(out)).stdout == (
        f"wrote {out / 'nas.home.arpa.pem'}\n"
    )
    ok("export", "nas.home.arpa", "--format", "der", "--out", str(out))
    der = store.der(pki["nas.home.arpa"])
    assert pems(out / "nas.home.arpa.pem")[0].public_bytes(serialization.Encoding.DER) == der
    assert (out / "nas.home.arpa.der").read_bytes() == der
    assert mode(out / "nas.home.arpa.pem") == 0o644 and mode(out / "nas.home.arpa.der") == 0o644


def test_p12_is_modern_and_openssl_reads_it(
    pki: dict[str, str], store: Store, out: Path, pwfile: Path
) -> None:
    ok("export", "nas.home.arpa", "--format", "p12", "--out", str(out), "--password-file", str(pwfile))
    path = out / "nas.home.arpa.p12"
    assert mode(path) == 0o600
    info = openssl("pkcs12", "-info", "-noout", "-in", str(path), "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    assert "MAC: sha256" in info.stderr
    assert "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC" in info.stderr
    assert "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC" in info.stderr
    assert "pbeWithSHA1" not in info.stderr
    wrong = openssl("pkcs12", "-info", "-noout", "-in", str(path), "-passin", "pass:wrong")
    assert wrong.returncode != 0 and "Mac verify error" in wrong.stderr
    loaded = pkcs12.load_pkcs12(path.read_bytes(), PASSWORD.encode())
    assert loaded.cert is not None and loaded.key is not None
    assert loaded.cert.certificate == store.certificate(pki["nas.home.arpa"])
    assert loaded.key.public_key().public_bytes(*SPKI) == loaded.cert.certificate.public_key().public_bytes(
        *SPKI
    )
    assert [c.certificate for c in loaded.additional_certs] == [
        store.certificate(pki["Test Root CA Intermediate"])
    ]
    ok(
        "export",
        "nas.home.arpa",
        "--format",
        "p12",
        "--out",
        str(out / "root.p12"),
        "--password-file",
        str(pwfile),
        "--with-root",
    )
    loaded = pkcs12.load_pkcs12((out / "root.p12").read_bytes(), PASSWORD.encode())
    assert [c.certificate for c in loaded.additional_certs] == [
        store.certificate(pki["Test Root CA Intermediate"]),
        store.certificate(pki["Test Root CA"]),
    ]


def test_p12_legacy_is_3des_with_a_sha1_mac(pki: dict[str, str], out: Path, pwfile: Path) -> None:
    ok("export", "me@home.arpa", "--format", "p12-legacy", "--out", str(out), "--password-file", str(pwfile))
    path = out / "me@home.arpa-legacy.p12"
    assert mode(path) == 0o600
    # OpenSSL 3 keeps 3DES in its default provider, so no -legacy is needed to read this.
    info = openssl("pkcs12", "-info", "-noout", "-in", str(path), "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0, info.stderr
    assert "MAC: sha1" in info.stderr
    assert "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC" in info.stderr
    assert "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC" in info.stderr
    assert "AES" not in info.stderr
    wrong = openssl("pkcs12", "-info", "-noout", "-in", str(path), "-passin", "pass:wrong")
    assert wrong.returncode != 0 and "Mac verify error" in wrong.stderr


@pytest.mark.parametrize("fmt", ["p12", "p12-legacy", "key"])
def test_a_password_is_required(pki: dict[str, str], out: Path, tmp_path: Path, fmt: str) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\nsecond line\n")
    result = run("export", "nas.home.arpa", "--format", fmt, "--out", str(out), "--password-file", str(empty))
    assert result.exit_code == 2
    assert (
        result.stderr == f"error: --password-file ({empty}) holds an empty password; "
        "put it on the file's first line\n"
    )
    result = run("export", "nas.home.arpa", "--format", fmt, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {fmt} needs a password but stdin is not a terminal; give --password-file FILE\n"
    )
    assert list(out.iterdir()) == []


def test_root_mobileconfig(pki: dict[str, str], store: Store, out: Path) -> None:
    ok("export", "Test Root CA", "--format", "mobileconfig", "--out", str(out))
    path = out / "Test-Root-CA.mobileconfig"
    assert mode(path) == 0o644
    data = path.read_bytes()
    profile = plistlib.loads(data)
    root_der = store.der(pki["Test Root CA"])
    fp = hashlib.sha256(root_der).hexdigest()
    top = {
        "PayloadType": str,
        "PayloadVersion": int,
        "PayloadIdentifier": str,
        "PayloadUUID": str,
        "PayloadContent": list,
        "PayloadDisplayName": str,
        "PayloadDescription": str,
    }
    assert set(profile) == set(top)
    for key, kind in top.items():
        assert type(profile[key]) is kind, key
    assert profile["PayloadType"] == "Configuration"
    assert profile["PayloadVersion"] == 1
    assert profile["PayloadDisplayName"] == "Test Root CA"
    assert fp.upper() in profile["PayloadDescription"]
    assert "TargetDeviceType" not in profile
    (payload,) = profile["PayloadContent"]
    inner = {
        "PayloadType": str,
        "PayloadVersion": int,
        "PayloadIdentifier": str,
        "PayloadUUID": str,
        "PayloadContent": bytes,
        "PayloadCertificateFileName": str,
    }
    assert set(payload) == set(inner)
    for key, kind in inner.items():
        assert type(payload[key]) is kind, key
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadVersion"] == 1
    assert payload["PayloadContent"] == root_der
    assert payload["PayloadCertificateFileName"] == "Test-Root-CA.cer"
    assert fp in profile["PayloadIdentifier"] and fp in payload["PayloadIdentifier"]
    assert payload["PayloadIdentifier"] != profile["PayloadIdentifier"]
    assert payload["PayloadUUID"] != profile["PayloadUUID"]
    for value in (profile["PayloadUUID"], payload["PayloadUUID"]):
        assert str(uuid.UUID(value)).upper() == value
    # Exporting again gives the same identifiers (and the same bytes).
    ok("export", pki["Test Root CA"], "--format", "mobileconfig", "--out", str(out / "again.mobileconfig"))
    again = plistlib.loads((out / "again.mobileconfig").read_bytes())
    assert (again["PayloadIdentifier"], again["PayloadUUID"]) == (
        profile["PayloadIdentifier"],
        profile["PayloadUUID"],
    )
    assert (again["PayloadContent"][0]["PayloadIdentifier"], again["PayloadContent"][0]["PayloadUUID"]) == (
        payload["PayloadIdentifier"],
        payload["PayloadUUID"],
    )
    assert (out / "again.mobileconfig").read_bytes() == data
    # The enrollment server's iOS variant: TargetDeviceType 1, same identifiers.
    ios = plistlib.loads(export.root_profile(store.certificate(pki["Test Root CA"]), "Test-Root-CA", 1))
    assert ios["TargetDeviceType"] == 1 and type(ios["TargetDeviceType"]) is int
    assert {k: v for k, v in ios.items() if k != "TargetDeviceType"} == profile


def test_client_mobileconfig_holds_a_legacy_p12_and_no_password(
    pki: dict[str, str], store: Store, out: Path, pwfile: Path
) -> None:
    ok(
        "export",
        "me@home.arpa",
        "--format",
        "mobileconfig",
        "--out",
        str(out),
        "--password-file",
        str(pwfile),
    )
    path = out / "me@home.arpa.mobileconfig"
    assert mode(path) == 0o600
    profile = plistlib.loads(path.read_bytes())
    assert profile["PayloadType"] == "Configuration" and "TargetDeviceType" not in profile
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.pkcs12"
    assert payload["PayloadCertificateFileName"] == "me@home.arpa.p12"
    assert "Password" not in payload and "Password" not in profile
    p12 = out / "inner.p12"
    p12.write_bytes(payload["PayloadContent"])
    info = openssl("pkcs12", "-info", "-noout", "-in", str(p12), "-passin", f"pass:{PASSWORD}")
    assert info.returncode == 0 and "MAC: sha1" in info.stderr
    assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info.stderr
    loaded = pkcs12.load_pkcs12(payload["PayloadContent"], PASSWORD.encode())
    assert loaded.cert is not None and loaded.cert.certificate == store.certificate(pki["me@home.arpa"])
    again = plistlib.loads(
        export.render(
            store, store.get(pki["me@home.arpa"]), export.Format.MOBILECONFIG, password=PASSWORD
        ).data
    )
    assert again["PayloadUUID"] == profile["PayloadUUID"]


@pytest.mark.parametrize(
    ("name", "label"),
    [("nas.home.arpa", "a server certificate"), ("Test Root CA Intermediate", "an intermediate CA")],
)
def test_mobileconfig_refuses_servers_and_intermediates(
    pki: dict[str, str], out: Path, name: str, label: str
) -> None:
    result = run("export", pki[name], "--format", "mobileconfig", "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {pki[name]} is {label}, and profiles carry roots and client identities only; "
        "export the root's mobileconfig for phones, and fullchain + key for the server\n"
    )
    assert list(out.iterdir()) == []


def test_fullchain(pki: dict[str, str], store: Store, out: Path) -> None:
    ok("export", "nas.home.arpa", "--format", "fullchain", "--out", str(out))
    path = out / "nas.home.arpa-fullchain.pem"
    leaf, inter, root = (
        store.certificate(pki[n]) for n in ("nas.home.arpa", "Test Root CA Intermediate", "Test Root CA")
    )
    assert pems(path) == [leaf, inter]
    root_pem = out / "root.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    verify = openssl("verify", "-CAfile", str(root_pem), "-untrusted", str(path), str(path))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout == f"{path}: OK\n"
    ok("export", "nas.home.arpa", "--format", "fullchain", "--with-root", "--out", str(out / "three.pem"))
    assert pems(out / "three.pem") == [leaf, inter, root]


def test_p7b(pki: dict[str, str], store: Store, out: Path) -> None:
    ok("export", "nas.home.arpa", "--format", "p7b", "--out", str(out))
    path = out / "nas.home.arpa.p7b"
    printed = openssl("pkcs7", "-inform", "DER", "-in", str(path), "-print_certs", "-noout")
    assert printed.returncode == 0, printed.stderr
    # certificates is a DER SET OF, which DER sorts by encoding: compare without order.
    assert sorted(re.findall(r"subject=(.*)", printed.stdout)) == [
        "CN = Test Root CA",
        "CN = Test Root CA Intermediate",
        "CN = nas.home.arpa",
    ]
    assert set(pkcs7.load_der_pkcs7_certificates(path.read_bytes())) == {
        store.certificate(pki[n]) for n in ("nas.home.arpa", "Test Root CA Intermediate", "Test Root CA")
    }


def test_key_is_encrypted_pkcs8_matching_the_certificate(
    pki: dict[str, str], store: Store, out: Path, pwfile: Path
) -> None:
    result = ok(
        "export", "nas.home.arpa", "--format", "key", "--out", str(out), "--password-file", str(pwfile)
    )
    path = out / "nas.home.arpa-key.pem"
    assert result.stdout == f"wrote {path}\n"
    assert mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(path.read_bytes(), PASSWORD.encode())
    cert = store.certificate(pki["nas.home.arpa"])
    assert key.public_key().public_bytes(*SPKI) == cert.public_key().public_bytes(*SPKI)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(path.read_bytes(), b"wrong")
    check = openssl("pkey", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-pubout")
    assert check.returncode == 0
    assert check.stdout.encode() == cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_unencrypted_key_only_on_request(pki: dict[str, str], out: Path) -> None:
    result = ok("export", "nas.home.arpa", "--format", "key", "--unencrypted-key", "--out", str(out))
    path = out / "nas.home.arpa-key.pem"
    assert result.stdout == f"wrote {path}\n"
    assert (
        result.stderr
        == f"warning: {path} holds the private key unencrypted; keep it readable by its server only\n"
    )
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert mode(path) == 0o600


def test_ca_key_export_is_encrypted(pki: dict[str, str], store: Store, out: Path, pwfile: Path) -> None:
    ok("export", "Test Root CA", "--format", "key", "--out", str(out), "--password-file", str(pwfile))
    path = out / "Test-Root-CA-key.pem"
    key = serialization.load_pem_private_key(path.read_bytes(), PASSWORD.encode())
    root = store.certificate(pki["Test Root CA"])
    assert key.public_key().public_bytes(*SPKI) == root.public_key().public_bytes(*SPKI)
    assert mode(path) == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_modes_are_set_whatever_the_umask(pki: dict[str, str], out: Path, pwfile: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        ok("export", "nas.home.arpa", "--format", "key", "--out", str(out), "--password-file", str(pwfile))
        ok("export", "nas.home.arpa", "--format", "pem", "--out", str(out))
    finally:
        os.umask(old)
    assert mode(out / "nas.home.arpa-key.pem") == 0o600
    assert mode(out / "nas.home.arpa.pem") == 0o644


def test_overwriting_a_public_file_with_a_key_tightens_its_mode(
    pki: dict[str, str], out: Path, pwfile: Path
) -> None:
    target = out / "server.key"
    target.write_text("old")
    target.chmod(0o644)
    ok("export", "nas.home.arpa", "--format", "key", "--out", str(target), "--password-file", str(pwfile))
    assert mode(target) == 0o600
    assert target.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert sorted(p.name for p in out.iterdir()) == ["server.key"]  # no temp file left behind


def test_default_names(pki: dict[str, str], out: Path, pwfile: Path) -> None:
    expected = {
        ("*.home.arpa", "pem"): "_wildcard.home.arpa.pem",
        ("*.home.arpa", "key"): "_wildcard.home.arpa-key.pem",
        ("*.home.arpa", "fullchain"): "_wildcard.home.arpa-fullchain.pem",
        ("*.home.arpa", "p12"): "_wildcard.home.arpa.p12",
        ("*.home.arpa", "p12-legacy"): "_wildcard.home.arpa-legacy.p12",
        ("*.home.arpa", "p7b"): "_wildcard.home.arpa.p7b",
        ("*.home.arpa", "der"): "_wildcard.home.arpa.der",
        ("Test Root CA", "mobileconfig"): "Test-Root-CA.mobileconfig",
        ("Test Root CA Intermediate", "pem"): "Test-Root-CA-Intermediate.pem",
    }
    for (name, fmt), file in expected.items():
        extra = ["--password-file", str(pwfile)] if fmt in ("key", "p12", "p12-legacy") else []
        assert (
            ok("export", pki[name], "--format", fmt, "--out", str(out), *extra).stdout
            == f"wrote {out / file}\n"
        )
    ok("revoke", "nas.home.arpa")
    ok("export", "Test Root CA Intermediate", "--format", "crl", "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*expected.values(), "Test-Root-CA-Intermediate.crl"]
    )


def _record(kind: Kind, names: tuple[str, ...] = (), subject: str = "") -> CertRecord:
    return CertRecord(
        id="0123456789ab",
        serial="0123456789abcdef",
        kind=kind,
        subject=subject,
        names=names,
        issuer_id=None,
        not_before="",
        not_after="",
        status=Status.VALID,
        has_key=True,
        external=False,
        key_type="EC P-256",
        sha256="",
    )


def test_base_name_keeps_files_in_their_folder() -> None:
    assert export.base_name(_record(Kind.SERVER, ("fd00::1",))) == "fd00__1"
    assert export.base_name(_record(Kind.CLIENT, ("spiffe://home.arpa/x",))) == "spiffe___home.arpa_x"
    assert export.base_name(_record(Kind.ROOT, subject="../Home Root")) == "_Home-Root"
    assert export.base_name(_record(Kind.SERVER, ("*.lab.home.arpa",))) == "_wildcard.lab.home.arpa"
    assert export.base_name(_record(Kind.INTERMEDIATE)) == "0123456789ab"


def test_crl_export_is_the_last_signed_crl(pki: dict[str, str], store: Store, out: Path) -> None:
    inter = pki["Test Root CA Intermediate"]
    # `init` signed a first, empty CRL for every CA it made (issue 14).
    ok("export", inter, "--format", "crl", "--out", str(out))
    first = x509.load_der_x509_crl((out / "Test-Root-CA-Intermediate.crl").read_bytes())
    assert first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert len(first) == 0
    (out / "Test-Root-CA-Intermediate.crl").unlink()
    ok("revoke", "nas.home.arpa")
    before = store.conn.execute("SELECT COUNT(*) FROM crls").fetchone()[0]
    ok("export", inter, "--format", "crl", "--out", str(out))
    path = out / "Test-Root-CA-Intermediate.crl"
    from certtui.core.revocation import latest_crl

    stored = latest_crl(store, inter)
    assert stored is not None and path.read_bytes() == stored.der
    assert store.conn.execute("SELECT COUNT(*) FROM crls").fetchone()[0] == before
    assert mode(path) == 0o644
    result = run("export", "nas.home.arpa", "--format", "crl", "--out", str(out))
    assert result.exit_code == 2 and "only a CA has a CRL" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "pem", "--with-root"],
            "--with-root applies to fullchain, p12 and p12-legacy only; drop it for pem",
        ),
        (
            ["--format", "p12", "--unencrypted-key"],
            "--unencrypted-key applies to --format key only; drop it for p12",
        ),
        (
            ["--format", "pem", "--password-file", "PW"],
            "--password-file applies to key, p12, p12-legacy and a client's mobileconfig; drop it for pem",
        ),
        (
            ["--format", "key", "--unencrypted-key", "--password-file", "PW"],
            "--password-file applies to key, p12, p12-legacy and a client's mobileconfig; drop it for key "
            "with --unencrypted-key",
        ),
    ],
)
def test_options_that_do_not_apply_are_refused(
    pki: dict[str, str], out: Path, pwfile: Path, args: list[str], message: str
) -> None:
    args = [str(pwfile) if a == "PW" else a for a in args]
    result = run("export", "nas.home.arpa", *args, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert list(out.iterdir()) == []


def test_missing_folder_is_a_clear_error(pki: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "nope" / "x.pem"
    result = run("export", "nas.home.arpa", "--format", "pem", "--out", str(target))
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: the folder {target.parent} does not exist; create it or choose another --out\n"
    )


def test_encrypted_store_needs_its_passphrase_for_keys_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: Path, pwfile: Path
) -> None:
    monkeypatch.setenv("CERTTUI_HOME", str(tmp_path / "home"))
    secret = tmp_path / "passphrase"
    secret.write_text("store passphrase\n")
    secret.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(secret))
    ok("init", "--name", "Locked Root")
    ok("issue", "x.home.arpa")
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    ok("export", "x.home.arpa", "--format", "fullchain", "--out", str(out))
    result = run(
        "export", "x.home.arpa", "--format", "p12", "--out", str(out), "--password-file", str(pwfile)
    )
    assert result.exit_code == 2 and "a passphrase is needed" in result.stderr
    assert not (out / "x.home.arpa.p12").exists()
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(secret))
    ok("export", "x.home.arpa", "--format", "p12", "--out", str(out), "--password-file", str(pwfile))
    assert pkcs12.load_pkcs12((out / "x.home.arpa.p12").read_bytes(), PASSWORD.encode()).key is not None


def test_on_a_terminal_the_password_is_asked_twice(
    pki: dict[str, str], out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certtui.commands import lifecycle

    class Terminal:
        @staticmethod
        def isatty() -> bool:
            return True

    # CliRunner swaps sys.stdin for a pipe; this stands in for a terminal in the command only.
    monkeypatch.setattr(lifecycle, "sys", type("sys", (), {"stdin": Terminal}))
    result = CliRunner().invoke(
        cli, ["export", "nas.home.arpa", "--format", "p12", "--out", str(out)], input="typed pw\ntyped pw\n"
    )
    assert result.exit_code == 0, result.output
    assert "Password for the p12 file" in result.stderr and "Repeat for confirmation" in result.stderr
    assert result.stdout == f"wrote {out / 'nas.home.arpa.p12'}\n"
    assert pkcs12.load_pkcs12((out / "nas.home.arpa.p12").read_bytes(), b"typed pw").key is not None
