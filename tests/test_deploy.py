"""Deploy targets without a server: what `deploy add` refuses, the files, modes and owner a deploy
writes, the hook environment, the reload's timeout, a failed verify, and all-or-nothing writes."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from support.cli import Cli
from support.pki import issue_one
from support.store import PASSPHRASE

from certtui.core import policy
from certtui.core.fileset import FileSet, NewFile
from certtui.core.models import CertRecord, IssueRequest
from certtui.core.store import Store
from certtui.errors import CerttuiError
from certtui.journeys import deploy as journey


@pytest.fixture
def leaf(make_store: Callable[..., Store], passphrase_file: Path) -> tuple[Store, CertRecord]:
    store = make_store(passphrase=PASSPHRASE, intermediate=True)
    return store, issue_one(store, IssueRequest(names=("nas.home.arpa", "192.168.1.10")))


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "export-password"
    path.write_text("p12 export password\n")
    path.chmod(0o600)
    return path


def test_add_refuses_what_cannot_work(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path, secret: Path
) -> None:
    store, rec = leaf
    out = str(tmp_path / "x.pem")
    loose = tmp_path / "loose"
    loose.write_text("pw\n")
    loose.chmod(0o644)
    cases = {
        (): "needs a file to write",
        ("--cert", out, "--key-format", "pkcs8-encrypted"): "--key-format goes with --key",
        ("--p12", out): "need --password-file",
        ("--p12", out, "--password-file", str(loose)): "can be read by others (mode 0644)",
        ("--cert", out, "--password-file", str(secret)): "--password-file goes with --p12",
        ("--cert", out, "--reload-shell"): "--reload-shell goes with --reload",
        ("--cert", out, "--servername", "nas.home.arpa"): "go with --verify",
        ("--cert", out, "--verify", "nas:99999"): "not a number from 1 to 65535",
        ("--cert", out, "--mode", "0999"): "not an octal mode",
        ("--cert", out, "--mode", "0040"): "owner unable to read",
        ("--cert", out, "--owner", "no-such-user-here"): "there is no user",
        ("--cert", out, "--owner", "root:no-such-group"): "there is no group",
        ("--cert", out, "--key", out): "name the same file",
        ("--cert", str(tmp_path / "missing" / "c.pem")): "does not exist; create it first",
        ("--cert", str(tmp_path)): "is a folder",
        ("--cert", out, "--reload", "nginx -s 'reload"): "cannot be split into words",
    }
    for args, expected in cases.items():
        assert expected in cli.error("deploy", "add", rec.id, *args), args
    root = store.root_id() or ""
    assert "is a CA" in cli.error("deploy", "add", root, "--cert", out)
    assert cli.json("deploy", "list", "--json") == []


def test_another_owner_needs_root_in_one_line() -> None:
    nobody = pwd.getpwnam("nobody").pw_uid
    with pytest.raises(CerttuiError, match=r"needs root .* run as root or drop --owner"):
        journey.check_owner_allowed(nobody, -1, "nobody", euid=1000)
    journey.check_owner_allowed(nobody, -1, "nobody", euid=0)
    journey.check_owner_allowed(1000, -1, "me", euid=1000)


def test_a_deploy_writes_every_file_with_its_mode_owner_and_content(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path, secret: Path
) -> None:
    store, rec = leaf
    out = tmp_path / "out"
    out.mkdir()
    owner = "root:nogroup" if os.geteuid() == 0 else None
    args = ["--fullchain", str(out / "fullchain.pem"), "--cert", str(out / "cert.pem")]
    args += ["--chain", str(out / "chain.pem"), "--key", str(out / "key.pem"), "--p12", str(out / "id.p12")]
    args += ["--password-file", str(secret), "--mode", "0640"] + (["--owner", owner] if owner else [])
    added = cli.ok("deploy", "add", "nas.home.arpa", *args).stdout
    assert "added deploy target 1 for" in added and "certtui deploy run 1" in added
    cli.ok("deploy", "run", "1")
    cert = store.certificate(rec.id)
    chain = store.chain(rec.id)
    pem = [c.public_bytes(serialization.Encoding.PEM) for c in [cert, *chain]]
    assert (out / "cert.pem").read_bytes() == pem[0]
    # The fullchain is what a server sends: leaf and intermediate, no root; the chain has the CAs.
    assert (out / "fullchain.pem").read_bytes() == pem[0] + pem[1]
    assert (out / "chain.pem").read_bytes() == pem[1] + pem[2]
    key = serialization.load_pem_private_key((out / "key.pem").read_bytes(), None)
    assert key.public_key() == cert.public_key()
    p12 = pkcs12.load_pkcs12((out / "id.p12").read_bytes(), b"p12 export password")
    assert p12.cert is not None and p12.cert.certificate == cert
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {
        "fullchain.pem": 0o644,
        "cert.pem": 0o644,
        "chain.pem": 0o644,
        "key.pem": 0o640,
        "id.p12": 0o640,
    }
    if owner:
        gid = grp.getgrnam("nogroup").gr_gid
        assert {p.stat().st_gid for p in out.iterdir()} == {gid}
    listed = cli.json("deploy", "list", "--json")[0]
    assert listed["last_ok"] is True and listed["last_stage"] == "deployed"


def test_the_key_is_0600_by_default_and_can_be_encrypted(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path, secret: Path
) -> None:
    store, rec = leaf
    key_path = tmp_path / "key.pem"
    cli.ok(
        "deploy",
        "add",
        rec.id,
        "--key",
        str(key_path),
        "--key-format",
        "pkcs8-encrypted",
        "--password-file",
        str(secret),
    )
    cli.ok("deploy", "run", "--all")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    data = key_path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(data, b"p12 export password")
    assert key.public_key() == store.certificate(rec.id).public_key()


def test_the_reload_gets_a_hook_environment_without_the_passphrase(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path, passphrase_file: Path
) -> None:
    _, rec = leaf
    dump = tmp_path / "env.json"
    script = f'python3 -c \'import json, os; json.dump(dict(os.environ), open("{dump}", "w"))\''
    cli.ok(
        "deploy", "add", rec.id, "--fullchain", str(tmp_path / "f.pem"), "--key", str(tmp_path / "k.pem"),
        "--reload", script,
    )  # fmt: skip
    cli.ok("deploy", "run", rec.id)
    env = json.loads(dump.read_text())
    assert env["CERTTUI_CERT_ID"] == rec.id and env["CERTTUI_SERIAL"] == rec.serial
    assert env["CERTTUI_NAMES"] == "nas.home.arpa 192.168.1.10"
    assert env["CERTTUI_FULLCHAIN"] == str(tmp_path / "f.pem") and env["CERTTUI_KEY"] == str(
        tmp_path / "k.pem"
    )
    assert env["CERTTUI_TARGET_ID"] == "1" and env["CERTTUI_NOT_AFTER"] == rec.not_after
    assert "CERTTUI_PASSPHRASE_FILE" not in env and "CREDENTIALS_DIRECTORY" not in env
    assert PASSPHRASE not in dump.read_text()


def test_the_reload_runs_without_a_shell_unless_asked(tmp_path: Path) -> None:
    env = dict(os.environ)
    ran = journey.run_reload("echo $HOME; exit 9", False, env)
    # Without a shell, `echo` prints its words as they are: no variable, no `;`.
    assert ran.ok and ran.output.strip() == "$HOME; exit 9"
    ran = journey.run_reload("echo $HOME; exit 9", True, env)
    assert not ran.ok and "exited with status 9" in ran.message and ran.output.strip() == env["HOME"]
    missing = journey.run_reload("/no/such/reloader --now", False, env)
    assert not missing.ok and "was not found" in missing.message


def test_a_hung_reload_is_stopped_at_its_timeout() -> None:
    ran = journey.run_reload("sh -c 'echo started; sleep 60'", False, dict(os.environ), timeout=0.5)
    assert not ran.ok and "did not finish within 0.5 s and was stopped" in ran.message
    assert ran.output.strip() == "started"
    assert policy.RELOAD_TIMEOUT_S == 60.0


def test_a_failed_verify_keeps_the_new_files_and_says_so(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upkeep_support import free_port

    store, rec = leaf
    monkeypatch.setattr(policy, "VERIFY_WAIT_S", 0.2)
    cert_path = tmp_path / "c.pem"
    cli.ok("deploy", "add", rec.id, "--cert", str(cert_path), "--verify", f"127.0.0.1:{free_port()}")
    result = cli("deploy", "run", "1")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "failed at verify" in lines[0] and "the new files stay" in lines[0]
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == store.certificate(rec.id)
    assert cli.json("deploy", "list", "--json")[0]["last_stage"] == "verify"


def test_deploy_list_and_remove(leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path) -> None:
    _, rec = leaf
    cli.ok("deploy", "add", rec.id, "--cert", str(tmp_path / "c.pem"), "--reload", "systemctl reload nginx")
    text = cli.ok("deploy", "list").stdout
    assert "never deployed" in text and "reload: systemctl reload nginx" in text
    assert "removed deploy target 1" in cli.ok("deploy", "remove", "1").stdout
    assert cli.json("deploy", "list", "--json") == []
    assert "no deploy target 1" in cli.error("deploy", "remove", "1")
    assert "not both" in cli.error("deploy", "run", "1", "--all")


def test_a_file_set_puts_everything_back_when_a_rename_fails(tmp_path: Path) -> None:
    first, second = tmp_path / "a.pem", tmp_path / "b.pem"
    first.write_bytes(b"old a")
    second.write_bytes(b"old b")
    files = FileSet([NewFile(first, b"new a", 0o644), NewFile(second, b"new b", 0o600)])
    files.stage()
    # Something replaces b.pem with a folder between staging and the swap: its rename fails.
    second.unlink()
    second.mkdir()
    (second / "inside").write_text("x")
    with pytest.raises(CerttuiError, match="previous files are back"):
        files.swap()
    assert first.read_bytes() == b"old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pem", "b.pem"]


def test_restore_removes_files_that_did_not_exist(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.pem", tmp_path / "fresh.pem"
    old.write_bytes(b"old")
    files = FileSet([NewFile(old, b"new", 0o644), NewFile(fresh, b"new", 0o644)])
    files.stage()
    files.swap()
    assert old.read_bytes() == b"new" and fresh.exists()
    files.restore()
    assert old.read_bytes() == b"old" and not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pem"]


def test_the_reload_output_goes_into_the_audit_log(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path
) -> None:
    store, rec = leaf
    cli.ok(
        "deploy", "add", rec.id, "--cert", str(tmp_path / "c.pem"), "--reload", "echo service reloaded fine"
    )
    cli.ok("deploy", "run", "1")
    cli.ok(
        "deploy",
        "add",
        rec.id,
        "--cert",
        str(tmp_path / "d.pem"),
        "--reload",
        "sh -c 'echo broken conf; exit 2'",
    )
    assert cli("deploy", "run", "2").exit_code == 1
    details = [
        d for _, _, action, cert_id, d in store.events() if action.startswith("deploy") and cert_id == rec.id
    ]
    assert any(d.startswith("target 1: ") and d.endswith("| output: service reloaded fine") for d in details)
    assert any(d.startswith("target 2: ") and d.endswith("| output: broken conf") for d in details)


def test_verify_speaks_starttls_to_a_mail_server(
    leaf: tuple[Store, CertRecord], cli: Cli, tmp_path: Path
) -> None:
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink
    from upkeep_support import free_port

    _, rec = leaf
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cli.ok("deploy", "add", rec.id, "--fullchain", str(chain), "--key", str(key))
    cli.ok("deploy", "run", "1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain, key)
    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=False)
    controller.start()
    try:
        where = f"127.0.0.1:{port}"
        cli.ok(
            "deploy",
            "add",
            rec.id,
            "--cert",
            str(tmp_path / "c.pem"),
            "--verify",
            where,
            "--starttls",
            "smtp",
        )
        done = cli.ok("deploy", "run", "2")
        assert f"verified: {where} presents serial {rec.serial}" in done.stdout
    finally:
        controller.stop()
