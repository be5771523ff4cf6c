"""Secrets stay secret: no key, passphrase or KEK in any output or the audit log; none kept; 0600."""

from __future__ import annotations

import base64
import gc
import os
import secrets
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import click
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hardening_support import made_ca, record
from support.cli import Cli, Proc
from support.store import PASSPHRASE
from support.tui import settle

from certtui.core import keys as keymod
from certtui.core.store import Store
from certtui.paths import db_path

NEW_PASSPHRASE = "a new passphrase for the store"
EXPORT_PASSWORD = "the export's own password"
KEY_PASSPHRASE = "the imported key's passphrase"


def key_forms(key: object) -> list[str]:
    """Every text form of a private key that could leak: PEM body lines and the raw secret in hex."""
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    forms = [line for line in pem.splitlines() if "-----" not in line and len(line) >= 16]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        forms.append(format(key.private_numbers().private_value, "x"))
    else:
        forms.append(format(key.private_numbers().d, "x")[:64])
    return forms


def kek_forms(kek: bytes) -> list[str]:
    return [
        kek.hex(),
        kek.hex().upper(),
        base64.b64encode(kek).decode(),
        base64.urlsafe_b64encode(kek).decode().rstrip("="),
    ]


def every_key(db: Path, passphrase: str) -> list[object]:
    with closing(Store.open(db)) as store:
        store.unlock(passphrase)
        return [store.private_key(r.id) for r in store.records() if r.has_key]


def kek_of(db: Path, passphrase: str) -> bytes:
    with closing(Store.open(db)) as store:
        params = keymod.KdfParams.from_json(store.meta("kdf") or "")
    return keymod.derive_kek(passphrase, params)


def audit_log(db: Path) -> str:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return "\n".join(" ".join(str(c) for c in row) for row in conn.execute("SELECT * FROM events"))


