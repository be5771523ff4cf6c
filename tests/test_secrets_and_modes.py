"""Issue 13 §5: no core dump of a secret, no loose passphrase file or folder, a full disk in one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hardening_support import record
from support.cli import Cli, Proc, assert_user_error
from support.store import PASSPHRASE

from certtui.core.store import Store
from certtui.paths import db_path

# prctl(2) option numbers (linux/prctl.h).
PR_GET_DUMPABLE = 3


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- core dumps ----------------------------------------------------------------------------

_PROBE = """
import ctypes, resource, sys
from certtui.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
print(soft, hard, ctypes.CDLL(None).prctl({get}, 0, 0, 0, 0))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.parametrize(
    "args",
    [
        ("issue", "dump.home.arpa"),
        ("passwd",),
        ("export", "ROOT", "--format", "key", "--out", "OUT", "--password-file", "NEW"),
    ],
    ids=["issue", "passwd", "export"],
)
def test_commands_that_handle_a_passphrase_or_key_never_dump_core(
    make_store: Callable[..., Store], passphrase_file: Path, proc: Proc, tmp_path: Path, args: tuple[str, ...]
) -> None:
    store = make_store(passphrase=PASSPHRASE)
    root = store.root_id() or ""
    store.close()
    new = tmp_path / "new"
    new.write_text("another passphrase\n")
    new.chmod(0o600)
    argv = [
        a.replace("ROOT", root).replace("OUT", str(tmp_path / "root.key")).replace("NEW", str(new))
        for a in args
    ]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(get=PR_GET_DUMPABLE), *argv],
        capture_output=True,
        text=True,
        env=proc.env(CERTTUI_NEW_PASSPHRASE_FILE=str(new)),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr, done.stderr
    # RLIMIT_CORE 0 (soft and hard: a child cannot raise it again), and not dumpable.
    assert done.stdout.splitlines()[-1] == "0 0 0"


# -- passphrase files -----------------------------------------------------------------------


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o604, 0o660])
def test_a_passphrase_file_others_can_read_is_refused_with_the_fix(
    cli: Cli, make_store: Callable[..., Store], passphrase_file: Path, loose: int
) -> None:
    make_store(passphrase=PASSPHRASE).close()
    passphrase_file.chmod(loose)
    assert cli.error("issue", "x.home.arpa") == (
        f"$CERTTUI_PASSPHRASE_FILE ({passphrase_file}) can be read by other users (mode {loose:o}); "
        f"make it private with `chmod 600 {passphrase_file}`"
    )
    passphrase_file.chmod(0o400)
    cli.ok("issue", "x.home.arpa")


def test_a_new_passphrase_file_others_can_read_is_refused_before_anything_changes(
    cli: Cli,
    make_store: Callable[..., Store],
    passphrase_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_store(passphrase=PASSPHRASE).close()
    new = tmp_path / "new"
    new.write_text("another passphrase\n")
    new.chmod(0o644)
    monkeypatch.setenv("CERTTUI_NEW_PASSPHRASE_FILE", str(new))
    assert "can be read by other users (mode 644)" in cli.error("passwd")
    cli.ok("issue", "still.home.arpa")


# -- folders --------------------------------------------------------------------------------


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_missing_parents_of_home_are_created_0700(cli: Cli, tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "a" / "b" / "store"
    cli.ok("--home", str(home), "init", "--name", "Deep Root", "--no-passphrase")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", home):
        assert mode(folder) == 0o700, folder


def test_a_store_folder_wider_than_0700_is_tightened_with_a_notice(
    cli: Cli, make_store: Callable[..., Store], home: Path
) -> None:
    make_store().close()
    home.chmod(0o755)
    db_path(home).chmod(0o644)
    done = cli.ok("list")
    assert done.stderr == (
        f"warning: {home} was open to group or others (mode 755); certtui set it back to 700\n"
        f"warning: {db_path(home)} was open to group or others (mode 644); certtui set it back to 600\n"
    )
    assert mode(home) == 0o700
    assert mode(db_path(home)) == 0o600
    assert cli.ok("list").stderr == ""


# -- a full disk ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, where the test may mount one (root on Linux)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Fill the disk so that about `leave` bytes stay free."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# Free space to leave, in bytes: from nothing to more than a store needs, so that every
# step (the temporary file, its WAL and shared memory, the final link) meets the full disk.
FREE_STEPS = [0, 4096, 16384, 49152, 98304, 196608, 262144, 393216, 524288, 786432, 1048576, 1572864]


def test_init_backup_and_restore_on_a_full_disk_say_one_line_and_leave_nothing_half_written(
    cli: Cli, make_store: Callable[..., Store], home: Path, small_disk: Path
) -> None:
    store = make_store()
    for n in range(20):
        from support.pki import issue_one

        from certtui.core.models import IssueRequest

        issue_one(store, IssueRequest(names=(f"h{n}.home.arpa",)))
    backup = home.parent / "good.db"
    store.backup(backup)
    outcomes = {"init": [0, 0], "backup": [0, 0], "restore": [0, 0]}
    for leave in FREE_STEPS:
        fill(small_disk, leave)
        target = small_disk / "store"
        done = cli("--home", str(target), "init", "--name", "Full Root", "--no-passphrase")
        if done.exit_code == 0:
            outcomes["init"][0] += 1
            assert leftovers(target) == ["certtui.db"] or leftovers(target)[0] == "certtui.db"
        else:
            outcomes["init"][1] += 1
            message = assert_user_error(done.exit_code, done.stdout, done.stderr, done.exception)
            assert (
                message
                == f"the disk holding {target} is full; nothing was written; free some space and try again"
            )
            assert leftovers(target) == []
        for p in target.glob("*") if target.exists() else []:
            p.unlink()
        # backup: into the small disk.
        copy = small_disk / "copy.db"
        done = cli("backup", str(copy))
        if done.exit_code == 0:
            outcomes["backup"][0] += 1
            copy.unlink()
        else:
            outcomes["backup"][1] += 1
            message = assert_user_error(done.exit_code, done.stdout, done.stderr, done.exception)
            assert message == (
                f"the disk holding {small_disk} is full; nothing was written; free some space and try again"
            )
            assert not copy.exists()
        # restore: onto the small disk.
        done = cli("--home", str(target), "restore", str(backup))
        if done.exit_code == 0:
            outcomes["restore"][0] += 1
        else:
            outcomes["restore"][1] += 1
            message = assert_user_error(done.exit_code, done.stdout, done.stderr, done.exception)
            assert (
                message
                == f"the disk holding {target} is full; nothing was written; free some space and try again"
            )
            assert leftovers(target) == []
        for p in target.glob("*") if target.exists() else []:
            p.unlink()
    record("full_disk_runs", {name: {"worked": w, "refused": f} for name, (w, f) in outcomes.items()})
    # The steps reach both ends: each command failed on the fullest disk and worked on the emptiest.
    for name, (worked, failed) in outcomes.items():
        assert worked and failed, (name, outcomes)
