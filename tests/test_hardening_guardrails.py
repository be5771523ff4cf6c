"""Issue 13 §5: `sign` judges the CSR's real key, locked or not, and `import-ca` refuses roots
that can never issue a certificate an iPhone accepts, unless --force."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from support.cli import Cli

from certtui.core.timefmt import utcnow
from certtui.paths import db_path

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def weak_key(kind: str) -> PrivateKey:
    if kind == "rsa1024":
        return rsa.generate_private_key(public_exponent=65537, key_size=1024)
    if kind == "secp256k1":
        return ec.generate_private_key(ec.SECP256K1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


# ---------------------------------------------------------------- sign


def write_csr(path: Path, key: PrivateKey, name: str = "printer.home.arpa") -> Path:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, _hash(key))
    )
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(params=["passphrase", "no-passphrase"])
def any_store(request: pytest.FixtureRequest, cli: Cli) -> str:
    """A store with a passphrase (locked until `sign` asks) or one without."""
    if request.param == "passphrase":
        request.getfixturevalue("passphrase_file")
        cli.ok("init", "--name", "Home Lab Root CA")
    else:
        cli.ok("init", "--name", "Home Lab Root CA", "--no-passphrase")
    return str(request.param)


@pytest.mark.parametrize("kind", ["rsa1024", "secp256k1"])
def test_sign_judges_the_csrs_real_key(cli: Cli, any_store: str, tmp_path: Path, kind: str) -> None:
    csr = write_csr(tmp_path / "device.csr", weak_key(kind))
    message = cli.error("sign", str(csr))
    assert message.startswith("refused: printer.home.arpa would fail leaf.key-strength ("), message
    assert ("RSA 1024" if kind == "rsa1024" else "secp256k1") in message
    assert [r["kind"] for r in cli.json("list", "--json")] == ["root"]
    # --force still signs it, and says what it overrode.
    forced = cli.ok("sign", str(csr), "--force")
    assert "leaf.key-strength" in forced.stderr
    assert [r["kind"] for r in cli.json("list", "--json")] == ["root", "server"]


def test_sign_of_a_good_csr_still_passes(cli: Cli, any_store: str, tmp_path: Path) -> None:
    csr = write_csr(tmp_path / "device.csr", weak_key("p256"))
    done = cli.ok("sign", str(csr))
    assert "BEGIN CERTIFICATE" in done.stdout and "warning" not in done.stderr


# ---------------------------------------------------------------- import-ca


def write_root(where: Path, kind: str) -> tuple[Path, Path]:
    """A self-signed CA that is a dead end for iPhones in one way (`kind`), or a good one."""
    key = weak_key(kind if kind in ("rsa1024", "ed25519") else "p256")
    now = utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Old Router CA ({kind})")])
    not_before = now + timedelta(days=30) if kind == "future" else now - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    )
    if kind == "critical-ext":
        unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
        builder = builder.add_extension(unknown, critical=True)
    cert = builder.sign(key, _hash(key))
    cert_path, key_path = where / "ca.pem", where / "ca.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


DEAD_ENDS = {
    "rsa1024": "RSA 1024",
    "future": "not valid until",
    "critical-ext": "1.3.6.1.4.1.55555.1",
    "ed25519": "Ed25519",
}


@pytest.mark.parametrize("kind", list(DEAD_ENDS))
def test_import_ca_refuses_a_dead_end_root(cli: Cli, home: Path, tmp_path: Path, kind: str) -> None:
    cert, key = write_root(tmp_path, kind)
    message = cli.error("import-ca", str(cert), str(key), "--no-passphrase")
    assert DEAD_ENDS[kind] in message, message
    assert "--force" in message
    assert not db_path(home).exists()
    # --force imports it anyway, and says why it is a dead end.
    done = cli.ok("import-ca", str(cert), str(key), "--no-passphrase", "--force")
    assert DEAD_ENDS[kind] in done.stdout + done.stderr
    assert [r["kind"] for r in cli.json("list", "--json")] == ["root"]


def test_import_ca_of_a_good_root_needs_no_force(cli: Cli, tmp_path: Path) -> None:
    cert, key = write_root(tmp_path, "p256")
    done = cli.ok("import-ca", str(cert), str(key), "--no-passphrase")
    assert done.stdout.startswith("imported root Old Router CA (p256)")
