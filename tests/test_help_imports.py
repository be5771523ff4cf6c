"""What `certtui --help` loads: every command's help, and no cryptography (commands/lifecycle.py
spells its choices out for this)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json, runpy, sys
sys.argv = ["certtui", "--help"]
try:
    runpy.run_module("certtui", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
sys.stderr.write("PROBE " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def test_help_lists_every_command_without_importing_cryptography() -> None:
    from certtui.cli import COMMAND_MODULES

    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    probe = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and len(probe) == 1, done.stderr
    modules = set(json.loads(probe[0].removeprefix("PROBE ")))
    # --help imported every command module, so the claim is tested where it could fail.
    assert {f"certtui.commands.{m}" for m in COMMAND_MODULES.values()} <= modules
    commands = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert commands == sorted(COMMAND_MODULES)
    assert not {m for m in modules if m == "cryptography" or m.startswith("cryptography.")}
