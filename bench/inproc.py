"""In-process figures, run in a fresh interpreter: issuance as the TUI does it, and the KDF."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from certtui.core.issuance import init_store
from certtui.core.keys import KdfParams
from certtui.core.models import InitRequest, IssueRequest
from certtui.core.store import Store
from certtui.core.timefmt import utcnow
from certtui.paths import db_path
from certtui.tui import actions

# A passphrase of typical length; the KDF's cost does not depend on it.
PASSPHRASE = "correct horse battery staple"


def issue(home: Path, count: int) -> list[float]:
    """Milliseconds per P-256 server certificate through the TUI's own path: plan, sign,
    guardrail, commit (one transaction each). The first one warms the process up and is dropped."""
    store = Store.open(db_path(home))
    out = []
    for n in range(count + 1):
        req = IssueRequest(names=(f"inproc-{n}.home.arpa",))
        start = time.perf_counter()
        actions.issue(store, req, utcnow())
        out.append((time.perf_counter() - start) * 1000)
    store.close()
    return out[1:]


def kdf(count: int) -> dict[str, object]:
    """Milliseconds per passphrase check (`Store.unlock`: Argon2id, then the check value)."""
    with tempfile.TemporaryDirectory() as folder:
        store, _ = init_store(db_path(folder), InitRequest(name="KDF Bench Root"), PASSPHRASE)
        store.close()
        out = []
        for _ in range(count):
            store = Store.open(db_path(folder))
            start = time.perf_counter()
            store.unlock(PASSPHRASE)
            out.append((time.perf_counter() - start) * 1000)
            store.close()
    params = KdfParams.fresh()
    return {
        "ms": out,
        "memory_kib": params.memory_cost,
        "iterations": params.iterations,
        "lanes": params.lanes,
    }


if __name__ == "__main__":
    what, rest = sys.argv[1], sys.argv[2:]
    if what == "issue":
        print(json.dumps(issue(Path(rest[0]), int(rest[1]))))
    elif what == "kdf":
        print(json.dumps(kdf(int(rest[0]))))
    else:
        sys.exit(f"unknown figure {what!r}")
