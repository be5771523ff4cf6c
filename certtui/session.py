"""One CLI process's session: where the store is, the store opened once, and its passphrase."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from certtui.errors import CerttuiError

# Passphrase files name the secret on their first line; more would be a mistake to flag.
PASSPHRASE_ENV = "CERTTUI_PASSPHRASE_FILE"

# prctl(2) option (linux/prctl.h): 0 makes the process undumpable and unattachable by others.
_PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    """No core file, and (Linux) no ptrace or /proc/PID/mem by other processes of the user:
    for a process about to hold a passphrase, a KEK or a private key. Once per process."""
    global _dumps_forbidden
    if _dumps_forbidden:
        return
    _dumps_forbidden = True
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


_dumps_forbidden = False


class Session:
    """One CLI process: where the store is, and its store, unlocked at most once.

    The passphrase is never kept: `unlocked_store` derives the KEK and drops it.
    """

    def __init__(self, home: str | None, enroll_flags: dict[str, Any] | None = None) -> None:
        self.home = home
        self._store: Any = None
        # The enrollment flags given before the subcommand (`certtui --port 9000 enroll`), by
        # parameter name: `enroll` takes them where its own flag was not given.
        self.enroll_flags: dict[str, Any] = dict(enroll_flags or {})

    @property
    def db(self) -> Path:
        from certtui.paths import db_path

        return db_path(self.home)

    def passphrase(self, *, confirm: bool = False) -> str:
        """From $CERTTUI_PASSPHRASE_FILE, else a hidden prompt on a terminal; not kept here."""
        return read_passphrase(confirm=confirm)

    def store(self) -> Any:
        """The open store (no unlock): for commands that only read public data."""
        if self._store is None:
            from certtui.commands.common import warn
            from certtui.core.store import Store

            self._store = Store.open(self.db)
            for notice in self._store.notices:
                warn(notice)
        return self._store

    def unlocked_store(self) -> Any:
        """The store, unlocked if it is encrypted: for commands that use a private key."""
        forbid_core_dumps()
        store = self.store()
        if not store.unlocked:
            store.unlock(self.passphrase())
        return store


def read_secret_file(
    path: str | os.PathLike[str], label: str, what: str = "passphrase", *, private: bool = False
) -> str:
    """The secret on a file's first line, line ending stripped; `label` names it in errors.

    `private`: refuse a regular file that group or others may read (as ssh refuses such keys).
    """
    from certtui.core.userfiles import read_user_file

    forbid_core_dumps()
    if private:
        try:
            st = os.stat(path)
        except OSError:
            st = None  # read_user_file says what is wrong
        if st is not None and stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
            raise CerttuiError(
                f"{label} ({path}) can be read by other users (mode {stat.S_IMODE(st.st_mode):o}); "
                f"make it private with `chmod 600 {path}`"
            )
    data = read_user_file(path, f"{what} file", f"{label} ({path})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CerttuiError(f"{label} ({path}) is not UTF-8 text; write the {what} as text") from None
    secret = text.split("\n", 1)[0].removesuffix("\r")
    if not secret:
        raise CerttuiError(f"{label} ({path}) holds an empty {what}; put it on the file's first line")
    return secret


def read_passphrase(
    *, confirm: bool, env_name: str = PASSPHRASE_ENV, prompt: str = "Store passphrase"
) -> str:
    """From the file $`env_name` names, else a hidden prompt on a terminal."""
    forbid_core_dumps()
    env = os.environ.get(env_name)
    if env:
        return read_secret_file(env, f"${env_name}", private=True)
    if not sys.stdin.isatty():
        raise CerttuiError(
            f"a passphrase is needed but stdin is not a terminal; set ${env_name} to a file holding it"
        )
    secret = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    if not secret:
        raise CerttuiError("the passphrase is empty; type one, or use --no-passphrase")
    return str(secret)
