"""The CLI contract: every command and option through CliRunner, the passphrase rules, and a real run."""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import re
import select
import sqlite3
import stat
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui import __version__
from certtui.core.models import IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import parse, utcnow
from certtui.paths import db_path

ROOT_NAME = "Home Lab Root CA"
REQUIRED_KEYS = {
    "id",
    "serial",
    "kind",
    "subject",
    "names",
    "issuer",
    "not_before",
    "not_after",
    "status",
    "has_key",
    "external",
}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
NO_TTY = (
    "a passphrase is needed but stdin is not a terminal; set $CERTTUI_PASSPHRASE_FILE to a file holding it"
)
WRONG = "wrong passphrase: the store did not open; try again"


def summary(rec: dict[str, Any]) -> str:
    """What `issue`, `init` and `renew` print about one certificate."""
    label = ", ".join(rec["names"]) or rec["subject"]
    return f"{rec['kind']} {label} (id {rec['id']}, {rec['key_type']}, expires {rec['not_after']})"


def by_id(cli: Cli) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in cli.json("list", "--json")}


def pem_cert(cli: Cli, ref: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cli.ok("show", ref, "--pem").stdout.encode())


def show_fields(cli: Cli, ref: str) -> dict[str, str]:
    """`show ID` as label -> value (columns are separated by two or more spaces)."""
    text = cli.ok("show", ref).stdout
    pairs = [re.split(r"\s{2,}", line, maxsplit=1) for line in text.splitlines()]
    assert all(len(p) == 2 for p in pairs), text
    return {k: v for k, v in pairs}


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


def lifetime(rec: dict[str, Any]) -> timedelta:
    return parse(rec["not_after"]) - parse(rec["not_before"])


@pytest.fixture
def plain(cli: Cli) -> str:
    """A --no-passphrase store with its root; returns the root's id."""
    cli.ok("init", "--name", ROOT_NAME, "--no-passphrase")
    [root] = cli.json("list", "--json")
    return str(root["id"])


@pytest.fixture
def layered(cli: Cli) -> tuple[str, str]:
    """A --no-passphrase store with root and intermediate; returns their ids."""
    cli.ok("init", "--name", ROOT_NAME, "--no-passphrase", "--intermediate")
    root, inter = cli.json("list", "--json")
    return str(root["id"]), str(inter["id"])


# ---------------------------------------------------------------- --version, locate, --home


def test_version(cli: Cli) -> None:
    assert cli.ok("--version").stdout == f"certtui, version {__version__}\n"


def test_locate(cli: Cli, home: Path, tmp_path: Path) -> None:
    # No store is needed to say where it would be.
    assert cli.ok("locate").stdout == f"{home}\n"
    assert cli.ok("--home", str(tmp_path / "elsewhere"), "locate").stdout == f"{tmp_path / 'elsewhere'}\n"


