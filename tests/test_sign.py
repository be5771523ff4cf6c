"""`certtui sign`: CSRs made by the real `openssl req`, signed and checked by `openssl verify`."""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from support.cli import Cli
from support.store import PASSPHRASE

from certtui.core.store import Store

OPENSSL = shutil.which("openssl")
# openssl makes one EC key and one CSR; a minute only stops a hang.
TOOL_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, *args], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False
    )


def make_csr(where: Path, subject: str, *addext: str) -> Path:
    """A P-256 key and CSR made by `openssl req -new`, as a router would make them."""
    csr = where / "device.csr"
    extra = [arg for ext in addext for arg in ("-addext", ext)]
    done = openssl(
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        str(where / "device.key"),
        "-out",
        str(csr),
        "-subj",
        subject,
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return csr


@pytest.fixture
def store(make_store: Callable[..., Store], passphrase_file: Path) -> Store:
    return make_store(passphrase=PASSPHRASE)


@pytest.fixture
def root_pem(store: Store, tmp_path: Path) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(store.certificate(store.root_id() or "").public_bytes(serialization.Encoding.PEM))
    return path


def test_sign_carries_the_sans_over_and_openssl_verifies(
    cli: Cli, store: Store, root_pem: Path, tmp_path: Path
) -> None:
    csr = make_csr(
        tmp_path,
        "/CN=ignored-cn/O=Router Vendor/C=DE",
        "subjectAltName=DNS:router.home.arpa,IP:192.168.1.1,DNS:Router2.home.arpa",
    )
    done = cli.ok("sign", str(csr))
    assert done.stdout.startswith("-----BEGIN CERTIFICATE-----\n")
    assert done.stderr.startswith("signed server router.home.arpa, router2.home.arpa, 192.168.1.1 (id ")
    leaf = tmp_path / "leaf.pem"
    leaf.write_text(done.stdout)
    verified = openssl(
        "verify",
        "-CAfile",
        str(root_pem),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "router2.home.arpa",
        str(leaf),
    )
    assert verified.stdout == f"{leaf}: OK\n", verified.stdout + verified.stderr
    cert = x509.load_pem_x509_certificate(leaf.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["router.home.arpa", "router2.home.arpa"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.168.1.1"]
    # certtui's CN rule: the first DNS name; the CSR's other subject fields are ignored.
    assert cert.subject.rfc4514_string() == "CN=router.home.arpa"
    # The device keeps its key: the certificate carries the CSR's, and the store holds none.
    csr_obj = x509.load_pem_x509_csr(csr.read_bytes())
    assert cert.public_key() == csr_obj.public_key()
    record = cli.json("list", "--json")[-1]
    assert (record["kind"], record["has_key"], record["external"]) == ("server", False, False)
    assert record["issuer"] == store.root_id()


def test_sign_writes_out_and_takes_the_cn_when_there_is_no_san(
    cli: Cli, store: Store, root_pem: Path, tmp_path: Path
) -> None:
    csr = make_csr(tmp_path, "/CN=printer.home.arpa/OU=Office")
    out = tmp_path / "printer.crt"
    done = cli.ok("sign", str(csr), "--client", "--days", "90", "--out", str(out))
    assert done.stdout.splitlines()[-1] == f"wrote {out}"
    assert out.stat().st_mode & 0o777 == 0o644
    cert = x509.load_pem_x509_certificate(out.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["printer.home.arpa"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 90
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME) == []


def test_renew_refuses_a_certificate_whose_key_is_on_the_device(
    cli: Cli, store: Store, tmp_path: Path
) -> None:
    csr = make_csr(tmp_path, "/CN=router.home.arpa", "subjectAltName=DNS:router.home.arpa")
    cli.ok("sign", str(csr))
    before = len(store.records())
    error = cli.error("renew", "router.home.arpa")
    assert "its key lives on the device" in error and "certtui sign" in error
    assert len(store.records()) == before


def test_a_tampered_csr_is_refused_and_nothing_is_stored(cli: Cli, store: Store, tmp_path: Path) -> None:
    csr = make_csr(tmp_path, "/CN=nas", "subjectAltName=DNS:nas.home.arpa")
    der = x509.load_pem_x509_csr(csr.read_bytes()).public_bytes(serialization.Encoding.DER)
    # Same length, one name changed: the structure decodes, the self-signature no longer matches.
    assert der.count(b"nas.home.arpa") == 1
    tampered = tmp_path / "tampered.csr"
    body = base64.encodebytes(der.replace(b"nas.home.arpa", b"evil.home.arp")).decode()
    tampered.write_text(f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n")
    before = cli.json("list", "--json")
    message = cli.error("sign", str(tampered))
    assert message == (
        "the CSR's signature does not match its key (damaged or tampered with); make a new CSR on the device"
    )
    assert cli.json("list", "--json") == before
    # The DER form of the untampered request signs.
    good = tmp_path / "good.der"
    good.write_bytes(der)
    cli.ok("sign", str(good))


@pytest.mark.parametrize(
    ("subject", "addext", "message"),
    [
        (
            "/O=Nameless",
            (),
            "the CSR names no host: it has neither a subjectAltName nor a common name; "
            "make it again with the device's host name",
        ),
        (
            "/CN=My Router",
            (),
            "the CSR has no subjectAltName, and its common name 'My Router' is not a host "
            "name, IP, email or URI; make the CSR again with the device's host name",
        ),
        ("/CN=x", ("subjectAltName=DNS:bad_name.home.arpa",), "the CSR's subjectAltName has a bad name"),
        ("/CN=x", ("subjectAltName=dirName:dir_sect",), None),
        ("/CN=outside.example.com", (), "outside the permitted names home.arpa"),
    ],
)
def test_unusable_csrs_are_refused(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    tmp_path: Path,
    subject: str,
    addext: tuple[str, ...],
    message: str | None,
) -> None:
    make_store(passphrase=PASSPHRASE, permit=["home.arpa"])
    if addext == ("subjectAltName=dirName:dir_sect",):
        # openssl needs a config section for a directory name; a router could still send one.
        config = tmp_path / "req.cnf"
        config.write_text("[req]\ndistinguished_name = dn\n[dn]\n[dir_sect]\nCN = dir\n")
        csr = tmp_path / "dir.csr"
        done = openssl(
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(tmp_path / "k"),
            "-out",
            str(csr),
            "-subj",
            subject,
            "-config",
            str(config),
            "-addext",
            addext[0],
        )
        assert done.returncode == 0, done.stderr
        message = "the CSR's subjectAltName holds a DirectoryName entry, which certtui does not sign"
    else:
        csr = make_csr(tmp_path, subject, *addext)
    assert message is not None
    assert message in cli.error("sign", str(csr))
    assert len(cli.json("list", "--json")) == 1


def test_sign_reads_a_csr_file_with_text_around_it_and_refuses_other_files(
    cli: Cli, store: Store, tmp_path: Path, root_pem: Path
) -> None:
    csr = make_csr(tmp_path, "/CN=cam.home.arpa")
    wrapped = tmp_path / "wrapped.csr"
    wrapped.write_text("Certificate Request:\n    made by the camera\n" + csr.read_text())
    cli.ok("sign", str(wrapped))
    assert cli.error("sign", str(root_pem)) == (
        f"{root_pem} holds a CERTIFICATE, not a CSR; give the certificate request"
    )


def test_sign_has_the_issue_guardrail(cli: Cli, store: Store, tmp_path: Path, root_pem: Path) -> None:
    csr = make_csr(tmp_path, "/CN=long.home.arpa")
    before = cli.json("list", "--json")
    message = cli.error("sign", str(csr), "--days", "900")
    assert message.startswith("refused: long.home.arpa would fail leaf.lifetime-825 (")
    assert message.endswith("; change the request, or add --force to issue it anyway")
    assert cli.json("list", "--json") == before
    done = cli.ok("sign", str(csr), "--days", "900", "--force")
    assert "warning: long.home.arpa: leaf.lifetime-825: " in done.stderr
    cert = x509.load_pem_x509_certificate(done.stdout.encode())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 900


def test_a_csr_whose_extensions_do_not_decode_is_refused(cli: Cli, store: Store, tmp_path: Path) -> None:
    """A signed CSR with a malformed subjectAltName: refused, not signed for its CN."""
    key = ec.generate_private_key(ec.SECP256R1())
    bad_san = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x04\x01\x00")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nas.home.arpa")]))
        .add_extension(bad_san, critical=False)
        .sign(key, hashes.SHA256())
    )
    assert csr.is_signature_valid
    path = tmp_path / "bad.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    assert cli.error("sign", str(path)) == (
        "the CSR's extensions do not decode (one is malformed or repeated); make a new CSR on the device"
    )
    assert len(cli.json("list", "--json")) == 1
