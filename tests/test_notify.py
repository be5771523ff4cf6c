"""Notifications into real receivers on 127.0.0.1 (aiosmtpd with STARTTLS and a login, an aiohttp
server posing as ntfy and as webhooks): the right events, once each per change, no secret anywhere."""

from __future__ import annotations

import email
import json
import ssl
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE
from upkeep_support import Received, free_port, http_receiver

from certtui.core import export, revocation
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow

SMTP_PASSWORD = "smtp-password-never-shown"
P12_PASSWORD = "p12-password-never-shown"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def store(make_store: Callable[..., Store], passphrase_file: Path) -> Store:
    # A root with 150 days left: within the 180 days of warning.
    made = make_store(passphrase=PASSPHRASE, days=150)
    made.unlock(PASSPHRASE)
    return made


@pytest.fixture
def smtp(store: Store, tmp_path: Path) -> Iterator[tuple[int, Inbox]]:
    """aiosmtpd on 127.0.0.1 with STARTTLS (a certificate from this store) and a required login."""
    rec = issue_one(store, IssueRequest(names=("127.0.0.1",)))
    chain, key = tmp_path / "smtp-chain.pem", tmp_path / "smtp-key.pem"
    chain.write_bytes(export.fullchain_pem(store.certificate(rec.id), []))
    key.write_bytes(export.key_pem(store.private_key(rec.id), None, unencrypted=True))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)

    def login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"alice"
            and data.password == SMTP_PASSWORD.encode()
        )
        return AuthResult(success=ok)

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True, authenticator=login
    )
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _secret_file(tmp_path: Path, name: str, secret: str) -> Path:
    path = tmp_path / name
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def _csr(tmp_path: Path, name: str) -> Path:
    from cryptography import x509

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / f"{name}.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def _texts(http: list[Received], inbox: list[bytes]) -> list[str]:
    out = [r.body.decode() + json.dumps(r.headers) for r in http]
    for raw in inbox:
        msg = email.message_from_bytes(raw, policy=email_policy.default)
        out.append(str(msg["Subject"]) + "\n" + msg.get_content())  # type: ignore[attr-defined]
    return out


def test_each_event_reaches_every_channel_once_and_holds_no_secret(
    store: Store, smtp: tuple[int, Inbox], cli: Cli, tmp_path: Path
) -> None:
    port, inbox = smtp
    # 1. A leaf with a week left and no deploy target: nothing will renew it.
    lonely = issue_one(store, IssueRequest(names=("printer.home.arpa",)), now=utcnow() - timedelta(days=390))
    # 2. A due leaf whose deploy target's reload fails.
    due = issue_one(store, IssueRequest(names=("nas.home.arpa",)), now=utcnow() - timedelta(days=300))
    p12_password = _secret_file(tmp_path, "p12-password", P12_PASSWORD)
    cli.ok(
        "deploy", "add", due.id, "--key", str(tmp_path / "nas.key"), "--p12", str(tmp_path / "nas.p12"),
        "--password-file", str(p12_password), "--reload", "sh -c 'exit 4'",
    )  # fmt: skip
    # 3. A certificate signed from a device's CSR (its key is on the device): renewal fails.
    signed = (
        cli.json("sign", str(_csr(tmp_path, "cam.home.arpa")), "--days", "30", "--json") if False else None
    )
    del signed
    cli.ok("sign", str(_csr(tmp_path, "cam.home.arpa")), "--days", "30")
    cam = store.resolve("cam.home.arpa")
    cli.ok("deploy", "add", cam.id, "--fullchain", str(tmp_path / "cam.pem"))
    # 4. A CRL whose nextUpdate is two days away.
    revocation.sign_crl(store, store.root_id() or "", days=2)

    smtp_password = _secret_file(tmp_path, "smtp-password", SMTP_PASSWORD)
    with http_receiver() as (base, http):
        cli.ok("notify", "add", "ntfy", f"{base}/certs")
        cli.ok("notify", "add", "webhook", f"{base}/hook", "--format", "json")
        cli.ok("notify", "add", "webhook", f"{base}/slack", "--format", "slack")
        cli.ok(
            "notify", "add", "email", "admin@home.arpa", "--smtp", f"127.0.0.1:{port}", "--starttls",
            "--user", "alice", "--password-file", str(smtp_password),
        )  # fmt: skip
        first = cli("renew", "--due", "--min-days", "40")
        assert first.exit_code == 1
        failures = first.stderr.splitlines()
        assert len(failures) == 2 and all(line.startswith("failed: ") for line in failures), first.stderr
        kinds = sorted(json.loads(r.body)["event"] for r in http if r.path == "/hook")
        assert kinds == ["ca-expiry", "crl", "deploy-failed", "expiry", "renew-failed"]
        ntfy = [r for r in http if r.path == "/certs"]
        slack = [r for r in http if r.path == "/slack"]
        assert len(ntfy) == 5 and len(slack) == 5 and len(inbox.messages) == 5
        titles = sorted(r.headers["Title"] for r in ntfy)
        assert "certtui: printer.home.arpa expires soon" in titles
        expiry = next(r.body.decode() for r in ntfy if "printer" in r.headers["Title"])
        assert lonely.id in expiry and "nothing will renew it" in expiry and "Fix: " in expiry
        assert all("text" in json.loads(r.body) for r in slack)
        subjects = sorted(str(email.message_from_bytes(m)["Subject"]) for m in inbox.messages)
        assert "certtui: deploy of nas.home.arpa failed" in subjects

        # The same state again: nothing new is sent.
        assert cli("renew", "--due", "--min-days", "40").exit_code == 1
        assert len(http) == 15 and len(inbox.messages) == 5

        # The deploy recovers (the event is over), then fails again: that is news once more.
        cli.ok("deploy", "remove", "1")
        cli.ok(
            "deploy", "add", due.id, "--key", str(tmp_path / "nas.key"), "--reload", "sh -c 'exit 5'",
        )  # fmt: skip
        assert cli("renew", "--due", "--min-days", "40").exit_code == 1
        fresh = [json.loads(r.body)["event"] for r in http[15:] if r.path == "/hook"]
        assert fresh == ["deploy-failed"]

        everything = _texts(http, inbox.messages)
    # 15 HTTP and 5 mails at first, then the deploy failure again on each of the four channels.
    assert len(everything) == 24 and len(inbox.messages) == 6
    for text in everything:
        for secret in (PASSPHRASE, SMTP_PASSWORD, P12_PASSWORD, "PRIVATE KEY", "BEGIN"):
            assert secret not in text
    for *_, detail in store.events():
        assert SMTP_PASSWORD not in detail and P12_PASSWORD not in detail