def test_home_option_overrides_the_environment(cli: Cli, home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    cli.ok("--home", str(other), "init", "--name", "Other Root", "--no-passphrase")
    assert (other / "certtui.db").exists()
    assert not home.exists()
    assert [r["subject"] for r in cli.json("--home", str(other), "list", "--json")] == ["Other Root"]
    assert cli.error("list").startswith(f"no certtui store at {home} yet")


# ---------------------------------------------------------------- init


def test_init_no_passphrase(cli: Cli, home: Path) -> None:
    result = cli.ok("init", "--name", ROOT_NAME, "--no-passphrase")
    [root] = cli.json("list", "--json")
    assert result.stdout == f"created {summary(root)}\nstore: {home}\n"
    assert result.stderr == (
        "warning: the store has no passphrase: anyone who can read it can mint certificates your "
        "devices trust\n"
    )
    assert root["kind"] == "root"
    assert root["subject"] == ROOT_NAME
    assert root["issuer"] == root["id"]
    assert root["key_type"] == "EC P-256"
    assert lifetime(root) == timedelta(days=3650)
    store = Store.open(db_path(home))
    try:
        assert store.encrypted is False
    finally:
        store.close()
    assert show_fields(cli, root["id"])["Private key"] == "in the store, unencrypted"


def test_init_with_passphrase_file(cli: Cli, home: Path, passphrase_file: Path) -> None:
    result = cli.ok("init", "--name", ROOT_NAME)
    assert result.stderr == ""
    store = Store.open(db_path(home))
    try:
        assert store.encrypted is True
        store.unlock(PASSPHRASE)
    finally:
        store.close()


def test_init_options(cli: Cli) -> None:
    result = cli.ok(
        "init",
        "--name",
        ROOT_NAME,
        "--no-passphrase",
        "--key",
        "rsa2048",
        "--days",
        "100",
        "--permit",
        "home.arpa",
        "--permit",
        "192.168.0.0/16",
        "--intermediate",
    )
    root, inter = cli.json("list", "--json")
    assert result.stdout.splitlines()[:2] == [f"created {summary(root)}", f"created {summary(inter)}"]
    assert root["key_type"] == inter["key_type"] == "RSA 2048"
    assert lifetime(root) == timedelta(days=100)
    # The intermediate never outlives its root.
    assert inter["not_after"] == root["not_after"]
    assert inter["subject"] == f"{ROOT_NAME} Intermediate"
    assert inter["issuer"] == root["id"]
    nc = pem_cert(cli, root["id"]).extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical is True
    assert [g.value for g in nc.value.permitted_subtrees or []] == [
        "home.arpa",
        ipaddress.ip_network("192.168.0.0/16"),
    ]
    # Later leaves come from the intermediate, inside the constraints.
    leaf = cli.json("issue", "nas.home.arpa", "192.168.1.10", "--json")
    assert leaf["issuer"] == inter["id"]
    message = cli.error("issue", "nas.example.com")
    assert message == (
        "'nas.example.com' is outside the permitted names home.arpa: the CA's name constraints "
        "forbid it; use a name inside them"
    )
    assert len(cli.json("list", "--json")) == 3


@pytest.mark.parametrize("key", ["ec256", "ec384", "rsa2048"])
def test_init_key(cli: Cli, key: str) -> None:
    cli.ok("init", "--name", ROOT_NAME, "--no-passphrase", "--key", key)
    [root] = cli.json("list", "--json")
    assert root["key_type"] == {"ec256": "EC P-256", "ec384": "EC P-384", "rsa2048": "RSA 2048"}[key]


def test_init_refuses_a_second_root(cli: Cli, plain: str, home: Path) -> None:
    before = dump(db_path(home))
    assert cli.error("init", "--name", "Another", "--no-passphrase") == (
        f"a store already exists at {home}; certtui never overwrites a root (use --home for a second store)"
    )
    assert dump(db_path(home)) == before


def test_second_init_is_refused_before_asking_for_a_passphrase(cli: Cli, plain: str, home: Path) -> None:
    assert cli.error("init", "--name", "Another").startswith(f"a store already exists at {home}")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", ""], "the CA name is empty; give a name such as 'Home Lab Root CA'"),
        (["--name", "R", "--days", "0"], "--days 0 is out of range; give between 1 and 36500"),
        (["--name", "R", "--permit", "bad_name!"], "bad constraint 'bad_name!'"),
        (["--name", "x" * 65], "the CA name is 65 characters long; use at most 64"),
    ],
)
def test_init_bad_input_creates_nothing(cli: Cli, home: Path, args: list[str], message: str) -> None:
    assert cli.error("init", *args, "--no-passphrase").startswith(message)
    assert not db_path(home).exists()


def test_init_without_passphrase_source_fails_before_any_prompt(cli: Cli, home: Path) -> None:
    result = cli("init", "--name", ROOT_NAME)
    assert result.exit_code == 2
    assert result.stderr == f"error: {NO_TTY}\n"
    assert result.stdout == ""
    assert not db_path(home).exists()


# ---------------------------------------------------------------- issue


def test_issue(cli: Cli, plain: str) -> None:
    result = cli.ok("issue", "nas.home.arpa", "192.168.1.10")
    [leaf] = cli.json("list", "--json", "--kind", "server")
    assert result.stdout == f"issued {summary(leaf)}\n"
    assert leaf["names"] == ["nas.home.arpa", "192.168.1.10"]
    assert leaf["issuer"] == plain
    assert lifetime(leaf) == timedelta(days=397)
    # notBefore is now - 10 minutes (give the test a few seconds of slack).
    backdate = utcnow() - parse(leaf["not_before"])
    assert timedelta(minutes=10) <= backdate <= timedelta(minutes=10, seconds=30)


def test_issue_same_name_again(cli: Cli, plain: str) -> None:
    first = cli.json("issue", "nas.home.arpa", "--json")
    second = cli.json("issue", "nas.home.arpa", "--json")
    assert first["id"] != second["id"]
    assert [r["id"] for r in cli.json("list", "--json", "--kind", "server")] == [first["id"], second["id"]]


