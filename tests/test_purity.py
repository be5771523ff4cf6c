"""Import hygiene: the core never pulls in a UI or web stack, and `certtui list` never loads Textual."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from certtui.core.store import Store

# The core is cryptography, idna and the stdlib (docs/architecture.md); these must never come along.
FORBIDDEN_IN_CORE = ("textual", "rich", "click", "aiohttp")
# Not UI stacks, but still outside the core's allowance: platformdirs belongs to certtui.paths,
# qrcode to certtui.enroll.
ALSO_OUTSIDE_CORE = ("platformdirs", "qrcode")

_CORE_PROBE = """
import json, pkgutil, sys, importlib
import certtui.core
names = sorted(m.name for m in pkgutil.walk_packages(certtui.core.__path__, "certtui.core."))
for name in names:
    importlib.import_module(name)
top = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"modules": names, "top": top}))
"""

_LIST_PROBE = """
import json, runpy, sys
sys.argv = ["certtui", "list"]
try:
    runpy.run_module("certtui", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
top = sorted({m.split(".")[0] for m in sys.modules})
sys.stderr.write("PROBE " + json.dumps({"code": code, "top": top}) + "\\n")
"""


def run_probe(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def core_imports() -> dict[str, list[str]]:
    done = run_probe(_CORE_PROBE)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_every_core_module_was_imported(core_imports: dict[str, list[str]]) -> None:
    core = Path(__file__).parent.parent / "certtui" / "core"
    # A package (certtui.core.store) counts as itself and each of its modules.
    on_disk = sorted(
        ".".join(("certtui.core", *p.relative_to(core).with_suffix("").parts)).removesuffix(".__init__")
        for p in core.rglob("*.py")
        if p != core / "__init__.py"
    )
    assert core_imports["modules"] == on_disk
    assert "certtui.core.store" in core_imports["modules"]


@pytest.mark.parametrize("package", FORBIDDEN_IN_CORE)
def test_core_imports_no_ui_or_web_stack(core_imports: dict[str, list[str]], package: str) -> None:
    assert package not in core_imports["top"]


@pytest.mark.parametrize("package", ALSO_OUTSIDE_CORE)
def test_core_imports_nothing_else_outside_its_allowance(
    core_imports: dict[str, list[str]], package: str
) -> None:
    assert package not in core_imports["top"]


def test_list_does_not_import_textual(make_store: Callable[..., Store], home: Path) -> None:
    make_store().close()
    # The probe inherits $CERTTUI_HOME, so `certtui list` reads the store just made.
    done = run_probe(_LIST_PROBE, env=dict(os.environ))
    probe = [line for line in done.stderr.splitlines() if line.startswith("PROBE ")]
    assert len(probe) == 1, done.stderr
    result = json.loads(probe[0].removeprefix("PROBE "))
    assert result["code"] == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["ID", "KIND", "STATUS", "EXPIRES", "KEY", "NAMES"]
    assert "click" in result["top"]
    assert "textual" not in result["top"]
    assert "rich" not in result["top"]
