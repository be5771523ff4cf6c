"""`certtui acme` with its signing clock injected: certificates are signed as if N days ago.

Run as `python tests/clocked_acme.py --home HOME acme ...` with $CERTTUI_TEST_CLOCK_FILE naming
a file that holds N (read at each signature, so a test can change it while the server runs).
"""

from __future__ import annotations

import functools
import os
from datetime import datetime, timedelta
from pathlib import Path

from certtui.acme import context
from certtui.cli import main
from certtui.core.timefmt import utcnow


def clock() -> datetime:
    days = float(Path(os.environ["CERTTUI_TEST_CLOCK_FILE"]).read_text().strip() or "0")
    return utcnow() - timedelta(days=days)


if __name__ == "__main__":
    context.Settings = functools.partial(context.Settings, clock=clock)  # type: ignore[misc]
    main()
