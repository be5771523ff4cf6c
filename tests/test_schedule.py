"""`schedule install|status`: the systemd units (which `systemd-analyze verify` accepts), --dry-run,
the passphrase by LoadCredential= or a 0600 file, the cron line, and the status."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Cli
from support.store import PASSPHRASE

from certtui.core.store import Store


def _units(text: str) -> dict[str, str]:
    """The units a --dry-run printed, by the `# NAME` line before each."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if line.startswith("# "):
            name = line[2:]
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out


@pytest.fixture
def encrypted(make_store: Callable[..., Store], passphrase_file: Path) -> Path:
    make_store(passphrase=PASSPHRASE)
    passphrase_file.chmod(0o600)
    return passphrase_file


def test_dry_run_prints_each_unit_after_its_name_and_writes_nothing(
    encrypted: Path, cli: Cli, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    done = cli.ok("schedule", "install", "--system", "--at", "04:05", "--dry-run")
    out = done.stdout
    units = _units(out)
    assert list(units) == ["certtui-renew.service", "certtui-renew.timer"]
    assert out.splitlines()[0] == "# certtui-renew.service"
    service, timer = units["certtui-renew.service"], units["certtui-renew.timer"]
    assert f'"{sys.executable}" "-m" "certtui" "--home" "{home}" "renew" "--due" "--quiet"' in service
    assert f"LoadCredential=certtui-passphrase:{encrypted}\n" in service
    assert "Environment=CERTTUI_PASSPHRASE_FILE=%d/certtui-passphrase\n" in service
    assert "OnCalendar=*-*-* 04:05:00\n" in timer and "Persistent=true" in timer
    assert "WantedBy=timers.target" in timer
    # The crontab line goes to stderr: stdout holds the units only.
    cron = done.stderr.strip().splitlines()[-1]
    assert cron.startswith(f"5 4 * * * CERTTUI_PASSPHRASE_FILE={encrypted} ") and cron.endswith(
        "renew --due --quiet"
    )
    assert PASSPHRASE not in out
    assert not (tmp_path / "config").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("scope", ["system", "user"])
def test_systemd_analyze_verify_accepts_the_units(
    encrypted: Path, cli: Cli, home: Path, tmp_path: Path, scope: str
) -> None:
    out = cli.ok("schedule", "install", f"--{scope}", "--dry-run").stdout
    folder = tmp_path / "units"
    folder.mkdir()
    for name, text in _units(out).items():
        (folder / name).write_text(text)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    args = ["systemd-analyze", "verify"] + (["--user"] if scope == "user" else [])
    done = subprocess.run(
        [*args, str(folder / "certtui-renew.service"), str(folder / "certtui-renew.timer")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # verify only warns about unknown keys and bad values: none may be reported.
    assert "certtui-renew" not in done.stderr, done.stderr


def test_the_store_path_is_quoted_for_systemd(
    make_store: Callable[..., Store], tmp_path: Path, cli: Cli
) -> None:
    odd = tmp_path / "my 100% store"
    make_store(where=odd)
    done = cli.ok("--home", str(odd), "schedule", "install", "--user", "--dry-run")
    assert '"--home" "' + str(odd).replace("%", "%%") + '"' in done.stdout
    assert "\\%" in done.stderr.splitlines()[-1]  # cron reads a bare % as a newline


def test_the_passphrase_file_must_be_private(
    encrypted: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted.chmod(0o640)
    message = cli.error("schedule", "install", "--dry-run")
    assert "can be read by others (mode 0640)" in message and "chmod 600" in message
    monkeypatch.delenv("CERTTUI_PASSPHRASE_FILE")
    assert "give --passphrase-file FILE" in cli.error("schedule", "install", "--dry-run")
    assert "is not a time of day" in cli.error(
        "schedule", "install", "--at", "25:00", "--passphrase-file", "x"
    )


def test_an_unencrypted_store_needs_no_passphrase(make_store: Callable[..., Store], cli: Cli) -> None:
    make_store()
    out = cli.ok("schedule", "install", "--user", "--dry-run").stdout
    assert "PASSPHRASE" not in out and "LoadCredential" not in out


def test_install_writes_the_user_units_and_status_shows_the_next_run(
    encrypted: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certtui.journeys import schedule

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(schedule, "has_systemd", lambda: True)
    assert "no certtui timer installed" in cli.ok("schedule", "status").stdout
    out = cli.ok("schedule", "install", "--user", "--at", "03:17", "--no-enable").stdout
    folder = tmp_path / "config" / "systemd" / "user"
    assert f"wrote {folder / 'certtui-renew.service'}" in out and "systemctl --user enable --now" in out
    service = (folder / "certtui-renew.service").read_text()
    assert f'Environment="CERTTUI_PASSPHRASE_FILE={encrypted}"' in service
    assert oct((folder / "certtui-renew.timer").stat().st_mode & 0o777) == "0o644"
    status = cli.ok("schedule", "status").stdout
    assert f"timer: {folder / 'certtui-renew.timer'}" in status
    assert re.search(r"next run: \d{4}-\d\d-\d\d 03:17 ", status)
    assert "last run: never" in status
    cli.ok("renew", "--due")
    assert re.search(r"last run: \S+ ok, 0 renewed, 0 failed", cli.ok("schedule", "status").stdout)


def test_without_systemd_install_prints_a_cron_line(
    encrypted: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certtui.journeys import schedule

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(schedule, "has_systemd", lambda: False)
    out = cli.ok("schedule", "install", "--user").stdout
    assert "crontab -e" in out and out.strip().endswith("renew --due --quiet")
    assert not (tmp_path / "config").exists()
