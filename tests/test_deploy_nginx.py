"""Deploy targets against Debian's nginx (and Caddy) on 127.0.0.1: renew --due renews, deploys, reloads
and verifies; a failed reload or an unwritable target keeps the previous files."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.cli import Cli, Proc
from support.pki import issue_one
from support.store import PASSPHRASE
from upkeep_support import Nginx, nginx_available, running_caddy, running_nginx, served_serial

from certtui.core.models import CertRecord, IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow

pytestmark = pytest.mark.skipif(not nginx_available(), reason="needs Debian's nginx (apt-get install nginx)")

# A 397-day leaf issued 300 days ago has passed two thirds of its life (265 days): due.
AGE_DAYS = 300


@pytest.fixture
def old_cert(make_store: Callable[..., Store], passphrase_file: Path) -> Iterator[tuple[Store, CertRecord]]:
    store = make_store(passphrase=PASSPHRASE)
    rec = issue_one(
        store, IssueRequest(names=("nas.home.arpa", "127.0.0.1")), now=utcnow() - timedelta(days=AGE_DAYS)
    )
    yield store, rec


@pytest.fixture
def nginx(tmp_path: Path, old_cert: tuple[Store, CertRecord], cli: Cli) -> Iterator[Nginx]:
    """nginx serving the old certificate, exported the ordinary way before any target exists."""
    _, rec = old_cert
    certs = tmp_path / "certs"
    certs.mkdir()
    fullchain, key = certs / "fullchain.pem", certs / "key.pem"
    cli.ok("export", rec.id, "--format", "fullchain", "--out", str(fullchain))
    cli.ok("export", rec.id, "--format", "key", "--unencrypted-key", "--out", str(key))
    with running_nginx(tmp_path / "nginx", fullchain, key) as server:
        yield server


def _add(cli: Cli, rec: CertRecord, server: Nginx, *extra: str) -> None:
    cli.ok(
        "deploy", "add", rec.id,
        "--fullchain", str(server.fullchain),
        "--key", str(server.key),
        "--verify", server.address,
        "--servername", "nas.home.arpa",
        *extra,
    )  # fmt: skip


def test_renew_due_renews_deploys_reloads_and_verifies_once(
    old_cert: tuple[Store, CertRecord], nginx: Nginx, cli: Cli, proc: Proc
) -> None:
    store, old = old_cert
    assert served_serial(nginx.port) == old.serial
    _add(cli, old, nginx, "--reload", nginx.reload)

    done = proc("renew", "--due")
    assert done.returncode == 0, done.stderr
    new = store.get(store.get(old.id).renewed_by or "")
    assert new.names == old.names and new.serial != old.serial
    assert f"renewed {old.id} -> {new.id}" in done.stdout
    # openssl sees the new certificate, served by the reloaded nginx from the deployed files.
    assert served_serial(nginx.port) == new.serial
    assert stat.S_IMODE(os.stat(nginx.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(nginx.fullchain).st_mode) == 0o644
    listed = cli.json("deploy", "list", "--json")
    assert listed[0]["last_ok"] is True and listed[0]["last_stage"] == "verified"
    assert listed[0]["deployed_serial"] == new.serial and listed[0]["current_cert_id"] == new.id
    assert f"presents serial {new.serial}" in cli.ok("deploy", "list").stdout
    assert any(a == "deploy" and c == new.id and "presents serial" in d for _, _, a, c, d in store.events())
    # No temp or backup file is left beside the deployed ones.
    assert sorted(p.name for p in nginx.fullchain.parent.iterdir()) == ["fullchain.pem", "key.pem"]

    # The same day again: nothing is renewed, nothing is deployed, and no passphrase is needed.
    deploys = len([e for e in store.events() if e[2] == "deploy"])
    env = proc.env()
    env.pop("CERTTUI_PASSPHRASE_FILE")
    again = proc("renew", "--due", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "" and "nothing is due" in again.stderr
    assert store.get(new.id).renewed_by is None
    assert len([e for e in store.events() if e[2] == "deploy"]) == deploys
    assert served_serial(nginx.port) == new.serial
    last = json.loads(store.meta("renew_due_last") or "{}")
    assert last["ok"] is True and last["renewed"] == []


def test_a_failing_reload_keeps_the_old_files_and_exits_1_with_one_line(
    old_cert: tuple[Store, CertRecord], nginx: Nginx, cli: Cli, proc: Proc
) -> None:
    store, old = old_cert
    before = {p: p.read_bytes() for p in (nginx.fullchain, nginx.key)}
    _add(cli, old, nginx, "--reload", "/bin/sh -c 'echo nginx: [emerg] no such file >&2; exit 3'")
    done = proc("renew", "--due")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("failed: deploy of "), done.stderr
    assert "exited with status 3: nginx: [emerg] no such file" in lines[0]
    assert "previous files are back" in lines[0]
    assert {p: p.read_bytes() for p in before} == before
    assert served_serial(nginx.port) == old.serial
    listed = cli.json("deploy", "list", "--json")[0]
    assert listed["last_ok"] is False and listed["last_stage"] == "reload"
    assert listed["deployed_serial"] is None
    # The reload's output is kept in the audit log.
    failed = [d for _, _, action, _, d in store.events() if action == "deploy-failed"]
    assert len(failed) == 1 and failed[0].endswith("| output: nginx: [emerg] no such file")
    assert sorted(p.name for p in nginx.fullchain.parent.iterdir()) == ["fullchain.pem", "key.pem"]


def test_an_unwritable_target_keeps_the_old_files_and_exits_1_with_one_line(
    old_cert: tuple[Store, CertRecord], nginx: Nginx, cli: Cli, proc: Proc, tmp_path: Path
) -> None:
    _store, old = old_cert
    gone = tmp_path / "gone"
    gone.mkdir()
    before = nginx.fullchain.read_bytes()
    # The fullchain can be written, the key cannot (its folder disappears after `deploy add`).
    _add(cli, old, nginx, "--cert", str(gone / "cert.pem"), "--reload", nginx.reload)
    gone.rmdir()
    done = proc("renew", "--due")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "failed at write" in lines[0] and "does not exist" in lines[0], done.stderr
    assert "previous files are unchanged" in lines[0]
    assert nginx.fullchain.read_bytes() == before
    assert sorted(p.name for p in nginx.fullchain.parent.iterdir()) == ["fullchain.pem", "key.pem"]
    assert served_serial(nginx.port) == old.serial


@pytest.mark.skipif(shutil.which("caddy") is None, reason="needs caddy")
def test_the_caddy_recipe_reloads_the_files_with_force(
    old_cert: tuple[Store, CertRecord], cli: Cli, proc: Proc, tmp_path: Path
) -> None:
    store, old = old_cert
    certs = tmp_path / "caddy-certs"
    certs.mkdir()
    fullchain, key = certs / "fullchain.pem", certs / "key.pem"
    cli.ok("export", old.id, "--format", "fullchain", "--out", str(fullchain))
    cli.ok("export", old.id, "--format", "key", "--unencrypted-key", "--out", str(key))
    with running_caddy(tmp_path / "caddy", fullchain, key) as caddy:
        assert served_serial(caddy.port) == old.serial
        cli.ok(
            "deploy", "add", old.id, "--fullchain", str(fullchain), "--key", str(key),
            "--reload", caddy.reload, "--verify", caddy.address, "--servername", "nas.home.arpa",
        )  # fmt: skip
        done = proc("renew", "--due")
        assert done.returncode == 0, done.stderr
        new = store.get(old.id).renewed_by
        assert new is not None and served_serial(caddy.port) == store.get(new).serial