@pytest.mark.slow
def test_no_key_passphrase_or_kek_in_any_output_or_the_audit_log(
    cli: Cli, home: Path, tmp_path: Path, passphrase_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out: list[str] = []

    def run(*args: str, ok: bool = True) -> None:
        result = cli(*args)
        out.append(result.stdout + result.stderr)
        assert (result.exit_code in (0, 1)) == ok, (args, result.output)

    password = tmp_path / "export-password"
    password.write_text(EXPORT_PASSWORD + "\n")
    new = tmp_path / "new-passphrase"
    new.write_text(NEW_PASSPHRASE + "\n")
    new.chmod(0o600)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(new))
    device = ec.generate_private_key(ec.SECP256R1())
    csr = tmp_path / "device.csr"
    csr.write_bytes(
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "printer.home.arpa")]))
        .sign(device, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    ca, ca_key = made_ca("Elsewhere Root CA")
    ca_file, ca_key_file, wrong = tmp_path / "ca.pem", tmp_path / "ca-key.pem", tmp_path / "wrong"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    ca_key_file.write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSPHRASE.encode()),
        )
    )
    wrong.write_text("not it\n")
    exports = tmp_path / "exports"
    exports.mkdir()

    run(
        "init",
        "--name",
        "Home Root",
        "--intermediate",
        "--permit",
        "home.arpa",
        "--permit",
        "192.168.0.0/16",
        "--permit",
        "127.0.0.0/8",
    )
    db = db_path(home)
    old_kek = kek_of(db, PASSPHRASE)
    run("issue", "nas.home.arpa", "192.168.1.10", "--json")
    run("issue", "--client", "me@home.arpa")
    run("issue", "outside.example.com", ok=False)
    run("sign", str(csr))
    run("import", str(ca_file))
    for args in (
        ["list"],
        ["list", "--json"],
        ["show", "nas.home.arpa"],
        ["show", "nas.home.arpa", "--pem"],
        ["check", "nas.home.arpa"],
        ["check", "nas.home.arpa", "--json"],
        ["locate"],
    ):
        run(*args)
    for fmt in ("key", "p12", "p12-legacy"):
        run(
            "export",
            "nas.home.arpa",
            "--format",
            fmt,
            "--out",
            str(exports),
            "--password-file",
            str(password),
        )
    run(
        "export",
        "me@home.arpa",
        "--format",
        "mobileconfig",
        "--out",
        str(exports),
        "--password-file",
        str(password),
    )
    run(
        "export", "nas.home.arpa", "--format", "key", "--unencrypted-key", "--out", str(exports / "plain.pem")
    )
    run("export", "nas.home.arpa", "--format", "fullchain", "--out", str(exports))
    run("renew", "nas.home.arpa")
    run("revoke", "me@home.arpa", "--reason", "keyCompromise")
    run("crl")
    run("backup", str(tmp_path / "backup.db"))
    run(
        "enroll",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--tls-port",
        "0",
        "--advertise",
        "127.0.0.1",
        "--timeout",
        "1",
    )
    run("import-ca", str(ca_file), str(ca_key_file), "--key-passphrase-file", str(wrong), ok=False)
    run("passwd")
    run("issue", "after.home.arpa", ok=False)  # the old passphrase no longer opens it
    new_kek = kek_of(db, NEW_PASSPHRASE)
    run(
        "--home",
        str(tmp_path / "other"),
        "import-ca",
        str(ca_file),
        str(ca_key_file),
        "--key-passphrase-file",
        str(wrong),
        ok=False,
    )

    texts = {"output": "\n".join(out), "audit log": audit_log(db)}
    forbidden = [
        PASSPHRASE,
        NEW_PASSPHRASE,
        EXPORT_PASSWORD,
        KEY_PASSPHRASE,
        "not it",
        *kek_forms(old_kek),
        *kek_forms(new_kek),
    ]
    keys = [*every_key(db, NEW_PASSPHRASE), device, ca_key]
    forbidden += [form for key in keys for form in key_forms(key)]
    for where, text in texts.items():
        assert "PRIVATE KEY" not in text, where
        for secret in forbidden:
            assert secret not in text, (where, secret[:12])
    record("secret_forms_searched", len(forbidden))
    record("secret_outputs_searched", len(out))


def test_no_option_takes_a_passphrase_or_password_on_the_command_line() -> None:
    from certtui.cli import cli

    def walk(command: click.Command) -> Iterator[click.Parameter]:
        yield from command.params
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield from walk(sub)

    secret_words = ("passphrase", "password", "secret", "pass")
    seen = []
    for param in walk(cli):
        if not isinstance(param, click.Option):
            continue
        for name in param.opts:
            if any(word in name for word in secret_words):
                seen.append(name)
                # A flag (--no-passphrase) or a file that holds the secret; never the secret itself.
                assert param.is_flag or name.endswith("-file"), name
    assert {"--no-passphrase", "--key-passphrase-file", "--password-file"} <= set(seen)


def holders(secret: bytes, own: object) -> list[str]:
    """The types of the objects that still reference a str or bytes equal to (holding) `secret`."""
    gc.collect()
    text = secret.decode()
    found = []
    for obj in gc.get_objects():
        for ref in gc.get_referents(obj):
            if ref is own:
                continue
            if (type(ref) is str and ref == text) or (type(ref) in (bytes, bytearray) and secret in ref):
                found.append(type(obj).__name__)
    return found


def test_the_cli_keeps_no_passphrase_once_the_kek_is_derived(
    make_store: Callable[..., Store], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certtui.cli import Session

    secret = secrets.token_hex(16).encode()
    make_store(passphrase=secret.decode()).close()
    path = tmp_path / "passphrase"
    path.write_bytes(secret + b"\n")
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(path))
    session = Session(str(home))
    store = session.unlocked_store()
    assert store.unlocked
    assert holders(secret, secret) == []
    assert all(v != secret.decode() for v in vars(session).values())
    assert all(v != secret.decode() for v in vars(store).values())
    store.close()


