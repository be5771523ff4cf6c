"""Shared fixtures: an isolated store folder, a passphrase file, stores, and two ways to run the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest, KeySpec
from certtui.core.store import Store
from certtui.paths import db_path

PASSPHRASE = "correct horse battery staple"
"""The secret the `passphrase_file` fixture writes (its first line)."""

# A real subprocess starts Python, click and cryptography in about 0.2 s; a minute covers a
# loaded CI machine without letting a hung process stall the suite.
SUBPROCESS_TIMEOUT_S = 60


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The store folder, `tmp_path / "home"`, as $CERTTUI_HOME; no passphrase file is set.

    A subfolder rather than `tmp_path` itself, so that store creation makes (and chmods) the
    folder, and test files beside it (passphrase, exports, backups) stay out of the store.
    """
    path = tmp_path / "home"
    monkeypatch.setenv("CERTTUI_HOME", str(path))
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE", raising=False)
    return path


@pytest.fixture
def passphrase_file(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file holding PASSPHRASE on its first line, named by $CERTTUI_PASSPHRASE_FILE (0600:
    certtui refuses a passphrase file that others can read)."""
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("CERTTUI_PASSPHRASE_FILE", str(path))
    return path


@pytest.fixture
def make_store(home: Path) -> Iterator[Callable[..., Store]]:
    """Create a store through the core (faster than the CLI); every store is closed afterwards."""
    opened: list[Store] = []

    def make(
        *,
        name: str = "Test Root CA",
        key: KeySpec = KeySpec.EC256,
        days: int | None = None,
        permit: Sequence[str] = (),
        intermediate: bool = False,
        passphrase: str | None = None,
        where: Path | None = None,
        now: datetime | None = None,
    ) -> Store:
        req = InitRequest(name=name, key=key, days=days, permit=tuple(permit), intermediate=intermediate)
        store, _ = init_store(db_path(where or home), req, passphrase, now=now)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


class Cli:
    """Runs `certtui ARGS...` in this process through click's CliRunner (stderr kept apart)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        from certtui.cli import cli

        return self.runner.invoke(cli, list(args), input=input, prog_name="certtui")

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run and insist on exit status 0."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        """Run a `--json` command and parse what it printed on stdout."""
        return json.loads(self.ok(*args).stdout)

    def error(self, *args: str, input: str | None = None) -> str:
        """Run, insist on a user error, and return the message after `error: `."""
        result = self(*args, input=input)
        return assert_user_error(result.exit_code, result.stdout, result.stderr, result.exception)


def assert_user_error(code: int, stdout: str, stderr: str, exception: BaseException | None = None) -> str:
    """Exit 2, one stderr line `error: ...`, no traceback anywhere; returns the message."""
    assert code == 2, (code, stdout, stderr, exception)
    if exception is not None:
        # CliRunner: only a clean exit, never an exception escaping the command.
        assert isinstance(exception, SystemExit), exception
    assert "Traceback" not in stdout + stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "\n" not in lines[0]
    return lines[0].removeprefix("error: ")


@pytest.fixture
def cli(home: Path) -> Cli:
    """`cli("list", "--json")`, `cli.ok(...)`, `cli.json(...)`, `cli.error(...)` in this process."""
    return Cli()


class Proc:
    """Runs `python -m certtui ARGS...` as a real process with this test's environment."""

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "certtui", *args]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(extra)
        return env

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = self(*args, env=env)
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
        return done

    def error(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = self(*args, env=env)
        return assert_user_error(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or self.env(),
        )


@pytest.fixture
def proc(home: Path) -> Proc:
    """`proc("list")` runs the real `python -m certtui list` (stdin is not a terminal)."""
    return Proc()


def store_is_whole(db: Path) -> tuple[int, int]:
    """Assert the store is whole (after a kill, say): integrity, key pairing, unique serials;
    return (certificates, keys)."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Every certificate issued here has its key row ...
        assert (
            conn.execute(
                "SELECT c.id FROM certificates c LEFT JOIN keys k ON k.id = c.key_id "
                "WHERE c.key_id IS NULL OR k.id IS NULL"
            ).fetchall()
            == []
        )
        # ... and every key row its certificate: none is left pending.
        assert (
            conn.execute(
                "SELECT k.id FROM keys k LEFT JOIN certificates c ON c.key_id = k.id WHERE c.id IS NULL"
            ).fetchall()
            == []
        )
        # Names and the audit event came in the same transaction as the certificate.
        assert (
            conn.execute(
                "SELECT n.cert_id FROM cert_names n LEFT JOIN certificates c ON c.id = n.cert_id "
                "WHERE c.id IS NULL"
            ).fetchall()
            == []
        )
        certs = conn.execute("SELECT count(*) FROM certificates").fetchone()[0]
        made = "SELECT count(*) FROM events WHERE action IN ('init', 'issue')"
        assert conn.execute(made).fetchone()[0] == certs
        serials = [r[0] for r in conn.execute("SELECT serial FROM certificates")]
        assert len(set(serials)) == len(serials)
        keys = conn.execute("SELECT count(*) FROM keys").fetchone()[0]
        return certs, keys
