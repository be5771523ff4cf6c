"""`certtui acme --approve new-names` in one process, the TUI in tmux in another: a lego order
for a new name waits until `a` is pressed on the TUI's ACME screen."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from acme_support import Server, child_env, export_root, free_port, wait_for
from support.tmux import Tmux

from certtui.core.issuance import init_store
from certtui.core.models import InitRequest
from certtui.journeys import acme as journey
from certtui.paths import db_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("tmux") is None or shutil.which("lego") is None, reason="needs tmux and lego"
    ),
]
NAME = "tmux.home.arpa"
# lego polls a pending authorization every Retry-After (5 s): a minute is a hung order.
ORDER_TIMEOUT_S = 60


def pending(home: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "certtui", "--home", str(home), "acme", "pending", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


def test_a_lego_order_waits_until_a_is_pressed_in_the_tui(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, _ = init_store(
        db_path(home),
        InitRequest(name="Tmux ACME Root", intermediate=True, permit=("home.arpa", "127.0.0.0/8")),
        None,
    )
    lab = journey.add_account(store, "lab", ["*.home.arpa"])
    store.close()
    root = export_root(home, tmp_path / "root.pem")
    http_port = free_port()
    args = ("--allow-loopback", "--http-01-port", str(http_port), "--resolve", f"{NAME}:127.0.0.1")
    server = Server(home, tmp_path, (*args, "--approve", "new-names"), child_env()).start()
    certtui = Path(sys.executable).with_name("certtui")
    tui = Tmux(str(certtui), {"CERTTUI_HOME": str(home), "TERM": "xterm-256color"}, size=(120, 32))
    lego = None
    try:
        tui.wait_for(lambda s: "Tmux ACME Root" in s and "Quit" in s)
        lego_cmd = ["lego", "--path", str(tmp_path / "lego"), "--server", server.directory, "--accept-tos"]
        lego_cmd += [
            "--email",
            "a@home.arpa",
            "--eab",
            "--kid",
            lab.account.kid or "",
            "--hmac",
            lab.hmac_b64,
        ]
        lego_cmd += ["--http", "--http.port", f"127.0.0.1:{http_port}", "-d", NAME, "run"]
        lego = subprocess.Popen(
            lego_cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env(LEGO_CA_CERTIFICATES=str(root)),
        )
        # The order waits; the TUI (another process) announces it.
        wait_for(lambda: pending(home), what="the order to wait for approval")
        tui.wait_for(lambda s: "waiting for approval" in s and NAME in s)
        assert lego.poll() is None
        assert not (tmp_path / "lego" / "certificates" / f"{NAME}.crt").exists()
        tui.keys("A")
        tui.wait_for(lambda s: "1 order(s) waiting" in s)
        tui.keys("a")
        out, _ = lego.communicate(timeout=ORDER_TIMEOUT_S)
        assert lego.returncode == 0, out
        assert (tmp_path / "lego" / "certificates" / f"{NAME}.crt").exists()
        assert pending(home) == []
        tui.wait_for(lambda s: "No order is waiting" in s)
    finally:
        if lego is not None and lego.poll() is None:
            lego.kill()
            lego.wait()
        tui.kill()
        assert server.stop() == 0
