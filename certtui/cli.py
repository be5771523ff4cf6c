"""The click group: bare `certtui` opens the TUI; every subcommand is scriptable."""

from __future__ import annotations

from typing import Any

import click

from certtui import __version__
from certtui.commands.common import enrollment_options
from certtui.errors import CerttuiError

# Session lives in certtui.session (the commands import it from there); these names stay
# importable from here.
from certtui.session import PASSPHRASE_ENV as PASSPHRASE_ENV
from certtui.session import Session as Session
from certtui.session import forbid_core_dumps as forbid_core_dumps
from certtui.session import read_passphrase as read_passphrase
from certtui.session import read_secret_file as read_secret_file

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
    "trust": "trust",
    "acme": "acme",
    "deploy": "deploy",
    "schedule": "schedule",
    "notify": "notify",
    "scan": "scan",
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
    given = {
        name: value
        for name, value in (("bind", bind), ("port", port), ("tls_port", tls_port), ("advertise", advertise))
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    if given and ctx.invoked_subcommand not in (None, "enroll"):
        flag = "--" + next(iter(given)).replace("_", "-")
        raise CerttuiError(
            f"{flag} applies to phone enrollment (the TUI and `certtui enroll`), which "
            f"`certtui {ctx.invoked_subcommand}` does not do; drop it"
        )
    ctx.obj = Session(home, given)
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