def test_a_channel_that_fails_is_tried_again_next_time(store: Store, cli: Cli) -> None:
    issue_one(store, IssueRequest(names=("printer.home.arpa",)), now=utcnow() - timedelta(days=390))
    with http_receiver() as (base, http):
        cli.ok("notify", "add", "ntfy", f"{base}/broken")
        done = cli("renew", "--due")
        assert done.exit_code == 1
        assert any("answered 500" in line for line in done.stderr.splitlines())
        cli.ok("notify", "remove", "1")
        cli.ok("notify", "add", "ntfy", f"{base}/certs")
        cli.ok("renew", "--due")
        assert [r.path for r in http].count("/certs") == 2  # the CA warning and the expiry


def test_notify_test_and_list(store: Store, cli: Cli, smtp: tuple[int, Inbox], tmp_path: Path) -> None:
    port, inbox = smtp
    password = _secret_file(tmp_path, "smtp-password", SMTP_PASSWORD)
    with http_receiver() as (base, http):
        cli.ok("notify", "add", "webhook", f"{base}/discord", "--format", "discord")
        cli.ok(
            "notify", "add", "email", "admin@home.arpa", "--smtp", f"127.0.0.1:{port}", "--starttls",
            "--user", "alice", "--password-file", str(password), "--from", "certtui@home.arpa",
        )  # fmt: skip
        cli.ok("notify", "add", "email", "admin@home.arpa", "--smtp", f"127.0.0.1:{free_port()}")
        done = cli("notify", "test")
        assert done.exit_code == 1
        assert "sent a test to webhook" in done.stdout and "sent a test to email" in done.stdout
        assert done.stderr.startswith("failed: email admin@home.arpa via 127.0.0.1:")
        assert "cannot send mail through" in done.stderr and len(done.stderr.splitlines()) == 1
        assert json.loads(http[0].body)["content"].startswith("**certtui: test message**")
        assert SMTP_PASSWORD not in done.stdout + done.stderr
    assert len(inbox.messages) == 1
    mail = email.message_from_bytes(inbox.messages[0])
    assert mail["From"] == "certtui@home.arpa" and mail["To"] == "admin@home.arpa"
    listed = cli.ok("notify", "list").stdout
    assert "webhook" in listed and "email admin@home.arpa via 127.0.0.1" in listed and "STARTTLS" in listed
    assert "login alice" in listed and SMTP_PASSWORD not in listed


def test_notify_add_refuses_what_cannot_work(store: Store, cli: Cli, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_text("pw\n")
    loose.chmod(0o640)
    cases = {
        ("ntfy", "ftp://x/y"): "not an http(s) URL",
        ("ntfy", "https://n/t", "--format", "slack"): "--format goes with webhook",
        ("ntfy", "https://n/t", "--smtp", "m:25"): "go with email channels only",
        ("email", "not-an-address", "--smtp", "m"): "not an e-mail address",
        ("email", "a@b", "--user", "u"): "needs --smtp",
        ("email", "a@b", "--smtp", "m", "--user", "u"): "go together",
        (
            "email",
            "a@b",
            "--smtp",
            "m",
            "--user",
            "u",
            "--password-file",
            str(loose),
        ): "can be read by others",
        ("webhook", "https://h/x", "--expiry-days", "0"): "out of range",
    }
    for args, expected in cases.items():
        assert expected in cli.error("notify", "add", *args), args
    assert "no notification channel 3" in cli.error("notify", "remove", "3")