async def test_the_tui_keeps_no_passphrase_once_unlocked(home: Path) -> None:
    from certtui.core.issuance import init_store
    from certtui.core.models import InitRequest
    from certtui.tui.app import make_app
    from certtui.tui.screens.unlock import UnlockScreen

    secret = secrets.token_hex(16).encode()
    store, _ = init_store(db_path(home), InitRequest(name="Locked Root"), secret.decode())
    store.close()
    store = Store.open(db_path(home))
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.jobs.require_unlock(lambda: None)
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await pilot.press(*secret.decode(), "enter")
        await settle(app, pilot)
        assert store.unlocked
        assert holders(secret, secret) == []


async def test_the_tui_setup_keeps_no_passphrase_once_the_store_is_made(home: Path) -> None:
    from certtui.tui.app import make_app
    from certtui.tui.screens.cert_list import CertListScreen
    from certtui.tui.screens.setup import SetupScreen

    secret = secrets.token_hex(16).encode()
    app = make_app(None, db_path=db_path(home))
    async with app.run_test(size=(100, 40)) as pilot:
        assert isinstance(app.screen, SetupScreen)
        app.screen.query_one("#root-name").value = "Flat Root"  # type: ignore[attr-defined]
        app.screen.query_one("#passphrase").value = secret.decode()  # type: ignore[attr-defined]
        app.screen.query_one("#passphrase2").value = secret.decode()  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CertListScreen)
        assert app.store is not None and app.store.unlocked
        assert holders(secret, secret) == []


# ---------------------------------------------------------------- file modes under umask 000


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_every_file_holding_a_key_is_0600_and_the_store_0700_under_umask_000(
    proc: Proc, home: Path, tmp_path: Path, passphrase_file: Path
) -> None:
    password = tmp_path / "password"
    password.write_text(EXPORT_PASSWORD + "\n")
    out = tmp_path / "out"
    other = tmp_path / "restored"
    with umask(0o000):
        out.mkdir()
        proc.ok("init", "--name", "Home Root", "--intermediate")
        proc.ok("issue", "nas.home.arpa")
        proc.ok("issue", "--client", "me@home.arpa")
        for fmt in ("key", "p12", "p12-legacy"):
            proc.ok(
                "export",
                "nas.home.arpa",
                "--format",
                fmt,
                "--out",
                str(out),
                "--password-file",
                str(password),
            )
        proc.ok(
            "export",
            "me@home.arpa",
            "--format",
            "mobileconfig",
            "--out",
            str(out),
            "--password-file",
            str(password),
        )
        proc.ok(
            "export",
            "nas.home.arpa",
            "--format",
            "key",
            "--unencrypted-key",
            "--out",
            str(out / "plain-key.pem"),
        )
        for fmt in ("pem", "fullchain", "der"):
            proc.ok("export", "nas.home.arpa", "--format", fmt, "--out", str(out))
        proc.ok("crl", "--der", "--out", str(out / "ca.crl"))
        proc.ok("backup", str(tmp_path / "backup.db"))
        proc.ok("--home", str(other), "restore", str(tmp_path / "backup.db"))
        proc.ok("--home", str(other), "issue", "restored.home.arpa")
    private = {
        "nas.home.arpa-key.pem",
        "nas.home.arpa.p12",
        "nas.home.arpa-legacy.p12",
        "me@home.arpa.mobileconfig",
        "plain-key.pem",
    }
    for path in out.iterdir():
        assert mode(path) == (0o600 if path.name in private else 0o644), path.name
    assert private <= {p.name for p in out.iterdir()}
    assert mode(tmp_path / "backup.db") == 0o600
    checked = 0
    for folder in (home, other):
        assert mode(folder) == 0o700
        for path in folder.iterdir():
            assert mode(path) == 0o600, path
            checked += 1
    record("umask_000_files_checked", checked + len(private) + 1)
