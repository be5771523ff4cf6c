"""The click group: bare `certtui` opens the TUI; every subcommand is scriptable."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import click

from certtui import __version__
from certtui.commands.common import enrollment_options
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

    def __init__(self, home: str | None) -> None:
        self.home = home
        self._store: Any = None

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


# Each subcommand and the module (in certtui.commands) that defines it. A module is imported
# only when one of its commands runs, or when --help lists them all: `certtui issue` skips
# asyncio (enroll) and the checklist's CLI, about 40 ms of the 130 it may take.
COMMAND_MODULES: dict[str, str] = {
    "init": "pki",
    "issue": "pki",
    "list": "pki",
    "show": "pki",
    "renew": "pki",
    "locate": "pki",
    "backup": "pki",
    "revoke": "lifecycle",
    "crl": "lifecycle",
    "export": "lifecycle",
    "import-ca": "adopt",
    "import": "adopt",
    "sign": "adopt",
    "passwd": "adopt",
    "restore": "adopt",
    "check": "check",
    "enroll": "enroll",
}


class CerttuiGroup(click.Group):
    """Turns every CerttuiError into one `error: ...` line and exit status 2; loads each
    subcommand's module when it is used (COMMAND_MODULES)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is None:
            return None
        import importlib

        found = vars(importlib.import_module(f"certtui.commands.{module}")).values()
        return next(c for c in found if isinstance(c, click.Command) and c.name == cmd_name)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every subcommand, all modules imported (for introspection; running one imports one)."""
        return {
            name: command
            for name in sorted(COMMAND_MODULES)
            if (command := self.get_command(None, name)) is not None
        }

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        if value:
            raise TypeError("certtui's subcommands are listed in COMMAND_MODULES")

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CerttuiError as exc:
            from certtui.core.printable import printable

            # A message may quote a certificate from elsewhere: no control character gets through.
            click.echo(f"error: {printable(str(exc))}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=CerttuiGroup, invoke_without_command=True)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=str),
    help="Store folder (default: $CERTTUI_HOME, else the platform's user data folder).",
)
@enrollment_options
@click.version_option(__version__, prog_name="certtui")
@click.pass_context
def cli(
    ctx: click.Context, home: str | None, bind: str, port: int, tls_port: int, advertise: str | None
) -> None:
    """certtui: a private PKI for the home lab, trusted by phones on the first try.

    Run with no command to open the terminal UI.
    """
    ctx.obj = Session(home)
    if ctx.invoked_subcommand is None:
        # Textual costs about 0.3 s to import; only the TUI path pays for it.
        from certtui.tui.app import run_tui

        # The TUI asks for the passphrase and holds the KEK for the whole session.
        forbid_core_dumps()

        run_tui(
            ctx.obj, enroll_bind=bind, enroll_port=port, enroll_tls_port=tls_port, enroll_advertise=advertise
        )


def main() -> None:
    cli(prog_name="certtui")
