"""The upkeep journeys import no UI (click, textual), and the upkeep tables come from a migration."""

from __future__ import annotations

import json
import subprocess
import sys

from certtui.core.store import MIGRATIONS

_PROBE = """
import json, sys
import certtui.journeys.deploy, certtui.journeys.renew_due, certtui.journeys.notify
import certtui.journeys.scan, certtui.journeys.schedule, certtui.journeys.secret_files
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_upkeep_journeys_import_no_click_or_textual() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    top = json.loads(done.stdout)
    for ui in ("click", "textual", "rich"):
        assert ui not in top
    # aiohttp only when a notification is posted, not to import the journey.
    assert "aiohttp" not in top


def test_the_upkeep_tables_are_created_by_one_migration_only() -> None:
    [statements] = [" ".join(m) for m in MIGRATIONS if any("deploy_targets" in s for s in m)]
    for table in ("deploy_targets", "notify_channels", "notify_sent", "scans"):
        assert f"CREATE TABLE {table} " in statements
    assert "TRIGGER" not in statements.upper() and "VIEW" not in statements.upper()