def test_issue_client(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "--client", "alice@home.arpa", "--json")
    assert rec["kind"] == "client"
    # No DNS name, so no CN (docs/trust-rules.md, leaf.cn-not-dns); the email is in the SAN.
    assert rec["subject"] == ""
    eku = pem_cert(cli, rec["id"]).extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_issue_intermediate(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "--intermediate", "Lab Issuing CA", "--json")
    assert rec["kind"] == "intermediate"
    assert rec["subject"] == "Lab Issuing CA"
    assert rec["names"] == []
    assert rec["issuer"] == plain
    assert lifetime(rec) == timedelta(days=1826)
    cert = pem_cert(cli, rec["id"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Lab Issuing CA"
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert (bc.critical, bc.value.ca, bc.value.path_length) == (True, True, 0)
    # Leaves can then be issued from it by id.
    leaf = cli.json("issue", "--issuer", rec["id"], "nas.home.arpa", "--json")
    assert leaf["issuer"] == rec["id"]


def test_issue_days_and_key(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "--days", "30", "--key", "rsa2048", "nas.home.arpa", "--json")
    assert lifetime(rec) == timedelta(days=30)
    assert rec["key_type"] == "RSA 2048"
    assert cli.error("issue", "--days", "0", "nas.home.arpa").startswith("--days 0 is out of range")


def test_issue_json_stays_clean_when_there_are_warnings(cli: Cli, plain: str) -> None:
    result = cli.ok("issue", "--days", "10", "soon.home.arpa", "--json")
    assert json.loads(result.stdout)["names"] == ["soon.home.arpa"]
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines()), result.stderr


def test_issue_refuses_a_revoked_ca(cli: Cli, layered: tuple[str, str], home: Path) -> None:
    root_id, inter_id = layered
    conn = sqlite3.connect(db_path(home))
    with conn:
        conn.execute(
            "UPDATE certificates SET revoked_at = ? WHERE id = ?", ("2020-01-01T00:00:00Z", inter_id)
        )
    conn.close()
    before = dump(db_path(home))
    assert cli.error("issue", "nas.home.arpa") == f"CA {inter_id} is revoked; issue from a valid CA"
    assert dump(db_path(home)) == before
    assert cli.json("issue", "--issuer", root_id, "nas.home.arpa", "--json")["issuer"] == root_id


def test_issue_issuer(cli: Cli, layered: tuple[str, str]) -> None:
    root_id, inter_id = layered
    assert cli.json("issue", "a.home.arpa", "--json")["issuer"] == inter_id
    from_root = cli.json("issue", "--issuer", root_id, "b.home.arpa", "--json")
    assert from_root["issuer"] == root_id
    # By name too.
    assert cli.json("issue", "--issuer", ROOT_NAME, "c.home.arpa", "--json")["issuer"] == root_id
    message = cli.error("issue", "--issuer", from_root["id"], "d.home.arpa")
    assert message == f"{from_root['id']} is a server certificate, not a CA; pick a CA to issue from"


def test_issue_json_is_the_list_object(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "nas.home.arpa", "--json")
    assert rec == by_id(cli)[rec["id"]]


def test_issue_from_file(cli: Cli, plain: str, tmp_path: Path) -> None:
    lines = tmp_path / "hosts.txt"
    lines.write_text(
        "# the lab\n"
        "nas.home.arpa 192.168.1.10   # the NAS\n"
        "\n"
        "   \n"
        "printer.home.arpa,192.168.1.20\n"
        "router.home.arpa\r\n",
        encoding="utf-8",
    )
    result = cli.ok("issue", "--from", str(lines))
    leaves = cli.json("list", "--json", "--kind", "server")
    assert [r["names"] for r in leaves] == [
        ["nas.home.arpa", "192.168.1.10"],
        ["printer.home.arpa", "192.168.1.20"],
        ["router.home.arpa"],
    ]
    assert result.stdout == "".join(f"issued {summary(r)}\n" for r in leaves)
    as_json = cli.json("issue", "--from", str(lines), "--json")
    assert isinstance(as_json, list)
    assert [r["names"] for r in as_json] == [r["names"] for r in leaves]
    listed = by_id(cli)
    assert as_json == [listed[r["id"]] for r in as_json]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("# hosts\na.home.arpa\n\nb.home.arpa bad_name!  # oops\nc.home.arpa\n", 4, "bad name 'bad_name!'"),
        ("a.home.arpa\n-x.lan\n", 2, "bad name '-x.lan'"),
        ("a.home.arpa\nb.home.arpa 1.2.3.999\n", 2, "bad name '1.2.3.999'"),
    ],
)
def test_issue_from_bad_line_issues_nothing(
    cli: Cli, plain: str, home: Path, tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "hosts.txt"
    path.write_text(text, encoding="utf-8")
    before = dump(db_path(home))
    message = cli.error("issue", "--from", str(path))
    assert message.startswith(f"{path}:{line}: {fragment}")
    assert dump(db_path(home)) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give the names to issue, or --from FILE, but not both"),
        (["a.home.arpa", "--from", "x.txt"], "give the names to issue, or --from FILE, but not both"),
        (["--client", "--intermediate", "X"], "--client and --intermediate exclude each other; pick one"),
        (["bad_name!"], "bad name 'bad_name!'"),
        ([""], "no names given; give at least one host name, IP address, email or URI"),
        (["1.2.3.999"], "bad name '1.2.3.999'"),
        (["--issuer", "nope", "a.home.arpa"], "no certificate matches 'nope'"),
    ],
)
def test_issue_errors(cli: Cli, plain: str, home: Path, args: list[str], message: str) -> None:
    before = dump(db_path(home))
    assert cli.error("issue", *args).startswith(message)
    assert dump(db_path(home)) == before


