"""Two ways to run the CLI in a test: click's CliRunner in this process, or a real `python -m certtui`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from click.testing import CliRunner, Result

# A real subprocess starts Python, click and cryptography in about 0.2 s; a minute covers a
# loaded CI machine without letting a hung process stall the suite.
SUBPROCESS_TIMEOUT_S = 60


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
