"""Issue 13 §2: an imported certificate never stands in for the store's own (a foreign root
named like the store's root, a foreign leaf named like one of its leaves), and a name that
matches several certificates is refused by every command that takes an ID."""

from __future__ import annotations

import hashlib
import plistlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.cli import Cli

from certtui.core.store import Store
from certtui.core.timefmt import utcnow

ROOT_CN = "Home Lab Root CA"
LEAF = "nas.home.arpa"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def foreign_bundle(path: Path, root_cn: str = ROOT_CN, leaf: str = LEAF) -> tuple[bytes, bytes]:
    """A PEM bundle an attacker hands over: a root named `root_cn` (no name constraints) and a
    leaf for `leaf` under it; returns the DER of both."""
    now = utcnow()
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(root_cn))
        .issuer_name(_name(root_cn))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(leaf))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=300))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(leaf)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    path.write_bytes(b"some text a router prints\n" + root.public_bytes(pem) + cert.public_bytes(pem))
    der = serialization.Encoding.DER
    return root.public_bytes(der), cert.public_bytes(der)


@pytest.fixture
def attacked(cli: Cli, passphrase_file: Path, tmp_path: Path) -> dict[str, object]:
    """A store (with a passphrase) whose root is "Home Lab Root CA" and with a leaf for
    nas.home.arpa, into which the attacker's bundle was imported."""
    cli.ok("init", "--name", ROOT_CN)
    cli.ok("issue", LEAF)
    own = {r["kind"]: r for r in cli.json("list", "--json")}
    bundle = tmp_path / "bundle.pem"
    foreign_root, foreign_leaf = foreign_bundle(bundle)
    done = cli.ok("import", str(bundle))
    rows = cli.json("list", "--json")
    ext = {r["kind"]: r for r in rows if r["external"]}
    return {
        "own_root": own["root"],
        "own_leaf": own["server"],
        "ext_root": ext["root"],
        "ext_leaf": ext["server"],
        "foreign_root_der": foreign_root,
        "foreign_leaf_der": foreign_leaf,
        "import": done,
    }


def _sha(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _pem_blocks(text: str) -> list[bytes]:
    return [
        c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(text.encode())
    ]


# ---------------------------------------------------------------- the bundle of the issue


def test_root_exports_by_name_are_the_stores_own_root(
    cli: Cli, attacked: dict[str, object], tmp_path: Path
) -> None:
    own_root, ext_root = attacked["own_root"], attacked["ext_root"]
    assert isinstance(own_root, dict) and isinstance(ext_root, dict)
    profile = tmp_path / "root.mobileconfig"
    done = cli.ok("export", ROOT_CN, "--format", "mobileconfig", "--out", str(profile))
    payload = plistlib.loads(profile.read_bytes())["PayloadContent"][0]["PayloadContent"]
    assert _sha(payload) == own_root["sha256"] != ext_root["sha256"]
    # ... and the output says that the external one with the same name was skipped.
    assert f"{ext_root['id']} (root, external)" in done.stderr
    assert "skipped" in done.stderr
    der = tmp_path / "root.der"
    cli.ok("export", ROOT_CN, "--format", "der", "--out", str(der))
    assert _sha(der.read_bytes()) == own_root["sha256"]


def test_fullchain_by_name_is_the_stores_own_chain(
    cli: Cli, attacked: dict[str, object], tmp_path: Path
) -> None:
    own_root, own_leaf = attacked["own_root"], attacked["own_leaf"]
    assert isinstance(own_root, dict) and isinstance(own_leaf, dict)
    out = tmp_path / "chain.pem"
    cli.ok("export", LEAF, "--format", "fullchain", "--with-root", "--out", str(out))
    assert [_sha(d) for d in _pem_blocks(out.read_text())] == [own_leaf["sha256"], own_root["sha256"]]


def test_enrollment_root_is_the_stores_own(cli: Cli, attacked: dict[str, object]) -> None:
    from certtui.core.store import Store
    from certtui.enroll.server import RootInfo
    from certtui.enroll.trust import plan_test
    from certtui.paths import db_path

    own_root = attacked["own_root"]
    assert isinstance(own_root, dict)
    store = Store.open(db_path())
    try:
        assert RootInfo.from_store(store).fingerprint == own_root["sha256"]
        planned = plan_test(store, "127.0.0.1").plan
        assert planned is not None and planned.issuer_id == own_root["id"]
    finally:
        store.close()


def test_import_warns_about_a_name_of_a_ca_of_the_store(attacked: dict[str, object]) -> None:
    done = attacked["import"]
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]  # type: ignore[attr-defined]
    assert len(warnings) == 1, done.stderr  # type: ignore[attr-defined]
    ext_root = attacked["ext_root"]
    assert isinstance(ext_root, dict)
    assert ext_root["id"] in warnings[0] and ROOT_CN in warnings[0]
    assert "the store's own root" in warnings[0] or "this store's" in warnings[0]


def test_list_marks_external_certificates(cli: Cli, attacked: dict[str, object]) -> None:
    lines = cli.ok("list").stdout.splitlines()
    ext_ids = {attacked["ext_root"]["id"], attacked["ext_leaf"]["id"]}  # type: ignore[index]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and not line.startswith("*")}
    for cert_id, cells in rows.items():
        assert cells[1].endswith("*") == (cert_id in ext_ids), cells
    assert lines[-1].startswith("* external")


