"""After the first frame, import in the background what the first key press will need."""

from __future__ import annotations

import importlib
import threading

# In the order a user reaches them: cryptography for inspect, issue, export and revoke (about
# 40 ms), then phone enrollment, the server with aiohttp (about 0.2 s) and the QR encoder.
# The first frame never waits for them; `p` then only binds its ports and draws the QR code.
MODULES = (
    "cryptography.x509",
    "certtui.core.issuance",
    "certtui.core.checks.preview",
    "certtui.enroll.prepare",
    "certtui.enroll.trust",
    "certtui.enroll.server",
    "aiohttp.web",
    "certtui.enroll.qr",
)


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # a warm-up never fails: the real import will say why
            return


def start() -> threading.Thread:
    """Import MODULES in a daemon thread; a module the UI asks for meanwhile waits for it."""
    thread = threading.Thread(target=_import_all, name="certtui-warmup", daemon=True)
    thread.start()
    return thread