def test_issue_from_unreadable_or_empty_file(cli: Cli, plain: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    assert cli.error("issue", "--from", str(missing)) == (
        f"{missing} does not exist; give the path of the list of names"
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n", encoding="utf-8")
    assert cli.error("issue", "--from", str(empty)) == (
        f"{empty} has no names; write one certificate's names per line"
    )


def test_issue_without_a_store(cli: Cli, home: Path) -> None:
    assert cli.error("issue", "nas.home.arpa") == (
        f"no certtui store at {home} yet; create one with `certtui init --name NAME`"
    )
    assert not home.exists()


# ---------------------------------------------------------------- list


def test_list_json_keys_and_formats(cli: Cli, plain: str) -> None:
    cli.ok("issue", "Bücher.Home.Arpa", "FD00:0:0::1", "alice@bücher.home.arpa", "https://nas.home.arpa/x")
    records = cli.json("list", "--json")
    assert len(records) == 2
    for rec in records:
        assert REQUIRED_KEYS <= set(rec)
        cert = pem_cert(cli, rec["id"])
        assert re.fullmatch(r"[0-9a-f]{12}", rec["id"])
        assert rec["serial"] == format(cert.serial_number, "x")
        assert rec["id"] == rec["serial"][:12]
        assert TIMESTAMP.fullmatch(rec["not_before"])
        assert TIMESTAMP.fullmatch(rec["not_after"])
        assert parse(rec["not_before"]) == cert.not_valid_before_utc
        assert parse(rec["not_after"]) == cert.not_valid_after_utc
        assert rec["status"] == "valid"
        assert rec["has_key"] is True
        assert rec["external"] is False
    root, leaf = records
    assert (root["kind"], root["subject"], root["names"], root["issuer"]) == ("root", ROOT_NAME, [], plain)
    assert leaf["kind"] == "server"
    assert leaf["issuer"] == plain
    assert leaf["subject"] == "xn--bcher-kva.home.arpa"
    assert leaf["names"] == [
        "xn--bcher-kva.home.arpa",
        "fd00::1",
        "alice@xn--bcher-kva.home.arpa",
        "https://nas.home.arpa/x",
    ]


def test_list_table(cli: Cli, plain: str) -> None:
    cli.ok("issue", "nas.home.arpa", "192.168.1.10")
    root, leaf = cli.json("list", "--json")
    lines = cli.ok("list").stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ["ID", "KIND", "STATUS", "EXPIRES", "KEY", "NAMES"]
    assert lines[1].split() == [
        root["id"],
        "root",
        "valid",
        root["not_after"][:10],
        "EC",
        "P-256",
        "Home",
        "Lab",
        "Root",
        "CA",
    ]
    assert lines[2].split() == [
        leaf["id"],
        "server",
        "valid",
        leaf["not_after"][:10],
        "EC",
        "P-256",
        "nas.home.arpa,",
        "192.168.1.10",
    ]
    # The columns line up.
    starts = [line.index(word) for line, word in zip(lines, ["KIND", "root", "server"], strict=True)]
    assert len(set(starts)) == 1


def test_list_filters(cli: Cli, layered: tuple[str, str], home: Path) -> None:
    root_id, inter_id = layered
    short = cli.json("issue", "--days", "10", "short.home.arpa", "--json")
    long = cli.json("issue", "long.home.arpa", "--json")
    client = cli.json("issue", "--client", "alice@home.arpa", "--json")
    # An expired leaf: issued through the core a year and a half ago.
    store = Store.open(db_path(home))
    try:
        old = issue_one(
            store, IssueRequest(names=("old.home.arpa",), days=30), now=utcnow() - timedelta(days=500)
        ).id
    finally:
        store.close()

    def ids(*args: str) -> list[str]:
        return [r["id"] for r in cli.json("list", "--json", *args)]

    assert ids() == [root_id, inter_id, short["id"], long["id"], client["id"], old]
    assert ids("--kind", "root") == [root_id]
    assert ids("--kind", "intermediate") == [inter_id]
    assert ids("--kind", "server") == [short["id"], long["id"], old]
    assert ids("--kind", "client") == [client["id"]]
    assert ids("--status", "expiring") == [short["id"]]
    assert ids("--status", "expired") == [old]
    assert ids("--status", "valid") == [root_id, inter_id, long["id"], client["id"]]
    assert ids("--status", "revoked") == []
    assert ids("--expiring-within", "11") == [short["id"]]
    assert ids("--expiring-within", "9") == []
    assert ids("--kind", "client", "--expiring-within", "400") == [client["id"]]
    empty = cli.ok("list", "--expiring-within", "9")
    assert (empty.stdout, empty.stderr) == ("", "no certificates match\n")
    assert cli("list", "--kind", "leaf").exit_code == 2


def test_list_without_a_store(cli: Cli, home: Path) -> None:
    assert cli.error("list").startswith(f"no certtui store at {home} yet")


# ---------------------------------------------------------------- show and ID resolution


def test_show(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "nas.home.arpa", "192.168.1.10", "--json")
    fields = show_fields(cli, rec["id"])
    assert fields["ID"] == rec["id"]
    assert fields["Kind"] == "server"
    assert fields["Status"] == "valid"
    assert fields["Names"] == "nas.home.arpa, 192.168.1.10"
    assert fields["Issuer ID"] == plain
    assert fields["Private key"] == "in the store, unencrypted"
    assert fields["Subject"] == "CN=nas.home.arpa"
    assert fields["Issuer"] == f"CN={ROOT_NAME}"
    assert fields["Serial"] == rec["serial"]
    assert fields["Not before"] == rec["not_before"]
    assert fields["Not after"] == rec["not_after"]
    assert fields["subjectAltName"] == "DNS:nas.home.arpa, IP:192.168.1.10"
    assert fields["basicConstraints (critical)"] == "CA:FALSE"
    assert fields["extendedKeyUsage"] == "serverAuth"


def test_show_pem(cli: Cli, plain: str) -> None:
    rec = cli.json("issue", "nas.home.arpa", "--json")
    out = cli.ok("show", rec["id"], "--pem").stdout
    assert out.startswith("-----BEGIN CERTIFICATE-----\n")
    assert out.endswith("-----END CERTIFICATE-----\n")
    assert out.count("BEGIN") == 1
    cert = x509.load_pem_x509_certificate(out.encode())
    assert format(cert.serial_number, "x") == rec["serial"]
    assert cert.public_bytes(serialization.Encoding.PEM).decode() == out


def test_id_resolution(cli: Cli, plain: str) -> None:
    first = cli.json("issue", "nas.home.arpa", "--json")
    second = cli.json("issue", "NAS.home.arpa", "192.168.1.10", "--json")

    def shown(ref: str) -> str:
        return format(pem_cert(cli, ref).serial_number, "x")[:12]

    assert shown(first["id"]) == first["id"]
    assert shown(first["id"].upper()) == first["id"]
    assert shown(first["serial"][:10]) == first["id"]
    assert shown(first["serial"][:10].upper()) == first["id"]
    # A name: case-insensitive, the one current certificate carrying it; two are refused.
    assert shown("192.168.1.10") == second["id"]
    assert cli.error("show", "Nas.Home.Arpa") == (
        f"'Nas.Home.Arpa' names 2 certificates: {second['id']} (server), {first['id']} (server); "
        "give one of these ids"
    )
    cli.ok("revoke", first["id"])
    assert shown("nas.home.arpa") == second["id"]
    assert shown(ROOT_NAME.lower()) == plain
    assert cli.error("show", "nope.home.arpa") == (
        "no certificate matches 'nope.home.arpa'; run `certtui list` to see the ids"
    )
    assert cli.error("show", "abc").startswith("no certificate matches 'abc'")


# ---------------------------------------------------------------- renew


def test_renew_id(cli: Cli, layered: tuple[str, str]) -> None:
    root_id, inter_id = layered
    old = cli.json(
        "issue",
        "--client",
        "--key",
        "rsa2048",
        "--days",
        "20",
        "--issuer",
        root_id,
        "alice@home.arpa",
        "laptop.home.arpa",
        "--json",
    )
    result = cli.ok("renew", old["id"])
    listed = by_id(cli)
    [new_id] = [i for i in listed if i not in (root_id, inter_id, old["id"])]
    new = listed[new_id]
    assert result.stdout == f"renewed {old['id']} -> {new_id}: {summary(new)}\n"
    assert (new["names"], new["kind"], new["key_type"], new["issuer"]) == (
        ["laptop.home.arpa", "alice@home.arpa"],
        "client",
        "RSA 2048",
        root_id,
    )
    assert lifetime(new) == timedelta(days=397)
    assert new["status"] == "valid"
    # The old one stays listed and valid (here: expiring), pointing at its successor.
    assert listed[old["id"]]["status"] == "expiring"
    assert listed[old["id"]]["renewed_by"] == new_id
    old_key = (
        pem_cert(cli, old["id"])
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    new_key = (
        pem_cert(cli, new_id)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert old_key != new_key


def test_renew_refuses_an_ambiguous_name(cli: Cli, plain: str, home: Path) -> None:
    a = cli.json("issue", "nas.home.arpa", "--json")
    b = cli.json("issue", "nas.home.arpa", "--json")
    before = dump(db_path(home))
    assert cli.error("renew", "nas.home.arpa") == (
        f"'nas.home.arpa' names 2 certificates: {b['id']} (server), {a['id']} (server); give one of these ids"
    )
    assert dump(db_path(home)) == before
    # An id settles it.
    assert cli.ok("renew", a["id"]).stdout.startswith(f"renewed {a['id']} -> ")


def test_renew_expiring_within(cli: Cli, layered: tuple[str, str]) -> None:
    short = cli.json("issue", "--days", "10", "short.home.arpa", "--json")
    short_client = cli.json("issue", "--client", "--days", "5", "bob@home.arpa", "--json")
    long = cli.json("issue", "long.home.arpa", "--json")
    before = set(by_id(cli))
    result = cli.ok("renew", "--expiring-within", "30")
    listed = by_id(cli)
    new_ids = [i for i in listed if i not in before]
    assert len(new_ids) == 2
    assert result.stdout == (
        f"renewed {short['id']} -> {new_ids[0]}: {summary(listed[new_ids[0]])}\n"
        f"renewed {short_client['id']} -> {new_ids[1]}: {summary(listed[new_ids[1]])}\n"
    )
    assert listed[new_ids[0]]["names"] == ["short.home.arpa"]
    assert listed[new_ids[1]]["kind"] == "client"
    assert listed[long["id"]]["renewed_by"] is None
    # Renewed leaves are not renewed twice (cron runs it again tomorrow).
    again = cli.ok("renew", "--expiring-within", "30")
    assert (again.stdout, again.stderr) == ("", "nothing expires within 30 days\n")
    assert set(by_id(cli)) == set(listed)
    assert cli.json("renew", "--expiring-within", "30", "--json") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give an ID to renew, or --expiring-within DAYS, but not both"),
        (["x", "--expiring-within", "3"], "give an ID to renew, or --expiring-within DAYS, but not both"),
        (["nope"], "no certificate matches 'nope'"),
    ],
)
def test_renew_errors(cli: Cli, plain: str, args: list[str], message: str) -> None:
    assert cli.error("renew", *args).startswith(message)


def test_renew_refuses_a_ca(cli: Cli, plain: str) -> None:
    assert cli.error("renew", plain) == f"{plain} is a root; renew works on leaves only"


# ---------------------------------------------------------------- backup


def test_backup(cli: Cli, plain: str, tmp_path: Path) -> None:
    dest = tmp_path / "backup.db"
    result = cli.ok("backup", str(dest))
    assert result.stdout == (
        f"backed up the store to {dest} (mode 0600); it opens with the same passphrase\n"
    )
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    copy = Store.open(dest)
    try:
        assert [r.id for r in copy.records()] == [plain]
    finally:
        copy.close()
    before = dest.read_bytes()
    assert cli.error("backup", str(dest)) == f"{dest} already exists; choose a new file name"
    assert dest.read_bytes() == before


# ---------------------------------------------------------------- passphrase rules


@pytest.fixture
def encrypted(cli: Cli, passphrase_file: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An encrypted store with root + leaf nas.home.arpa; $CERTTUI_PASSPHRASE_FILE unset after."""
    cli.ok("init", "--name", ROOT_NAME)
    leaf = cli.json("issue", "nas.home.arpa", "--json")
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    return str(leaf["id"])


def test_only_key_using_commands_unlock(cli: Cli, encrypted: str, home: Path, tmp_path: Path) -> None:
    # No passphrase source and no terminal: reading commands work all the same.
    assert len(cli.json("list", "--json")) == 2
    cli.ok("list")
    assert show_fields(cli, encrypted)["Private key"] == "in the store, encrypted"
    cli.ok("show", encrypted, "--pem")
    assert cli.ok("locate").stdout == f"{home}\n"
    cli.ok("backup", str(tmp_path / "copy.db"))
    # Commands that sign need the passphrase, and ask before anything changes.
    before = dump(db_path(home))
    assert cli.error("issue", "x.home.arpa") == NO_TTY
    assert cli.error("renew", encrypted) == NO_TTY
    assert dump(db_path(home)) == before


def test_wrong_passphrase(
    cli: Cli, encrypted: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n", encoding="utf-8")
    wrong.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(wrong))
    before = dump(db_path(home))
    assert cli.error("issue", "x.home.arpa") == WRONG
    assert cli.error("renew", encrypted) == WRONG
    assert dump(db_path(home)) == before


@pytest.mark.parametrize(
    ("content", "ok"),
    [
        (PASSPHRASE.encode() + b"\n", True),
        (PASSPHRASE.encode() + b"\r\n", True),
        (PASSPHRASE.encode(), True),
        (PASSPHRASE.encode() + b"\nsecond line is not part of it\n", True),
        # Only the line ending is stripped: spaces belong to the secret.
        (PASSPHRASE.encode() + b" \n", False),
        (b" " + PASSPHRASE.encode() + b"\n", False),
    ],
)
def test_passphrase_file_first_line(
    cli: Cli, encrypted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, ok: bool
) -> None:
    path = tmp_path / "pp"
    path.write_bytes(content)
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(path))
    if ok:
        cli.ok("issue", "x.home.arpa")
    else:
        assert cli.error("issue", "x.home.arpa") == WRONG


@pytest.mark.parametrize("content", [b"", b"\n", b"\r\n", b"\nsecret\n"])
def test_empty_passphrase_is_refused(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    path = tmp_path / "pp"
    path.write_bytes(content)
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(path))
    assert cli.error("init", "--name", ROOT_NAME) == (
        f"$CERTTUI_PASSPHRASE_FILE ({path}) holds an empty passphrase; put it on the file's first line"
    )
    assert not db_path(home).exists()


def test_unreadable_passphrase_file(
    cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(missing))
    assert cli.error("init", "--name", ROOT_NAME) == (
        f"$CERTTUI_PASSPHRASE_FILE ({missing}) does not exist; give the path of the passphrase file"
    )
    assert not db_path(home).exists()


# ---------------------------------------------------------------- click's own errors


def test_usage_errors_keep_clicks_format(cli: Cli, plain: str) -> None:
    result = cli("issue", "--bogus")
    assert result.exit_code == 2
    assert result.stderr.startswith("Usage: certtui issue [OPTIONS] [NAMES]...")
    assert result.stderr.endswith("Error: No such option '--bogus'.\n")
    assert cli("init").exit_code == 2
    assert "Missing option '--name'" in cli("init").stderr
    assert "Invalid value for '--key'" in cli("issue", "--key", "dsa", "x.home.arpa").stderr


# ---------------------------------------------------------------- real processes


@pytest.mark.slow
def test_every_command_in_a_real_process(proc: Proc, home: Path, tmp_path: Path) -> None:
    assert proc.ok("--version").stdout == f"certtui, version {__version__}\n"
    assert proc.ok("locate").stdout == f"{home}\n"
    init = proc.ok("init", "--name", ROOT_NAME, "--no-passphrase", "--intermediate", "--permit", "home.arpa")
    assert init.stdout.startswith(f"created root {ROOT_NAME} (id ")
    assert init.stderr.startswith("warning: the store has no passphrase")
    assert proc.error("init", "--name", ROOT_NAME, "--no-passphrase").startswith("a store already exists")
    issued = proc.ok("issue", "nas.home.arpa")
    assert issued.stdout.startswith("issued server nas.home.arpa (id ")
    client = json.loads(
        proc.ok("issue", "--client", "--days", "10", "--key", "ec384", "alice@home.arpa", "--json").stdout
    )
    inter = json.loads(proc.ok("issue", "--intermediate", "Sub CA", "--json").stdout)
    assert inter["kind"] == "intermediate"
    lines = tmp_path / "hosts.txt"
    lines.write_text("a.home.arpa\nb.home.arpa  # two\n", encoding="utf-8")
    batch = json.loads(proc.ok("issue", "--from", str(lines), "--issuer", inter["id"], "--json").stdout)
    assert [r["issuer"] for r in batch] == [inter["id"], inter["id"]]
    records = json.loads(proc.ok("list", "--json").stdout)
    assert [r["kind"] for r in records] == [
        "root",
        "intermediate",
        "server",
        "client",
        "intermediate",
        "server",
        "server",
    ]
    assert [r["id"] for r in json.loads(proc.ok("list", "--json", "--kind", "client").stdout)] == [
        client["id"]
    ]
    assert proc.ok("list", "--status", "expiring").stdout.splitlines()[1].startswith(client["id"])
    assert len(proc.ok("list", "--expiring-within", "30").stdout.splitlines()) == 2
    assert "subjectAltName" in proc.ok("show", "nas.home.arpa").stdout
    assert proc.ok("show", client["id"][:6], "--pem").stdout.startswith("-----BEGIN CERTIFICATE-----")
    renewed = proc.ok("renew", "nas.home.arpa")
    assert renewed.stdout.startswith(f"renewed {records[2]['id']} -> ")
    cron = proc.ok("renew", "--expiring-within", "30")
    assert cron.stdout.startswith(f"renewed {client['id']} -> ")
    dest = tmp_path / "backup.db"
    assert proc.ok("backup", str(dest)).stdout.startswith(f"backed up the store to {dest}")
    assert proc.error("backup", str(dest)) == f"{dest} already exists; choose a new file name"
    assert proc.error("issue", "bad_name!").startswith("bad name 'bad_name!'")
    assert proc.error("issue", "nas.example.com").startswith("'nas.example.com' is outside")
    assert proc.error("show", "nope") == "no certificate matches 'nope'; run `certtui list` to see the ids"


@pytest.mark.slow
def test_passphrase_rules_in_a_real_process(proc: Proc, home: Path, tmp_path: Path) -> None:
    pp = tmp_path / "pp"
    pp.write_bytes(PASSPHRASE.encode() + b"\r\n")
    pp.chmod(0o600)
    with_file = proc.env(CERTTUI_PASSPHRASE_FILE=str(pp))
    proc.ok("init", "--name", ROOT_NAME, env=with_file)
    proc.ok("issue", "nas.home.arpa", env=with_file)
    without = proc.env()
    without.pop("CERTTUI_PASSPHRASE_FILE", None)
    # stdin is /dev/null: no prompt, one line, exit 2.
    assert proc.error("issue", "x.home.arpa", env=without) == NO_TTY
    assert len(json.loads(proc.ok("list", "--json", env=without).stdout)) == 2
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n", encoding="utf-8")
    wrong.chmod(0o600)
    assert proc.error("issue", "x.home.arpa", env=proc.env(CERTTUI_PASSPHRASE_FILE=str(wrong))) == WRONG


# ---------------------------------------------------------------- on a terminal


def converse(args: list[str], env: dict[str, str], answer: str, timeout: float = 30) -> tuple[int, str]:
    """Run `python -m certtui ARGS` on a pseudo-terminal, answering every passphrase prompt."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "certtui", *args], env)
    transcript = ""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline, transcript
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096).decode(errors="replace")
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
            prompts = transcript.count("Store passphrase: ") + transcript.count("Repeat for confirmation: ")
            while answered < prompts:
                os.write(fd, answer.encode() + b"\n")
                answered += 1
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), transcript.replace("\r\n", "\n")


@pytest.mark.slow
def test_prompt_on_a_terminal(home: Path, tmp_path: Path) -> None:
    """A hidden click prompt, confirmed on `init`, asked once per process, never echoed."""
    env = {k: v for k, v in os.environ.items() if k != "CERTTUI_PASSPHRASE_FILE"}
    code, out = converse(["init", "--name", ROOT_NAME], env, PASSPHRASE)
    assert code == 0, out
    assert out.count("Store passphrase: ") == 1
    assert out.count("Repeat for confirmation: ") == 1
    assert PASSPHRASE not in out
    assert f"created root {ROOT_NAME}" in out

    lines = tmp_path / "hosts.txt"
    lines.write_text("a.home.arpa\nb.home.arpa\nc.home.arpa\n", encoding="utf-8")
    code, out = converse(["issue", "--from", str(lines)], env, PASSPHRASE)
    assert code == 0, out
    assert out.count("Store passphrase: ") == 1
    assert "Repeat for confirmation" not in out
    assert out.count("issued server ") == 3

    code, out = converse(["list"], env, PASSPHRASE)
    assert code == 0, out
    assert "passphrase" not in out.lower()

    code, out = converse(["issue", "d.home.arpa"], env, "wrong " + PASSPHRASE)
    assert code == 2
    assert out.count("Store passphrase: ") == 1
    assert out.rstrip().endswith(f"error: {WRONG}")
    assert "Traceback" not in out
