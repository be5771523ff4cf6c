"""`certtui acme` as a command: accounts, the passphrase sources, the systemd unit, starts and stops."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from acme_support import Client, Server, child_env, csr_der, export_root
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from support.cli import Cli
from support.store import PASSPHRASE

from certtui.acme import validation
from certtui.acme.problems import Problem
from certtui.core import acme_state
from certtui.core.store import Store
from certtui.core.store.admin import change_passphrase
from certtui.journeys import acme as journey
from certtui.paths import db_path


def _init(cli: Cli, *extra: str) -> None:
    cli.ok("init", "--name", "CLI Root", "--permit", "home.arpa", "--permit", "127.0.0.0/8", *extra)


# -- accounts --------------------------------------------------------------------------------


def test_account_add_shows_the_key_once_and_stores_it_sealed(
    cli: Cli, home: Path, passphrase_file: Path
) -> None:
    _init(cli, "--intermediate")
    made = cli.json(
        "acme", "account", "add", "nas", "--allow", "*.home.arpa", "--allow", "192.168.1.0/24", "--json"
    )
    assert set(made) >= {"name", "kid", "hmac"} and made["name"] == "nas"
    secret = base64.urlsafe_b64decode(made["hmac"] + "=" * (-len(made["hmac"]) % 4))
    assert len(secret) == 32 and "=" not in made["hmac"]
    listed = cli.ok("acme", "account", "list").stdout
    assert "nas" in listed and made["kid"] in listed and made["hmac"] not in listed
    as_json = cli.json("acme", "account", "list", "--json")
    assert as_json[0]["allow"] == ["*.home.arpa", "192.168.1.0/24"] and "hmac" not in as_json[0]
    # Sealed: neither the key nor its base64 is anywhere in the database's files.
    for path in home.iterdir():
        data = path.read_bytes()
        assert secret not in data and made["hmac"].encode() not in data
    text = cli.ok("acme", "account", "add", "tv", "--allow", "tv.home.arpa").stdout
    assert "EAB key id:" in text and "shown only now" in text


def test_account_errors_are_one_line(cli: Cli, passphrase_file: Path) -> None:
    _init(cli)
    assert "CIDR" in cli.error("acme", "account", "add", "x", "--allow", "192.168.1.1/24")
    assert "--allow" in cli.error("acme", "account", "add", "x")
    assert "not usable" in cli.error("acme", "account", "add", "bad name", "--allow", "a.home.arpa")
    cli.ok("acme", "account", "add", "x", "--allow", "a.home.arpa")
    assert "exists already" in cli.error("acme", "account", "add", "x", "--allow", "a.home.arpa")
    assert "no ACME account" in cli.error("acme", "account", "disable", "nobody")
    cli.ok("acme", "account", "disable", "x")
    assert "disabled" in cli.ok("acme", "account", "list").stdout
    cli.ok("acme", "account", "remove", "x")
    assert cli.json("acme", "account", "list", "--json") == []


def test_passwd_reseals_the_eab_keys(make_store: object) -> None:
    store = make_store(passphrase=PASSPHRASE)  # type: ignore[operator]
    made = journey.add_account(store, "lab", ["*.home.arpa"])
    change_passphrase(store, "a new passphrase")
    again = Store.open(store.path)
    again.unlock("a new passphrase")
    found = acme_state.account_by_kid(again, made.account.kid or "")
    assert found is not None
    assert base64.urlsafe_b64encode(found[1]).rstrip(b"=").decode() == made.hmac_b64
    again.close()


# -- the list shows where a certificate came from ---------------------------------------------


def test_list_shows_the_acme_origin(cli: Cli, make_store: object) -> None:
    store = make_store(intermediate=True, permit=("home.arpa",))  # type: ignore[operator]
    ca = journey.signing_ca(store, None)
    der, _ = csr_der(["nas.home.arpa"])
    rec = journey.issue(
        store,
        names=["nas.home.arpa"],
        issuer_id=ca.record.id,
        issuer_key=store.private_key(ca.record.id),
        days=90,
        origin="acme:lab",
        csr=x509.load_der_x509_csr(der),
    )
    table = cli.ok("list").stdout
    line = next(line for line in table.splitlines() if line.startswith(rec.id))
    assert line.endswith("nas.home.arpa  [acme:lab]")
    listed = {r["id"]: r for r in cli.json("list", "--json")}
    assert listed[rec.id]["origin"] == "acme:lab" and listed[ca.record.id]["origin"] is None


def test_the_guardrail_refuses_what_issue_refuses(make_store: object) -> None:
    store = make_store(intermediate=True)  # type: ignore[operator]
    ca = journey.signing_ca(store, None)
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(65537, 1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nas.home.arpa")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("nas.home.arpa")]), critical=False)
        .sign(weak, hashes.SHA256())
    )
    from certtui.errors import PolicyError

    with pytest.raises(PolicyError, match="key"):
        journey.issue(
            store,
            names=["nas.home.arpa"],
            issuer_id=ca.record.id,
            issuer_key=store.private_key(ca.record.id),
            days=90,
            origin="acme:lab",
            csr=csr,
        )
    with pytest.raises(PolicyError):
        journey.issue(
            store,
            names=["nas.home.arpa"],
            issuer_id=ca.record.id,
            issuer_key=store.private_key(ca.record.id),
            days=900,
            origin="acme:lab",
            csr=x509.load_der_x509_csr(csr_der(["nas.home.arpa"])[0]),
        )
    assert [r for r in store.records() if r.origin] == []


# -- the server's own certificate ------------------------------------------------------------


def test_the_server_certificate_is_reused_then_renewed(make_store: object) -> None:
    store = make_store(intermediate=True, permit=("home.arpa",))  # type: ignore[operator]
    ca = journey.signing_ca(store, None)
    key = store.private_key(ca.record.id)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    first, made = journey.server_certificate(store, ["acme.home.arpa"], ca.record, key, now=now)
    assert made and first.origin == journey.SERVER_ORIGIN and first.has_key
    again, made = journey.server_certificate(
        store, ["acme.home.arpa"], ca.record, key, now=now + datetime.timedelta(days=50)
    )
    assert not made and again.id == first.id
    later = now + datetime.timedelta(days=61)
    assert journey.renew_due(first, later)
    renewed, made = journey.server_certificate(store, ["acme.home.arpa"], ca.record, key, now=later)
    assert made and renewed.id != first.id
    # Other names make another certificate.
    other, made = journey.server_certificate(store, ["ca.home.arpa"], ca.record, key, now=later)
    assert made and other.names == ("ca.home.arpa",)


# -- running it ------------------------------------------------------------------------------


def test_passphrase_from_systemd_credentials_and_sigterm(
    cli: Cli, home: Path, tmp_path: Path, passphrase_file: Path
) -> None:
    _init(cli, "--intermediate")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "certtui-passphrase").write_text(PASSPHRASE + "\n")
    (creds / "certtui-passphrase").chmod(0o400)  # as systemd's LoadCredential= leaves it
    env = child_env(CREDENTIALS_DIRECTORY=str(creds))
    env.pop("CERTTUI_PASSPHRASE_FILE", None)
    server = Server(home, tmp_path, (), env).start()
    try:
        out = server.stdout()
        assert "registration: invited accounts only (EAB)" in out
        assert "lego:" in out and "certbot:" in out and "acme_ca " in out
        root = export_root(home, tmp_path / "root.pem")
        Client(server.directory, root)  # the directory answers over HTTPS the root verifies
    finally:
        stopped = server.stop()  # a failed assertion must not leave the server running
    assert stopped == 0
    assert server.stdout().rstrip().endswith("certtui acme: stopped")
    assert "Traceback" not in server.stderr()
    # A wrong passphrase is one line and exit 2.
    (creds / "certtui-passphrase").write_text("wrong\n")
    done = subprocess.run(
        [sys.executable, "-m", "certtui", "--home", str(home), "acme", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 2 and done.stderr.startswith("error: wrong passphrase"), done.stderr


def test_root_only_and_open_registration_warn(cli: Cli, home: Path, tmp_path: Path) -> None:
    _init(cli, "--no-passphrase")
    server = Server(home, tmp_path, ("--open-registration",), child_env()).start()
    try:
        err = server.stderr()
        assert "root's key is online" in err and "certtui issue --intermediate" in err
        assert "open registration" in err
        c = Client(server.directory, export_root(home, tmp_path / "root.pem"))
        assert c.dir["meta"]["externalAccountRequired"] is False
        r = c.post(c.dir["newAccount"], {"termsOfServiceAgreed": True})
        assert r.status == 201
    finally:
        assert server.stop() == 0
    names = [a.name for a in acme_state.accounts(Store.open(db_path(home)))]
    assert len(names) == 1 and names[0].startswith("open-")


def test_print_systemd_unit_passes_systemd_analyze(cli: Cli, home: Path, tmp_path: Path) -> None:
    _init(cli, "--no-passphrase")
    unit = cli.ok("acme", "--port", "8443", "--hostname", "acme.home.arpa", "--print-systemd-unit").stdout
    for line in (
        "ProtectSystem=strict",
        "LoadCredential=certtui-passphrase:",
        "NoNewPrivileges=yes",
        f"ReadWritePaths={home.resolve()}",
        "KillSignal=SIGTERM",
    ):
        assert line in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert (
        "acme --bind 0.0.0.0 --port 8443 --hostname=acme.home.arpa" in exec_start
        and "--print-systemd-unit" not in exec_start
    )
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    path = tmp_path / "certtui-acme.service"
    path.write_text(unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "certtui-acme.service" not in done.stderr, done.stderr


# -- the validator's refusals, judged directly ------------------------------------------------


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "169.254.1.1", "fe80::1", "224.0.0.1", "0.0.0.0", "::ffff:127.0.0.1"]
)
def test_the_validator_refuses_loopback_link_local_multicast(address: str) -> None:
    policy = validation.ValidationPolicy()
    with pytest.raises(Problem) as caught:
        asyncio.run(validation.resolve("ip", address, policy))
    assert caught.value.typ == "connection"
    pinned = validation.ValidationPolicy(pins={"nas.home.arpa": address})
    with pytest.raises(Problem):
        asyncio.run(validation.resolve("dns", "nas.home.arpa", pinned))


def test_allow_loopback_allows_loopback_only() -> None:
    policy = validation.ValidationPolicy(allow_loopback=True)
    assert str(asyncio.run(validation.resolve("ip", "127.0.0.1", policy))) == "127.0.0.1"
    with pytest.raises(Problem):
        asyncio.run(validation.resolve("ip", "169.254.1.1", policy))
    assert str(asyncio.run(validation.resolve("ip", "192.168.1.10", policy))) == "192.168.1.10"


def _alpn_cert(value: str, digest: bytes, *, critical: bool = True, extra_name: bool = False) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName(value)] + (
        [x509.DNSName("other.home.arpa")] if extra_name else []
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(validation.ACME_IDENTIFIER_OID, b"\x04\x20" + digest),
            critical=critical,
        )
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


def test_tls_alpn01_certificate_rules() -> None:
    expected = "token.thumb"
    digest = hashlib.sha256(expected.encode()).digest()
    check = validation._check_alpn_certificate
    check(_alpn_cert("nas.home.arpa", digest), "dns", "nas.home.arpa", expected, "t")
    for bad in (
        _alpn_cert("nas.home.arpa", hashlib.sha256(b"other").digest()),
        _alpn_cert("nas.home.arpa", digest, critical=False),
        _alpn_cert("nas.home.arpa", digest, extra_name=True),
        _alpn_cert("tv.home.arpa", digest),
    ):
        with pytest.raises(Problem) as caught:
            check(bad, "dns", "nas.home.arpa", expected, "t")
        assert caught.value.typ == "unauthorized"
    assert ipaddress.ip_address("10.0.0.1").reverse_pointer == validation._reverse_name("10.0.0.1")


def test_acme_help_lists_the_flags(cli: Cli) -> None:
    text = cli.ok("acme", "--help").stdout
    for flag in (
        "--hostname",
        "--ca",
        "--days",
        "--open-registration",
        "--http-01-port",
        "--tls-alpn-01-port",
        "--allow-loopback",
        "--print-systemd-unit",
    ):
        assert flag in text


def test_nonces_are_single_use_expire_and_die_with_a_restart() -> None:
    from certtui.acme.nonces import NONCE_LIFETIME_S, Nonces

    now = [1000.0]
    nonces = Nonces(7, clock=lambda: now[0])
    a, b = nonces.new(), nonces.new()
    assert nonces.use(a) is None
    assert "used already" in (nonces.use(a) or "")
    now[0] += NONCE_LIFETIME_S + 1
    assert "expired" in (nonces.use(b) or "")
    restarted = Nonces(8, clock=lambda: now[0])
    assert "restarted" in (restarted.use(nonces.new()) or "")


def test_a_hostname_the_ca_refuses_is_one_line(cli: Cli, home: Path, passphrase_file: Path) -> None:
    _init(cli, "--intermediate")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "certtui",
            "--home",
            str(home),
            "acme",
            "--port",
            "0",
            "--hostname",
            "nas.example.com",
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot issue the server's own certificate for nas.example.com")
    assert "--hostname" in done.stderr and len(done.stderr.splitlines()) == 1


def test_ca_picks_the_signing_ca(cli: Cli, home: Path, tmp_path: Path) -> None:
    _init(cli, "--no-passphrase", "--intermediate")
    records = cli.json("list", "--json")
    root = next(r["id"] for r in records if r["kind"] == "root")
    leaf = cli.json("issue", "nas.home.arpa", "--json")["id"]
    assert "not a CA" in cli.error("acme", "--ca", leaf, "--port", "0")
    # Signing with the root on purpose still warns that its key is online.
    server = Server(home, tmp_path, ("--ca", root), child_env()).start()
    try:
        assert "root's key is online" in server.stderr()
        assert f"signing CA: root CLI Root (id {root}" in server.stdout()
    finally:
        assert server.stop() == 0
