"""`schedule install|status`: a systemd timer (or a cron line) running `certtui renew --due --quiet` daily."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from certtui.core import policy
from certtui.errors import CerttuiError

NAME = "certtui-renew"
CREDENTIAL = "certtui-passphrase"
_AT = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
# Unit files are configuration, readable by all (systemd reads them); they hold no secret.
UNIT_MODE = 0o644


@dataclass(frozen=True)
class ScheduleRequest:
    """Where the units go (user or system manager), when they run, and the passphrase's file."""

    scope: str
    at: str
    home: Path
    passphrase_file: Path | None


def parse_at(text: str) -> tuple[int, int]:
    m = _AT.fullmatch(text.strip())
    if not m:
        raise CerttuiError(f"--at {text!r} is not a time of day; write HH:MM, e.g. 03:17")
    return int(m.group(1)), int(m.group(2))


def check_request(
    scope: str, at: str, home: Path, encrypted: bool, passphrase_file: str | None
) -> ScheduleRequest:
    from certtui.journeys.secret_files import check_private

    parse_at(at)
    chosen = passphrase_file or os.environ.get("CERTTUI_PASSPHRASE_FILE")
    if encrypted and not chosen:
        raise CerttuiError(
            "the store has a passphrase and the timer runs unattended; give --passphrase-file FILE "
            "(mode 0600) or set $CERTTUI_PASSPHRASE_FILE"
        )
    path = check_private(chosen, "the passphrase file") if encrypted and chosen else None
    return ScheduleRequest(scope, at, home.expanduser().absolute(), path)


def unit_dir(scope: str) -> Path:
    if scope == "system":
        return Path("/etc/systemd/system")
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def _argv(home: Path) -> list[str]:
    return [sys.executable, "-m", "certtui", "--home", str(home), "renew", "--due", "--quiet"]


def _systemd_word(word: str) -> str:
    """One ExecStart= word: double-quoted, with systemd's specifiers and variables escaped."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"'


def units(req: ScheduleRequest) -> dict[str, str]:
    """The service and timer, by file name."""
    hour, minute = parse_at(req.at)
    exec_start = " ".join(_systemd_word(w) for w in _argv(req.home))
    secret = ""
    if req.passphrase_file is not None:
        if req.scope == "system":
            # systemd copies the file into a private, unswappable folder only this run can read.
            secret = (
                f"LoadCredential={CREDENTIAL}:{req.passphrase_file}\n"
                f"Environment=CERTTUI_PASSPHRASE_FILE=%d/{CREDENTIAL}\n"
            )
        else:
            secret = f"Environment={_systemd_word('CERTTUI_PASSPHRASE_FILE=' + str(req.passphrase_file))}\n"
    service = (
        "[Unit]\n"
        "Description=certtui: renew due certificates and deploy them\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={exec_start}\n"
        f"{secret}"
        "UMask=0077\n"
    )
    timer = (
        "[Unit]\n"
        "Description=certtui: daily renewal check\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00\n"
        f"RandomizedDelaySec={policy.SCHEDULE_RANDOM_DELAY}\n"
        "Persistent=true\n"
        f"Unit={NAME}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{NAME}.service": service, f"{NAME}.timer": timer}


def cron_line(req: ScheduleRequest) -> str:
    """The same run as a crontab line, for systems without systemd (cron reads % as a newline)."""
    hour, minute = parse_at(req.at)
    env = f"CERTTUI_PASSPHRASE_FILE={shlex.quote(str(req.passphrase_file))} " if req.passphrase_file else ""
    command = " ".join(shlex.quote(w) for w in _argv(req.home)).replace("%", "\\%")
    return f"{minute} {hour} * * * {env}{command}"


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def install(req: ScheduleRequest) -> list[Path]:
    """Write the units (atomically, 0644); returns their paths."""
    from certtui.core.export import write_atomic

    folder = unit_dir(req.scope)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CerttuiError(
            f"cannot create {folder} ({exc.strerror}); "
            + ("run as root for --system" if req.scope == "system" else "check your home folder")
        ) from None
    written = []
    for name, text in units(req).items():
        path = folder / name
        write_atomic(path, text.encode(), private=False)
        os.chmod(path, UNIT_MODE)
        written.append(path)
    return written


def enable(scope: str) -> str | None:
    """`systemctl [--user] daemon-reload` and `enable --now` the timer; None, or why it failed."""
    base = ["systemctl"] + (["--user"] if scope == "user" else [])
    for args in (["daemon-reload"], ["enable", "--now", f"{NAME}.timer"]):
        try:
            done = subprocess.run(
                base + args, capture_output=True, text=True, timeout=policy.SYSTEMCTL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(base + args)}` could not run ({exc})"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"`{' '.join(base + args)}` failed: {last}"
    return None


@dataclass(frozen=True)
class Status:
    """Where the timer is installed, when it runs next, and how the last run went."""

    installed: list[Path]
    at: str | None
    next_run: datetime | None


def next_run(at: str, now: datetime) -> datetime:
    """The next HH:MM (local time) after `now`, before the timer's random delay."""
    hour, minute = parse_at(at)
    local = now.astimezone()
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + timedelta(days=1)


def status(now: datetime) -> Status:
    found = [
        d / f"{NAME}.timer" for d in (unit_dir("user"), unit_dir("system")) if (d / f"{NAME}.timer").exists()
    ]
    at = None
    for path in found:
        m = re.search(r"^OnCalendar=\*-\*-\* (\d\d:\d\d):00$", path.read_text(), re.M)
        if m:
            at = m.group(1)
            break
    return Status(found, at, next_run(at, now) if at else None)