# ---------------------------------------------------------------- every command that takes an ID


@pytest.fixture
def two_externals(cli: Cli, tmp_path: Path) -> tuple[str, str]:
    """Two external leaves for printer.home.arpa (a plain store): a name no own certificate has."""
    cli.ok("init", "--name", ROOT_CN, "--no-passphrase")
    for n in (1, 2):
        foreign_bundle(tmp_path / f"b{n}.pem", root_cn=f"Router CA {n}", leaf="printer.home.arpa")
        cli.ok("import", str(tmp_path / f"b{n}.pem"))
    leaves = [r["id"] for r in cli.json("list", "--json") if r["kind"] == "server"]
    return leaves[0], leaves[1]


def _csr(tmp_path: Path) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name("printer.home.arpa"))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("printer.home.arpa")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "device.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return str(path)


COMMANDS = ["export", "show", "check", "revoke", "renew", "crl", "issue", "sign"]


def _commands(ref: str, tmp_path: Path) -> list[list[str]]:
    out = str(tmp_path / "out")
    return [
        ["export", ref, "--format", "pem", "--out", out],
        ["show", ref],
        ["check", ref],
        ["revoke", ref],
        ["renew", ref],
        ["crl", "--issuer", ref],
        ["issue", "x.home.arpa", "--issuer", ref],
        ["sign", _csr(tmp_path), "--issuer", ref, "--out", out],
    ]


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=COMMANDS)
def test_a_name_of_two_external_certificates_is_refused(
    cli: Cli, two_externals: tuple[str, str], tmp_path: Path, index: int
) -> None:
    args = _commands("printer.home.arpa", tmp_path)[index]
    message = cli.error(*args)
    assert "names 2 certificates" in message, message
    for cert_id in two_externals:
        assert f"{cert_id} (server, external)" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=COMMANDS)
def test_a_name_of_two_own_certificates_is_refused(cli: Cli, tmp_path: Path, index: int) -> None:
    cli.ok("init", "--name", ROOT_CN, "--no-passphrase", "--intermediate")
    cas = [r["id"] for r in cli.json("list", "--json")]
    # The same name on two own CAs (an intermediate named like the root) and two own leaves.
    cli.ok("issue", "--intermediate", "Twin CA")
    cli.ok("issue", "--intermediate", "Twin CA")
    cli.ok("issue", "twin.home.arpa", "--issuer", cas[1])
    cli.ok("issue", "twin.home.arpa", "--issuer", cas[1])
    rows = cli.json("list", "--json")
    ref = "Twin CA" if COMMANDS[index] in ("crl", "issue", "sign") else "twin.home.arpa"
    ids = [r["id"] for r in rows if ref in (r["subject"], *r["names"])]
    assert len(ids) == 2
    message = cli.error(*_commands(ref, tmp_path)[index])
    assert "names 2 certificates" in message
    for cert_id in ids:
        assert cert_id in message
    assert "external" not in message


def test_an_exact_own_match_wins_for_every_command(
    cli: Cli, attacked: dict[str, object], tmp_path: Path
) -> None:
    own_leaf, ext_leaf = attacked["own_leaf"], attacked["ext_leaf"]
    assert isinstance(own_leaf, dict) and isinstance(ext_leaf, dict)
    shown = cli.ok("show", LEAF)
    assert f"ID           {own_leaf['id']}" in shown.stdout or own_leaf["id"] in shown.stdout.splitlines()[0]
    assert ext_leaf["id"] not in shown.stdout
    assert f"{ext_leaf['id']} (server, external)" in shown.stderr
    checked = cli(*["check", LEAF])
    assert checked.exit_code == 0, checked.stdout
    assert f"{ext_leaf['id']} (server, external)" in checked.stderr
    renewed = cli.ok("renew", LEAF)
    assert renewed.stdout.startswith(f"renewed {own_leaf['id']} -> ")
    # The renewed one is replaced: the name now means its successor, still not the external one.
    revoked = cli.ok("revoke", LEAF)
    assert own_leaf["id"] not in revoked.stdout.split(" on ")[0]
    assert ext_leaf["id"] not in revoked.stdout
    assert cli.json("list", "--json")[-1]["status"] == "revoked"


async def test_tui_list_marks_external_certificates(make_store: Callable[..., Store], tmp_path: Path) -> None:
    from certtui.core import adopt, loaders
    from certtui.tui.app import make_app
    from certtui.tui.widgets.cert_table import CertTable

    store = make_store(name=ROOT_CN)
    foreign_bundle(tmp_path / "bundle.pem")
    certs = loaders.load_certificates((tmp_path / "bundle.pem").read_bytes(), "bundle.pem")
    done = adopt.import_certificates(store, certs)
    assert len(done.added) == 2 and len(done.warnings) == 1
    app = make_app(store)
    async with app.run_test(size=(100, 24)) as pilot:
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        table = app.screen.query_one(CertTable)
        lines = {r.record.id: table._format(r, 100) for r in table._rows}
        for rec in store.records():
            name_cell = lines[rec.id].lstrip()
            assert name_cell.startswith("*") == rec.external, lines[rec.id]
        summary = str(app.screen.query_one("#summary").render())
        assert summary == "3 certificates · 2 external"
