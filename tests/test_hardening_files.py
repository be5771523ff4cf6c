"""Hostile files: truncated, junk-wrapped, random, mutated, huge, mismatched, wrongly encrypted."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hardening_support import dump, folder, made_ca, record
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.core.userfiles import MAX_INPUT_BYTES, read_user_file
from certtui.errors import CerttuiError
from certtui.paths import db_path

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER
# The passphrase of the encrypted CA key file (not the store's).
KEY_PASSPHRASE = "the key file's own secret"
# 100 MB, sparse: refusing it must not read it.
HUGE_BYTES = 100 * 1000 * 1000
# Reading the huge file would allocate 100 MB; refusing it allocates next to nothing.
PEAK_LIMIT_BYTES = 4 * 1024 * 1024
# Mutations per kind of file (certificate PEM, certificate DER, CSR, key): seeded, so a
# failure names a reproducible input.
MUTATIONS = 60
MUTATION_SEED = 20261127


def key_pem(key: ec.EllipticCurvePrivateKey, password: str | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, encryption)


@dataclass(frozen=True)
class Files:
    """A store with a leaf, and good files to spoil."""

    home: Path
    leaf_pem: bytes
    leaf_der: bytes
    csr_pem: bytes
    csr_der: bytes
    ca_pem: bytes
    ca_key_pem: bytes
    ca_key_encrypted: bytes
    other_key_pem: bytes
    key_der: bytes


@pytest.fixture
def files(make_store: Callable[..., Store], home: Path, passphrase_file: Path) -> Files:
    store = make_store(passphrase=PASSPHRASE)
    store.unlock(PASSPHRASE)
    leaf = issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))
    cert = store.certificate(leaf.id)
    store.close()
    device = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "printer.home.arpa")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("printer.home.arpa")]), critical=False)
        .sign(device, hashes.SHA256())
    )
    ca, ca_key = made_ca("Elsewhere Root CA")
    _, other = made_ca("Another Root CA")
    return Files(
        home=home,
        leaf_pem=cert.public_bytes(PEM),
        leaf_der=cert.public_bytes(DER),
        csr_pem=csr.public_bytes(PEM),
        csr_der=csr.public_bytes(DER),
        ca_pem=ca.public_bytes(PEM),
        ca_key_pem=key_pem(ca_key),
        ca_key_encrypted=key_pem(ca_key, KEY_PASSPHRASE),
        other_key_pem=key_pem(other),
        key_der=device.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def hostile(f: Files) -> dict[str, bytes]:
    """Files no command may take, each named; none of them holds a usable certificate."""
    rng = random.Random(MUTATION_SEED)
    body = f.leaf_pem.split(b"\n")
    return {
        "truncated PEM": f.leaf_pem[: len(f.leaf_pem) // 2],
        "truncated DER": f.leaf_der[: len(f.leaf_der) // 2],
        "PEM missing its last lines": b"\n".join(body[:-3]) + b"\n",
        "PEM with junk inside": f.leaf_pem.replace(b"\n", b"\n!!junk!!\n", 3),
        "PEM whose labels differ": f.leaf_pem.replace(b"END CERTIFICATE", b"END PRIVATE KEY"),
        "PEM header alone": b"-----BEGIN CERTIFICATE-----\n",
        "DER with bytes after it": f.leaf_der + b"\x00" * 16,
        "random bytes": rng.randbytes(4096),
        "NUL bytes": b"\x00" * 4096,
        "empty": b"",
        "UTF-16 text": "nas.home.arpa\n".encode("utf-16"),
        "a private key": f.other_key_pem,
    }


def run_clean(cli: Cli, *args: str) -> str:
    """A refusal: exit 2, one `error:` line, no traceback; returns the message."""
    return cli.error(*args)


# ---------------------------------------------------------------- every reader, every bad file


@pytest.mark.slow
def test_every_reader_refuses_every_hostile_file_in_one_line_and_changes_nothing(
    cli: Cli, files: Files, tmp_path: Path
) -> None:
    good_cert = tmp_path / "ca.pem"
    good_cert.write_bytes(files.ca_pem)
    good_key = tmp_path / "ca-key.pem"
    good_key.write_bytes(files.ca_key_pem)
    db = db_path(files.home)
    before, listing = dump(db), folder(files.home)
    readers: dict[str, Callable[[Path], tuple[str, ...]]] = {
        "import": lambda p: ("import", str(p)),
        "import-ca CERT": lambda p: ("import-ca", str(p), str(good_key)),
        "import-ca KEY": lambda p: ("import-ca", str(good_cert), str(p)),
        "sign": lambda p: ("sign", str(p)),
        "check": lambda p: ("check", str(p)),
        "check --root": lambda p: ("check", "nas.home.arpa", "--root", str(p)),
    }
    tried = 0
    for name, data in hostile(files).items():
        path = tmp_path / "hostile.bin"
        path.write_bytes(data)
        for reader, args in readers.items():
            if name == "a private key" and reader == "import-ca KEY":
                continue  # a key where a key goes: the mismatch test below covers it
            message = run_clean(cli, *args(path))
            assert str(path) in message, (name, reader, message)
            tried += 1
    assert dump(db) == before
    assert folder(files.home) == listing
    record("hostile_files_fixed", tried)


@pytest.mark.slow
def test_mutated_files_are_judged_or_refused_never_a_crash(cli: Cli, files: Files, tmp_path: Path) -> None:
    """Seeded byte flips, cuts and insertions of a certificate (PEM, DER), a CSR and a key."""
    rng = random.Random(MUTATION_SEED)

    def mutate(data: bytes) -> bytes:
        out = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(out))
            roll = rng.random()
            if roll < 0.7:
                out[at] = rng.randrange(256)
            elif roll < 0.85:
                del out[at : at + rng.randint(1, 8)]
            else:
                out[at:at] = rng.randbytes(rng.randint(1, 8))
        return bytes(out)

    db = db_path(files.home)
    before = dump(db)
    path = tmp_path / "mutated.bin"
    outcomes = {"refused": 0, "judged": 0}
    cases = [
        ("check", files.leaf_pem),
        ("check", files.leaf_der),
        ("sign", files.csr_der),
        ("import-ca", files.ca_key_pem),
    ]
    for command, original in cases:
        for _ in range(MUTATIONS):
            path.write_bytes(mutate(original))
            args = {
                "check": ["check", str(path)],
                "sign": ["sign", str(path)],
                "import-ca": ["import-ca", str(path), str(path)],
            }[command]
            result = cli(*args)
            assert "Traceback" not in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                command,
                result.exception,
            )
            if result.exit_code == 2:
                assert len(result.stderr.splitlines()) == 1, result.stderr
                assert result.stderr.startswith("error: ")
                outcomes["refused"] += 1
            else:
                # Only `check` judges what still decodes (a flipped signature byte, say).
                assert command == "check" and result.exit_code in (0, 1), (command, result.output)
                outcomes["judged"] += 1
    assert dump(db) == before
    record("mutated_files", sum(outcomes.values()))
    record("mutated_files_refused", outcomes["refused"])
    record("mutated_files_judged", outcomes["judged"])


# ---------------------------------------------------------------- outcomes named by the issue


def test_junk_around_a_pem_is_ignored(cli: Cli, files: Files, tmp_path: Path) -> None:
    wrapped = tmp_path / "wrapped.pem"
    wrapped.write_bytes(b"\x00\xffBinary preamble\r\n" + files.leaf_pem + b"\n\x1b[2J trailing junk\n")
    # check judges the certificate inside (the store's own leaf: nothing fails).
    out = json.loads(cli("check", str(wrapped), "--json").stdout)
    assert out[0]["subject"] == "CN=nas.home.arpa"
    assert cli.ok("import", str(wrapped)).stdout.startswith("note: skipped nas.home.arpa, 192.168.1.10")


def test_check_exits_2_for_what_is_not_a_certificate(cli: Cli, files: Files, tmp_path: Path) -> None:
    for data in (b"", b"hello\n", files.csr_pem, files.other_key_pem, files.leaf_der[:100]):
        path = tmp_path / "not-a-cert"
        path.write_bytes(data)
        result = cli("check", str(path))
        assert result.exit_code == 2, (data[:20], result.output)


def duplicate_extension(ca_pem: bytes, ca_key_pem: bytes) -> bytes:
    """A leaf with two subjectAltName extensions: a same-length decoy OID renamed in the DER."""
    ca = x509.load_pem_x509_certificate(ca_pem)
    key = serialization.load_pem_private_key(ca_key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.DNSName("nas.home.arpa")])
    decoy = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.99"), san.public_bytes())
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nas.home.arpa")]))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=90))
        .add_extension(san, critical=False)
        .add_extension(decoy, critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(DER)
    assert der.count(b"\x06\x03\x55\x1d\x63") == 1
    return der.replace(b"\x06\x03\x55\x1d\x63", b"\x06\x03\x55\x1d\x11")


def test_a_duplicate_extension_is_cert_ext_wellformed_exit_1(cli: Cli, files: Files, tmp_path: Path) -> None:
    path = tmp_path / "dup.der"
    path.write_bytes(duplicate_extension(files.ca_pem, files.ca_key_pem))
    result = cli("check", str(path), "--json")
    assert result.exit_code == 1, result.output
    findings = {f["id"]: f for f in json.loads(result.stdout)[0]["findings"]}
    assert findings["cert.ext-wellformed"]["severity"] == "fail"
    assert "appears more than once" in findings["cert.ext-wellformed"]["detail"]


def test_a_key_that_does_not_match_its_certificate(cli: Cli, files: Files, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-home"
    cert, key = tmp_path / "ca.pem", tmp_path / "wrong-key.pem"
    cert.write_bytes(files.ca_pem)
    key.write_bytes(files.other_key_pem)
    message = cli.error("--home", str(fresh), "import-ca", str(cert), str(key))
    assert message == (
        "the key does not match Elsewhere Root CA's certificate; give the key file that belongs to it"
    )
    assert not fresh.exists()


def test_an_encrypted_key_with_the_wrong_passphrase(cli: Cli, files: Files, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh-home"
    cert, key, wrong = tmp_path / "ca.pem", tmp_path / "ca-key.pem", tmp_path / "wrong"
    cert.write_bytes(files.ca_pem)
    key.write_bytes(files.ca_key_encrypted)
    wrong.write_text("not the key's passphrase\n")
    message = cli.error(
        "--home", str(fresh), "import-ca", str(cert), str(key), "--key-passphrase-file", str(wrong)
    )
    assert message == (
        f"{key} did not decrypt: the key passphrase is wrong (or the file is damaged); check the passphrase"
    )
    assert "not the key's passphrase" not in message
    assert not fresh.exists()
    # Into the existing store (as an intermediate): refused the same way, nothing changed.
    db = db_path(files.home)
    before = dump(db)
    assert cli.error("import-ca", str(cert), str(key), "--key-passphrase-file", str(wrong)) == message
    assert dump(db) == before


# ---------------------------------------------------------------- the size limit


def test_the_limit_is_one_mebibyte_counted_exactly(tmp_path: Path) -> None:
    path = tmp_path / "edge"
    path.write_bytes(b"a" * MAX_INPUT_BYTES)
    assert len(read_user_file(path, "certificate")) == MAX_INPUT_BYTES
    path.write_bytes(b"a" * (MAX_INPUT_BYTES + 1))
    with pytest.raises(CerttuiError) as info:
        read_user_file(path, "certificate")
    assert str(info.value) == (
        f"{path} is 1,048,577 bytes, more than any certificate can be (certtui reads at most 1 MiB); "
        "check that you gave the right file"
    )


def test_a_device_that_never_ends_is_read_no_further_than_the_limit() -> None:
    with pytest.raises(CerttuiError, match=r"^/dev/zero holds more than 1 MiB, more than any list"):
        read_user_file("/dev/zero", "list of names")


@pytest.mark.slow
def test_a_100_mb_file_is_refused_before_it_is_read_by_every_reader(
    cli: Cli, files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = tmp_path / "huge"
    with open(huge, "wb") as f:
        f.truncate(HUGE_BYTES)
    huge.chmod(0o600)  # a passphrase file others can read is refused before its size is looked at
    small = tmp_path / "small"
    small.write_bytes(b"")  # every warm-up run is refused early
    cert, key, encrypted = tmp_path / "ca.pem", tmp_path / "ca-key.pem", tmp_path / "ca-key-enc.pem"
    cert.write_bytes(files.ca_pem)
    key.write_bytes(files.ca_key_pem)
    encrypted.write_bytes(files.ca_key_encrypted)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(files.leaf_pem)
    env_readers = {
        "CERTTUI_PASSPHRASE_FILE": ("issue", "x.home.arpa"),
        "CERTTUI_NEW_PASSPHRASE_FILE": ("passwd",),
    }
    arg_readers: dict[str, Callable[[Path], tuple[str, ...]]] = {
        "import": lambda p: ("import", str(p)),
        "import-ca CERT": lambda p: ("import-ca", str(p), str(key)),
        "import-ca KEY": lambda p: ("import-ca", str(cert), str(p)),
        "--key-passphrase-file": lambda p: (
            "import-ca",
            str(cert),
            str(encrypted),
            "--key-passphrase-file",
            str(p),
        ),
        "sign": lambda p: ("sign", str(p)),
        "check": lambda p: ("check", str(p)),
        "check --root": lambda p: ("check", str(leaf), "--root", str(p)),
        "issue --from": lambda p: ("issue", "--from", str(p)),
        "--password-file": lambda p: (
            "export",
            "nas.home.arpa",
            "--format",
            "p12",
            "--out",
            str(tmp_path / "x.p12"),
            "--password-file",
            str(p),
        ),
    }
    db = db_path(files.home)
    before = dump(db)
    refused = 0

    def measured(*args: str) -> tuple[str, int]:
        tracemalloc.start()
        try:
            message = cli.error(*args)
            return message, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    for reader, args in arg_readers.items():
        cli(*args(small))  # imports whatever the command imports lazily, outside the measure
        message, peak = measured(*args(huge))
        assert str(huge) in message, (reader, message)
        assert "is 100,000,000 bytes, more than any " in message, (reader, message)
        assert peak < PEAK_LIMIT_BYTES, (reader, peak)
        refused += 1
    for env, args in env_readers.items():
        with monkeypatch.context() as patched:
            patched.setenv(env, str(huge))
            message, peak = measured(*args)
        assert message.startswith(f"${env} ({huge}) is 100,000,000 bytes, more than any "), message
        assert peak < PEAK_LIMIT_BYTES, (env, peak)
        refused += 1
    assert dump(db) == before
    assert not (tmp_path / "x.p12").exists()
    record("huge_file_readers_refused", refused)
