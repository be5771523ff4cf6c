"""A real terminal for the TUI figures: a private tmux server, screens polled, keys sent."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Callable

# The terminal every TUI figure runs in: a common SSH window, roomy enough that the list
# shows about 30 rows and the enrollment screen its QR code beside the URL.
COLUMNS, LINES = 120, 40
# Between two screen captures: each capture is a tmux client process, so polling without
# a pause would steal a core from the app being measured on a 2-core machine. The figures
# are therefore up to this late, for the app and the floor alike.
POLL_S = 0.01
# Nothing this benchmark waits for takes this long unless something is broken.
TIMEOUT_S = 30.0


class Terminal:
    """One tmux server of our own (its own socket), so no user session is ever touched."""

    def __init__(self) -> None:
        self.socket = f"certtui-bench-{os.getpid()}"
        # A session that keeps the server alive between the measured ones.
        self._tmux("new-session", "-d", "-s", "keeper", "sleep 86400")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False)
        return done.stdout

    def close(self) -> None:
        self._tmux("kill-server")

    def start(self, argv: list[str], env: dict[str, str]) -> Pane:
        """Run `argv` as the pane's own process (exec), sized COLUMNS x LINES."""
        name = "p" + uuid.uuid4().hex[:8]
        exports = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        command = f"exec env {exports} {shlex.join(argv)}"
        started = time.perf_counter()
        self._tmux("new-session", "-d", "-s", name, "-x", str(COLUMNS), "-y", str(LINES), command)
        return Pane(self, name, started)


class Pane:
    """One measured program: its screen, its keys and its process."""

    def __init__(self, terminal: Terminal, name: str, started: float) -> None:
        self.terminal = terminal
        self.name = name
        self.started = started

    def screen(self) -> str:
        return self.terminal._tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, predicate: Callable[[str], bool], what: str) -> float:
        """Poll until the screen matches; returns the perf_counter time it was first seen."""
        deadline = time.perf_counter() + TIMEOUT_S
        while True:
            text = self.screen()
            seen = time.perf_counter()
            if predicate(text):
                return seen
            if seen > deadline:
                raise RuntimeError(f"the screen never showed {what}; last screen:\n{text}")
            time.sleep(POLL_S)

    def keys(self, *keys: str) -> float:
        """Send keys (tmux names: Escape, BSpace...); returns the time just before sending."""
        sent = time.perf_counter()
        self.terminal._tmux("send-keys", "-t", self.name, *keys)
        return sent

    def typed(self, text: str) -> float:
        """Send literal text."""
        sent = time.perf_counter()
        self.terminal._tmux("send-keys", "-l", "-t", self.name, text)
        return sent

    def pid(self) -> int:
        return int(self.terminal._tmux("list-panes", "-t", self.name, "-F", "#{pane_pid}").split()[0])

    def peak_rss_mb(self) -> float:
        """VmHWM: the most resident memory the process has had so far, in MB (10^6 bytes)."""
        with open(f"/proc/{self.pid()}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6
        raise RuntimeError("no VmHWM in /proc/PID/status")

    def close(self) -> None:
        self.terminal._tmux("kill-session", "-t", self.name)
